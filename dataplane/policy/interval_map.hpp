// interval_map: a static search tree that maps every key of an ordered key
// space to the value of the interval it falls in.
//
// The key space is cut into intervals by sorted lower bounds b[0] = 0 <
// b[1] < ... < b[n-1]; lookup(x) returns the value of the last interval whose
// bound is <= x.  The classifier uses it twice per lookup: remote address ->
// address row, and (protocol, port or ICMP type/code) -> service row.
//
// Layout: an implicit B-tree, root first.  The tree stores k[i] = b[i+1] - 1
// and answers "how many stored keys are < x", which is exactly the index of
// x's interval; padding with the largest key can then never be counted, so
// no clamping is needed for any x, the largest included.  A node of 32-bit
// keys is 32 lanes (two cache lines): 31 keys and, in the last lane, the
// index of the node's first child (or, in a leaf, of its first value).  A
// level is therefore just
//     node = nodes + index * 32;  index = node[31] + count(node[0..30] < x)
// with no per-map metadata, and a lookup is `depth` such steps, each two
// SIMD compares and a popcount.  128-bit keys (IPv6) use 16-lane nodes of 16
// high halves then 16 low halves, 15 keys and the child index in the last
// high lane.  Two levels cover 992 IPv4 or 240 IPv6 bounds.
//
// Every map of one kind in a policy is built to the same depth (extra levels
// on top hold no keys), so a burst's loops have fixed trip counts.
//
// Immutable once built; readers need no synchronisation.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <new>
#include <span>
#include <vector>

#include "net/ip_address.hpp"

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

namespace sgfw::dp {

// Cache-line-aligned storage, so nodes and rule rows start on cache lines
// and SIMD loads are aligned.
template <class T>
struct aligned_allocator {
  using value_type = T;
  aligned_allocator() = default;
  template <class U>
  aligned_allocator(const aligned_allocator<U>&) {}
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new (n * sizeof(T), std::align_val_t{64})); }
  void deallocate(T* p, std::size_t) { ::operator delete (p, std::align_val_t{64}); }
  friend bool operator==(const aligned_allocator&, const aligned_allocator&) { return true; }
};

template <class T>
using aligned_vector = std::vector<T, aligned_allocator<T>>;

template <class Key>
struct interval_node;

template <>
struct interval_node<std::uint32_t> {
  using word = std::uint32_t;
  static constexpr unsigned lanes = 32;
  static constexpr unsigned keys = lanes - 1;  // lane 31: first child / value index
  static constexpr std::size_t words = lanes;

  // Leaves are one cache line of keys (15, lane 15 unused) and one of the
  // 16 values their counts can select: two lines per leaf, both read.
  static constexpr unsigned leaf_keys = 15;
  static constexpr std::size_t leaf_words = 32;  // 16 key lanes + 16 values

  static void store_key(word* node, unsigned i, std::uint32_t key) { node[i] = key; }
  static void store_base(word* node, std::uint32_t base) { node[keys] = base; }
  static std::uint32_t base(const word* node) { return node[keys]; }
  static std::uint32_t* leaf_values(word* leaf) { return leaf + 16; }
  static const std::uint32_t* leaf_values(const word* leaf) { return leaf + 16; }

  static unsigned leaf_count_lt(const word* leaf, std::uint32_t x) {
#if defined(__AVX512F__)
    return static_cast<unsigned>(__builtin_popcount(
        _mm512_mask_cmplt_epu32_mask(0x7FFF, _mm512_load_si512(leaf), _mm512_set1_epi32(static_cast<int>(x)))));
#else
    unsigned c = 0;
    for (unsigned i = 0; i < leaf_keys; ++i) c += leaf[i] < x ? 1U : 0U;
    return c;
#endif
  }

  // Number of keys in the node that are < x (lanes 0..30).
  static unsigned count_lt(const word* node, std::uint32_t x) {
#if defined(__AVX512F__)
    const __m512i xv = _mm512_set1_epi32(static_cast<int>(x));
    const __mmask16 lo = _mm512_cmplt_epu32_mask(_mm512_load_si512(node), xv);
    const __mmask16 hi = _mm512_mask_cmplt_epu32_mask(0x7FFF, _mm512_load_si512(node + 16), xv);
    return static_cast<unsigned>(__builtin_popcount(_mm512_kunpackw(hi, lo)));
#elif defined(__AVX2__)
    // Unsigned compare through the sign flip: a < x <=> (x ^ MSB) > (a ^ MSB), signed.
    const __m256i flip = _mm256_set1_epi32(INT32_MIN);
    const __m256i xv = _mm256_xor_si256(_mm256_set1_epi32(static_cast<int>(x)), flip);
    unsigned lt = 0;
    for (unsigned q = 0; q < 4; ++q) {
      const __m256i v = _mm256_xor_si256(_mm256_load_si256(reinterpret_cast<const __m256i*>(node + 8 * q)), flip);
      lt |= static_cast<unsigned>(_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(xv, v)))) << (8 * q);
    }
    return static_cast<unsigned>(__builtin_popcount(lt & 0x7FFFFFFFU));
