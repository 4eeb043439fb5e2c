// policy_store: the running policy's one owner and only writer.  It holds
// the model and the generation; a source (the policy file today; the
// control API and etcd next) hands it a checked model
// (config/policy_check.hpp), and the store compiles it off the worker
// cores, publishes it with one pointer swap (the RCU shape of
// conventions.md) and frees the policy it replaced once every worker has
// passed a quiescent point.  A model with errors changes nothing.
//
// Control thread only (the event loop's).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "compiler/resource_slots.hpp"
#include "compiler/rule_slots.hpp"
#include "compiler/set_cache.hpp"
#include "config/model.hpp"
#include "config/policy_check.hpp"
#include "policy/compiled_policy.hpp"
#include "worker/policy_handle.hpp"

namespace sgfw::cp {

struct apply_result {
  bool published = false;
  std::uint64_t generation = 0;     // the one running afterwards
  std::vector<std::string> errors;  // why it was not published
  std::vector<std::string> notes;   // warnings, and run settings a change cannot apply
  double compile_ms = 0;
};

// A model compiled for the next generation, not yet published: what a
// change is before the control API has written it to the file (a dry run
// stops here).
struct prepared_policy {
  std::vector<std::string> errors;  // formatted; none when compiled
  std::vector<std::string> notes;
  std::vector<config::diagnostic> findings;
  std::unique_ptr<config::policy_model> model;
  std::unique_ptr<dp::compiled_policy> compiled;
  resource_slots slots;  // the slots with this policy's resources placed
  rule_slots rules;      // and its rules' indices
  // Each resource's revalidation mark (compiled_policy::resource_revalidate_from), by name.
  std::map<std::string, std::uint32_t> revalidate_from;
  std::uint64_t generation = 0;
  double compile_ms = 0;

  bool ok() const { return compiled != nullptr; }
};

class policy_store {
 public:
  policy_store() = default;
  ~policy_store();
  policy_store(const policy_store&) = delete;
  policy_store& operator=(const policy_store&) = delete;

  // The first policy, before the workers exist; false (the errors in
  // `policy`) when it has errors.
  bool set_first(config::checked_policy policy);
  const config::policy_model& model() const { return *model_; }

  // Publishes the first policy (workers registered on `handle`).  The
  // per-resource flow limits are per worker of `workers`, within a table
  // of `max_flows`; `in_use` tells whether a worker still counts flows
  // under a resource slot (resource_slots.hpp).
  void start(dp::policy_handle& handle, std::uint32_t workers, std::uint32_t max_flows,
             resource_slots::in_use_fn in_use);

  // A whole new model from a source named `source` (for messages):
  // published unless it has errors, in which case the running one stays.
  // The same as publish(prepare(next)).
  apply_result apply(config::checked_policy next, const std::string& source);
  // The steps of apply(), for a source that does something in between
  // (the control API writes the file): compile `next` for the generation
  // after the running one, changing nothing; then publish it, unless
  // another was published since (an error, and nothing changes).
  // What it does to established flows (S8) is each resource's mode, or
  // `established_flows` for all of them where given (a change's own).
  prepared_policy prepare(config::checked_policy next,
                          std::optional<config::established_flows_mode> established_flows = std::nullopt);
  apply_result publish(prepared_policy next, const std::string& source);
  // An edit of the running model (what the control API's verbs do): made
  // on a copy, which is normalised and validated as any model
  // (config::check_model) and published unless it has errors.
  apply_result apply_edit(const std::function<void(config::policy_model&)>& edit, const std::string& source);

  // Waits (at most `limit`) until every worker has passed a quiescent
  // point since the last publish: from then on no worker judges a packet
  // by an older policy, so a packet sent after this returns true meets the
  // new rules.  A worker loop takes microseconds; false when one is stuck.
  bool wait_readers(std::chrono::microseconds limit);
  // Frees retired policies every worker has stopped reading.
  void reclaim();
  // Frees the models publish() replaced (nothing reads them; at 10k rules
  // freeing one takes milliseconds, which a change's caller need not wait
  // for), and reclaims.
  void tidy();
  std::uint64_t generation() const { return generation_; }
  // Told, before a policy is published, the rule indices it gives to
  // other rules than the ones that had them (rule_slots::reused): their
  // counts so far are not the new rules' (rule_stats.hpp).
  void on_rule_reuse(std::function<void(const std::vector<std::uint32_t>&)> f) { on_reuse_ = std::move(f); }
  const dp::compiled_policy& current() const { return *current_; }
  std::size_t retired() const { return retired_.size(); }

 private:
  std::unique_ptr<dp::compiled_policy> compile_next(const config::policy_model& model, std::uint64_t generation,
                                                    resource_slots& slots, rule_slots& rules);

  dp::policy_handle* handle_ = nullptr;
  std::uint32_t workers_ = 1;
  std::uint32_t max_flows_ = 0;
  resource_slots slots_;
  rule_slots rule_slots_;
  set_cache sets_;                                        // the last compile's group-set tables
  std::map<std::string, std::uint32_t> revalidate_from_;  // the running policy's marks
  resource_slots::in_use_fn in_use_;
  std::unique_ptr<config::policy_model> model_;
  std::vector<std::unique_ptr<config::policy_model>> old_models_;  // freed by tidy()
  std::unique_ptr<dp::compiled_policy> current_;
  std::vector<std::pair<std::uint64_t, std::unique_ptr<dp::compiled_policy>>> retired_;  // token, policy
  std::uint64_t generation_ = 0;
  std::uint64_t last_token_ = 0;  // of the last publish
  bool published_since_start_ = false;
  std::function<void(const std::vector<std::uint32_t>&)> on_reuse_;
};

}  // namespace sgfw::cp
