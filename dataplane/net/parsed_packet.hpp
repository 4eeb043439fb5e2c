// What the parser learns about one frame: enough for the resource lookup,
// the connection tracker and the classifier, and nothing they must re-read.
#pragma once

#include <cstdint>

#include "net/ip_address.hpp"
#include "worker/drop_reason.hpp"

namespace sgfw::dp {

enum class frame_kind : std::uint8_t {
  malformed,  // see parsed_packet::malformed
  ip,         // IPv4 or IPv6
  arp,        // ARP (S9)
  non_ip,     // any other ethertype
};

// TCP flags as on the wire.
namespace tcp_flag {
inline constexpr std::uint8_t fin = 0x01;
inline constexpr std::uint8_t syn = 0x02;
inline constexpr std::uint8_t rst = 0x04;
inline constexpr std::uint8_t ack = 0x10;
}  // namespace tcp_flag

// The packet an ICMP error quotes (S6): its addresses, protocol and, when
// the quote reaches them, ports (or echo identifier).
struct quoted_packet {
  net::u128 src = 0;
  net::u128 dst = 0;
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  std::uint8_t proto = 0;
};

struct parsed_packet {
  frame_kind kind = frame_kind::malformed;
  drop_reason malformed = drop_reason::none;
  net::family fam = net::family::ipv4;

  net::u128 src = 0;  // host byte order (IPv4: low 32 bits)
  net::u128 dst = 0;
  std::uint8_t proto = 0;  // upper-layer protocol (after IPv6 extension headers)

  // Fragments (S10).  A first fragment has offset 0 and more_fragments.
  bool fragment = false;
  bool more_fragments = false;
  std::uint16_t fragment_offset = 0;  // bytes
  std::uint32_t fragment_id = 0;
  std::uint16_t fragment_end = 0;  // offset + payload bytes of this fragment

  // L4, when present (not in a later fragment).
  bool has_l4 = false;
  std::uint16_t src_port = 0;  // TCP/UDP ports; ICMP query: identifier in both
  std::uint16_t dst_port = 0;
  std::uint8_t icmp_type = 0;
  std::uint8_t icmp_code = 0;
  std::uint8_t tcp_flags = 0;
  std::uint32_t tcp_seq = 0;
  std::uint32_t tcp_ack = 0;
  std::uint32_t l4_payload = 0;  // TCP payload bytes, for sequence tracking

  // ICMP/ICMPv6 message classes.
  bool icmp_query = false;           // echo and the like: tracked by identifier
  bool icmp_error = false;           // destination unreachable, too big, time exceeded, parameter problem
  bool neighbour_discovery = false;  // ICMPv6 133-137 (S9)
  bool quote_has_ports = false;
  quoted_packet quote;  // valid when icmp_error

  net::ip_address source() const { return {fam, src}; }
  net::ip_address destination() const { return {fam, dst}; }
};

}  // namespace sgfw::dp
