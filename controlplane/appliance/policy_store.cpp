#include "appliance/policy_store.hpp"

#include <algorithm>
#include <chrono>
#include <thread>

#include "compiler/compiler.hpp"

namespace sgfw::cp {

policy_store::~policy_store() {
  // The workers are gone by now (the appliance stops first): nothing reads.
  retired_.clear();
}

bool policy_store::set_first(config::checked_policy policy) {
  if (!policy.ok()) return false;
  model_ = std::make_unique<config::policy_model>(std::move(*policy.model));
  return true;
}

std::unique_ptr<dp::compiled_policy> policy_store::compile_next(const config::policy_model& model,
                                                                std::uint64_t generation, resource_slots& slots,
                                                                rule_slots& rules) {
  const std::vector<std::uint16_t> placed = slots.assign(model, in_use_);
  const std::vector<std::uint32_t> rule_indices = rules.assign(model);
  compile_options o;
  o.generation = generation;
  o.workers = workers_;
  o.max_flows = max_flows_;
  o.resource_slots = &placed;
  o.rule_slots = &rule_indices;
  o.rule_ids = &rules.rule_ids();
  o.sets = &sets_;
  return std::make_unique<dp::compiled_policy>(compile(model, o));
}

void policy_store::start(dp::policy_handle& handle, std::uint32_t workers, std::uint32_t max_flows,
                         resource_slots::in_use_fn in_use) {
  handle_ = &handle;
  workers_ = workers;
  max_flows_ = max_flows;
  in_use_ = std::move(in_use);
  generation_ = 1;
  current_ = compile_next(*model_, generation_, slots_, rule_slots_);
  const dp::compiled_policy* previous = nullptr;
  handle_->publish(current_.get(), previous);
}

prepared_policy policy_store::prepare(config::checked_policy next,
                                      std::optional<config::established_flows_mode> established_flows) {
  prepared_policy out;
  out.errors = std::move(next.errors);
  out.notes = std::move(next.notes);
  out.findings = std::move(next.findings);
  out.generation = generation_ + 1;
  if (!next.ok()) return out;
  out.model = std::make_unique<config::policy_model>(std::move(*next.model));
  // Slots are placed on a copy: a policy that is never published (a dry
  // run, a file that cannot be written) must not move any resource's slot.
  out.slots = slots_;
  out.rules = rule_slots_;
  const auto t0 = std::chrono::steady_clock::now();
  out.compiled = compile_next(*out.model, out.generation, out.slots, out.rules);
  // S8: a resource in revalidate mode is marked with this generation; the
  // others keep their mark (flows not yet met since an earlier
  // revalidating change still must be judged again).
  const auto mark = std::max<std::uint32_t>(static_cast<std::uint32_t>(out.generation), 1);
  for (std::size_t r = 0; r < out.model->resources.size(); ++r) {
    const config::resource& res = out.model->resources[r];
    std::uint32_t from = 0;
    if (established_flows.value_or(out.model->appliance.established_flows_of(res)) ==
        config::established_flows_mode::revalidate) {
      from = mark;
    } else if (const auto it = revalidate_from_.find(res.name); it != revalidate_from_.end()) {
      from = it->second;
    }
    if (from != 0) out.revalidate_from[res.name] = from;
    out.compiled->resource_revalidate_from[r] = from;
  }
  out.compile_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

apply_result policy_store::publish(prepared_policy next, const std::string& source) {
  apply_result out;
  out.errors = std::move(next.errors);
  out.notes = std::move(next.notes);
  out.generation = generation_;
  out.compile_ms = next.compile_ms;
  if (!next.ok()) return out;
  if (next.generation != generation_ + 1) {
    out.errors.push_back(source + ": another policy was published since this one was compiled; nothing changed");
    return out;
  }
  // Before the workers see the rules that now have them.
  if (on_reuse_ && !next.rules.reused().empty()) on_reuse_(next.rules.reused());
  const dp::compiled_policy* previous = nullptr;
  const std::uint64_t token = handle_->publish(next.compiled.get(), previous);
  retired_.emplace_back(token, std::move(current_));
  last_token_ = token;
  published_since_start_ = true;
  current_ = std::move(next.compiled);
  // The old model is freed by tidy(), off the change's path.
  old_models_.push_back(std::move(model_));
  model_ = std::move(next.model);
  slots_ = std::move(next.slots);
  rule_slots_ = std::move(next.rules);
  revalidate_from_ = std::move(next.revalidate_from);
  out.published = true;
  out.generation = ++generation_;
  if (slots_.shared() != 0) {
    out.notes.push_back(source + ": " + std::to_string(slots_.shared()) +
                        " resources share one unlimited flow count: too many resources still hold flows");
  }
  // Retired policies are freed by reclaim() and tidy(), off the change's
  // path (the control API's reply waits for nothing but the workers).
  return out;
}

apply_result policy_store::apply(config::checked_policy next, const std::string& source) {
  return publish(prepare(std::move(next)), source);
}

apply_result policy_store::apply_edit(const std::function<void(config::policy_model&)>& edit,
                                      const std::string& source) {
  config::policy_model next = *model_;
  edit(next);
  return apply(config::check_model(std::move(next), source), source);
}

bool policy_store::wait_readers(std::chrono::microseconds limit) {
  if (handle_ == nullptr || !published_since_start_) return true;
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!handle_->readers_done(last_token_)) {
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(20));
  }
  return true;
}

void policy_store::tidy() {
  old_models_.clear();
  reclaim();
}

void policy_store::reclaim() {
  std::erase_if(retired_, [this](const auto& r) { return handle_->readers_done(r.first); });
}

}  // namespace sgfw::cp
