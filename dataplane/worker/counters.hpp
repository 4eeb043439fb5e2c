// Per-worker counters.  One writer (the worker, once per burst, with plain
// relaxed stores of the new sum: no locked instruction on the hot path),
// any number of readers in other threads (relaxed loads).  Each worker's
// block is cache-line aligned so workers never share a line.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "worker/drop_reason.hpp"

namespace sgfw::dp {

struct alignas(64) worker_counters {
  std::atomic<std::uint64_t> rx{0};
  std::atomic<std::uint64_t> tx{0};
  std::atomic<std::uint64_t> flows_created{0};
  std::atomic<std::uint64_t> flows_expired{0};
  std::atomic<std::uint64_t> flows_early_dropped{0};  // half-open flows evicted for new ones (S11)
  std::atomic<std::uint64_t> related{0};              // ICMP errors passed as related (S6)
  std::atomic<std::uint64_t> handed_off{0};           // sent to the owning worker
  std::atomic<std::uint64_t> received_from_others{0};
  std::atomic<std::uint64_t> fragments_evicted{0};  // older datagrams' first-fragment verdicts given way (S10)
  std::atomic<std::uint64_t> flows{0};              // current table size
  std::array<std::atomic<std::uint64_t>, drop_reason_count> drops{};

  std::uint64_t dropped(drop_reason r) const {
    return drops[static_cast<std::size_t>(r)].load(std::memory_order_relaxed);
  }
  std::uint64_t total_dropped() const {
    std::uint64_t n = 0;
    for (const auto& d : drops) n += d.load(std::memory_order_relaxed);
    return n;
  }
};

// The single writer's increment: no read-modify-write instruction needed.
inline void bump(std::atomic<std::uint64_t>& c, std::uint64_t delta) {
  if (delta != 0) c.store(c.load(std::memory_order_relaxed) + delta, std::memory_order_relaxed);
}
inline void bump32(std::atomic<std::uint32_t>& c, int delta) {
  c.store(static_cast<std::uint32_t>(c.load(std::memory_order_relaxed) + static_cast<std::uint32_t>(delta)),
          std::memory_order_relaxed);
}

}  // namespace sgfw::dp