#else
    unsigned c = 0;
    for (unsigned i = 0; i < keys; ++i) c += node[i] < x ? 1U : 0U;
    return c;
#endif
  }
};

template <>
struct interval_node<net::u128> {
  using word = std::uint64_t;
  static constexpr unsigned lanes = 16;
  static constexpr unsigned keys = lanes - 1;      // hi lane 15: first child / value index
  static constexpr std::size_t words = 2 * lanes;  // hi[16], lo[16]

  // Leaves: a node's 15 keys, then its 16 values (four and one lines).
  static constexpr unsigned leaf_keys = keys;
  static constexpr std::size_t leaf_words = words + lanes * sizeof(std::uint32_t) / sizeof(word);

  static void store_key(word* node, unsigned i, net::u128 key) {
    node[i] = static_cast<std::uint64_t>(key >> 64);
    node[lanes + i] = static_cast<std::uint64_t>(key);
  }
  static void store_base(word* node, std::uint32_t base) { node[keys] = base; }
  static std::uint32_t base(const word* node) { return static_cast<std::uint32_t>(node[keys]); }
  static std::uint32_t* leaf_values(word* leaf) { return reinterpret_cast<std::uint32_t*>(leaf + words); }
  static const std::uint32_t* leaf_values(const word* leaf) {
    return reinterpret_cast<const std::uint32_t*>(leaf + words);
  }
  static unsigned leaf_count_lt(const word* leaf, net::u128 x) { return count_lt(leaf, x); }

  static unsigned count_lt(const word* node, net::u128 x) {
    const auto xh = static_cast<std::uint64_t>(x >> 64);
    const auto xl = static_cast<std::uint64_t>(x);
    const word* hi = node;
    const word* lo = node + lanes;
#if defined(__AVX512F__)
    const __m512i vh = _mm512_set1_epi64(static_cast<long long>(xh));
    const __m512i vl = _mm512_set1_epi64(static_cast<long long>(xl));
    unsigned c = 0;
    for (unsigned half = 0; half < 2; ++half) {
      const __m512i h = _mm512_load_si512(hi + 8 * half);
      const __m512i l = _mm512_load_si512(lo + 8 * half);
      const auto valid = static_cast<__mmask8>(half == 0 ? 0xFF : 0x7F);
      const auto lt =
          static_cast<unsigned>(_mm512_mask_cmplt_epu64_mask(valid, h, vh) |
                                _mm512_mask_cmplt_epu64_mask(_mm512_mask_cmpeq_epu64_mask(valid, h, vh), l, vl));
      c += static_cast<unsigned>(__builtin_popcount(lt));
    }
    return c;
#else
    unsigned c = 0;
    for (unsigned i = 0; i < keys; ++i) c += ((hi[i] < xh) | ((hi[i] == xh) & (lo[i] < xl))) ? 1U : 0U;
    return c;
#endif
  }
};

template <class Key>
class interval_map {
 public:
  using node = interval_node<Key>;
  using word = typename node::word;
  static constexpr unsigned k_max_depth = 8;

  interval_map() = default;

  // bounds: strictly increasing, bounds[0] == 0; values: one per bound.
  // `depth`: at least this many levels.
  static interval_map build(std::span<const Key> bounds, std::span<const std::uint32_t> values, unsigned depth = 1) {
    interval_map m;
    m.build_from(bounds, values, depth);
    return m;
  }

  // Levels a map of n bounds needs.
  static unsigned natural_depth(std::size_t n) {
    const std::size_t stored = n == 0 ? 0 : n - 1;
    if (stored <= node::leaf_keys) return 1;
    unsigned d = 2;
    for (std::size_t keys = nodes_for(stored, node::leaf_keys) - 1; keys > node::keys;
         keys = nodes_for(keys, node::keys) - 1) {
      ++d;
    }
    return d;
  }

  std::size_t size() const { return size_; }
  unsigned depth() const { return depth_; }
  std::size_t memory_bytes() const { return (inner_.size() + leaves_.size()) * sizeof(word); }
  const word* inner_nodes() const { return inner_.data(); }
  // The same tree, node for node (the compiler's tests: a set built again
  // and one taken from the last compile).
  friend bool operator==(const interval_map&, const interval_map&) = default;
  const word* leaves() const { return leaves_.data(); }

