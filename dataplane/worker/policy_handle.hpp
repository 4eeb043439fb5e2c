// policy_handle: where workers find the current compiled policy, and how
// the control plane replaces it without pausing them (conventions: RCU).
//
// Workers load the pointer once per burst (acquire) and report a quiescent
// state once per loop (rte_rcu_qsbr_quiescent).  The control plane
// publishes a new policy with one release store, takes a token, and frees
// the old policy once every worker has passed a quiescent state since
// (rte_rcu_qsbr_check).  Workers never block and never wait.
//
// Ownership: `current_` dataplane ro, ctlplane rw; the QSBR state is
// written by each worker for itself and read by the control plane.
#pragma once

#include <rte_rcu_qsbr.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

#include "policy/compiled_policy.hpp"
#include "worker/rule_counters.hpp"

namespace sgfw::dp {

class policy_handle {
 public:
  explicit policy_handle(std::uint32_t max_workers);
  ~policy_handle();
  policy_handle(const policy_handle&) = delete;
  policy_handle& operator=(const policy_handle&) = delete;

  // Workers.
  const compiled_policy* current() const { return current_.load(std::memory_order_acquire); }
  void register_worker(std::uint32_t id);
  void unregister_worker(std::uint32_t id);
  void quiescent(std::uint32_t id) { rte_rcu_qsbr_quiescent(qsbr_, id); }
  // The per-rule counts worker `id` keeps (nullptr: none any more): from
  // the return on, every policy published has room in them for all its
  // rules, the current one included.  Not on the packet path.
  void attach_rule_counters(std::uint32_t id, rule_counters* counts);

  // Control plane: makes `next` current and returns the token after which
  // the previous policy (returned in `previous`) may be freed.  Each
  // worker's rule counts are made to fit it first.
  std::uint64_t publish(const compiled_policy* next, const compiled_policy*& previous);
  // True once every registered worker has been quiescent since `token`.
  bool readers_done(std::uint64_t token) { return rte_rcu_qsbr_check(qsbr_, token, false) == 1; }

 private:
  std::atomic<const compiled_policy*> current_{nullptr};
  rte_rcu_qsbr* qsbr_ = nullptr;
  std::mutex counts_lock_;              // attach and publish, never a worker's loop
  std::vector<rule_counters*> counts_;  // [worker id]
};

}  // namespace sgfw::dp
