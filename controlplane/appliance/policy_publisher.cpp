#include "appliance/policy_publisher.hpp"

#include <chrono>

#include "compiler/compiler.hpp"
#include "config/toml_loader.hpp"

namespace sgfw::cp {

namespace {

bool load(const std::string& path, std::unique_ptr<config::policy_model>& out, std::vector<std::string>& errors,
          std::vector<std::string>& notes) {
  config::load_result r = config::load_policy_file(path);
  for (const auto& d : r.diagnostics) {
    (d.level == config::diagnostic::severity::error ? errors : notes).push_back(config::format(d));
  }
  if (!r.ok()) return false;
  if (auto refused = config::refuse_unintended_empty(*r.model)) {
    errors.push_back(config::format(*refused));
    return false;
  }
  out = std::make_unique<config::policy_model>(std::move(*r.model));
  return true;
}

}  // namespace

policy_publisher::~policy_publisher() {
  // The workers are gone by now (the appliance stops first): nothing reads.
  retired_.clear();
}

bool policy_publisher::load_first(std::vector<std::string>& errors, std::vector<std::string>& notes) {
  if (!load(path_, model_, errors, notes)) return false;
  started_ = model_->appliance;
  return true;
}

std::unique_ptr<dp::compiled_policy> policy_publisher::compile_next(const config::policy_model& model,
                                                                    std::uint64_t generation) {
  const std::vector<std::uint16_t> slots = slots_.assign(model, in_use_);
  compile_options o;
  o.generation = generation;
  o.workers = workers_;
  o.max_flows = max_flows_;
  o.resource_slots = &slots;
  return std::make_unique<dp::compiled_policy>(compile(model, o));
}

void policy_publisher::start(dp::policy_handle& handle, std::uint32_t workers, std::uint32_t max_flows,
                             resource_slots::in_use_fn in_use) {
  handle_ = &handle;
  workers_ = workers;
  max_flows_ = max_flows;
  in_use_ = std::move(in_use);
  generation_ = 1;
  current_ = compile_next(*model_, generation_);
  const dp::compiled_policy* previous = nullptr;
  handle_->publish(current_.get(), previous);
}

reload_result policy_publisher::reload() {
  reload_result out;
  std::unique_ptr<config::policy_model> next_model;
  if (!load(path_, next_model, out.errors, out.notes)) {
    out.generation = generation_;
    return out;
  }
  const config::appliance_settings& a = next_model->appliance;
  if (!(a.runtime == started_.runtime) || a.max_flows != started_.max_flows || a.early_drop != started_.early_drop ||
      a.fragment_timeout != started_.fragment_timeout ||
      a.max_fragmented_datagrams != started_.max_fragmented_datagrams) {
    out.notes.push_back(path_ +
                        ": the run settings ([appliance] workers, cores, ports, eal, conntrack) differ from the "
                        "running ones; they apply at the next start, the rest applies now");
  }
  const auto t0 = std::chrono::steady_clock::now();
  auto next = compile_next(*next_model, generation_ + 1);
  out.compile_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  const dp::compiled_policy* previous = nullptr;
  const std::uint64_t token = handle_->publish(next.get(), previous);
  retired_.emplace_back(token, std::move(current_));
  current_ = std::move(next);
  model_ = std::move(next_model);
  out.published = true;
  out.generation = ++generation_;
  if (slots_.shared() != 0) {
    out.notes.push_back(path_ + ": " + std::to_string(slots_.shared()) +
                        " resources share one unlimited flow count: too many resources still hold flows");
  }
  reclaim();
  return out;
}

void policy_publisher::reclaim() {
  std::erase_if(retired_, [this](const auto& r) { return handle_->readers_done(r.first); });
}

}  // namespace sgfw::cp
