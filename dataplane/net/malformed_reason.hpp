// Why the parser could not make sense of a frame (docs/semantics.md S10).
// The worker drops such a frame and counts it under the drop reason of the
// same name: worker/drop_reason.hpp opens its list with this one.
#pragma once

#include <cstdint>

// X(name, help): each reason once, for the enum here and the drop reasons'
// enum, names and help texts.
#define SGFW_MALFORMED_REASONS(X)                                                               \
  X(truncated_ethernet, "shorter than an Ethernet header")                                      \
  X(vlan_too_deep, "more VLAN tags than the parser follows")                                    \
  X(ipv4_bad_header, "IPv4 version, IHL < 5, or total length < header")                         \
  X(ipv4_truncated, "IPv4 shorter than its total length or header")                             \
  X(ipv6_bad_header, "IPv6 version, payload length 0 (jumbogram) or beyond the frame")          \
  X(ipv6_bad_extensions, "IPv6 extension headers truncated, too many, or hop-by-hop not first") \
  X(tcp_bad_header, "TCP header truncated, or data offset < 5 or beyond the datagram")          \
  X(udp_bad_header, "UDP header truncated, or its length inconsistent")                         \
  X(icmp_bad_header, "ICMP shorter than 8 bytes, or an error quoting too little")               \
  X(icmp_error_fragmented, "an ICMP error in fragments: no router sends one")                   \
  X(fragment_tiny, "a first fragment without the whole L4 header (RFC 1858)")

namespace sgfw::dp {

enum class malformed_reason : std::uint8_t {
  none = 0,
#define SGFW_ENUMERATOR(name, help) name,
  SGFW_MALFORMED_REASONS(SGFW_ENUMERATOR)
#undef SGFW_ENUMERATOR
};

}  // namespace sgfw::dp
