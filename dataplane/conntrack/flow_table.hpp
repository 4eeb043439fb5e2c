// flow_table: one worker's connection table (docs/architecture.md).
//
// Shared-nothing: every flow belongs to exactly one worker (chosen from its
// address pair, see worker/flow_owner.hpp) and only that worker reads or
// writes its entry, so the table needs no locks or atomics at all; a packet
// that arrives on another worker is handed to the owner through a ring.
//
// Open addressing with Robin Hood probing and backward-shift deletion (no
// tombstones, so a long-lived table never degrades).  Probing reads a
// parallel array of 16-bit control words (the probe distance and an 8-bit
// tag of the hash), compared 32 at a time with AVX-512 (16 with AVX2), and
// touches a 64-byte entry only when its tag matches: a lookup costs one
// control line and one entry line whatever the load.  Capacity is fixed at
// construction: slots are one sixteenth more than the flows it admits, plus
// a tail so that probe runs never wrap; a full table refuses new flows
// (S11), it never evicts established ones.  The memory is mapped with huge
// pages where the kernel offers them (memory/huge_buffer.hpp).
//
// Entries move when flows are inserted or erased: a pointer returned by find
// or insert is valid until the next insert or erase, and the worker uses
// each one before it changes the table again.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>

#include "memory/huge_buffer.hpp"
#include "net/ip_address.hpp"

#if defined(__AVX512BW__) || defined(__AVX2__)
#include <immintrin.h>
#endif

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
  std::uint8_t window_scale;  // TCP: low nibble original direction, high nibble reply; 15: not negotiated yet
  std::uint8_t flags;         // flow_flag
  std::uint8_t state;         // TCP state, or UDP exchange count (conntrack/tracker.hpp)
  std::uint32_t expires_at;   // clock ticks (ms), wrapping
  std::uint32_t rule;         // the rule that allowed the flow
  std::uint32_t generation;   // policy generation it was last judged under
  std::uint32_t seq_end[2];   // TCP: end of the sequence space each direction sent, [0] original, [1] reply
  std::uint16_t quota_slot;   // the resource's slot in the per-resource flow counts (S11)
  std::uint8_t window[2];     // TCP: largest window each direction advertised, scaled (tracker.cpp's encoding)

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

// What a flow carried, kept beside its entry (the entry's line is full):
// for flow logs and `describe-flows`.  A slot's counts move with its entry.
struct flow_counts {
  std::uint64_t bytes;          // frames' bytes, both directions
  std::uint32_t packets;        // both directions (wraps after 4 G: readers take differences)
  std::uint32_t start_ms;       // clock ticks (ms) when the flow was created, wrapping
  std::uint64_t reply_bytes;    // of those, the reply direction's (towards the flow's initiator)
  std::uint32_t reply_packets;  // (wraps as packets)
  std::uint32_t reserved;
};
static_assert(sizeof(flow_counts) == 32, "two per cache line");

#if defined(__AVX2__)
inline constexpr bool k_have_avx2 = true;
#else
inline constexpr bool k_have_avx2 = false;
#endif

class flow_table {
 public:
  // Entries are never further than this from their home slot: a scan's
  // per-lane distances (up to k_max_probe + k_window - 1) fit the control
  // word's byte.
  static constexpr unsigned k_max_probe = 224;

  // With `counts`, every entry has a flow_counts beside it.
  explicit flow_table(std::uint32_t capacity, bool counts = false);

  // Keyed with a per-table secret (hash flooding).  The high half picks the
  // home slot, the low byte is the tag.
  std::uint64_t hash(const flow_key& k) const;

