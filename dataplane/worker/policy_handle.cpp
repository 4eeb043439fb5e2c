#include "worker/policy_handle.hpp"

#include <cstdlib>
#include <new>

namespace sgfw::dp {

policy_handle::policy_handle(std::uint32_t max_workers) {
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

std::uint64_t policy_handle::publish(const compiled_policy* next, const compiled_policy*& previous) {
  previous = current_.exchange(next, std::memory_order_acq_rel);
  return rte_rcu_qsbr_start(qsbr_);
}

}  // namespace sgfw::dp