  // One inner level: `index` (0 at the root) becomes the index of the node
  // at the next level (a leaf after the last inner level).
  static std::uint32_t descend(const word* inner, std::uint32_t index, Key x) {
    const word* n = inner + std::size_t{index} * node::words;
    return node::base(n) + node::count_lt(n, x);
  }
  // The last level: the value of x's interval, from leaf `index`.
  static std::uint32_t leaf_value(const word* leaves, std::uint32_t index, Key x) {
    const word* n = leaves + std::size_t{index} * node::leaf_words;
    return node::leaf_values(n)[node::leaf_count_lt(n, x)];
  }

  std::uint32_t lookup(Key x) const {
    std::uint32_t index = 0;
    for (unsigned level = 1; level < depth_; ++level) index = descend(inner_.data(), index, x);
    return leaf_value(leaves_.data(), index, x);
  }

 private:
  static std::size_t nodes_for(std::size_t keys, std::size_t per_node) {
    return std::max<std::size_t>(1, (keys + per_node - 1) / per_node);
  }

  void build_from(std::span<const Key> bounds, std::span<const std::uint32_t> values, unsigned min_depth) {
    size_ = values.size();
    // Stored keys: k[i] = b[i+1] - 1, all of them in the leaves.  Level j
    // above them (leaves: j = 0) holds k[t * stride_j], t = 1, 2, ..., with
    // stride_1 = leaf_keys and stride_j+1 = stride_j * keys: the smallest key
    // under each of its subtrees but the first, so "keys < x" there counts
    // the subtrees to skip.  (At a boundary either neighbour gives the same
    // answer, since the count continues across nodes.)
    const std::size_t stored = bounds.empty() ? 0 : bounds.size() - 1;
    const auto key = [&](std::size_t i) { return static_cast<Key>(bounds[i + 1] - 1); };

    std::array<std::size_t, k_max_depth> count{};   // keys per level, leaves first
    std::array<std::size_t, k_max_depth> stride{};  // distance between them in k[]
    count[0] = stored;
    stride[0] = 1;
    unsigned levels = 1;
    while (levels < k_max_depth &&
           (levels < min_depth || nodes_for(count[levels - 1], levels == 1 ? node::leaf_keys : node::keys) > 1)) {
      const std::size_t per = levels == 1 ? node::leaf_keys : node::keys;
      count[levels] = nodes_for(count[levels - 1], per) - 1;
      stride[levels] = stride[levels - 1] * per;
      ++levels;
    }
    depth_ = levels;

    // Inner levels, root first: level j >= 1 is stored at position
    // depth - 1 - j.  Node n of a level covers its keys [n * keys, ...),
    // which separate the next level's nodes n * keys onwards.
    std::array<std::size_t, k_max_depth + 1> first_node{};  // by position, root = 0
    for (unsigned pos = 0; pos + 1 < depth_; ++pos) {
      first_node[pos + 1] = first_node[pos] + nodes_for(count[depth_ - 1 - pos], node::keys);
    }
    inner_.assign(first_node[depth_ - 1] * node::words, std::numeric_limits<word>::max());
    for (unsigned pos = 0; pos + 1 < depth_; ++pos) {
      const unsigned level = depth_ - 1 - pos;
      const std::size_t next_first = pos + 2 < depth_ ? first_node[pos + 1] : 0;  // leaves are numbered apart
      for (std::size_t n = 0; n < nodes_for(count[level], node::keys); ++n) {
        word* out = inner_.data() + (first_node[pos] + n) * node::words;
        node::store_base(out, static_cast<std::uint32_t>(next_first + n * node::keys));
        for (std::size_t i = 0; i < node::keys && n * node::keys + i < count[level]; ++i) {
          node::store_key(out, static_cast<unsigned>(i), key((n * node::keys + i + 1) * stride[level]));
        }
      }
    }
    // Leaves: keys, then the values of slots n * leaf_keys .. + leaf_keys.
    const std::size_t leaves = nodes_for(stored, node::leaf_keys);
    leaves_.assign(leaves * node::leaf_words, std::numeric_limits<word>::max());
    for (std::size_t n = 0; n < leaves; ++n) {
      word* out = leaves_.data() + n * node::leaf_words;
      std::uint32_t* vals = node::leaf_values(out);
      for (std::size_t i = 0; i <= node::leaf_keys; ++i) {
        const std::size_t slot = n * node::leaf_keys + i;
        if (i < node::leaf_keys && slot < stored) node::store_key(out, static_cast<unsigned>(i), key(slot));
        vals[i] = slot < values.size() ? values[slot] : 0;
      }
    }
  }

  aligned_vector<word> inner_;   // inner levels, root first
  aligned_vector<word> leaves_;  // leaf nodes with their values
  std::size_t size_ = 0;
  unsigned depth_ = 0;
};

}  // namespace sgfw::dp
