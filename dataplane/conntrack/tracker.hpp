// The per-flow state machine (docs/semantics.md S5, S7): TCP through its handshake,
// FINs and RSTs; UDP counting request-response exchanges; ICMP queries and
// other protocols by idle time alone.  Table-driven where it matters (the
// timeout class follows from the state) and independent of the table, so
// it is unit-tested on its own.
//
// What may open a flow follows Linux conntrack (S5): a TCP SYN without
// ACK, never a SYN-ACK, FIN or RST (INVALID); a plain ACK or data segment
// only with midstream = "adopt", and such a flow stays *unreplied* (short
// timeout, evictable like a half-open one) until the other side answers;
// an ICMP query's request, never its reply; any UDP or other-protocol
// packet.
//
// Sequence numbers are followed as far as the state changes need them
// (Linux conntrack's checks, RFC 5961's concern): where each direction
// stands is what its receiver has acknowledged.  The answer to a SYN must
// acknowledge it; the handshake completes only with an ACK of that
// answer (a guessed one leaves the flow half-open); a FIN counts only
// within the receiver's window of an established connection; a RST passes
// within that window, and closes the flow only when it is exact (at what
// the receiver acknowledged), or before the connection is established.
// An in-window RST that is not exact is forwarded and the flow stays
// established, so a connection that goes on talking (an RFC 5961 host
// answers such a RST with a challenge ACK) is not cut.  Other segments
// are accepted whatever their sequence numbers: the end hosts drop bogus
// data, and for a firewall a false drop is worse than a liberal window;
// they change no state beyond the window and ACK bookkeeping.
#pragma once

#include <cstdint>

#include "conntrack/flow_table.hpp"
#include "conntrack/timeouts.hpp"
#include "net/ip_proto.hpp"
#include "net/parsed_packet.hpp"

namespace sgfw::dp {

enum class tcp_state : std::uint8_t {
  none,
  syn_sent,
  syn_recv,
  established,
  fin_wait,
  time_wait,
  close,
  unreplied,  // picked up mid-stream; the other side not heard yet
};

// What the tracker makes of a packet of a known flow.
enum class track_verdict : std::uint8_t {
  accept,   // forward; the entry was updated
  invalid,  // drop (an implausible RST); the entry is unchanged
  restart,  // a new SYN on a closed flow: forget the entry, judge as a new flow
};

// How a packet that finds no flow may go on (S5).
enum class opening : std::uint8_t {
  opens,      // judged by the rules; allowed, it starts a flow
  stateless,  // judged by the rules, never starts a flow (an ICMP query's reply, ICMP that is neither
              // query nor error)
  invalid,    // may not open a flow, and has none: dropped (a TCP SYN-ACK, FIN, RST, or ACK
              // without midstream = "adopt")
};

opening how_it_opens(const parsed_packet& p, bool adopt_midstream);

// TCP flag combinations a real stack sends (Linux conntrack's
// tcp_valid_flags, PSH, ECE and CWR aside): SYN, SYN-ACK, RST, RST-ACK,
// FIN-ACK, ACK, each with or without URG where it can have it.  Null,
// Xmas, SYN-FIN, SYN-RST, FIN without ACK and the like are INVALID.
bool tcp_flags_valid(std::uint8_t flags);

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

// A flow that early drop may evict (S11): half-open (SYN sent or received)
// or picked up mid-stream and never answered.
inline bool half_open(const flow_entry& e) {
  return e.proto == ip_proto::tcp && (e.state == static_cast<std::uint8_t>(tcp_state::syn_sent) ||
                                      e.state == static_cast<std::uint8_t>(tcp_state::syn_recv) ||
                                      e.state == static_cast<std::uint8_t>(tcp_state::unreplied));
}

// The window encoding of flow_entry::window: an 8-bit float (5-bit
// exponent, 3-bit mantissa) rounded up, so decode(encode(w)) >= w and at
// most an eighth more.
std::uint8_t encode_window(std::uint64_t bytes);
std::uint64_t decode_window(std::uint8_t code);

}  // namespace sgfw::dp
