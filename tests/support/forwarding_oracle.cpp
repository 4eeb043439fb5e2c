#include "forwarding_oracle.hpp"

#include "net/packet_parser.hpp"

namespace sgfw::testing {

namespace {

// A datagram is its source, destination and identification, and for IPv4
// its protocol (RFC 791); IPv6 takes the next header from the offset-0
// fragment only (RFC 8200).
std::uint8_t datagram_proto(const dp::parsed_packet& p) { return p.fam == net::family::ipv6 ? 0 : p.fragment_proto; }

bool group(const net::ip_address& a) {
  return a.fam == net::family::ipv4 ? ((a.value >> 28) == 0xE || a.value == 0xFFFFFFFFU) : (a.value >> 120) == 0xFF;
}

std::uint64_t mac_at(const std::uint8_t* p) {
  std::uint64_t m = 0;
  for (int i = 0; i < 6; ++i) m = (m << 8) | p[i];
  return m;
}

bool is_icmp(std::uint8_t proto, net::family f) {
  return (proto == ip_proto::icmp && f == net::family::ipv4) || (proto == ip_proto::icmpv6 && f == net::family::ipv6);
}

}  // namespace

std::uint32_t forwarding_oracle::resource_of(const net::ip_address& a, std::uint64_t mac) const {
  const std::uint32_t r = reference_.resource_of(a);
  if (r != dp::k_no_resource || mac == 0 || ((mac >> 40) & 1) != 0) return r;
  for (std::size_t i = 0; i < model_.resources.size(); ++i) {
    if (model_.resources[i].mac == mac) return static_cast<std::uint32_t>(i);
  }
  return dp::k_no_resource;
}

std::string forwarding_oracle::forwarded(const std::uint8_t* frame, std::size_t len, bool from_inside) {
  dp::parsed_packet p;
  dp::parse_frame(frame, static_cast<std::uint32_t>(len), p);
  const std::uint64_t dst_mac = len >= 12 ? mac_at(frame) : 0;
  const std::uint64_t src_mac = len >= 12 ? mac_at(frame + 6) : 0;
  std::string why = check(p, src_mac, dst_mac, from_inside);
  if (why.empty()) record(p, src_mac, dst_mac, from_inside);
  return why;
}

std::string forwarding_oracle::check(const dp::parsed_packet& p, std::uint64_t src_mac, std::uint64_t dst_mac,
                                     bool from_inside) const {
  const config::appliance_settings& a = model_.appliance;
  switch (p.kind) {
    case dp::frame_kind::malformed:
      return "a malformed frame";
    case dp::frame_kind::arp:
      return a.arp_nd_pass ? "" : "ARP with arp_nd = drop";
    case dp::frame_kind::non_ip:
      return a.other_ethertypes_forward ? "" : "another ethertype";
    case dp::frame_kind::ip:
      break;
  }
  if (p.neighbour_discovery) {
    if (!a.arp_nd_pass) return "neighbour discovery with arp_nd = drop";
    if (a.ra_guard && !from_inside && (p.icmp_type == 134 || p.icmp_type == 137)) return "an RA/redirect from outside";
    return "";
  }
  if (p.src == p.dst) return "a land packet";
  if (group(p.source())) return "a multicast or broadcast source";
  if (group(p.destination())) {
    for (const auto& c : a.forward_multicast) {
      if (c.contains(p.destination())) return "";
    }
    return "to a group not in forward_multicast";
  }
  const std::uint32_t src_res = resource_of(p.source(), src_mac);
  const std::uint32_t dst_res = resource_of(p.destination(), dst_mac);
  if (src_res == dp::k_no_resource && dst_res == dp::k_no_resource) {
    if (a.unprotected_forward) return "";
    // An error back to the peer of a resource's flow, from the resource's side.
    const dp::quoted_packet& q = p.quote;
    const std::uint32_t r = p.icmp_error && a.icmp_errors_related && q.src == p.dst
                                ? reference_.resource_of({p.fam, q.dst})
                                : dp::k_no_resource;
    if (r != dp::k_no_resource && (model_.resources[r].side == port_side::inside) == from_inside) {
      const bool ports = q.proto == ip_proto::tcp || q.proto == ip_proto::udp || is_icmp(q.proto, p.fam);
      if (flows_.count({r, q.dst, q.src, ports ? q.dst_port : std::uint16_t{0}, ports ? q.src_port : std::uint16_t{0},
                        q.proto, p.fam == net::family::ipv6})) {
        return "";
      }
    }
    return "traffic of no resource";
  }
  if (p.fragment && p.fragment_offset != 0) {
    return fragments_.count({p.src, p.dst, datagram_proto(p), p.fragment_id, p.fam == net::family::ipv6, from_inside})
               ? ""
               : "a later fragment of no forwarded first fragment";
  }
  const bool tcp = p.proto == ip_proto::tcp;
  const std::uint8_t f = p.tcp_flags & (dp::tcp_flag::fin | dp::tcp_flag::syn | dp::tcp_flag::rst | dp::tcp_flag::ack);
  const bool may_open = !tcp || f == dp::tcp_flag::syn || (a.adopt_midstream && f == dp::tcp_flag::ack);
  for (const bool inbound : {false, true}) {
    const std::uint32_t res = inbound ? dst_res : src_res;
    if (res == dp::k_no_resource) continue;
    const bool wrong_port = !inbound && (model_.resources[res].side == port_side::inside) != from_inside;
    const direction dir = inbound ? direction::ingress : direction::egress;
    if (p.icmp_error) {
      const dp::quoted_packet& q = p.quote;
      const net::u128 local = inbound ? q.src : q.dst;
      const net::u128 remote = inbound ? q.dst : q.src;
      const bool ports = q.proto == ip_proto::tcp || q.proto == ip_proto::udp || is_icmp(q.proto, p.fam);
      const flow_key k{res,
                       local,
                       remote,
                       ports ? (inbound ? q.src_port : q.dst_port) : std::uint16_t{0},
                       ports ? (inbound ? q.dst_port : q.src_port) : std::uint16_t{0},
                       q.proto,
                       p.fam == net::family::ipv6};
      if (a.icmp_errors_related && q.src == p.dst && flows_.count(k)) continue;
    } else {
      const net::u128 local = inbound ? p.dst : p.src;
      const net::u128 remote = inbound ? p.src : p.dst;
      const bool ports = tcp || p.proto == ip_proto::udp || p.icmp_query;
      const flow_key k{res,
                       local,
                       remote,
                       ports ? (inbound ? p.dst_port : p.src_port) : std::uint16_t{0},
                       ports ? (inbound ? p.src_port : p.dst_port) : std::uint16_t{0},
                       p.proto,
                       p.fam == net::family::ipv6};
      if (flows_.count(k)) continue;
      if (!may_open) return "a TCP segment that may not open a flow, of no flow";
    }
    if (wrong_port) return "a resource's source from the other port, of no flow";
    const bool icmp = p.icmp_error || is_icmp(p.proto, p.fam);
    dp::classify_key::fields key;
    key.resource = res;
    key.dir = dir;
    key.remote = inbound ? p.source() : p.destination();
    key.proto = p.proto;
    key.local_port = icmp ? 0 : (inbound ? p.dst_port : p.src_port);
    key.remote_port = icmp ? 0 : (inbound ? p.src_port : p.dst_port);
    key.icmp_type = p.icmp_type;
    key.icmp_code = p.icmp_code;
    if (!reference_.classify(dp::classify_key::make(key)).allowed()) {
      return std::string("denied by ") + (inbound ? "the receiver's ingress" : "the sender's egress") + " rules";
    }
  }
  return "";
}

void forwarding_oracle::record(const dp::parsed_packet& p, std::uint64_t src_mac, std::uint64_t dst_mac,
                               bool from_inside) {
  if (p.kind != dp::frame_kind::ip || p.icmp_error || p.neighbour_discovery) return;
  if (p.fragment && p.fragment_offset != 0) return;
  if (p.fragment) {
    fragments_.insert({p.src, p.dst, datagram_proto(p), p.fragment_id, p.fam == net::family::ipv6, from_inside});
  }
  const bool ports = p.proto == ip_proto::tcp || p.proto == ip_proto::udp || p.icmp_query;
  for (const bool inbound : {false, true}) {
    const std::uint32_t res = inbound ? resource_of(p.destination(), dst_mac) : resource_of(p.source(), src_mac);
    if (res == dp::k_no_resource) continue;
    flows_.insert({res, inbound ? p.dst : p.src, inbound ? p.src : p.dst,
                   ports ? (inbound ? p.dst_port : p.src_port) : std::uint16_t{0},
                   ports ? (inbound ? p.src_port : p.dst_port) : std::uint16_t{0}, p.proto,
                   p.fam == net::family::ipv6});
  }
}

}  // namespace sgfw::testing
