#include "net/packet_parser.hpp"

#include <algorithm>

#include "net/ip_proto.hpp"

namespace sgfw::dp {

namespace {

constexpr std::uint16_t k_ethertype_ipv4 = 0x0800;
constexpr std::uint16_t k_ethertype_arp = 0x0806;
constexpr std::uint16_t k_ethertype_ipv6 = 0x86DD;
constexpr std::uint16_t k_ethertype_vlan = 0x8100;
constexpr std::uint16_t k_ethertype_qinq = 0x88A8;
constexpr std::uint16_t k_ethertype_qinq_old = 0x9100;
constexpr unsigned k_max_vlan_tags = 2;        // 802.1Q and QinQ
constexpr unsigned k_max_ipv6_extensions = 8;  // more is an attack, not a packet

constexpr std::uint8_t k_ipv6_hop_by_hop = 0;
constexpr std::uint8_t k_ipv6_routing = 43;
constexpr std::uint8_t k_ipv6_fragment = 44;
constexpr std::uint8_t k_ipv6_destination = 60;

std::uint16_t be16(const std::uint8_t* p) { return static_cast<std::uint16_t>((p[0] << 8) | p[1]); }
std::uint32_t be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}
net::u128 be128(const std::uint8_t* p) {
  net::u128 v = 0;
  for (int i = 0; i < 16; ++i) v = (v << 8) | p[i];
  return v;
}

void malformed(parsed_packet& out, malformed_reason why) {
  out.kind = frame_kind::malformed;
  out.malformed = why;
}

bool is_icmp(std::uint8_t proto, net::family f) {
  return (f == net::family::ipv4 && proto == ip_proto::icmp) || (f == net::family::ipv6 && proto == ip_proto::icmpv6);
}

// ICMP messages that are queries/replies tracked by identifier.
bool icmp_query_type(net::family f, std::uint8_t type) {
  if (f == net::family::ipv4) return type == 0 || type == 8 || (type >= 13 && type <= 18);
  return type == 128 || type == 129;
}

// The requests among them (echo, timestamp, information, address mask
// requests; ICMPv6 echo request): only a request may open a flow (S5).
bool icmp_request_type(net::family f, std::uint8_t type) {
  if (f == net::family::ipv4) return type == 8 || type == 13 || type == 15 || type == 17;
  return type == 128;
}

// ICMP errors that quote a packet (S6): destination unreachable (and
// fragmentation needed), time exceeded, parameter problem; for ICMPv6 also
// packet too big.
bool icmp_error_type(net::family f, std::uint8_t type) {
  if (f == net::family::ipv4) return type == 3 || type == 11 || type == 12;
  return type >= 1 && type <= 4;
}

// Walks an IPv6 extension-header chain from `nh` at `off`; stops at the
// upper-layer header, or right after the Fragment header of a later
// fragment, whose payload is the middle of the datagram and holds no
// headers.  Returns false when the chain is malformed.
struct ipv6_chain {
  std::uint8_t proto = 0;
  std::uint32_t l4_offset = 0;
  bool fragment = false;
  bool more_fragments = false;
  std::uint16_t fragment_offset = 0;
  std::uint32_t fragment_id = 0;
  std::uint8_t fragment_next = 0;         // the Fragment header's next header
  std::uint32_t fragmentable_offset = 0;  // where the fragmentable part starts: after the Fragment header
};

bool walk_ipv6_chain(const std::uint8_t* p, std::uint32_t end, std::uint8_t nh, std::uint32_t off, ipv6_chain& c) {
  for (unsigned n = 0;; ++n) {
    if (nh == k_ipv6_hop_by_hop || nh == k_ipv6_routing || nh == k_ipv6_destination) {
      if (nh == k_ipv6_hop_by_hop && n != 0) return false;  // only directly after the fixed header
      if (off + 2 > end) return false;
      const std::uint32_t len = (std::uint32_t{p[off + 1]} + 1) * 8;
      if (off + len > end) return false;
      nh = p[off];
      off += len;
    } else if (nh == k_ipv6_fragment) {
      if (off + 8 > end || c.fragment) return false;  // one fragment header at most
      const std::uint16_t field = be16(p + off + 2);
      c.fragment = true;
      c.fragment_offset = static_cast<std::uint16_t>(field & 0xFFF8);
      c.more_fragments = (field & 1) != 0;
      c.fragment_id = be32(p + off + 4);
      c.fragment_next = p[off];
      nh = p[off];
      off += 8;
      c.fragmentable_offset = off;
      if (c.fragment_offset != 0) {
        // A later fragment: what follows is data, whatever `nh` says.
        c.proto = nh;
        c.l4_offset = off;
        return true;
      }
    } else {
      c.proto = nh;
      c.l4_offset = off;
      return true;
    }
    if (n + 1 > k_max_ipv6_extensions) return false;
  }
}

// The packet an ICMP error quotes: its IP header and the first 8 bytes of
// its payload (RFC 792, RFC 4443), enough for ports or the echo identifier.
bool parse_quote(const std::uint8_t* q, std::uint32_t len, net::family f, parsed_packet& out) {
  std::uint32_t l4 = 0;
  bool first = true;
  if (f == net::family::ipv4) {
    if (len < 20 || (q[0] >> 4) != 4) return false;
    const std::uint32_t ihl = (q[0] & 0x0Fu) * 4;
    if (ihl < 20 || len < ihl) return false;
    out.quote.proto = q[9];
    out.quote.src = be32(q + 12);
    out.quote.dst = be32(q + 16);
    first = (be16(q + 6) & 0x1FFF) == 0;
    l4 = ihl;
  } else {
    if (len < 40 || (q[0] >> 4) != 6) return false;
    out.quote.src = be128(q + 8);
    out.quote.dst = be128(q + 24);
    ipv6_chain c;
    if (!walk_ipv6_chain(q, len, q[6], 40, c)) return false;
    out.quote.proto = c.proto;
    first = !c.fragment || c.fragment_offset == 0;
    l4 = c.l4_offset;
  }
  // Ports when the quote reaches them and is the start of its datagram.
  const std::uint8_t proto = out.quote.proto;
  if (first && len >= l4 + 8) {
    const std::uint8_t* h = q + l4;
    if (proto == ip_proto::tcp || proto == ip_proto::udp) {
      out.quote.src_port = be16(h);
      out.quote.dst_port = be16(h + 2);
      out.quote_has_ports = true;
    } else if (is_icmp(proto, f) && icmp_query_type(f, h[0])) {
      out.quote.src_port = out.quote.dst_port = be16(h + 4);
      out.quote.icmp_type = h[0];
      out.quote_has_ports = true;
    }
  }
  return true;
}

// The window-scale option of a SYN (RFC 7323 section 2.2); the rest of
// the options do not matter to the tracker.
void parse_tcp_options(const std::uint8_t* o, std::uint32_t len, parsed_packet& out) {
  constexpr std::uint8_t k_end = 0;
  constexpr std::uint8_t k_nop = 1;
  constexpr std::uint8_t k_window_scale = 3;
  constexpr std::uint8_t k_max_shift = 14;  // larger values are treated as 14 (RFC 7323)
  for (std::uint32_t i = 0; i < len;) {
    const std::uint8_t kind = o[i];
    if (kind == k_end) return;
    if (kind == k_nop) {
      ++i;
      continue;
    }
    if (i + 1 >= len) return;
    const std::uint32_t size = o[i + 1];
    if (size < 2 || i + size > len) return;  // malformed options: no scaling known
    if (kind == k_window_scale && size == 3) out.tcp_wscale = std::min(o[i + 2], k_max_shift);
    i += size;
  }
}

// Neighbour discovery and MLD as RFC 4861 and RFC 3810 define them: only
// on-link (hop limit 255, resp. 1 with a link-local or unspecified source),
// never fragmented (RFC 6980).
bool link_local_control(const parsed_packet& p, std::uint8_t type) {
  if (p.fragment) return false;
  if (type >= 133 && type <= 137) return p.hop_limit == 255;
  if (type == 130 || type == 131 || type == 132 || type == 143) {
    const bool link_local = (p.src >> 118) == (net::u128{0xFE80} >> 6);  // fe80::/10
    return p.hop_limit == 1 && (link_local || p.src == 0);
  }
  return false;
}

// L4 of an unfragmented packet or of a first fragment.  A first fragment
// too short for its L4 header is "tiny" (RFC 1858): dropped, because the
// rest of the header would arrive unjudged.
void parse_l4(const std::uint8_t* h, std::uint32_t len, parsed_packet& out) {
  const bool first_fragment = out.fragment;
  auto short_header = [&](malformed_reason why) {
    malformed(out, first_fragment ? malformed_reason::fragment_tiny : why);
  };
  out.has_l4 = true;
  switch (out.proto) {
    case ip_proto::tcp: {
      if (len < 20) return short_header(malformed_reason::tcp_bad_header);
      const std::uint32_t offset = (h[12] >> 4) * 4U;
      if (offset < 20) return malformed(out, malformed_reason::tcp_bad_header);
      if (offset > len) return short_header(malformed_reason::tcp_bad_header);
      out.src_port = be16(h);
      out.dst_port = be16(h + 2);
      out.tcp_seq = be32(h + 4);
      out.tcp_ack = be32(h + 8);
      out.tcp_flags = h[13];
      out.tcp_window = be16(h + 14);
      out.l4_payload = len - offset;
      if ((out.tcp_flags & tcp_flag::syn) != 0) parse_tcp_options(h + 20, offset - 20, out);
      return;
    }
    case ip_proto::udp: {
      if (len < 8) return short_header(malformed_reason::udp_bad_header);
      const std::uint32_t udp_len = be16(h + 4);
      // A fragmented datagram's length covers all fragments.
      if (udp_len < 8 || (!first_fragment && udp_len > len)) return malformed(out, malformed_reason::udp_bad_header);
      out.src_port = be16(h);
      out.dst_port = be16(h + 2);
      return;
    }
    default:
      break;
  }
  if (!is_icmp(out.proto, out.fam)) return;  // other protocols: addresses only
  if (len < 8) return short_header(malformed_reason::icmp_bad_header);
  out.icmp_type = h[0];
  out.icmp_code = h[1];
  if (icmp_query_type(out.fam, out.icmp_type)) {
    out.icmp_query = true;
    out.icmp_request = icmp_request_type(out.fam, out.icmp_type);
    out.src_port = out.dst_port = be16(h + 4);
  } else if (icmp_error_type(out.fam, out.icmp_type)) {
    // An error is at most 576 bytes (RFC 1812) or the IPv6 minimum MTU
    // (RFC 4443): one that comes in fragments is not one a router sent,
    // and its fragments could not follow it to the quoted flow's worker.
    if (first_fragment) return malformed(out, malformed_reason::icmp_error_fragmented);
    out.icmp_error = true;
    if (!parse_quote(h + 8, len - 8, out.fam, out)) return malformed(out, malformed_reason::icmp_bad_header);
  } else if (out.fam == net::family::ipv6) {
    out.neighbour_discovery = link_local_control(out, out.icmp_type);
  }
}

void parse_ipv4(const std::uint8_t* p, std::uint32_t len, parsed_packet& out) {
  if (len < 20) return malformed(out, malformed_reason::ipv4_truncated);
  const std::uint32_t ihl = (p[0] & 0x0Fu) * 4;
  if ((p[0] >> 4) != 4 || ihl < 20) return malformed(out, malformed_reason::ipv4_bad_header);
  if (len < ihl) return malformed(out, malformed_reason::ipv4_truncated);
  const std::uint32_t total = be16(p + 2);
  if (total < ihl) return malformed(out, malformed_reason::ipv4_bad_header);
  if (total > len) return malformed(out, malformed_reason::ipv4_truncated);  // less is Ethernet padding
  out.kind = frame_kind::ip;
  out.fam = net::family::ipv4;
  out.proto = p[9];
  out.hop_limit = p[8];
  out.src = be32(p + 12);
  out.dst = be32(p + 16);
  const std::uint16_t frag = be16(p + 6);
  const auto offset = static_cast<std::uint16_t>((frag & 0x1FFF) * 8);
  const std::uint32_t payload = total - ihl;
  if ((frag & 0x2000) != 0 || offset != 0) {
    out.fragment = true;
    out.more_fragments = (frag & 0x2000) != 0;
    out.fragment_offset = offset;
    out.fragment_id = be16(p + 4);
    out.fragment_proto = out.proto;
    out.fragment_end = static_cast<std::uint16_t>(std::min<std::uint32_t>(offset + payload, 0xFFFF));
    if (offset != 0) return;  // a later fragment: no L4 header
  }
  parse_l4(p + ihl, payload, out);
}

void parse_ipv6(const std::uint8_t* p, std::uint32_t len, parsed_packet& out) {
  if (len < 40 || (p[0] >> 4) != 6) return malformed(out, malformed_reason::ipv6_bad_header);
  const std::uint32_t payload = be16(p + 4);
  // 0 would announce a jumbogram (RFC 2675), which no link here carries.
  if (payload == 0 || 40 + payload > len) return malformed(out, malformed_reason::ipv6_bad_header);
  out.kind = frame_kind::ip;
  out.fam = net::family::ipv6;
  out.hop_limit = p[7];
  out.src = be128(p + 8);
  out.dst = be128(p + 24);
  const std::uint32_t end = 40 + payload;
  ipv6_chain c;
  if (!walk_ipv6_chain(p, end, p[6], 40, c)) return malformed(out, malformed_reason::ipv6_bad_extensions);
  out.proto = c.proto;
  if (c.fragment) {
    out.fragment = true;
    out.more_fragments = c.more_fragments;
    out.fragment_offset = c.fragment_offset;
    out.fragment_id = c.fragment_id;
    out.fragment_proto = c.fragment_next;
    // Counted from after the Fragment header: extension headers after it
    // belong to the fragmentable part, and a later fragment that reaches
    // into them or into the transport header is an overlap.
    out.fragment_end =
        static_cast<std::uint16_t>(std::min<std::uint32_t>(c.fragment_offset + (end - c.fragmentable_offset), 0xFFFF));
    if (c.fragment_offset != 0) return;
  }
  if (out.proto == 59) return;  // no next header
  parse_l4(p + c.l4_offset, end - c.l4_offset, out);
}

}  // namespace

void parse_frame(const std::uint8_t* frame, std::uint32_t len, parsed_packet& out) {
  out = parsed_packet{};
  if (len < 14) return malformed(out, malformed_reason::truncated_ethernet);
  std::uint32_t off = 14;
  std::uint16_t type = be16(frame + 12);
  for (unsigned tags = 0; type == k_ethertype_vlan || type == k_ethertype_qinq || type == k_ethertype_qinq_old;) {
    if (++tags > k_max_vlan_tags) return malformed(out, malformed_reason::vlan_too_deep);
    if (len < off + 4) return malformed(out, malformed_reason::truncated_ethernet);
    type = be16(frame + off + 2);
    off += 4;
  }
  switch (type) {
    case k_ethertype_ipv4:
      return parse_ipv4(frame + off, len - off, out);
    case k_ethertype_ipv6:
      return parse_ipv6(frame + off, len - off, out);
    case k_ethertype_arp:
      out.kind = frame_kind::arp;
      return;
    default:
      out.kind = frame_kind::non_ip;
      return;
  }
}

}  // namespace sgfw::dp
