// flow_table: one worker's connection table (docs/architecture.md).
//
// Shared-nothing: every flow belongs to exactly one worker (chosen from its
// address pair, see worker/flow_owner.hpp) and only that worker reads or
// writes its entry, so the table needs no locks or atomics at all; a packet
// that arrives on another worker is handed to the owner through a ring.
//
// Open addressing with Robin Hood probing over 64-byte entries, one cache
// line each, and backward-shift deletion (no tombstones, so a long-lived
// table never degrades).  Capacity is fixed at construction: slots are one
// ninth more than the flows it admits, so probe sequences stay short; a full
// table refuses new flows (S11), it never evicts established ones.
//
// Entries move when flows are inserted or erased: pointers returned by find
// stay valid until the next insert or erase.  The worker finds and updates
// all of a burst's known flows before it inserts new ones or erases any.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "net/ip_address.hpp"
#include "policy/interval_map.hpp"  // aligned_vector

namespace sgfw::dp {

// A flow as one protected resource sees it: its own address and port on
// the local side, whatever the packet's direction.  ICMP queries use the
// identifier as both ports; other protocols use port 0 (S5).
struct flow_key {
  net::u128 local = 0;
  net::u128 remote = 0;
  std::uint16_t local_port = 0;
  std::uint16_t remote_port = 0;
  std::uint8_t proto = 0;
  net::family fam = net::family::ipv4;

  friend bool operator==(const flow_key&, const flow_key&) = default;
};

namespace flow_flag {
inline constexpr std::uint8_t ipv6 = 0x01;
inline constexpr std::uint8_t initiated_inbound = 0x02;  // the first packet came towards the resource
inline constexpr std::uint8_t untracked = 0x04;          // S8
inline constexpr std::uint8_t seq_known_original = 0x08;
inline constexpr std::uint8_t seq_known_reply = 0x10;
inline constexpr std::uint8_t fin_original = 0x20;
inline constexpr std::uint8_t fin_reply = 0x40;
inline constexpr std::uint8_t last_was_reply = 0x80;  // UDP: for counting exchanges
}  // namespace flow_flag

struct alignas(64) flow_entry {
  net::u128 local;
  net::u128 remote;
  std::uint16_t local_port;
  std::uint16_t remote_port;
  std::uint8_t proto;
  std::uint8_t probe;         // 0: empty slot; else distance from the home slot + 1
  std::uint8_t flags;         // flow_flag
  std::uint8_t state;         // TCP state, or UDP exchange count (conntrack/tracker.hpp)
  std::uint32_t expires_at;   // clock ticks (ms), wrapping
  std::uint32_t rule;         // the rule that allowed the flow
  std::uint32_t generation;   // policy generation it was last judged under
  std::uint32_t seq_next[2];  // TCP: next sequence number, [0] original direction, [1] reply
  std::uint32_t reserved;

  flow_key key() const {
    return {local,       remote, local_port,
            remote_port, proto,  (flags & flow_flag::ipv6) != 0 ? net::family::ipv6 : net::family::ipv4};
  }
  bool matches(const flow_key& k) const {
    return local == k.local && remote == k.remote && local_port == k.local_port && remote_port == k.remote_port &&
           proto == k.proto && ((flags & flow_flag::ipv6) != 0) == (k.fam == net::family::ipv6);
  }
};
static_assert(sizeof(flow_entry) == 64, "one cache line per flow");

class flow_table {
 public:
  static constexpr unsigned k_max_probe = 254;

  explicit flow_table(std::uint32_t capacity);

  // Keyed with a per-table secret (hash flooding).
  std::uint32_t hash(const flow_key& k) const;

  void prefetch(std::uint32_t hash) const { __builtin_prefetch(&slots_[home(hash)]); }
  flow_entry* find(const flow_key& k, std::uint32_t hash);
  // Inserts a key that is not in the table; nullptr when the table is full.
  // The entry's state fields are zero.
  flow_entry* insert(const flow_key& k, std::uint32_t hash);
  void erase(flow_entry* e);

  std::uint32_t size() const { return size_; }
  std::uint32_t capacity() const { return capacity_; }
  std::size_t slot_count() const { return slots_.size(); }
  std::size_t memory_bytes() const { return slots_.size() * sizeof(flow_entry); }

  // Ageing, a slice at a time: examines up to `budget` slots from where the
  // last call stopped and erases the entries `expired` says are; returns how
  // many it erased.
  template <class Expired>
  std::uint32_t age(std::uint32_t budget, Expired&& expired) {
    std::uint32_t erased = 0;
    for (std::uint32_t n = 0; n < budget && size_ > 0; ++n) {
      if (cursor_ >= slots_.size()) cursor_ = 0;
      flow_entry& e = slots_[cursor_];
      if (e.probe != 0 && expired(e)) {
        erase(&e);  // shifts the next entries back into this slot: look at it again
        ++erased;
      } else {
        ++cursor_;
      }
    }
    return erased;
  }

  // Among the entries within `window` slots of a key's home slot, the one
  // `pick` prefers (a candidate for early drop, S11), or nullptr.
  template <class Better>
  flow_entry* nearby(std::uint32_t hash, unsigned window, Better&& better) {
    flow_entry* best = nullptr;
    std::size_t i = home(hash);
    for (unsigned n = 0; n < window; ++n, i = next(i)) {
      flow_entry& e = slots_[i];
      if (e.probe != 0 && better(e, best)) best = &e;
    }
    return best;
  }

  template <class F>
  void for_each(F&& f) const {
    for (const flow_entry& e : slots_) {
      if (e.probe != 0) f(e);
    }
  }

 private:
  std::size_t home(std::uint32_t hash) const {
    return static_cast<std::size_t>((std::uint64_t{hash} * slots_.size()) >> 32);
  }
  std::size_t next(std::size_t i) const { return i + 1 == slots_.size() ? 0 : i + 1; }

  aligned_vector<flow_entry> slots_;
  std::array<std::uint64_t, 6> key_{};
  std::uint32_t capacity_;
  std::uint32_t size_ = 0;
  std::size_t cursor_ = 0;
};

}  // namespace sgfw::dp
