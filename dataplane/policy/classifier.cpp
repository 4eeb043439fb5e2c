#include "policy/classifier.hpp"

#include <algorithm>
#include <array>
#include <bit>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace sgfw::dp {

namespace {

// How a protocol's 16-bit service value is formed, per family (S2): TCP and
// UDP by destination port, ICMP by type and code on its own family only,
// everything else has no value.  A table instead of a switch, so that a
// burst of mixed protocols costs no mispredicted branches.
enum class value_kind : std::uint8_t { none = 0, port = 1, icmp = 2 };

constexpr std::array<std::array<value_kind, 256>, net::family_count> k_value_kind = [] {
  std::array<std::array<value_kind, 256>, net::family_count> t{};
  for (auto& f : t) {
    f[ip_proto::tcp] = value_kind::port;
    f[ip_proto::udp] = value_kind::port;
  }
  t[static_cast<std::size_t>(net::family::ipv4)][ip_proto::icmp] = value_kind::icmp;
  t[static_cast<std::size_t>(net::family::ipv6)][ip_proto::icmpv6] = value_kind::icmp;
  return t;
}();

std::uint32_t service_of(const classify_key& k) {
  // Rules name the destination port of the flow's first packet: the
  // resource's port for ingress, the peer's for egress.
  const std::uint32_t port = k.dir == direction::ingress ? k.local_port : k.remote_port;
  const std::uint32_t icmp = (std::uint32_t{k.icmp_type} << 8) | k.icmp_code;
  const value_kind kind = k_value_kind[static_cast<std::size_t>(k.fam)][k.proto];
  const std::uint32_t value = (port & (0U - static_cast<std::uint32_t>(kind == value_kind::port))) |
                              (icmp & (0U - static_cast<std::uint32_t>(kind == value_kind::icmp)));
  return (std::uint32_t{k.proto} << 16) | value;
}

const table_view& view_of(const compiled_policy& p, const classify_key& k) {
  // resource_set has one entry past the last resource for the deny-all set.
  const std::uint32_t index = std::min<std::uint32_t>(k.resource, static_cast<std::uint32_t>(p.resource_count()));
  return p.view(p.resource_set[index], k.fam, k.dir);
}

using v4_map = interval_map<std::uint32_t>;
using v6_map = interval_map<net::u128>;

std::uint32_t service_row(const table_view& v, std::uint32_t depth, std::uint32_t service) {
  std::uint32_t i = 0;
  for (std::uint32_t level = 0; level < depth; ++level) i = v4_map::descend(v.service_nodes, i, service);
  return v.service_values[i];
}

// AND of the two rows: the lowest set bit names the first allowing rule in
// canonical order.  Branch-free; "none" is words * 64, where the view's
// rules hold k_no_rule.
std::uint32_t first_common_bit(const std::uint64_t* a, const std::uint64_t* s, std::uint32_t words) {
  std::uint32_t bit = words * 64;
#if defined(__AVX512F__)
  if (words <= 8) {  // the same for every key of a policy: predictable
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

decision decide(const table_view& v, const std::uint64_t* service_row, std::uint32_t bit) {
  const std::uint32_t rule = v.rules[bit];
  const bool untracked_service = ((service_row[v.untracked_bit / 64] >> (v.untracked_bit % 64)) & 1U) != 0;
  return {rule, untracked_service && rule != k_no_rule};
}

}  // namespace

decision classify(const compiled_policy& policy, const classify_key& key) {
  const table_view& v = view_of(policy, key);
  std::uint32_t a = 0;
  if (key.fam == net::family::ipv4) {
    const auto* nodes = static_cast<const v4_map::word*>(v.address_nodes);
    for (std::uint32_t level = 0; level < policy.address_depth[0]; ++level) {
      a = v4_map::descend(nodes, a, static_cast<std::uint32_t>(key.remote));
    }
  } else {
    const auto* nodes = static_cast<const v6_map::word*>(v.address_nodes);
    for (std::uint32_t level = 0; level < policy.address_depth[1]; ++level) a = v6_map::descend(nodes, a, key.remote);
  }
  const std::uint32_t words = policy.row_words;
  const std::uint64_t* arow = v.address_rows + std::size_t{v.address_values[a]} * words;
  const std::uint64_t* srow =
      v.service_rows + std::size_t{service_row(v, policy.service_depth, service_of(key))} * words;
  return decide(v, srow, first_common_bit(arow, srow, words));
}

// Stages across the burst (docs/classifier.md): resolve every key's table
// view and service key; descend the service trees level by level for all
// keys, then the address trees (IPv4 and IPv6 keys apart); fetch both rule
// rows, AND them, name the rule.  Interleaving keys at each stage keeps many
// independent loads in flight and each stage prefetches what the next one
// reads; the uniform depths and row width give every loop a fixed trip count.
void classify_burst(const compiled_policy& policy, const classify_key* keys, decision* out, std::size_t n) {
  struct lane {
    const table_view* view;
    const std::uint64_t* service_row;
    const std::uint64_t* address_row;
    std::uint32_t service_key;
    std::uint32_t service;  // node index
    std::uint32_t address;  // node index, then first common bit
  };
  std::array<lane, k_classify_burst> lanes;
  std::array<std::uint8_t, k_classify_burst> v4;
  std::array<std::uint8_t, k_classify_burst> v6;
  const std::uint32_t words = policy.row_words;

  for (std::size_t base = 0; base < n; base += k_classify_burst) {
    const std::size_t m = std::min(k_classify_burst, n - base);
    const classify_key* k = keys + base;

    std::size_t n4 = 0;
    std::size_t n6 = 0;
    for (std::size_t i = 0; i < m; ++i) {
      const table_view& v = view_of(policy, k[i]);
      lanes[i].view = &v;
      lanes[i].service_key = service_of(k[i]);
      lanes[i].service = 0;
      lanes[i].address = 0;
      const bool is_v4 = k[i].fam == net::family::ipv4;
      v4[n4] = static_cast<std::uint8_t>(i);
      v6[n6] = static_cast<std::uint8_t>(i);
      n4 += is_v4 ? 1 : 0;
      n6 += is_v4 ? 0 : 1;
    }
    for (std::size_t i = 0; i < m; ++i) {
      __builtin_prefetch(lanes[i].view->service_nodes);
      __builtin_prefetch(lanes[i].view->address_nodes);
    }

    for (std::uint32_t level = 0; level < policy.service_depth; ++level) {
      for (std::size_t i = 0; i < m; ++i) {
        lanes[i].service = v4_map::descend(lanes[i].view->service_nodes, lanes[i].service, lanes[i].service_key);
      }
    }
    for (std::size_t i = 0; i < m; ++i) {
      const table_view& v = *lanes[i].view;
      lanes[i].service_row = v.service_rows + std::size_t{v.service_values[lanes[i].service]} * words;
      __builtin_prefetch(lanes[i].service_row);
    }

    for (std::uint32_t level = 0; level < policy.address_depth[0]; ++level) {
      for (std::size_t j = 0; j < n4; ++j) {
        lane& l = lanes[v4[j]];
        l.address = v4_map::descend(static_cast<const v4_map::word*>(l.view->address_nodes), l.address,
                                    static_cast<std::uint32_t>(k[v4[j]].remote));
      }
    }
    for (std::uint32_t level = 0; level < policy.address_depth[1]; ++level) {
      for (std::size_t j = 0; j < n6; ++j) {
        lane& l = lanes[v6[j]];
        l.address =
            v6_map::descend(static_cast<const v6_map::word*>(l.view->address_nodes), l.address, k[v6[j]].remote);
      }
    }
    for (std::size_t i = 0; i < m; ++i) {
      const table_view& v = *lanes[i].view;
      lanes[i].address_row = v.address_rows + std::size_t{v.address_values[lanes[i].address]} * words;
      __builtin_prefetch(lanes[i].address_row);
    }
    for (std::size_t i = 0; i < m; ++i) {
      lane& l = lanes[i];
      l.address = first_common_bit(l.address_row, l.service_row, words);
      __builtin_prefetch(l.view->rules + l.address);
    }
    for (std::size_t i = 0; i < m; ++i) out[base + i] = decide(*lanes[i].view, lanes[i].service_row, lanes[i].address);
  }
}

}  // namespace sgfw::dp
