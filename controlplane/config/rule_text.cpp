#include "config/rule_text.hpp"

#include <array>
#include <cstdint>

#include "config/address_text.hpp"

namespace sgfw::config {

std::string describe_protocol(const protocol_spec& p) {
  if (p.all) return "all";
  switch (p.number) {
    case ip_proto::tcp:
      return "tcp";
    case ip_proto::udp:
      return "udp";
    case ip_proto::icmp:
      return "icmp";
    case ip_proto::icmpv6:
      return "icmpv6";
    default:
      return std::to_string(p.number);
  }
}

std::string describe_ports(const rule& r) {
  if (r.protocol.has_ports()) {
    std::string s;
    for (const port_range& p : r.ports) {
      if (!s.empty()) s += ',';
      if (p.first == 0 && p.last == 65535) {
        s += "all";
      } else if (p.first == p.last) {
        s += std::to_string(p.first);
      } else {
        s += std::to_string(p.first) + '-' + std::to_string(p.last);
      }
    }
    return s;
  }
  if (r.protocol.is_icmp()) {
    if (r.icmp_type == k_icmp_any) return "all";
    if (r.icmp_code == k_icmp_any) return "type " + std::to_string(r.icmp_type);
    return "type " + std::to_string(r.icmp_type) + " code " + std::to_string(r.icmp_code);
  }
  return "all";
}

std::string describe_peer(const policy_model& m, const peer& remote) {
  if (const auto* c = std::get_if<net::cidr>(&remote)) return to_string(*c);
  if (const auto* pl = std::get_if<prefix_list_ref>(&remote)) return "pl:" + m.prefix_lists[pl->index].id;
  return "sg:" + m.groups[std::get<group_ref>(remote).index].id;
}

std::string derive_rule_id(const policy_model& m, const std::string& group_id, const rule& r) {
  const std::string canonical = group_id + '\x1f' + std::string(to_string(r.dir)) + '\x1f' +
                                describe_protocol(r.protocol) + '\x1f' + describe_ports(r) + '\x1f' +
                                describe_peer(m, r.remote);
  // FNV-1a, 64 bits: stable across builds and platforms, unlike std::hash.
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : canonical) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  static constexpr std::array<char, 16> hex{'0', '1', '2', '3', '4', '5', '6', '7',
                                            '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'};
  std::string id = "sgr-";
  for (int shift = 60; shift >= 0; shift -= 4) id += hex[(h >> shift) & 0xF];
  return id;
}

}  // namespace sgfw::config
