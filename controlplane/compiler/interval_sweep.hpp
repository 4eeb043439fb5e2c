// The compiler's interval sweep and row interning: a key space (IPv4 or
// IPv6 addresses, or service keys) cut into elementary intervals, each
// mapped to the interned bitset of the rules that cover it.  Internal to
// controlplane/compiler/ (docs/classifier.md).
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "net/ip_address.hpp"

namespace sgfw::cp::compiling {

template <class K>
struct interval {
  K first;
  K last;
};

template <class K>
constexpr K key_max() {
  return static_cast<K>(~K{0});
}

// Interval end points to sweep.  For 32-bit keys an event is packed into
// one integer, key << 32 | bit << 1 | end, so that sorting is a plain
// integer sort; the order of events at one key does not matter.
template <class K>
struct event_list;

template <>
struct event_list<std::uint32_t> {
  std::vector<std::uint64_t> events;

  void add(std::uint32_t bit, std::uint32_t first, std::uint32_t last) {
    events.push_back(std::uint64_t{first} << 32 | std::uint64_t{bit} << 1);
    if (last != key_max<std::uint32_t>()) {
      events.push_back(std::uint64_t{last + 1} << 32 | std::uint64_t{bit} << 1 | 1U);
    }
  }
  void sort() { std::sort(events.begin(), events.end()); }
  std::size_t size() const { return events.size(); }
  void clear() { events.clear(); }
  std::uint32_t key(std::size_t i) const { return static_cast<std::uint32_t>(events[i] >> 32); }
  std::uint32_t bit(std::size_t i) const { return static_cast<std::uint32_t>(events[i] >> 1) & 0x7FFFFFFFU; }
  bool end(std::size_t i) const { return (events[i] & 1U) != 0; }
};

template <>
struct event_list<net::u128> {
  struct event {
    net::u128 key;
    std::uint32_t bit;
    bool end;
  };
  std::vector<event> events;

  void add(std::uint32_t bit, net::u128 first, net::u128 last) {
    events.push_back({first, bit, false});
    if (last != key_max<net::u128>()) events.push_back({last + 1, bit, true});
  }
  void sort() {
    std::sort(events.begin(), events.end(), [](const event& a, const event& b) { return a.key < b.key; });
  }
  std::size_t size() const { return events.size(); }
  void clear() { events.clear(); }
  net::u128 key(std::size_t i) const { return events[i].key; }
  std::uint32_t bit(std::size_t i) const { return events[i].bit; }
  bool end(std::size_t i) const { return events[i].end; }
};

// A pseudo-random 64-bit tag per bit: the XOR of the tags of the set bits
// is a hash of the bitset that the sweep keeps current in O(1) per event.
inline std::uint64_t bit_tag(std::uint32_t bit) {
  std::uint64_t z = (std::uint64_t{bit} + 1) * 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// Interns rule bitsets: equal rows share one id, so tables hold each
// distinct row once however many intervals map to it.  Rows are stored
// `stride` words apart (the table's power-of-two row width).  Works in
// reused scratch buffers; rows() hands out an exactly sized copy.
class row_interner {
 public:
  row_interner(std::uint32_t words, std::uint32_t stride, std::vector<std::uint32_t>& slots,
               std::vector<std::uint64_t>& rows, std::vector<std::uint64_t>& hashes)
      : words_(words), stride_(stride), slots_(slots), rows_(rows), hashes_(hashes) {
    slots_.assign(64, 0);
    rows_.clear();
    hashes_.clear();
  }

  std::uint32_t intern(const std::uint64_t* bits, std::uint64_t hash) {
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
      const std::uint32_t s = slots_[i];
      if (s == 0) {
        const auto id = static_cast<std::uint32_t>(hashes_.size());
        rows_.insert(rows_.end(), bits, bits + words_);
        rows_.resize(rows_.size() + (stride_ - words_), 0);
        hashes_.push_back(hash);
        slots_[i] = id + 1;
        if (2 * hashes_.size() > slots_.size()) grow();
        return id;
      }
      if (hashes_[s - 1] == hash &&
          std::equal(bits, bits + words_, rows_.begin() + static_cast<std::ptrdiff_t>(std::size_t{s - 1} * stride_))) {
        return s - 1;
      }
    }
  }

  dp::aligned_vector<std::uint64_t> rows() const { return {rows_.begin(), rows_.end()}; }

 private:
  void grow() {
    slots_.assign(slots_.size() * 2, 0);
    const std::size_t mask = slots_.size() - 1;
    for (std::uint32_t id = 0; id < hashes_.size(); ++id) {
      std::size_t i = hashes_[id] & mask;
      while (slots_[i] != 0) i = (i + 1) & mask;
      slots_[i] = id + 1;
    }
  }

  std::uint32_t words_;
  std::uint32_t stride_;
  std::vector<std::uint32_t>& slots_;  // row id + 1; 0 = empty
  std::vector<std::uint64_t>& rows_;
  std::vector<std::uint64_t>& hashes_;
};

// Buffers reused from table to table, so that compiling allocates little.
struct compile_scratch {
  event_list<std::uint32_t> v4_events;
  event_list<net::u128> v6_events;
  event_list<std::uint32_t> service_events;
  std::vector<std::uint32_t> count;
  std::vector<std::uint64_t> bits;
  std::vector<std::uint32_t> slots;
  std::vector<std::uint64_t> rows;
  std::vector<std::uint64_t> hashes;
  std::vector<std::uint32_t> bounds32;
  std::vector<net::u128> bounds128;
  std::vector<std::uint32_t> values;
  std::vector<interval<std::uint32_t>> v4_intervals;
  std::vector<interval<net::u128>> v6_intervals;
  std::vector<interval<std::uint32_t>> service_intervals;
};

// Cuts the key space into elementary intervals, each mapped to the interned
// bitset of the rules whose intervals cover it; neighbours with the same
// bitset are merged.  Intervals of one rule may overlap (a prefix list with
// nested entries): a per-bit count keeps that right.
template <class K>
void sweep(event_list<K>& events, std::uint32_t bits_used, std::uint32_t words, compile_scratch& scratch,
           row_interner& rows, std::vector<K>& bounds, std::vector<std::uint32_t>& values) {
  events.sort();
  scratch.count.assign(bits_used, 0);
  scratch.bits.assign(words, 0);
  std::uint64_t hash = 0;
  std::size_t i = 0;
  K cur = 0;
  for (;;) {
    for (; i < events.size() && events.key(i) == cur; ++i) {
      const std::uint32_t bit = events.bit(i);
      std::uint32_t& c = scratch.count[bit];
      const bool was_set = c != 0;
      c = events.end(i) ? c - 1 : c + 1;
      if (was_set != (c != 0)) {
        scratch.bits[bit / 64] ^= std::uint64_t{1} << (bit % 64);
        hash ^= bit_tag(bit);
      }
    }
    const std::uint32_t row = rows.intern(scratch.bits.data(), hash);
    if (values.empty() || values.back() != row) {
      bounds.push_back(cur);
      values.push_back(row);
    }
    if (i == events.size()) break;
    cur = events.key(i);
  }
}

}  // namespace sgfw::cp::compiling
