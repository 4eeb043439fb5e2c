#include "policy/classifier.hpp"

#include <algorithm>
#include <array>
#include <bit>

namespace sgfw::dp {

namespace {

std::uint16_t service_value(const classify_key& k) {
  switch (k.proto) {
    case ip_proto::tcp:
    case ip_proto::udp:
      // Rules name the destination port of the flow's first packet: the
      // resource's port for ingress, the peer's for egress.
      return k.dir == direction::ingress ? k.local_port : k.remote_port;
    case ip_proto::icmp:
      return k.fam == net::family::ipv4 ? static_cast<std::uint16_t>((k.icmp_type << 8) | k.icmp_code) : 0;
    case ip_proto::icmpv6:
      return k.fam == net::family::ipv6 ? static_cast<std::uint16_t>((k.icmp_type << 8) | k.icmp_code) : 0;
    default:
      return 0;
  }
}

template <class K>
decision combine(const rule_table<K>& t, std::uint32_t address_row, std::uint32_t service_row) {
  const std::uint64_t* a = t.address_rows.data() + std::size_t{address_row} * t.words;
  const std::uint64_t* s = t.service_rows.data() + std::size_t{service_row} * t.words;
  for (std::uint32_t w = 0; w < t.words; ++w) {
    const std::uint64_t x = a[w] & s[w];
    if (x != 0) {
      const std::uint32_t bit = w * 64 + static_cast<std::uint32_t>(std::countr_zero(x));
      const bool untracked = ((s[t.untracked_bit / 64] >> (t.untracked_bit % 64)) & 1U) != 0;
      return {t.rules[bit], untracked};
    }
  }
  return {};
}

template <class K>
decision classify_in(const rule_table<K>& t, K remote, std::uint32_t service) {
  if (t.empty()) return {};
  return combine(t, t.addresses.lookup(remote), t.services.lookup(service));
}

const group_set_tables* set_of(const compiled_policy& p, std::uint32_t resource) {
  if (resource >= p.resource_set.size()) return nullptr;
  return &p.sets[p.resource_set[resource]];
}

decision classify_one(const group_set_tables& s, const classify_key& k) {
  const std::uint32_t service = service_key(k.proto, service_value(k));
  const auto d = static_cast<std::size_t>(k.dir);
  if (k.fam == net::family::ipv4) return classify_in(s.v4[d], static_cast<std::uint32_t>(k.remote), service);
  return classify_in(s.v6[d], k.remote, service);
}

}  // namespace

decision classify(const compiled_policy& policy, const classify_key& key) {
  const group_set_tables* s = set_of(policy, key.resource);
  return s == nullptr ? decision{} : classify_one(*s, key);
}

void classify_burst(const compiled_policy& policy, const classify_key* keys, decision* out, std::size_t n) {
  std::array<const group_set_tables*, k_classify_burst> sets{};
  for (std::size_t base = 0; base < n; base += k_classify_burst) {
    const std::size_t m = std::min(k_classify_burst, n - base);
    // Stage 1: resolve every key's group set and start loading its tables.
    for (std::size_t i = 0; i < m; ++i) {
      const classify_key& k = keys[base + i];
      const group_set_tables* s = set_of(policy, k.resource);
      sets[i] = s;
      if (s == nullptr) continue;
      const auto d = static_cast<std::size_t>(k.dir);
      if (k.fam == net::family::ipv4) {
        s->v4[d].addresses.prefetch_root();
      } else {
        s->v6[d].addresses.prefetch_root();
      }
    }
    // Stage 2: descend and combine; the independent chains of consecutive
    // keys overlap in the out-of-order window.
    for (std::size_t i = 0; i < m; ++i) {
      out[base + i] = sets[i] == nullptr ? decision{} : classify_one(*sets[i], keys[base + i]);
    }
  }
}

}  // namespace sgfw::dp
