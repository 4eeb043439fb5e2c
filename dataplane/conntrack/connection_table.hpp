// connection_table: one worker's connection tracking as a whole, over its
// flow_table (flow_table.hpp): the rules of a flow's life that are not
// about one packet's TCP state (tracker.hpp).
//
//   - A flow past its timeout is gone: live() removes it when it finds it
//     (the ageing sweep, age(), gets to every one eventually).
//   - A new flow fits within the table and its resource's share of it
//     (S11); with early drop a full table or share makes room by evicting
//     a half-open flow (open()).
//   - A packet's verdict is all or nothing (the worker's commit): the flows
//     it opened are undone when a later one does not fit (undo()), and
//     only a commit that stands makes them created (opened()).
//   - What carried each flow (packets, bytes, since when) is kept beside
//     it when asked (count()); see docs/architecture.md for the cost.
//   - Every end of a flow and every start is a flow event (created,
//     closed, expired, evicted) for whoever listens: the flow logs.
//
// One worker's: no locks.  The per-resource flow counts are atomics only
// so that the control thread may read them.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>

#include "conntrack/flow_table.hpp"
#include "conntrack/tracker.hpp"

namespace sgfw::dp {

enum class flow_event : std::uint8_t {
  created,  // a packet that opened it passed
  closed,   // ended before its timeout: a new connection on its ports, or cut by a policy change
  expired,  // its idle timeout passed
  evicted,  // made room for a new flow (early drop, S11)
};

// Called with the flow as it was at the event (the entry is valid only
// during the call) and its counts (zero without counting).
struct flow_listener {
  void (*on)(void* context, flow_event what, const flow_entry& flow, const flow_counts& counts,
             std::uint32_t now_ms) = nullptr;
  void* context = nullptr;
};

// Why open() found no room.
enum class open_refusal : std::uint8_t { none, table_full, share_full };

// Slots of the per-resource flow counts (S11) in each worker
// (compiled_policy::resource_slot); the last one is shared by resources
// the control plane could give no slot of their own (it is never limited).
inline constexpr std::uint32_t k_resource_slots = 65536;
inline constexpr std::uint16_t k_unlimited_slot = k_resource_slots - 1;

// The single writer's update of a counter others read.
inline void bump32(std::atomic<std::uint32_t>& c, int delta) {
  c.store(static_cast<std::uint32_t>(c.load(std::memory_order_relaxed) + static_cast<std::uint32_t>(delta)),
          std::memory_order_relaxed);
}

struct connection_table_config {
  std::uint32_t capacity = 1U << 20;
  bool early_drop = true;
  bool count = false;  // packets and bytes per flow
};

class connection_table {
 public:
  explicit connection_table(const connection_table_config& c);

  void listen(flow_listener l) { listener_ = l; }

  // The lookups of a burst, as flow_table's (hash, prefetch_control,
  // prefetch_entry, find).
  std::uint64_t hash(const flow_key& k) const { return flows_.hash(k); }
  void prefetch_control(std::uint64_t hash) const { flows_.prefetch_control(hash); }
  std::size_t prefetch_entry(std::uint64_t hash) const { return flows_.prefetch_entry(hash); }
  flow_entry* find(const flow_key& k, std::uint64_t hash, std::size_t hint = flow_table::k_no_hint) {
    return flows_.find(k, hash, hint);
  }
  // The key's flow unless it has timed out; one that has is removed
  // (expired) on the way.
  flow_entry* live(const flow_key& k, std::uint64_t hash, std::size_t hint, std::uint32_t now_ms) {
    flow_entry* e = flows_.find(k, hash, hint);
    // Ageing sweeps the table a slice per loop, so an idle flow may still
    // be there a little after its timeout, but it never passes another
    // packet.
    if (e != nullptr && expired(*e, now_ms)) [[unlikely]] {
      expire(e, now_ms);
      return nullptr;
    }
    return e;
  }
  // Moves on every insert and erase: a pointer found while this had a
  // value is good while it keeps it.
  std::uint64_t changes() const { return flows_.changes(); }

  // A new flow for `k`, counted in `quota_slot` whose share is `share`
  // flows; early drop never evicts a flow of `keep` (the packet's own).
  // nullptr and `why` when there is no room.
  flow_entry* open(const flow_key& k, std::uint64_t hash, std::uint16_t quota_slot, std::uint32_t share,
                   std::span<const flow_key> keep, std::uint32_t now_ms, open_refusal& why);
  // The packet that opened it passed: the flow is created.
  void opened(flow_entry& e, std::uint32_t now_ms);
  // The packet that opened it did not pass: as if it had never been.
  void undo(const flow_key& k, std::uint64_t hash);
  // Ends a flow before its timeout.
  void close(flow_entry* e, std::uint32_t now_ms);
  // A frame of `bytes` passed on the flow, in its reply direction or not.
  void count(const flow_entry& e, std::uint32_t bytes, bool reply) {
    if (!flows_.counts()) return;
    flow_counts& c = flows_.counts_of(&e);
    ++c.packets;
    c.bytes += bytes;
    c.reply_packets += reply ? 1U : 0U;
    c.reply_bytes += reply ? bytes : 0U;
  }

  // Ageing, a slice at a time (flow_table::age).
  void age(std::uint32_t budget, std::uint32_t now_ms);

  // What happened since the last call, for the worker's counters.
  struct tally {
    std::uint64_t created = 0, closed = 0, expired = 0, evicted = 0;
  };
  tally take_tally() {
    const tally t = tally_;
    tally_ = {};
    return t;
  }

  std::uint32_t size() const { return flows_.size(); }
  const flow_table& flows() const { return flows_; }
  const flow_counts* counts_of(const flow_entry& e) const { return flows_.counts() ? &flows_.counts_of(&e) : nullptr; }
  std::uint32_t resource_flows(std::uint16_t slot) const {
    return resource_flows_[slot].load(std::memory_order_relaxed);
  }
  std::uint64_t resource_exceeded(std::uint16_t slot) const {
    return resource_exceeded_[slot].load(std::memory_order_relaxed);
  }
  // Flows created under the slot since the start (their first packet
  // passed): its new flows per second, read twice.
  std::uint64_t resource_opened(std::uint16_t slot) const {
    return resource_opened_[slot].load(std::memory_order_relaxed);
  }

 private:
  void expire(flow_entry* e, std::uint32_t now_ms);
  // Tells the listener, then forgets the flow.
  void end(flow_entry* e, flow_event why, std::uint32_t now_ms);
  void tell(flow_event what, const flow_entry& e, std::uint32_t now_ms) {
    if (listener_.on == nullptr) return;
    static constexpr flow_counts k_none{};
    listener_.on(listener_.context, what, e, flows_.counts() ? flows_.counts_of(&e) : k_none, now_ms);
  }

  flow_table flows_;
  bool early_drop_;
  flow_listener listener_;
  tally tally_;
  std::unique_ptr<std::atomic<std::uint32_t>[]> resource_flows_;     // [k_resource_slots]
  std::unique_ptr<std::atomic<std::uint64_t>[]> resource_exceeded_;  // [k_resource_slots]
  std::unique_ptr<std::atomic<std::uint64_t>[]> resource_opened_;    // [k_resource_slots]
  // Early drop's round-robin scan (flow_table::scan_from): where it goes
  // on, and how far it looks for one refused flow.
  std::size_t evict_cursor_ = 0;
  static constexpr std::size_t k_evict_scan = 256;
};

}  // namespace sgfw::dp
