// Why a packet was not forwarded: every drop is one of these, and each has
// a counter per worker (conventions: no silent drop).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "net/malformed_reason.hpp"

namespace sgfw::dp {

enum class drop_reason : std::uint8_t {
  none = 0,
  // Malformed (S10): the parser could not make sense of the packet; the
  // same order as net/malformed_reason.hpp, so to_drop_reason is a cast.
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
  // Fragments (S10).
  fragment_tiny,     // first fragment without the whole L4 header
  fragment_overlap,  // a later fragment reaching into the first one
  fragment_orphan,   // no allowed first fragment (from the same port) within the timeout
  // Addresses and frames no security group decides (S1, S9).
  spoofed_source,       // a resource's source address from the other side's port, opening no known flow
  land,                 // source = destination
  martian_source,       // a multicast or broadcast source address
  broadcast_multicast,  // to a broadcast or multicast address not in forward_multicast
  other_ethertype,      // neither IPv4, IPv6 nor ARP, other_ethertypes = "drop"
  unprotected,          // to and from no resource, unprotected_traffic = "drop" (S9)
  arp_nd,               // ARP / neighbour discovery, arp_nd = "drop" (S9)
  ra_guard,             // a router advertisement or redirect from the outside (RFC 6105)
  // Policy and state.
  policy_denied,   // no rule of the resource's groups allows it (S3, S4)
  untracked_cut,   // an untracked flow no longer allowed after a policy change (S8)
  tcp_invalid,     // a segment that may not open a flow (SYN-ACK, FIN, RST, ACK) and has none, bad flags,
                   // or a RST outside the receiver's window (Linux conntrack's INVALID)
  conntrack_full,  // the cloud's conntrack_allowance_exceeded: the table is full (S11)
  resource_quota,  // the resource holds its share of the table ([appliance.conntrack] max_flows_per_resource)
  tx_failed,       // the output queue was full
  handoff_full,    // the owning worker's ring was full
  count_
};

constexpr drop_reason to_drop_reason(malformed_reason m) { return static_cast<drop_reason>(m); }
static_assert(to_drop_reason(malformed_reason::truncated_ethernet) == drop_reason::truncated_ethernet &&
                  to_drop_reason(malformed_reason::ipv6_bad_extensions) == drop_reason::ipv6_bad_extensions &&
                  to_drop_reason(malformed_reason::icmp_error_fragmented) == drop_reason::icmp_error_fragmented &&
                  to_drop_reason(malformed_reason::fragment_tiny) == drop_reason::fragment_tiny,
              "the parser's reasons open the drop reasons, in the same order");

inline constexpr std::size_t drop_reason_count = static_cast<std::size_t>(drop_reason::count_);

// clang-format off
inline constexpr std::array<std::string_view, drop_reason_count> k_drop_reason_names{
    "none", "truncated_ethernet", "vlan_too_deep", "ipv4_bad_header", "ipv4_truncated", "ipv6_bad_header",
    "ipv6_bad_extensions", "tcp_bad_header", "udp_bad_header", "icmp_bad_header", "icmp_error_fragmented",
    "fragment_tiny", "fragment_overlap", "fragment_orphan", "spoofed_source", "land", "martian_source",
    "broadcast_multicast", "other_ethertype", "unprotected", "arp_nd", "ra_guard", "policy_denied",
    "untracked_cut", "tcp_invalid", "conntrack_allowance_exceeded", "resource_allowance_exceeded", "tx_failed",
    "handoff_full"};
// clang-format on
static_assert(k_drop_reason_names.back() == "handoff_full", "one name per reason");

constexpr std::string_view to_string(drop_reason r) { return k_drop_reason_names[static_cast<std::size_t>(r)]; }

}  // namespace sgfw::dp
