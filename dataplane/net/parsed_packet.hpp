// What the parser learns about one frame: enough for the resource lookup,
// the connection tracker and the classifier, and nothing they must re-read.
#pragma once

#include <cstdint>

#include "net/ip_address.hpp"
#include "net/malformed_reason.hpp"

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
  std::uint16_t src_port = 0;  // TCP/UDP ports; a quoted ICMP query: its identifier in both
  std::uint16_t dst_port = 0;
  std::uint8_t proto = 0;
  std::uint8_t icmp_type = 0;  // a quoted ICMP query's type
};

inline constexpr std::uint8_t k_no_window_scale = 0xFF;

struct parsed_packet {
  frame_kind kind = frame_kind::malformed;
  malformed_reason malformed = malformed_reason::none;
  net::family fam = net::family::ipv4;

  net::u128 src = 0;  // host byte order (IPv4: low 32 bits)
  net::u128 dst = 0;
  std::uint8_t proto = 0;      // upper-layer protocol (after IPv6 extension headers)
  std::uint8_t hop_limit = 0;  // IPv4 TTL, IPv6 hop limit

  // Fragments (S10).  A first fragment has offset 0 and more_fragments.
  // Offsets count the fragmentable part: after the IPv4 header, after the
  // IPv6 Fragment header (RFC 8200 section 4.5), so extension headers that
  // follow the Fragment header are part of it.
  bool fragment = false;
  bool more_fragments = false;
  std::uint16_t fragment_offset = 0;  // bytes
  std::uint32_t fragment_id = 0;
  std::uint16_t fragment_end = 0;   // offset + fragmentable bytes in this fragment
  std::uint8_t fragment_proto = 0;  // what every fragment of the datagram names: IPv4 protocol, IPv6
                                    // Fragment header's next header (the datagram's key with the addresses and id)

  // L4, when present (not in a later fragment).
  bool has_l4 = false;
  std::uint16_t src_port = 0;  // TCP/UDP ports; ICMP query: identifier in both
  std::uint16_t dst_port = 0;
  std::uint8_t icmp_type = 0;
  std::uint8_t icmp_code = 0;
  std::uint8_t tcp_flags = 0;
  std::uint32_t tcp_seq = 0;
  std::uint32_t tcp_ack = 0;
  std::uint32_t l4_payload = 0;                 // TCP payload bytes, for sequence tracking
  std::uint16_t tcp_window = 0;                 // as on the wire (unscaled)
  std::uint8_t tcp_wscale = k_no_window_scale;  // the window-scale option of a SYN (RFC 7323), capped at 14

  // ICMP/ICMPv6 message classes.
  bool icmp_query = false;    // echo and the like: tracked by identifier
  bool icmp_request = false;  // a query's request (echo request...), not its reply
  bool icmp_error = false;    // destination unreachable, too big, time exceeded, parameter problem
  // ICMPv6 neighbour discovery (133-137, hop limit 255, RFC 4861) or MLD
  // (130-132, 143, hop limit 1, link-local source, RFC 3810), unfragmented
  // (RFC 6980): link-local control traffic that security groups do not
  // filter (S9).  The same types with another hop limit cannot be on-link
  // traffic and are judged like any ICMPv6 message.
  bool neighbour_discovery = false;
  bool quote_has_ports = false;
  quoted_packet quote;  // valid when icmp_error

  net::ip_address source() const { return {fam, src}; }
  net::ip_address destination() const { return {fam, dst}; }
};

}  // namespace sgfw::dp
