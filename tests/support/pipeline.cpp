#include "pipeline.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <stdexcept>
#include <string>

#include "appliance/worker_wiring.hpp"
#include "config/boot_settings.hpp"
#include "config/policy_check.hpp"

namespace sgfw::testing {

namespace {

constexpr unsigned k_ring_size = 1024;

}  // namespace

config::checked_policy pipeline::load(std::string_view toml) {
  auto loaded = config::check_policy(config::load_policy_text(toml, "test.toml"));
  for (const auto& e : loaded.errors) ADD_FAILURE() << e;
  if (!loaded.ok()) throw std::runtime_error("test policy does not load");
  return loaded;
}

pipeline::pipeline(std::string_view toml, pipeline_options options) : ports_(ring_ports::get()), options_(options) {
  if (options.workers > ring_ports::k_queues) throw std::runtime_error("too many workers for the test ports");
  for (unsigned s = 0; s < 2; ++s) {
    for (unsigned q = 0; q < ring_ports::k_queues; ++q) {
      drain(ports_.rx[s][q], nullptr);
      drain(ports_.tx[s][q], nullptr);
    }
  }
  static unsigned instance = 0;
  ++instance;
  // The policy goes the way the appliance's goes: the store compiles it
  // (limits per worker, slots by resource name, revalidation marks) and
  // publishes it.
  config::checked_policy first = load(toml);
  const std::uint32_t max_flows = first.boot.max_flows;
  store_.set_first(std::move(first));
  handle_ = std::make_unique<dp::policy_handle>(options.workers);
  store_.start(*handle_, options.workers, max_flows, [this](std::uint16_t slot) {
    for (const auto& w : workers_) {
      if (w->resource_flows(slot) != 0) return true;
    }
    return false;
  });
  if (options.workers > 1) {
    for (unsigned w = 0; w < options.workers; ++w) {
      const std::string name = "handoff" + std::to_string(instance) + "_" + std::to_string(w);
      handoff_.push_back(rte_ring_create(name.c_str(), k_ring_size, SOCKET_ID_ANY, RING_F_SC_DEQ));
    }
  }
  // Built as the appliance builds its workers, from boot settings that
  // give each worker the options' share.
  config::boot_settings boot;
  boot.workers = options.workers;
  boot.max_flows = options.flow_capacity * options.workers;
  boot.early_drop = options.early_drop;
  boot.flow_counters = options.flow_counters;
  boot.fragment_timeout = options.fragment_timeout;
  boot.max_fragmented_datagrams = options.fragment_slots * options.workers;
  for (unsigned w = 0; w < options.workers; ++w) {
    dp::worker_config c =
        cp::worker_wiring(boot, w, {ports_.port[0], ports_.port[1], 128}, handle_.get(), clock_.source(), handoff_);
    c.ageing_period_ms = options.ageing_period_ms;  // the tests' own knob
    workers_.push_back(std::make_unique<dp::worker>(std::move(c)));
  }
  rule_stats_ = std::make_unique<cp::rule_stats>(
      [this](std::uint32_t i) {
        dp::rule_totals t;
        for (const auto& w : workers_) t += w->rule_counts().read(i);
        return t;
      },
      clock_.source(), [this] { return k_unix_start + clock_.ms; });
  store_.on_rule_reuse([this](const std::vector<std::uint32_t>& reused) { rule_stats_->reused(reused); });
}

pipeline::~pipeline() {
  store_.on_rule_reuse(nullptr);
  workers_.clear();
  for (rte_ring* r : handoff_) {
    drain(r, nullptr);
    rte_ring_free(r);
  }
  for (unsigned s = 0; s < 2; ++s) {
    for (unsigned q = 0; q < ring_ports::k_queues; ++q) {
      drain(ports_.rx[s][q], nullptr);
      drain(ports_.tx[s][q], nullptr);
    }
  }
}

void pipeline::send(side from, const bytes& f, unsigned queue) {
  ASSERT_TRUE(inject(ports_.rx[static_cast<unsigned>(from)][queue], ports_.pool, f.data(), f.size()));
}

void pipeline::run(unsigned rounds) {
  for (unsigned r = 0; r < rounds; ++r) {
    for (auto& w : workers_) w->poll_once();
  }
}

std::vector<bytes> pipeline::received(side to) {
  std::vector<bytes> out;
  for (unsigned q = 0; q < ring_ports::k_queues; ++q) drain(ports_.tx[static_cast<unsigned>(to)][q], &out);
  return out;
}

std::size_t pipeline::pass(side from, const frame_spec& spec, unsigned queue) {
  send(from, spec, queue);
  run();
  received(from);  // nothing should come back out of the port it came in on
  return received(from == side::outside ? side::inside : side::outside).size();
}

void pipeline::reload(std::string_view toml, std::optional<config::established_flows_mode> established_flows) {
  const cp::apply_result r = store_.publish(store_.prepare(load(toml), established_flows), "test");
  ASSERT_TRUE(r.published);
  // The old policy may be freed once every worker has been quiescent.
  for (int i = 0; i < 100 && store_.retired() != 0; ++i) {
    run(1);
    store_.reclaim();
  }
  ASSERT_EQ(store_.retired(), 0U);
}

std::uint64_t pipeline::dropped(dp::drop_reason r) const {
  std::uint64_t n = 0;
  for (const auto& w : workers_) n += w->counters().dropped(r);
  return n;
}

std::uint64_t pipeline::total(std::atomic<std::uint64_t> dp::worker_counters::*counter) const {
  std::uint64_t n = 0;
  for (const auto& w : workers_) n += (w->counters().*counter).load(std::memory_order_relaxed);
  return n;
}

std::size_t pipeline::flows() const {
  std::size_t n = 0;
  for (const auto& w : workers_) n += w->flows().size();
  return n;
}

}  // namespace sgfw::testing

namespace sgfw::testing {

std::uint16_t pipeline::slot_of(std::string_view name) const {
  for (std::size_t r = 0; r < store_.current().resource_names.size(); ++r) {
    if (store_.current().resource_names[r] == name) return store_.current().resource_slot[r];
  }
  ADD_FAILURE() << "no resource " << name;
  return dp::k_unlimited_slot;
}

std::uint64_t pipeline::resource_flows(std::string_view name) const {
  const std::uint16_t slot = slot_of(name);
  std::uint64_t n = 0;
  for (const auto& w : workers_) n += w->resource_flows(slot);
  return n;
}

std::uint64_t pipeline::resource_exceeded(std::string_view name) const {
  const std::uint16_t slot = slot_of(name);
  std::uint64_t n = 0;
  for (const auto& w : workers_) n += w->resource_exceeded(slot);
  return n;
}

dp::rule_totals pipeline::rule_counts(std::string_view rule_id) const {
  const dp::compiled_policy& p = store_.current();
  for (std::uint32_t i = 1; i < p.rules.size(); ++i) {
    if (p.rules[i].used && p.rule_id(i) == rule_id) return rule_stats_->read(i);
  }
  ADD_FAILURE() << "no rule " << rule_id;
  return {};
}

}  // namespace sgfw::testing
