// rule_counters: what each rule admitted on one worker — packets, bytes,
// flows it opened, when it last did — indexed by the rule's global index
// (compiled_policy::rules, stable across policies: rule_slots.hpp), so a
// rule that survives a change keeps its counts without anything copied.
//
// One writer (the worker), any number of readers (the control thread adds
// up all workers): each count is written with a plain load and store of
// the new value (relaxed atomics: a mov each, no locked instruction), as
// the worker's other counters are (counters.hpp).
//
// The index space grows with the policy, and a worker never allocates, so
// the counts live in chunks of k_chunk rules that the control plane adds
// before it publishes a policy needing them (policy_handle::publish calls
// reserve()); a directory of k_chunks pointers, read by the worker, finds
// them.  A rule index beyond what was reserved is not counted (it cannot
// happen: the policy is published only after the reserve).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

namespace sgfw::dp {

// One rule's counts on one worker.
struct rule_count {
  std::atomic<std::uint64_t> packets{0};
  std::atomic<std::uint64_t> bytes{0};
  std::atomic<std::uint64_t> flows{0};    // flows it opened
  std::atomic<std::uint64_t> last_ms{0};  // 1 + the worker's clock (clock.hpp) at its last packet; 0: none yet
};
static_assert(sizeof(rule_count) == 32, "two rules per cache line");

// Counts as read (one worker or several added up).
struct rule_totals {
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
  std::uint64_t flows = 0;
  std::uint64_t last_ms = 0;  // the latest of the workers' (as rule_count's; rule_stats: since 1970)

  rule_totals& operator+=(const rule_totals& o) {
    packets += o.packets;
    bytes += o.bytes;
    flows += o.flows;
    if (o.last_ms > last_ms) last_ms = o.last_ms;
    return *this;
  }
  rule_totals& operator-=(const rule_totals& o) {
    packets -= o.packets;
    bytes -= o.bytes;
    flows -= o.flows;
    return *this;
  }
  friend bool operator==(const rule_totals&, const rule_totals&) = default;
};

class rule_counters {
 public:
  static constexpr std::uint32_t k_chunk_bits = 12;
  static constexpr std::uint32_t k_chunk = 1U << k_chunk_bits;  // rules per chunk: 128 KiB
  static constexpr std::uint32_t k_chunks = 4096;               // up to 16M rule indices

  rule_counters() = default;
  rule_counters(const rule_counters&) = delete;
  rule_counters& operator=(const rule_counters&) = delete;
  ~rule_counters();

  // Control plane (any thread, serialised here): room for indices below
  // `rules`.  False when memory ran out (what was there stays).
  bool reserve(std::uint32_t rules);

  // The worker, per packet a rule admitted (the rule of the flow it
  // travels on, or the rule that passed it without a flow).
  void admit(std::uint32_t rule, std::uint32_t bytes, std::uint64_t now_ms) {
    rule_count* c = find(rule);
    if (c == nullptr) [[unlikely]]
      return;
    add(c->packets, 1);
    add(c->bytes, bytes);
    c->last_ms.store(now_ms + 1, std::memory_order_relaxed);
  }
  // The worker: a flow the rule opened was created.
  void opened(std::uint32_t rule) {
    rule_count* c = find(rule);
    if (c != nullptr) [[likely]]
      add(c->flows, 1);
  }

  // Any thread.
  rule_totals read(std::uint32_t rule) const;

 private:
  rule_count* find(std::uint32_t rule) const {
    const std::uint32_t chunk = rule >> k_chunk_bits;
    if (chunk >= k_chunks) [[unlikely]]
      return nullptr;
    rule_count* c = chunks_[chunk].load(std::memory_order_acquire);
    return c == nullptr ? nullptr : c + (rule & (k_chunk - 1));
  }
  static void add(std::atomic<std::uint64_t>& c, std::uint64_t n) {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }

  std::array<std::atomic<rule_count*>, k_chunks> chunks_{};
  std::mutex grow_;  // reserve() only: never taken by the worker
};

}  // namespace sgfw::dp
