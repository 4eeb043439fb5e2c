// Frames for tests, built byte by byte: Ethernet with optional VLAN tags,
// IPv4 (options, fragments) or IPv6 (extension headers, fragments), and
// TCP, UDP, ICMP/ICMPv6 (queries and errors quoting another frame).
// Checksums are not computed: sgfw neither checks nor rewrites them.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "config/address_text.hpp"
#include "net/ip_address.hpp"

namespace sgfw::testing {

using bytes = std::vector<std::uint8_t>;

struct frame_spec {
  std::string_view src = "10.0.0.1";
  std::string_view dst = "10.0.0.2";
  std::uint8_t proto = 6;
  std::uint16_t src_port = 40000;
  std::uint16_t dst_port = 80;
  std::uint8_t tcp_flags = 0x02;  // SYN
  std::uint32_t tcp_seq = 1000;
  std::uint32_t tcp_ack = 0;
  std::uint8_t icmp_type = 8;
  std::uint8_t icmp_code = 0;
  std::uint16_t icmp_id = 1;
  bytes payload;                     // after the L4 header (ICMP errors: the quote)
  std::vector<std::uint16_t> vlans;  // outermost first
  std::uint16_t vlan_ethertype = 0x8100;
  std::size_t ipv4_options = 0;  // bytes of NOP options (multiple of 4)
  // Fragmentation of the IP payload: offset in bytes, more-fragments flag;
  // `l3_payload_override` replaces the L4 header and payload (later
  // fragments carry raw bytes).
  bool fragment = false;
  std::uint16_t fragment_offset = 0;
  bool more_fragments = false;
  std::uint32_t fragment_id = 7;
  bool use_override = false;
  bytes l3_payload_override;
  std::vector<std::uint8_t> ipv6_extensions;  // next-header values of 8-byte extension headers, in order
  // Extension headers after the Fragment header (in the fragmentable part,
  // RFC 8200): carried by the first fragment only.
  std::vector<std::uint8_t> ipv6_extensions_after_fragment;
  std::uint8_t hop_limit = 64;  // IPv4 TTL, IPv6 hop limit
  std::uint16_t tcp_window = 65535;
  int tcp_wscale = -1;  // a window-scale option (SYNs), -1: none
  std::array<std::uint8_t, 6> src_mac{0x02, 0, 0, 0, 0, 1};
  std::array<std::uint8_t, 6> dst_mac{0x02, 0, 0, 0, 0, 2};
};

namespace detail {

inline void put16(bytes& b, std::uint16_t v) {
  b.push_back(static_cast<std::uint8_t>(v >> 8));
  b.push_back(static_cast<std::uint8_t>(v));
}
inline void put32(bytes& b, std::uint32_t v) {
  put16(b, static_cast<std::uint16_t>(v >> 16));
  put16(b, static_cast<std::uint16_t>(v));
}
inline net::ip_address addr(std::string_view text) { return std::get<net::ip_address>(config::parse_address(text)); }

}  // namespace detail

// The L4 header and payload of a spec.
inline bytes l4_bytes(const frame_spec& s) {
  using detail::put16;
  using detail::put32;
  bytes b;
  if (s.proto == 6) {
    put16(b, s.src_port);
    put16(b, s.dst_port);
    put32(b, s.tcp_seq);
    put32(b, s.tcp_ack);
    const bool wscale = s.tcp_wscale >= 0;
    b.push_back(wscale ? 0x60 : 0x50);  // data offset 6 with the option, else 5
    b.push_back(s.tcp_flags);
    put16(b, s.tcp_window);
    put32(b, 0);  // checksum, urgent pointer
    if (wscale) {
      b.insert(b.end(), {1, 3, 3, static_cast<std::uint8_t>(s.tcp_wscale)});  // NOP, window scale
    }
  } else if (s.proto == 17) {
    put16(b, s.src_port);
    put16(b, s.dst_port);
    put16(b, static_cast<std::uint16_t>(8 + s.payload.size()));
    put16(b, 0);
  } else if (s.proto == 1 || s.proto == 58) {
    b.push_back(s.icmp_type);
    b.push_back(s.icmp_code);
    put16(b, 0);
    put16(b, s.icmp_id);  // identifier (queries) or unused (errors)
    put16(b, 1);          // sequence
  }
  b.insert(b.end(), s.payload.begin(), s.payload.end());
  return b;
}

// The IP packet (no Ethernet header).
inline bytes ip_bytes(const frame_spec& s) {
  using detail::put16;
  using detail::put32;
  const net::ip_address src = detail::addr(s.src);
  const net::ip_address dst = detail::addr(s.dst);
  bytes l4 = s.use_override ? s.l3_payload_override : l4_bytes(s);
  bytes b;
  if (src.fam == net::family::ipv6 && !s.ipv6_extensions_after_fragment.empty() && !s.use_override) {
    // The fragmentable part begins with these headers, then the L4 header.
    bytes after;
    for (std::size_t i = 0; i < s.ipv6_extensions_after_fragment.size(); ++i) {
      const std::uint8_t next =
          i + 1 < s.ipv6_extensions_after_fragment.size() ? s.ipv6_extensions_after_fragment[i + 1] : s.proto;
      after.push_back(next);
      after.push_back(0);
      after.insert(after.end(), 6, 0);
    }
    l4.insert(l4.begin(), after.begin(), after.end());
  }
  if (src.fam == net::family::ipv4) {
    const std::size_t ihl = 20 + s.ipv4_options;
    b.push_back(static_cast<std::uint8_t>(0x40 | (ihl / 4)));
    b.push_back(0);
    put16(b, static_cast<std::uint16_t>(ihl + l4.size()));
    put16(b, static_cast<std::uint16_t>(s.fragment_id));
    std::uint16_t frag = static_cast<std::uint16_t>(s.fragment_offset / 8);
    if (s.more_fragments) frag |= 0x2000;
    put16(b, s.fragment ? frag : 0);
    b.push_back(s.hop_limit);
    b.push_back(s.proto);
    put16(b, 0);
    put32(b, src.v4_value());
    put32(b, dst.v4_value());
    b.insert(b.end(), s.ipv4_options, 1);  // NOP
  } else {
    bytes ext;
    const std::uint8_t upper =
        s.ipv6_extensions_after_fragment.empty() ? s.proto : s.ipv6_extensions_after_fragment.front();
    std::uint8_t first_next = s.fragment ? 44 : upper;
    // Extension headers chain to each other, then to the fragment header
    // (when fragmented), then to the upper layer.
    if (!s.ipv6_extensions.empty()) first_next = s.ipv6_extensions.front();
    for (std::size_t i = 0; i < s.ipv6_extensions.size(); ++i) {
      const std::uint8_t next = i + 1 < s.ipv6_extensions.size() ? s.ipv6_extensions[i + 1]
                                : s.fragment                     ? std::uint8_t{44}
                                                                 : upper;
      ext.push_back(next);
      ext.push_back(0);  // 8 bytes
      ext.insert(ext.end(), 6, 0);
    }
    if (s.fragment) {
      ext.push_back(s.ipv6_extensions_after_fragment.empty() ? s.proto : s.ipv6_extensions_after_fragment.front());
      ext.push_back(0);
      put16(ext, static_cast<std::uint16_t>(s.fragment_offset | (s.more_fragments ? 1 : 0)));
      put32(ext, s.fragment_id);
    }
    b.push_back(0x60);
    b.insert(b.end(), 3, 0);
    put16(b, static_cast<std::uint16_t>(ext.size() + l4.size()));
    b.push_back(first_next);
    b.push_back(s.hop_limit);
    for (int i = 15; i >= 0; --i) b.push_back(static_cast<std::uint8_t>(src.value >> (8 * i)));
    for (int i = 15; i >= 0; --i) b.push_back(static_cast<std::uint8_t>(dst.value >> (8 * i)));
    b.insert(b.end(), ext.begin(), ext.end());
  }
  b.insert(b.end(), l4.begin(), l4.end());
  return b;
}

inline bytes frame(const frame_spec& s) {
  const bytes ip = ip_bytes(s);
  bytes b;
  b.reserve(14 + 4 * s.vlans.size() + ip.size());
  for (const std::uint8_t o : s.dst_mac) b.push_back(o);
  for (const std::uint8_t o : s.src_mac) b.push_back(o);
  for (const std::uint16_t v : s.vlans) {
    detail::put16(b, s.vlan_ethertype);
    detail::put16(b, v);
  }
  const bool v6 = detail::addr(s.src).fam == net::family::ipv6;
  detail::put16(b, v6 ? 0x86DD : 0x0800);
  b.insert(b.end(), ip.begin(), ip.end());
  return b;
}

inline bytes arp_frame() {
  bytes b = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02, 0, 0, 0, 0, 1, 0x08, 0x06};
  b.insert(b.end(), 28, 0);
  return b;
}

