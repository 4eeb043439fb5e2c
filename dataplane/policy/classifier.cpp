#include "policy/classifier.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <type_traits>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace sgfw::dp {

namespace {

const table_view& view_of(const compiled_policy& p, const classify_key& k) {
  // resource_set has one entry past the last resource for the deny-all set.
  const std::uint32_t index = std::min<std::uint32_t>(k.resource, static_cast<std::uint32_t>(p.resource_count()));
  return p.view(p.resource_set[index], k.fam, k.dir);
}

using v4_map = interval_map<std::uint32_t>;
using v6_map = interval_map<net::u128>;

// Leaf values of a key's service and remote address: row offsets or class
// indices (compiled_policy.hpp).
std::uint32_t service_offset(const table_view& v, std::uint32_t depth, std::uint32_t service) {
  std::uint32_t i = 0;
  for (std::uint32_t level = 1; level < depth; ++level) i = v4_map::descend(v.service_inner, i, service);
  return v4_map::leaf_value(v.service_leaves, i, service);
}
template <class Map, class Key>
std::uint32_t address_offset(const table_view& v, std::uint32_t depth, Key remote) {
  const auto* inner = static_cast<const typename Map::word*>(v.address_inner);
  std::uint32_t i = 0;
  for (std::uint32_t level = 1; level < depth; ++level) i = Map::descend(inner, i, remote);
  return Map::leaf_value(static_cast<const typename Map::word*>(v.address_leaves), i, remote);
}

// GCC 12 warns that the AVX-512 cast/extract intrinsics read an
// uninitialised "undefined" vector inside their own header (GCC bug
// 105593); the vectors here are all initialised.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

// AND of the two rows: the lowest set bit names the first allowing rule in
// canonical order.  When no bit is set the result is >= words * 64, which
// decide() maps to k_no_rule.  Branch-free: whether a key matched is data,
// and a branch on it would be mispredicted half the time.
[[gnu::always_inline]] inline std::uint32_t first_common_bit(const std::uint64_t* a, const std::uint64_t* s,
                                                             std::uint32_t words,
                                                             [[maybe_unused]] std::uint32_t widest) {
#if defined(__AVX512F__)
  if (widest <= 8) {  // the same for every key of a policy: predictable
    // Rows of up to eight words sit in one cache line: one masked load each,
    // one test for the non-zero words; compress moves the first of them to
    // lane 0 (0 when there is none, whose 64 trailing zeros keep the result
    // past the real bits).
    const auto lanes = static_cast<__mmask8>((1U << words) - 1);
    const __m512i x = _mm512_and_si512(_mm512_maskz_loadu_epi64(lanes, a), _mm512_maskz_loadu_epi64(lanes, s));
    const __mmask8 nonzero = _mm512_test_epi64_mask(x, x);
    const auto w = static_cast<std::uint32_t>(std::countr_zero(static_cast<unsigned>(nonzero) | (1U << words)));
    const auto first =
        static_cast<std::uint64_t>(_mm_cvtsi128_si64(_mm512_castsi512_si128(_mm512_maskz_compress_epi64(nonzero, x))));
    return w * 64 + static_cast<std::uint32_t>(std::countr_zero(first));
  }
#endif
  std::uint32_t bit = words * 64;
  for (std::uint32_t w = words; w-- > 0;) {
    const std::uint64_t x = a[w] & s[w];
    const std::uint32_t here = w * 64 + static_cast<std::uint32_t>(std::countr_zero(x));
    bit = x != 0 ? here : bit;
  }
  return bit;
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

// A matrix entry; "none" (all ones) is past every real rule bit.
std::uint32_t matrix_entry(const table_view& v, std::uint32_t entry_bytes, std::uint32_t index) {
  return entry_bytes == 1 ? static_cast<const std::uint8_t*>(v.matrix)[index]
                          : static_cast<const std::uint16_t*>(v.matrix)[index];
}

decision decide(const table_view& v, std::uint32_t service_value, std::uint32_t bit) {
  const std::uint32_t rule = v.rules[std::min(bit, v.rule_count)];
  return {rule, (service_value & k_untracked_service) != 0 && rule != k_no_rule};
}

}  // namespace

decision classify(const compiled_policy& policy, const classify_key& key) {
  const table_view& v = view_of(policy, key);
  const std::uint32_t a = key.fam == net::family::ipv4 ? address_offset<v4_map>(v, policy.address_depth[0],
                                                                                static_cast<std::uint32_t>(key.remote))
                                                       : address_offset<v6_map>(v, policy.address_depth[1], key.remote);
  const std::uint32_t service = service_offset(v, policy.service_depth, key.service);
  const std::uint32_t service_class = service & ~k_untracked_service;
  if (policy.matrices) return decide(v, service, matrix_entry(v, policy.matrix_entry_bytes, a + service_class));
  return decide(v, service,
                first_common_bit(v.address_rows + a, v.service_rows + service_class, v.words, policy.row_words));
}

namespace {

struct lane {
  const table_view* view;
  std::uint32_t service;  // inner node index, then the leaf's value
  std::uint32_t address;  // inner node index, then the leaf's value
};

template <class Map>
auto address_key(const classify_key& k) {
  if constexpr (std::is_same_v<Map, v4_map>) {
    return static_cast<std::uint32_t>(k.remote);
  } else {
    return k.remote;
  }
}

// Both trees of every key of one family, level by level: a key's service
// and address steps are independent, so each level has two loads per key in
// flight.  Depths are the policy's, the same for every key.  `Dense`: the
// whole burst is of this family, so lanes are visited in order without the
// member list.
template <class Map, bool Dense>
void descend_family(const compiled_policy& policy, const classify_key* k, std::array<lane, k_classify_burst>& lanes,
                    const std::uint8_t* members, std::size_t count, std::uint32_t address_depth) {
  const auto member = [members](std::size_t j) -> std::size_t {
    if constexpr (Dense) {
      (void)members;
      return j;
    } else {
      return members[j];
    }
  };
  const std::uint32_t service_depth = policy.service_depth;
  const std::uint32_t levels = std::max(service_depth, address_depth);
  for (std::uint32_t level = 1; level < levels; ++level) {
    const bool service_step = level < service_depth;
    const bool address_step = level < address_depth;
    for (std::size_t j = 0; j < count; ++j) {
      lane& l = lanes[member(j)];
      const classify_key& key = k[member(j)];
      if (service_step) l.service = v4_map::descend(l.view->service_inner, l.service, key.service);
      if (address_step) {
        l.address = Map::descend(static_cast<const typename Map::word*>(l.view->address_inner), l.address,
                                 address_key<Map>(key));
      }
    }
  }
  for (std::size_t j = 0; j < count; ++j) {
    lane& l = lanes[member(j)];
    const classify_key& key = k[member(j)];
    const table_view& v = *l.view;
    l.service = v4_map::leaf_value(v.service_leaves, l.service, key.service);
    l.address =
        Map::leaf_value(static_cast<const typename Map::word*>(v.address_leaves), l.address, address_key<Map>(key));
  }
}

}  // namespace

// Stages across the burst (docs/classifier.md): resolve every key's table
// view; descend both trees of every key level by level, IPv4 and IPv6 keys
// apart, each tree ending in a leaf that holds the row; AND the rows; name
// the rule.  Interleaving keys at each stage keeps many independent loads in
// flight, and the uniform depths give every loop a fixed trip count.
void classify_burst(const compiled_policy& policy, const classify_key* keys, decision* out, std::size_t n) {
  std::array<lane, k_classify_burst> lanes;
  std::array<std::uint8_t, k_classify_burst> v4;
  std::array<std::uint8_t, k_classify_burst> v6;
  const std::uint32_t widest = policy.row_words;

  for (std::size_t base = 0; base < n; base += k_classify_burst) {
    const std::size_t m = std::min(k_classify_burst, n - base);
    const classify_key* k = keys + base;

    std::size_t n4 = 0;
    std::size_t n6 = 0;
    for (std::size_t i = 0; i < m; ++i) {
      lanes[i].view = &view_of(policy, k[i]);
      lanes[i].service = 0;
      lanes[i].address = 0;
      // Arithmetic, not a branch: a mixed burst would mispredict it.
      const std::size_t f = static_cast<std::size_t>(k[i].fam) & 1U;
      v4[n4] = static_cast<std::uint8_t>(i);
      v6[n6] = static_cast<std::uint8_t>(i);
      n4 += f ^ 1U;
      n6 += f;
    }
    // Bursts of one family (the common case) skip the member lists.
    if (n6 == 0) {
      descend_family<v4_map, true>(policy, k, lanes, nullptr, m, policy.address_depth[0]);
    } else if (n4 == 0) {
      descend_family<v6_map, true>(policy, k, lanes, nullptr, m, policy.address_depth[1]);
    } else {
      descend_family<v4_map, false>(policy, k, lanes, v4.data(), n4, policy.address_depth[0]);
      descend_family<v6_map, false>(policy, k, lanes, v6.data(), n6, policy.address_depth[1]);
    }
    if (policy.matrices && policy.matrix_entry_bytes == 1) {
      for (std::size_t i = 0; i < m; ++i) {
        const lane& l = lanes[i];
        out[base + i] =
            decide(*l.view, l.service, matrix_entry(*l.view, 1, l.address + (l.service & ~k_untracked_service)));
      }
    } else if (policy.matrices) {
      for (std::size_t i = 0; i < m; ++i) {
        const lane& l = lanes[i];
        out[base + i] =
            decide(*l.view, l.service, matrix_entry(*l.view, 2, l.address + (l.service & ~k_untracked_service)));
      }
    } else {
      for (std::size_t i = 0; i < m; ++i) {
        const lane& l = lanes[i];
        const table_view& v = *l.view;
        out[base + i] = decide(v, l.service,
                               first_common_bit(v.address_rows + l.address,
                                                v.service_rows + (l.service & ~k_untracked_service), v.words, widest));
      }
    }
  }
}

}  // namespace sgfw::dp
