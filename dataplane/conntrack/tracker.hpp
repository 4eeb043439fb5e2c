// The per-flow state machine (mission S5, S7): TCP through its handshake,
// FINs and RSTs; UDP counting request-response exchanges; ICMP queries and
// other protocols by idle time alone.  Table-driven where it matters (the
// timeout class follows from the state) and independent of the table, so
// it is unit-tested on its own.
#pragma once

#include <cstdint>

#include "conntrack/flow_table.hpp"
#include "conntrack/timeouts.hpp"
#include "net/parsed_packet.hpp"
#include "policy/direction.hpp"

namespace sgfw::dp {

enum class tcp_state : std::uint8_t { none, syn_sent, syn_recv, established, fin_wait, time_wait, close };

// What the tracker makes of a packet of a known flow.
enum class track_verdict : std::uint8_t {
  accept,   // forward; the entry was updated
  invalid,  // drop (an implausible RST); the entry is unchanged
  restart,  // a new SYN on a closed flow: forget the entry, judge as a new flow
};

inline constexpr std::uint32_t k_ms_per_second = 1000;

// Sets up a new entry from the flow's first packet, which travels inbound
// (towards the resource) or not.
void track_first(flow_entry& e, const parsed_packet& p, bool inbound, std::uint32_t now_ms, const flow_timeouts& t);

// What track() would answer for a later packet of the flow, without
// changing the entry (the worker applies a packet to its flows only once
// every side has accepted it).
track_verdict check(const flow_entry& e, const parsed_packet& p, bool inbound);

// Applies a later packet of the flow; the entry changes only on accept.
track_verdict track(flow_entry& e, const parsed_packet& p, bool inbound, std::uint32_t now_ms, const flow_timeouts& t);

timeout_class timeout_of(const flow_entry& e);

// True when the entry's idle timeout has passed (wrapping ticks).
inline bool expired(const flow_entry& e, std::uint32_t now_ms) {
  return static_cast<std::int32_t>(now_ms - e.expires_at) >= 0;
}

inline bool half_open(const flow_entry& e) {
  return e.proto == ip_proto::tcp && (e.state == static_cast<std::uint8_t>(tcp_state::syn_sent) ||
                                      e.state == static_cast<std::uint8_t>(tcp_state::syn_recv));
}

}  // namespace sgfw::dp