// A TCP segment and a UDP datagram (with a small payload), the frames most
// packet-path tests are made of.
inline frame_spec tcp(std::string_view src, std::uint16_t sport, std::string_view dst, std::uint16_t dport,
                      std::uint8_t flags, std::uint32_t seq = 1000, std::uint32_t ack = 0) {
  frame_spec s;
  s.src = src;
  s.dst = dst;
  s.proto = 6;
  s.src_port = sport;
  s.dst_port = dport;
  s.tcp_flags = flags;
  s.tcp_seq = seq;
  s.tcp_ack = ack;
  return s;
}

inline frame_spec udp(std::string_view src, std::uint16_t sport, std::string_view dst, std::uint16_t dport) {
  frame_spec s;
  s.src = src;
  s.dst = dst;
  s.proto = 17;
  s.src_port = sport;
  s.dst_port = dport;
  s.payload = bytes(20, 0x42);
  return s;
}

// An ICMP error from `reporter` to `to`, quoting (IP header + 8 bytes of)
// the packet `quoted`.
inline frame_spec icmp_error(std::string_view reporter, std::string_view to, const frame_spec& quoted,
                             std::uint8_t type, std::uint8_t code) {
  frame_spec e;
  e.src = reporter;
  e.dst = to;
  const bool v6 = detail::addr(reporter).fam == net::family::ipv6;
  e.proto = v6 ? 58 : 1;
  e.icmp_type = type;
  e.icmp_code = code;
  e.icmp_id = 0;
  bytes q = ip_bytes(quoted);
  const std::size_t header = v6 ? 40 : 20;
  q.resize(std::min(q.size(), header + 8));
  e.payload = q;
  return e;
}

}  // namespace sgfw::testing