  // A burst looks up in three passes so that the cache misses of all its
  // keys overlap: prefetch_control for every key, then prefetch_entry for
  // every key (its control words have arrived by then: it finds the slot
  // whose tag matches and starts loading that entry), then find.
  void prefetch_control(std::uint64_t hash) const {
    const std::size_t i = home(hash);
    __builtin_prefetch(&ctrl_[i]);
    __builtin_prefetch(&ctrl_[i + k_window - 1]);
  }
  // Returns a hint for find: the slot it started loading, or k_no_hint.
  static constexpr std::size_t k_no_hint = ~std::size_t{0};
  std::size_t prefetch_entry(std::uint64_t hash) const {
    const std::size_t h = home(hash);
    const scan_result w = scan(h, 1, static_cast<std::uint8_t>(hash));
    const std::uint32_t before_stop = w.stop != 0 ? (w.stop & (0U - w.stop)) - 1 : ~0U;
    if ((w.match & before_stop) == 0) return k_no_hint;
    const std::size_t i = h + lane_of(w.match);
    __builtin_prefetch(&slots_[i]);
    if (counts_ != nullptr) __builtin_prefetch(&counts_[i], 1);
    return i;
  }
  flow_entry* find(const flow_key& k, std::uint64_t hash);
  // The same, trying the hint first.  A hint may be stale (entries move on
  // insert and erase); an occupied slot that holds the key is the key's
  // entry all the same, since a key is stored at most once.
  flow_entry* find(const flow_key& k, std::uint64_t hash, std::size_t hint) {
    if (hint < slot_count_ && ctrl_[hint] != 0 && slots_[hint].matches(k)) return &slots_[hint];
    return find(k, hash);
  }
  // Inserts a key that is not in the table; nullptr when the table is full.
  // The entry's state fields are zero.
  flow_entry* insert(const flow_key& k, std::uint64_t hash);
  void erase(flow_entry* e);

  std::uint32_t size() const { return size_; }
  // Counts inserts and erases: a pointer from find is still good while
  // this has not moved.
  std::uint64_t changes() const { return changes_; }
  std::uint32_t capacity() const { return capacity_; }
  std::size_t slot_count() const { return slot_count_; }  // includes the tail past the last home slot
  std::size_t memory_bytes() const {
    return slot_count_ * (sizeof(flow_entry) + sizeof(std::uint16_t) + (counts_ != nullptr ? sizeof(flow_counts) : 0));
  }
  bool counts() const { return counts_ != nullptr; }
  // Slot i's entry, or nullptr when it is free (i < slot_count()).
  const flow_entry* at(std::size_t i) const { return ctrl_[i] != 0 ? &slots_[i] : nullptr; }
  // The entry's counts; only with counts().  Zero when it is inserted.
  flow_counts& counts_of(const flow_entry* e) { return counts_[e - slots_]; }
  const flow_counts& counts_of(const flow_entry* e) const { return counts_[e - slots_]; }

  // Ageing, a slice at a time: examines up to `budget` slots from where the
  // last call stopped and erases the entries `expired` says are; returns how
  // many it erased.
  template <class Expired>
  std::uint32_t age(std::uint32_t budget, Expired&& expired) {
    std::uint32_t erased = 0;
    for (std::uint32_t n = 0; n < budget && size_ > 0; ++n) {
      if (cursor_ >= slot_count_) cursor_ = 0;
      flow_entry& e = slots_[cursor_];
      if (ctrl_[cursor_] != 0 && expired(e)) {
        erase(&e);  // shifts the next entries back into this slot: look at it again
        ++erased;
      } else {
        ++cursor_;
      }
    }
    return erased;
  }

  // Among the entries in the `span` slots around a key's home slot, the one
  // `better` prefers (a candidate for early drop, S11), or nullptr.
  template <class Better>
  flow_entry* nearby(std::uint64_t hash, std::size_t span, Better&& better) {
    flow_entry* best = nullptr;
    const std::size_t h = home(hash);
    const std::size_t first = h > span / 2 ? h - span / 2 : 0;
    const std::size_t end = std::min(first + span, slot_count_);
    for (std::size_t i = first; i < end; ++i) {
      if (ctrl_[i] != 0 && better(slots_[i], best)) best = &slots_[i];
    }
    return best;
  }

