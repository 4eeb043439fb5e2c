#include "worker/policy_handle.hpp"

#include <cstdlib>
#include <new>

namespace sgfw::dp {

policy_handle::policy_handle(std::uint32_t max_workers) : counts_(max_workers, nullptr) {
  const std::size_t size = rte_rcu_qsbr_get_memsize(max_workers);
  // QSBR state needs cache-line alignment only; it lives in ordinary memory.
  void* mem = std::aligned_alloc(RTE_CACHE_LINE_SIZE,
                                 (size + RTE_CACHE_LINE_SIZE - 1) / RTE_CACHE_LINE_SIZE * RTE_CACHE_LINE_SIZE);
  if (mem == nullptr) std::abort();
  qsbr_ = static_cast<rte_rcu_qsbr*>(mem);
  rte_rcu_qsbr_init(qsbr_, max_workers);
}

policy_handle::~policy_handle() { std::free(qsbr_); }

void policy_handle::register_worker(std::uint32_t id) {
  rte_rcu_qsbr_thread_register(qsbr_, id);
  rte_rcu_qsbr_thread_online(qsbr_, id);
}

void policy_handle::unregister_worker(std::uint32_t id) {
  rte_rcu_qsbr_thread_offline(qsbr_, id);
  rte_rcu_qsbr_thread_unregister(qsbr_, id);
}

void policy_handle::attach_rule_counters(std::uint32_t id, rule_counters* counts) {
  const std::lock_guard<std::mutex> lock(counts_lock_);
  if (id >= counts_.size()) return;
  counts_[id] = counts;
  const compiled_policy* p = current_.load(std::memory_order_acquire);
  if (counts != nullptr && p != nullptr) counts->reserve(static_cast<std::uint32_t>(p->rules.size()));
}

std::uint64_t policy_handle::publish(const compiled_policy* next, const compiled_policy*& previous) {
  {
    // The swap under the lock too: a worker attaching meanwhile reserves
    // for whichever policy it then finds current.
    const std::lock_guard<std::mutex> lock(counts_lock_);
    for (rule_counters* c : counts_) {
      if (c != nullptr && next != nullptr) c->reserve(static_cast<std::uint32_t>(next->rules.size()));
    }
    previous = current_.exchange(next, std::memory_order_acq_rel);
  }
  return rte_rcu_qsbr_start(qsbr_);
}

}  // namespace sgfw::dp
