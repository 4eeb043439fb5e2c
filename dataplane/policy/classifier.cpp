#include "policy/classifier.hpp"

#include <algorithm>
#include <array>
#include <bit>

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

// Row offsets (in words) of a key's service and remote address.
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

// AND of the two rows: the lowest set bit names the first allowing rule in
// canonical order.  Branch-free; "none" is words * 64, where the view's
// rules hold k_no_rule.
std::uint32_t first_common_bit(const std::uint64_t* a, const std::uint64_t* s, std::uint32_t words,
                               std::uint32_t widest) {
  std::uint32_t bit = words * 64;
#if defined(__AVX512F__)
  if (widest <= 8) {  // the same for every key of a policy: predictable
    // Rows of up to eight words sit in one cache line: one masked load each,
    // one test for the non-zero words, then the first of them.
    const auto lanes = static_cast<__mmask8>((1U << words) - 1);
    const __m512i x = _mm512_and_si512(_mm512_maskz_loadu_epi64(lanes, a), _mm512_maskz_loadu_epi64(lanes, s));
    const auto nonzero = static_cast<unsigned>(_mm512_test_epi64_mask(x, x));
    // w is in range even when nothing matched (then bit stays words * 64).
    const auto w = static_cast<std::uint32_t>(std::countr_zero(nonzero | 0x100U)) & 7U;
    const std::uint32_t here = w * 64 + static_cast<std::uint32_t>(std::countr_zero(a[w] & s[w]));
    return nonzero != 0 ? here : bit;
  }
#endif
  for (std::uint32_t w = words; w-- > 0;) {
    const std::uint64_t x = a[w] & s[w];
    const std::uint32_t here = w * 64 + static_cast<std::uint32_t>(std::countr_zero(x));
    bit = x != 0 ? here : bit;
  }
  return bit;
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
  const std::uint64_t* srow = v.service_rows + (service & ~k_untracked_service);
  return decide(v, service, first_common_bit(v.address_rows + a, srow, v.words, policy.row_words));
}

// Stages across the burst (docs/classifier.md): resolve every key's table
// view; descend the service trees level by level for all keys, then the
// address trees (IPv4 and IPv6 keys apart), each ending in a leaf that holds
// the row; AND the rows; name the rule.  Interleaving keys at each stage
// keeps many independent loads in flight, and the uniform depths and row
// width give every loop a fixed trip count.
void classify_burst(const compiled_policy& policy, const classify_key* keys, decision* out, std::size_t n) {
  struct lane {
    const table_view* view;
    const std::uint64_t* service_row;
    const std::uint64_t* address_row;
    std::uint32_t service;  // inner node index, then the leaf's value
    std::uint32_t address;  // inner node index
  };
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

    for (std::uint32_t level = 1; level < policy.service_depth; ++level) {
      for (std::size_t i = 0; i < m; ++i) {
        lanes[i].service = v4_map::descend(lanes[i].view->service_inner, lanes[i].service, k[i].service);
      }
    }
    for (std::size_t i = 0; i < m; ++i) {
      const table_view& v = *lanes[i].view;
      lanes[i].service = v4_map::leaf_value(v.service_leaves, lanes[i].service, k[i].service);
      lanes[i].service_row = v.service_rows + (lanes[i].service & ~k_untracked_service);
    }

    for (std::uint32_t level = 1; level < policy.address_depth[0]; ++level) {
      for (std::size_t j = 0; j < n4; ++j) {
        lane& l = lanes[v4[j]];
        l.address = v4_map::descend(static_cast<const v4_map::word*>(l.view->address_inner), l.address,
                                    static_cast<std::uint32_t>(k[v4[j]].remote));
      }
    }
    for (std::size_t j = 0; j < n4; ++j) {
      lane& l = lanes[v4[j]];
      l.address_row =
          l.view->address_rows + v4_map::leaf_value(static_cast<const v4_map::word*>(l.view->address_leaves), l.address,
                                                    static_cast<std::uint32_t>(k[v4[j]].remote));
    }
    for (std::uint32_t level = 1; level < policy.address_depth[1]; ++level) {
      for (std::size_t j = 0; j < n6; ++j) {
        lane& l = lanes[v6[j]];
        l.address =
            v6_map::descend(static_cast<const v6_map::word*>(l.view->address_inner), l.address, k[v6[j]].remote);
      }
    }
    for (std::size_t j = 0; j < n6; ++j) {
      lane& l = lanes[v6[j]];
      l.address_row =
          l.view->address_rows +
          v6_map::leaf_value(static_cast<const v6_map::word*>(l.view->address_leaves), l.address, k[v6[j]].remote);
    }

    for (std::size_t i = 0; i < m; ++i) {
      const lane& l = lanes[i];
      out[base + i] = decide(*l.view, l.service, first_common_bit(l.address_row, l.service_row, l.view->words, widest));
    }
  }
}

}  // namespace sgfw::dp
