// Why a packet was not forwarded: every drop is one of these, and each has
// a counter per worker (conventions: no silent drop).  Declared once, in
// SGFW_DROP_REASONS: the enum, the counter names (what the status line,
// the final counters and, next, telemetry and Prometheus call them) and
// their help texts all come from it.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "net/malformed_reason.hpp"

// X(name, help), in counter order.  Malformed frames first (S10), as the
// parser names them, so that to_drop_reason() is a cast.
#define SGFW_DROP_REASONS(X)                                                                                 \
  SGFW_MALFORMED_REASONS(X)                                                                                  \
  /* Fragments (S10). */                                                                                     \
  X(fragment_overlap, "a later fragment reaching into the first one")                                        \
  X(fragment_orphan, "no allowed first fragment from the same port within the timeout")                      \
  /* Addresses and frames no security group decides (S1, S9). */                                             \
  X(spoofed_source, "a resource's source from the port it does not sit behind, opening or changing no flow") \
  X(land, "source address = destination address")                                                            \
  X(martian_source, "a multicast or broadcast source address")                                               \
  X(broadcast_multicast, "to a broadcast or multicast address (or frame) not in forward_multicast")          \
  X(other_ethertype, "neither IPv4, IPv6 nor ARP, other_ethertypes = \"drop\"")                              \
  X(unprotected, "to and from no resource, unprotected_traffic = \"drop\"")                                  \
  X(arp_nd, "ARP or neighbour discovery, arp_nd = \"drop\"")                                                 \
  X(ra_guard, "a router advertisement or redirect from the outside (RFC 6105)")                              \
  /* Policy and state. */                                                                                    \
  X(policy_denied, "no rule of the resource's groups allows it")                                             \
  X(untracked_cut, "an untracked flow no longer allowed after a policy change (S8)")                         \
  X(revalidate_cut, "an established flow no longer allowed after a change in revalidate mode (S8)")          \
  X(tcp_invalid, "a segment that may not open a flow and has none, bad flags, or a RST outside the window")  \
  X(conntrack_allowance_exceeded, "the connection table is full (S11)")                                      \
  X(resource_allowance_exceeded, "the resource holds its share of the connection table (S11)")               \
  X(tx_failed, "the output queue was full")                                                                  \
  X(handoff_full, "the owning worker's ring was full")

namespace sgfw::dp {

enum class drop_reason : std::uint8_t {
  none = 0,
#define SGFW_ENUMERATOR(name, help) name,
  SGFW_DROP_REASONS(SGFW_ENUMERATOR)
#undef SGFW_ENUMERATOR
      count_
};

inline constexpr std::size_t drop_reason_count = static_cast<std::size_t>(drop_reason::count_);

constexpr drop_reason to_drop_reason(malformed_reason m) { return static_cast<drop_reason>(m); }

struct drop_reason_info {
  std::string_view name;
  std::string_view help;
};

inline constexpr std::array<drop_reason_info, drop_reason_count> k_drop_reasons{{{"none", "forwarded"},
#define SGFW_INFO(name, help) {#name, help},
                                                                                 SGFW_DROP_REASONS(SGFW_INFO)
#undef SGFW_INFO
}};

constexpr std::string_view to_string(drop_reason r) { return k_drop_reasons[static_cast<std::size_t>(r)].name; }
constexpr std::string_view help_of(drop_reason r) { return k_drop_reasons[static_cast<std::size_t>(r)].help; }

}  // namespace sgfw::dp