  // The first entry `wanted` accepts among the `span` slots from `cursor`
  // (wrapping), which moves on past them; nullptr when none.  Early drop's
  // second chance when a key's neighbourhood holds no candidate: a flood
  // that keeps evicting around new keys leaves the survivors bunched in
  // the parts of the table it hashed to least.
  template <class Wanted>
  flow_entry* scan_from(std::size_t& cursor, std::size_t span, Wanted&& wanted) {
    for (std::size_t n = 0; n < span; ++n) {
      if (cursor >= slot_count_) cursor = 0;
      const std::size_t i = cursor++;
      if (ctrl_[i] != 0 && wanted(slots_[i])) return &slots_[i];
    }
    return nullptr;
  }

  template <class F>
  void for_each(F&& f) const {
    for (std::size_t i = 0; i < slot_count_; ++i) {
      if (ctrl_[i] != 0) f(slots_[i]);
    }
  }

 private:
  // Control word: probe distance + 1 (0: empty) in the high byte, tag low.
  static std::uint16_t control(unsigned probe, std::uint64_t hash) {
    return static_cast<std::uint16_t>((probe << 8) | (hash & 0xFF));
  }
  static unsigned probe_of(std::uint16_t c) { return c >> 8; }

  // The control words of k_window slots from i, compared at once: bit
  // lane_bits*j of `match` is set when slot i+j holds an entry at distance
  // d0+j with the tag, of `stop` when slot i+j is empty or holds an entry
  // closer to its home than d0+j (Robin Hood order: the key is not there or
  // further on).
#if defined(__AVX512BW__)
  static constexpr unsigned k_window = 32;
  static constexpr unsigned k_lane_bits = 1;
#else
  static constexpr unsigned k_window = 16;
  static constexpr unsigned k_lane_bits = 1 + (k_have_avx2 ? 1 : 0);
#endif
  static_assert(k_max_probe + k_window <= 256);
  struct scan_result {
    std::uint32_t match;
    std::uint32_t stop;
  };
  scan_result scan(std::size_t i, unsigned d0, std::uint8_t tag) const;
  static unsigned lane_of(std::uint32_t bits) { return static_cast<unsigned>(__builtin_ctz(bits)) / k_lane_bits; }

  // Slots past the last home slot, so that probe runs and window loads
  // never wrap around.
  static constexpr std::size_t k_tail = k_max_probe + k_window;

  std::size_t home(std::uint64_t hash) const { return static_cast<std::size_t>(((hash >> 32) * homes_) >> 32); }
  static std::size_t next(std::size_t i) { return i + 1; }

  std::size_t slot_count_;
  huge_buffer slot_memory_;
  huge_buffer ctrl_memory_;
  huge_buffer counts_memory_;
  flow_entry* slots_;
  std::uint16_t* ctrl_;
  flow_counts* counts_;  // nullptr: no counts
  std::array<std::uint64_t, 6> key_{};
  std::uint64_t homes_;  // slots a key can hash to
  std::uint32_t capacity_;
  std::uint32_t size_ = 0;
  std::uint64_t changes_ = 0;
  std::size_t cursor_ = 0;
};

// Lookups are inline: the worker's burst loop calls them once per packet.

namespace flow_hash {
// 64x64 -> 128-bit multiply, folded: the non-linear core of the hash.
inline std::uint64_t fold_multiply(std::uint64_t a, std::uint64_t b) {
  const net::u128 p = net::u128{a} * b;
  return static_cast<std::uint64_t>(p) ^ static_cast<std::uint64_t>(p >> 64);
}

}  // namespace flow_hash

inline std::uint64_t flow_table::hash(const flow_key& k) const {
  const std::uint64_t tail = (std::uint64_t{k.local_port} << 32) | (std::uint64_t{k.remote_port} << 16) |
                             (std::uint64_t{k.proto} << 8) | static_cast<std::uint64_t>(k.fam);
  const std::uint64_t h = flow_hash::fold_multiply(static_cast<std::uint64_t>(k.local) ^ key_[0],
                                                   static_cast<std::uint64_t>(k.local >> 64) ^ key_[1]) ^
                          flow_hash::fold_multiply(static_cast<std::uint64_t>(k.remote) ^ key_[2],
                                                   static_cast<std::uint64_t>(k.remote >> 64) ^ key_[3]) ^
                          flow_hash::fold_multiply(tail ^ key_[4], key_[5]);
  return flow_hash::fold_multiply(h, 0x9E3779B97F4A7C15ULL);
}

