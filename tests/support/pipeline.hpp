// A whole packet path for tests, with no daemon: workers over two DPDK
// ports made from rings (net_ring), a policy compiled from TOML text and a
// clock the test moves.  Frames go into a port's RX ring; what the workers
// send comes out of the other port's TX ring.
//
//   pipeline p(toml);                      // one worker
//   p.send(side::outside, frame(spec));    // towards the inside
//   p.run();
//   EXPECT_EQ(p.received(side::inside).size(), 1);
#pragma once

#include <rte_mbuf.h>
#include <rte_ring.h>

#include <array>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "appliance/policy_store.hpp"
#include "appliance/rule_stats.hpp"
#include "config/model.hpp"
#include "packet_builder.hpp"
#include "policy/compiled_policy.hpp"
#include "ring_ports.hpp"
#include "worker/worker.hpp"

namespace sgfw::testing {

enum class side { outside = 0, inside = 1 };

struct pipeline_options {
  unsigned workers = 1;
  std::uint32_t flow_capacity = 4096;  // per worker
  bool early_drop = true;
  bool flow_counters = false;             // packets and bytes per flow, as [appliance.conntrack] flow_counters
  std::uint32_t fragment_timeout = 30;    // seconds
  std::uint32_t ageing_period_ms = 1000;  // the sweep covers the table once per this period; 0: none
  std::uint32_t fragment_slots = 4096;    // per worker
  // Each is turned into the boot settings (boot_settings.hpp) that give a
  // worker this share, and the workers are wired as the appliance wires
  // them (worker_wiring.hpp).
};

class pipeline {
 public:
  explicit pipeline(std::string_view toml, pipeline_options options = {});
  ~pipeline();

  // A frame into `from`'s RX queue (queue: which worker's queue).
  void send(side from, const bytes& frame, unsigned queue = 0);
  void send(side from, const frame_spec& spec, unsigned queue = 0) { send(from, frame(spec), queue); }
  // Polls every worker `rounds` times, in turn.
  void run(unsigned rounds = 3);
  // Frames that left through `to` (all its TX queues), in order; drained.
  std::vector<bytes> received(side to);
  // Sends, runs, and returns how many frames came out on the other side.
  std::size_t pass(side from, const frame_spec& spec, unsigned queue = 0);

  void advance_ms(std::uint64_t ms) { clock_.ms += ms; }
  // Loads new policy text and publishes it as the workers run (RCU), as
  // a reload (each resource's established_flows) or a change that gives
  // its own.
  void reload(std::string_view toml, std::optional<config::established_flows_mode> established_flows = std::nullopt);

  std::uint64_t dropped(dp::drop_reason r) const;
  std::uint64_t total(std::atomic<std::uint64_t> dp::worker_counters::*counter) const;
  std::size_t flows() const;
  dp::worker& worker_at(unsigned i) { return *workers_[i]; }
  cp::policy_store& store() { return store_; }
  std::vector<dp::flow_dump*> dumps() {
    std::vector<dp::flow_dump*> out;
    for (auto& w : workers_) out.push_back(&w->dump());
    return out;
  }
  const dp::compiled_policy& policy() const { return store_.current(); }
  // The flows a resource (by name) holds in all workers' tables, and the
  // new flows refused it for want of room (S11).
  std::uint64_t resource_flows(std::string_view name) const;
  std::uint64_t resource_exceeded(std::string_view name) const;
  // What the rule with this id admitted, all workers (rule_stats.hpp); its
  // last hit in milliseconds since 1970, k_unix_start when this
  // pipeline's clock read 0.
  static constexpr std::uint64_t k_unix_start = 1'700'000'000'000;
  dp::rule_totals rule_counts(std::string_view rule_id) const;

 private:
  static config::checked_policy load(std::string_view toml);
  std::uint16_t slot_of(std::string_view name) const;

  ring_ports& ports_;
  pipeline_options options_;
  dp::manual_clock clock_;
  std::unique_ptr<dp::policy_handle> handle_;
  cp::policy_store store_;  // destroyed after the workers (declared before them)
  std::vector<rte_ring*> handoff_;
  std::vector<std::unique_ptr<dp::worker>> workers_;
  std::unique_ptr<cp::rule_stats> rule_stats_;
};

}  // namespace sgfw::testing
