// Per-worker counters, declared once (SGFW_WORKER_COUNTERS and the drop
// reasons of drop_reason.hpp): the worker's per-core block, its per-burst
// tally, the snapshot the control thread adds up, the status line and,
// next, DPDK telemetry and Prometheus all come from these lists.
//
// One writer (the worker, once per loop, with plain relaxed stores of the
// new sum: no locked instruction on the hot path), any number of readers in
// other threads (relaxed loads).  Each worker's block is cache-line aligned
// so workers never share a line.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string_view>

#include "worker/drop_reason.hpp"

// X(name, kind, help): kind is `counter` (only grows) or `gauge`.
#define SGFW_WORKER_COUNTERS(X)                                                                          \
  X(rx, counter, "packets received from the ports")                                                      \
  X(tx, counter, "packets sent")                                                                         \
  X(flows_created, counter, "flows created")                                                             \
  X(flows_expired, counter, "flows that reached their idle timeout")                                     \
  X(flows_early_dropped, counter, "half-open flows evicted for new ones (S11)")                          \
  X(flows_closed, counter,                                                                               \
    "flows ended before their timeout: a new connection on their ports, cut by a policy change")         \
  X(related, counter, "ICMP errors passed as related to a flow (S6)")                                    \
  X(handed_off, counter, "packets sent to the worker that owns their flow")                              \
  X(received_from_others, counter, "packets received from other workers")                                \
  X(fragments_evicted, counter, "first-fragment verdicts that gave way to newer datagrams (S10)")        \
  X(flows_revalidated, counter, "established flows judged again after a change in revalidate mode (S8)") \
  X(audit_would_deny, counter, "packets an audit-mode resource's groups would deny, passed and tracked") \
  X(flows, gauge, "flows in the table")

namespace sgfw::dp {

enum class counter_kind : std::uint8_t { counter, gauge };

enum class counter_id : std::uint8_t {
#define SGFW_ENUMERATOR(name, kind, help) name,
  SGFW_WORKER_COUNTERS(SGFW_ENUMERATOR)
#undef SGFW_ENUMERATOR
      count_
};

inline constexpr std::size_t counter_count = static_cast<std::size_t>(counter_id::count_);

struct counter_info {
  std::string_view name;
  counter_kind kind;
  std::string_view help;
};

inline constexpr std::array<counter_info, counter_count> k_counters{{
#define SGFW_INFO(name, kind, help) {#name, counter_kind::kind, help},
    SGFW_WORKER_COUNTERS(SGFW_INFO)
#undef SGFW_INFO
}};

struct alignas(64) worker_counters {
#define SGFW_MEMBER(name, kind, help) std::atomic<std::uint64_t> name{0};
  SGFW_WORKER_COUNTERS(SGFW_MEMBER)
#undef SGFW_MEMBER
  std::array<std::atomic<std::uint64_t>, drop_reason_count> drops{};

  std::atomic<std::uint64_t>& operator[](counter_id id) { return this->*k_members[static_cast<std::size_t>(id)]; }
  std::uint64_t load(counter_id id) const {
    return (this->*k_members[static_cast<std::size_t>(id)]).load(std::memory_order_relaxed);
  }
  std::uint64_t dropped(drop_reason r) const {
    return drops[static_cast<std::size_t>(r)].load(std::memory_order_relaxed);
  }
  std::uint64_t total_dropped() const {
    std::uint64_t n = 0;
    for (const auto& d : drops) n += d.load(std::memory_order_relaxed);
    return n;
  }

 private:
  using member = std::atomic<std::uint64_t> worker_counters::*;
  static constexpr std::array<member, counter_count> k_members{
#define SGFW_POINTER(name, kind, help) &worker_counters::name,
      SGFW_WORKER_COUNTERS(SGFW_POINTER)
#undef SGFW_POINTER
  };
};

// The single writer's increment: no read-modify-write instruction needed.
inline void bump(std::atomic<std::uint64_t>& c, std::uint64_t delta) {
  if (delta != 0) c.store(c.load(std::memory_order_relaxed) + delta, std::memory_order_relaxed);
}

// What a worker counted since it last published (plain integers, on the
// hot path).
struct counter_tally {
  std::array<std::uint64_t, counter_count> values{};
  std::array<std::uint64_t, drop_reason_count> drops{};

  bool dropped_any = false;  // drops holds something to publish

  std::uint64_t& operator[](counter_id id) { return values[static_cast<std::size_t>(id)]; }
  void drop(drop_reason r, std::uint64_t n = 1) {
    drops[static_cast<std::size_t>(r)] += n;
    dropped_any = true;
  }

  // Adds the counters to the block, sets the gauges, starts again.
  void publish(worker_counters& to) {
    for (std::size_t i = 0; i < counter_count; ++i) {
      const auto id = static_cast<counter_id>(i);
      if (k_counters[i].kind == counter_kind::counter) {
        bump(to[id], values[i]);
        values[i] = 0;
      } else {
        to[id].store(values[i], std::memory_order_relaxed);
      }
    }
    // Most loops drop nothing: the drop reasons are only walked when one did.
    if (!dropped_any) return;
    for (std::size_t r = 0; r < drop_reason_count; ++r) bump(to.drops[r], drops[r]);
    drops.fill(0);
    dropped_any = false;
  }
};

// Counters of one or more workers, added up (any thread, from relaxed
// loads): what the status line, the final counters and the exporters read.
struct counter_snapshot {
#define SGFW_MEMBER(name, kind, help) std::uint64_t name = 0;
  SGFW_WORKER_COUNTERS(SGFW_MEMBER)
#undef SGFW_MEMBER
  std::array<std::uint64_t, drop_reason_count> drops{};

  void add(const worker_counters& c) {
#define SGFW_ADD(name, kind, help) name += c.name.load(std::memory_order_relaxed);
    SGFW_WORKER_COUNTERS(SGFW_ADD)
#undef SGFW_ADD
    for (std::size_t r = 0; r < drop_reason_count; ++r) drops[r] += c.dropped(static_cast<drop_reason>(r));
  }
  std::uint64_t value(counter_id id) const {
    switch (id) {
#define SGFW_CASE(name, kind, help) \
  case counter_id::name:            \
    return name;
      SGFW_WORKER_COUNTERS(SGFW_CASE)
#undef SGFW_CASE
      case counter_id::count_:
        break;
    }
    return 0;
  }
  std::uint64_t dropped() const {
    std::uint64_t n = 0;
    for (std::size_t r = 1; r < drop_reason_count; ++r) n += drops[r];  // none is never counted
    return n;
  }
};

}  // namespace sgfw::dp
