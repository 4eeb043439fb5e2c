// interval_map: a static search tree that maps every key of an ordered key
// space to the value of the interval it falls in.
//
// The key space is cut into intervals by sorted lower bounds b[0] = 0 <
// b[1] < ... < b[n-1]; lookup(x) returns the value of the last interval whose
// bound is <= x.  The classifier uses it twice per lookup: remote address ->
// address class, and (protocol, port or ICMP type/code) -> service class.
//
// Layout: an implicit B+-tree of 16-key nodes, root level first ("S+-tree").
// A node of 32-bit keys is one cache line, and the branch-free "count keys
// <= x" inside a node compiles to one or two SIMD compares, so a lookup is
// depth dependent loads with no mispredicted branches.  128-bit keys (IPv6)
// store each node as 16 high halves then 16 low halves so the same count
// vectorises on 64-bit lanes.
//
// Padding: a level is padded to a whole node with the largest key.  A lookup
// of the largest key itself counts those pads, so the child index is clamped
// to the last real node of the level; a pad can never be the right answer
// for any other key because pads only follow the last real key.
//
// Immutable once built; readers need no synchronisation.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <type_traits>
#include <vector>

#include "net/ip_address.hpp"

namespace sgfw::dp {

inline constexpr unsigned k_interval_node_keys = 16;

namespace detail {

template <class Key>
struct interval_node_traits;

template <>
struct interval_node_traits<std::uint32_t> {
  static constexpr std::size_t words_per_node = k_interval_node_keys;  // uint32 words
  using word = std::uint32_t;

  static void store(word* node, unsigned i, std::uint32_t key) { node[i] = key; }
  static std::uint32_t load_first(const word* node) { return node[0]; }

  // Number of keys in the node that are <= x.
  static unsigned count_le(const word* node, std::uint32_t x) {
    unsigned c = 0;
    for (unsigned i = 0; i < k_interval_node_keys; ++i) c += node[i] <= x ? 1U : 0U;
    return c;
  }
};

template <>
struct interval_node_traits<net::u128> {
  static constexpr std::size_t words_per_node = 2 * k_interval_node_keys;  // hi[16], lo[16]
  using word = std::uint64_t;

  static void store(word* node, unsigned i, net::u128 key) {
    node[i] = static_cast<std::uint64_t>(key >> 64);
    node[k_interval_node_keys + i] = static_cast<std::uint64_t>(key);
  }
  static net::u128 load_first(const word* node) { return (net::u128{node[0]} << 64) | node[k_interval_node_keys]; }
  static unsigned count_le(const word* node, net::u128 x) {
    const auto xh = static_cast<std::uint64_t>(x >> 64);
    const auto xl = static_cast<std::uint64_t>(x);
    const word* hi = node;
    const word* lo = node + k_interval_node_keys;
    unsigned c = 0;
    for (unsigned i = 0; i < k_interval_node_keys; ++i) {
      c += ((hi[i] < xh) | ((hi[i] == xh) & (lo[i] <= xl))) ? 1U : 0U;
    }
    return c;
  }
};

}  // namespace detail

template <class Key>
class interval_map {
  using traits = detail::interval_node_traits<Key>;
  using word = typename traits::word;

 public:
  static constexpr unsigned k_max_depth = 8;

  interval_map() = default;

  // bounds: strictly increasing, bounds[0] == 0; values: one per bound.
  static interval_map build(std::span<const Key> bounds, std::span<const std::uint32_t> values) {
    interval_map m;
    m.build_from(bounds, values);
    return m;
  }

  bool empty() const { return values_.empty(); }
  std::size_t size() const { return real_slots_; }
  unsigned depth() const { return depth_; }
  std::size_t memory_bytes() const { return words_.size() * sizeof(word) + values_.size() * sizeof(std::uint32_t); }

  std::uint32_t lookup(Key x) const {
    const word* w = words_.data();
    std::uint32_t node = 0;
    for (unsigned level = 0; level < depth_; ++level) {
      const word* n = w + (std::size_t{level_offset_[level]} + node) * traits::words_per_node;
      const std::uint32_t child = node * k_interval_node_keys + traits::count_le(n, x) - 1;
      node = std::min(child, level_last_[level]);
    }
    return values_[node];
  }

  // One level of the descent for a burst of independent lookups: callers
  // interleave levels across the burst so the loads of different keys are in
  // flight together.  `node` starts at 0 for every key.
  void descend(unsigned level, Key x, std::uint32_t& node) const {
    const word* n = words_.data() + (std::size_t{level_offset_[level]} + node) * traits::words_per_node;
    const std::uint32_t child = node * k_interval_node_keys + traits::count_le(n, x) - 1;
    node = std::min(child, level_last_[level]);
  }
  void prefetch_root() const { __builtin_prefetch(words_.data()); }
  void prefetch_node(unsigned level, std::uint32_t node) const {
    __builtin_prefetch(words_.data() + (std::size_t{level_offset_[level]} + node) * traits::words_per_node);
  }
  std::uint32_t value_at(std::uint32_t slot) const { return values_[slot]; }

 private:
  void build_from(std::span<const Key> bounds, std::span<const std::uint32_t> values) {
    const std::size_t n = bounds.size();
    real_slots_ = n;
    if (n == 0) return;
    // Level sizes, leaves last: each level has one separator per node below.
    std::vector<std::size_t> level_keys{n};
    while (level_keys.back() > k_interval_node_keys) {
      level_keys.push_back((level_keys.back() + k_interval_node_keys - 1) / k_interval_node_keys);
    }
    std::reverse(level_keys.begin(), level_keys.end());
    depth_ = static_cast<unsigned>(level_keys.size());

    std::size_t total_nodes = 0;
    for (unsigned l = 0; l < depth_; ++l) {
      const std::size_t nodes = (level_keys[l] + k_interval_node_keys - 1) / k_interval_node_keys;
      level_offset_[l] = static_cast<std::uint32_t>(total_nodes);
      level_last_[l] = static_cast<std::uint32_t>(level_keys[l] - 1);
      total_nodes += nodes;
    }
    words_.assign(total_nodes * traits::words_per_node, std::numeric_limits<word>::max());

    // Leaves: the bounds themselves.
    std::vector<Key> level(bounds.begin(), bounds.end());
    for (int l = static_cast<int>(depth_) - 1; l >= 0; --l) {
      const auto ul = static_cast<unsigned>(l);
      for (std::size_t i = 0; i < level.size(); ++i) {
        word* node = words_.data() + (level_offset_[ul] + i / k_interval_node_keys) * traits::words_per_node;
        traits::store(node, static_cast<unsigned>(i % k_interval_node_keys), level[i]);
      }
      // Separators for the level above: the first key of each node.
      std::vector<Key> up;
      up.reserve((level.size() + k_interval_node_keys - 1) / k_interval_node_keys);
      for (std::size_t i = 0; i < level.size(); i += k_interval_node_keys) up.push_back(level[i]);
      level = std::move(up);
    }
    values_.assign(values.begin(), values.end());
  }

  std::vector<word> words_;  // all levels, root first, 16 keys per node
  std::vector<std::uint32_t> values_;
  std::array<std::uint32_t, k_max_depth> level_offset_{};  // first node of each level
  std::array<std::uint32_t, k_max_depth> level_last_{};    // last real slot of each level
  unsigned depth_ = 0;
  std::size_t real_slots_ = 0;
};

}  // namespace sgfw::dp
