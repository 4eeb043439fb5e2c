// Why the parser could not make sense of a frame (docs/semantics.md S10).
// The worker drops such a frame and counts it under the drop reason of the
// same name (worker/drop_reason.hpp keeps the two in step).
#pragma once

#include <cstdint>

namespace sgfw::dp {

enum class malformed_reason : std::uint8_t {
  none = 0,
  truncated_ethernet,
  vlan_too_deep,
  ipv4_bad_header,        // version, IHL < 5, total length < header
  ipv4_truncated,         // shorter than its total length or header
  ipv6_bad_header,        // version, payload length 0 (jumbograms) or beyond the frame
  ipv6_bad_extensions,    // truncated, too many, or hop-by-hop not first
  tcp_bad_header,         // truncated or data offset < 5 / beyond the datagram
  udp_bad_header,         // truncated or length field inconsistent
  icmp_bad_header,        // shorter than 8 bytes, or an error quoting too little
  icmp_error_fragmented,  // an ICMP error in fragments: no router sends one
  fragment_tiny,          // first fragment without the whole L4 header
};

}  // namespace sgfw::dp