inline flow_table::scan_result flow_table::scan(std::size_t i, unsigned d0, std::uint8_t tag) const {
  const auto want = static_cast<std::uint16_t>((d0 << 8) | tag);  // lane j wants want + (j << 8)
  const auto least = static_cast<std::uint16_t>(d0 << 8);         // lane j stops below least + (j << 8)
#if defined(__AVX512BW__)
  const __m512i step =
      _mm512_set_epi16(31 << 8, 30 << 8, 29 << 8, 28 << 8, 27 << 8, 26 << 8, 25 << 8, 24 << 8, 23 << 8, 22 << 8,
                       21 << 8, 20 << 8, 19 << 8, 18 << 8, 17 << 8, 16 << 8, 15 << 8, 14 << 8, 13 << 8, 12 << 8,
                       11 << 8, 10 << 8, 9 << 8, 8 << 8, 7 << 8, 6 << 8, 5 << 8, 4 << 8, 3 << 8, 2 << 8, 1 << 8, 0);
  const __m512i c = _mm512_loadu_si512(&ctrl_[i]);
  return {_mm512_cmpeq_epu16_mask(c, _mm512_add_epi16(step, _mm512_set1_epi16(static_cast<short>(want)))),
          _mm512_cmplt_epu16_mask(c, _mm512_add_epi16(step, _mm512_set1_epi16(static_cast<short>(least))))};
#elif defined(__AVX2__)
  // Two mask bits per lane (movemask of bytes); c < t unsigned is
  // max(c, t) != c.
  const __m256i step = _mm256_set_epi16(15 << 8, 14 << 8, 13 << 8, 12 << 8, 11 << 8, 10 << 8, 9 << 8, 8 << 8, 7 << 8,
                                        6 << 8, 5 << 8, 4 << 8, 3 << 8, 2 << 8, 1 << 8, 0);
  const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(&ctrl_[i]));
  const __m256i eq = _mm256_cmpeq_epi16(c, _mm256_add_epi16(step, _mm256_set1_epi16(static_cast<short>(want))));
  const __m256i t = _mm256_add_epi16(step, _mm256_set1_epi16(static_cast<short>(least)));
  const __m256i ge = _mm256_cmpeq_epi16(_mm256_max_epu16(c, t), c);
  return {static_cast<std::uint32_t>(_mm256_movemask_epi8(eq)), ~static_cast<std::uint32_t>(_mm256_movemask_epi8(ge))};
#else
  scan_result w{0, 0};
  for (unsigned j = 0; j < k_window; ++j) {
    const std::uint16_t c = ctrl_[i + j];
    if (c == static_cast<std::uint16_t>(want + (j << 8))) w.match |= 1U << j;
    if (c < static_cast<std::uint16_t>(least + (j << 8))) w.stop |= 1U << j;
  }
  return w;
#endif
}

inline flow_entry* flow_table::find(const flow_key& k, std::uint64_t hash) {
  std::size_t i = home(hash);
  const auto tag = static_cast<std::uint8_t>(hash);
  for (unsigned d0 = 1; d0 <= k_max_probe; d0 += k_window, i += k_window) {
    const scan_result w = scan(i, d0, tag);
    std::uint32_t match = w.match;
    if (w.stop != 0) match &= (w.stop & (0U - w.stop)) - 1;  // only lanes before the first stop
    while (match != 0) {
      const unsigned j = lane_of(match);
      if (slots_[i + j].matches(k)) return &slots_[i + j];
      match &= ~(((1U << k_lane_bits) - 1) << (j * k_lane_bits));
    }
    if (w.stop != 0) return nullptr;
  }
  return nullptr;
}

}  // namespace sgfw::dp
