#include "worker/rule_counters.hpp"

#include <new>

namespace sgfw::dp {

rule_counters::~rule_counters() {
  for (auto& c : chunks_) delete[] c.load(std::memory_order_relaxed);
}

bool rule_counters::reserve(std::uint32_t rules) {
  const std::lock_guard<std::mutex> lock(grow_);
  const std::uint64_t needed = (std::uint64_t{rules} + k_chunk - 1) >> k_chunk_bits;
  for (std::uint64_t i = 0; i < needed && i < k_chunks; ++i) {
    if (chunks_[i].load(std::memory_order_relaxed) != nullptr) continue;
    auto* c = new (std::nothrow) rule_count[k_chunk];
    if (c == nullptr) return false;
    // Release: the worker that finds the pointer finds the chunk zeroed.
    chunks_[i].store(c, std::memory_order_release);
  }
  return needed <= k_chunks;
}

rule_totals rule_counters::read(std::uint32_t rule) const {
  const rule_count* c = find(rule);
  if (c == nullptr) return {};
  return {c->packets.load(std::memory_order_relaxed), c->bytes.load(std::memory_order_relaxed),
          c->flows.load(std::memory_order_relaxed), c->last_ms.load(std::memory_order_relaxed)};
}

}  // namespace sgfw::dp
