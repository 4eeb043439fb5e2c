#include "conntrack/tracker.hpp"

#include <algorithm>
#include <bit>

namespace sgfw::dp {

namespace {

constexpr std::uint8_t k_scale_unknown = 15;  // window_scale nibble before the handshake settled it
constexpr std::uint8_t k_scale_liberal = 14;  // a flow picked up mid-stream: its scaling is not known

bool from_original(const flow_entry& e, bool inbound) {
  return inbound == ((e.flags & flow_flag::initiated_inbound) != 0);
}

std::uint8_t seq_known_flag(std::size_t d) {
  return d == 0 ? flow_flag::seq_known_original : flow_flag::seq_known_reply;
}

std::uint8_t scale_of(const flow_entry& e, std::size_t d) {
  const auto s = static_cast<std::uint8_t>(d == 0 ? e.window_scale & 0x0F : e.window_scale >> 4);
  return s == k_scale_unknown ? 0 : s;
}

void set_scales(flow_entry& e, std::uint8_t original, std::uint8_t reply) {
  e.window_scale = static_cast<std::uint8_t>((reply << 4) | original);
}

std::uint32_t segment_end(const parsed_packet& p) {
  return p.tcp_seq + p.l4_payload + ((p.tcp_flags & tcp_flag::syn) != 0 ? 1U : 0U) +
         ((p.tcp_flags & tcp_flag::fin) != 0 ? 1U : 0U);
}

// The window a segment advertises, in bytes: unscaled on a SYN (RFC 7323).
std::uint64_t advertised(const flow_entry& e, const parsed_packet& p, std::size_t d) {
  const unsigned shift = (p.tcp_flags & tcp_flag::syn) != 0 ? 0 : scale_of(e, d);
  return std::uint64_t{p.tcp_window} << shift;
}

// Where each direction stands is what its receiver has acknowledged
// (Linux conntrack's td_maxack): a sender's claim (its sequence numbers)
// sets it only for the first segment of its direction (a SYN, or the
// segment a flow was picked up with); afterwards only the other side's
// ACKs move it, by at most the window that side advertised.  A spoofed
// segment from the peer's side therefore cannot move the point its RSTs
// and FINs are checked against: that point moves with the resource's own
// ACKs, and packets from the resource's wrong port change no state
// (worker.cpp).
void note_segment(flow_entry& e, const parsed_packet& p, std::size_t d) {
  const std::size_t r = 1 - d;
  if ((e.flags & seq_known_flag(d)) == 0) {
    e.seq_end[d] = segment_end(p);
    e.flags |= seq_known_flag(d);
  }
  const std::uint8_t w = encode_window(advertised(e, p, d));
  if (w > e.window[d]) e.window[d] = w;
  if ((p.tcp_flags & tcp_flag::ack) == 0) return;
  if ((e.flags & seq_known_flag(r)) == 0) {
    // Picked up mid-stream: the ACK names where the other side stands.
    // In a handshake the other side's first segment (its SYN-ACK) does.
    if (static_cast<tcp_state>(e.state) == tcp_state::unreplied) {
      e.seq_end[r] = p.tcp_ack;
      e.flags |= seq_known_flag(r);
    }
    return;
  }
  const std::int64_t ahead = static_cast<std::int32_t>(p.tcp_ack - e.seq_end[r]);
  if (ahead > 0 && static_cast<std::uint64_t>(ahead) <= std::max<std::uint64_t>(decode_window(e.window[d]), 1)) {
    e.seq_end[r] = p.tcp_ack;
  }
}

// A segment's sequence number lies within the receiver's window around
// what the receiver has acknowledged of its sender.
bool seq_in_window(const flow_entry& e, const parsed_packet& p, std::size_t s) {
  if ((e.flags & seq_known_flag(s)) == 0) return false;
  const std::int64_t distance = static_cast<std::int32_t>(p.tcp_seq - e.seq_end[s]);
  const auto window = static_cast<std::int64_t>(decode_window(e.window[1 - s]));
  return distance >= -window && distance <= window;
}

// The original direction's ACK acknowledges exactly the answer to its
// SYN: what completes a handshake (the answer carries no data before it).
// A guessed ACK leaves the flow half-open (short timeout, evictable).
bool acks_the_answer(const flow_entry& e, const parsed_packet& p) {
  return (p.tcp_flags & tcp_flag::ack) != 0 && (e.flags & seq_known_flag(1)) != 0 && p.tcp_ack == e.seq_end[1];
}

// A RST is believed when it lies within the receiver's window around
// what the receiver has acknowledged; a sender never heard from cannot be
// judged and is not believed, except the answer refusing our SYN, which
// must acknowledge exactly the SYN (RFC 793).
bool rst_plausible(const flow_entry& e, const parsed_packet& p, bool original) {
  const auto state = static_cast<tcp_state>(e.state);
  if (!original && state == tcp_state::syn_sent) {
    return (p.tcp_flags & tcp_flag::ack) != 0 && p.tcp_ack == e.seq_end[0];
  }
  return seq_in_window(e, p, original ? 0 : 1);
}

void refresh(flow_entry& e, std::uint32_t now_ms, const flow_timeouts& t) {
  e.expires_at = now_ms + t[timeout_of(e)] * k_ms_per_second;
}

}  // namespace

std::uint8_t encode_window(std::uint64_t bytes) {
  if (bytes < 8) return static_cast<std::uint8_t>(bytes);
  unsigned e = static_cast<unsigned>(std::bit_width(bytes)) - 4;  // bytes >> e is 8..15
  std::uint64_t m = (bytes + (std::uint64_t{1} << e) - 1) >> e;   // rounded up: 8..16
  if (m == 16) {
    ++e;
    m = 8;
  }
  if (e > 30) return 0xFF;  // beyond any TCP window (65535 << 14 < 2^30)
  return static_cast<std::uint8_t>(((e + 1) << 3) | (m - 8));
}

std::uint64_t decode_window(std::uint8_t code) {
  if (code < 8) return code;
  return (std::uint64_t{code & 7U} + 8) << ((code >> 3) - 1);
}

bool tcp_flags_valid(std::uint8_t flags) {
  constexpr std::uint8_t urg = 0x20;
  const auto f =
      static_cast<std::uint8_t>(flags & (tcp_flag::fin | tcp_flag::syn | tcp_flag::rst | tcp_flag::ack | urg));
  switch (f) {
    case tcp_flag::syn:
    case tcp_flag::syn | urg:
    case tcp_flag::syn | tcp_flag::ack:
    case tcp_flag::rst:
    case tcp_flag::rst | tcp_flag::ack:
    case tcp_flag::fin | tcp_flag::ack:
    case tcp_flag::fin | tcp_flag::ack | urg:
    case tcp_flag::ack:
    case tcp_flag::ack | urg:
      return true;
    default:
      return false;
  }
}

opening how_it_opens(const parsed_packet& p, bool adopt_midstream) {
  if (p.proto == ip_proto::tcp) {
    const std::uint8_t f = p.tcp_flags & (tcp_flag::fin | tcp_flag::syn | tcp_flag::rst | tcp_flag::ack);
    if (f == tcp_flag::syn) return opening::opens;
    if (f == tcp_flag::ack && adopt_midstream) return opening::opens;
    return opening::invalid;
  }
  const bool icmp = (p.proto == ip_proto::icmp && p.fam == net::family::ipv4) ||
                    (p.proto == ip_proto::icmpv6 && p.fam == net::family::ipv6);
  if (icmp) return p.icmp_query && p.icmp_request ? opening::opens : opening::stateless;
  return opening::opens;
}

timeout_class timeout_of(const flow_entry& e) {
  switch (e.proto) {
    case ip_proto::tcp:
      switch (static_cast<tcp_state>(e.state)) {
        case tcp_state::syn_sent:
          return timeout_class::tcp_syn_sent;
        case tcp_state::syn_recv:
          return timeout_class::tcp_syn_recv;
        case tcp_state::fin_wait:
          return timeout_class::tcp_fin_wait;
        case tcp_state::time_wait:
          return timeout_class::tcp_time_wait;
        case tcp_state::close:
          return timeout_class::tcp_close;
        case tcp_state::unreplied:
          return timeout_class::tcp_unreplied;
        default:
          return timeout_class::tcp_established;
      }
    case ip_proto::udp:
      // S7: the short class until more than one request-response exchange.
      return e.state >= 2 ? timeout_class::udp_stream : timeout_class::udp;
    case ip_proto::icmp:
    case ip_proto::icmpv6:
      return timeout_class::icmp;
    default:
      return timeout_class::other;
  }
}

void track_first(flow_entry& e, const parsed_packet& p, bool inbound, std::uint32_t now_ms, const flow_timeouts& t) {
  e.flags = static_cast<std::uint8_t>((e.flags & flow_flag::ipv6) | (inbound ? flow_flag::initiated_inbound : 0));
  e.state = 0;
  e.seq_end[0] = e.seq_end[1] = 0;
  e.window[0] = e.window[1] = 0;
  e.window_scale = 0;
  if (p.proto == ip_proto::tcp) {
    if ((p.tcp_flags & tcp_flag::syn) != 0) {
      e.state = static_cast<std::uint8_t>(tcp_state::syn_sent);
      set_scales(e, p.tcp_wscale == k_no_window_scale ? k_scale_unknown : p.tcp_wscale, k_scale_unknown);
    } else {
      // Picked up mid-stream (midstream = "adopt"): how the windows scale
      // was settled in a handshake we did not see; assume the most.
      e.state = static_cast<std::uint8_t>(tcp_state::unreplied);
      set_scales(e, k_scale_liberal, k_scale_liberal);
    }
    note_segment(e, p, 0);
  }
  refresh(e, now_ms, t);
}

track_verdict check(const flow_entry& e, const parsed_packet& p, bool inbound) {
  if (p.proto != ip_proto::tcp) return track_verdict::accept;
  const bool original = from_original(e, inbound);
  const std::uint8_t f = p.tcp_flags;
  if ((f & tcp_flag::rst) != 0) return rst_plausible(e, p, original) ? track_verdict::accept : track_verdict::invalid;
  const auto s = static_cast<tcp_state>(e.state);
  // The answer to a SYN acknowledges it (RFC 793); a guessed one is
  // INVALID, so it cannot take the place of the real answer.
  if ((f & tcp_flag::syn) != 0 && (f & tcp_flag::ack) != 0 && !original && s == tcp_state::syn_sent &&
      p.tcp_ack != e.seq_end[0]) {
    return track_verdict::invalid;
  }
  if ((f & tcp_flag::syn) != 0 && (f & tcp_flag::ack) == 0 && original &&
      (s == tcp_state::time_wait || s == tcp_state::close || s == tcp_state::unreplied)) {
    return track_verdict::restart;  // the port is reused for a new connection
  }
  return track_verdict::accept;
}

track_verdict track(flow_entry& e, const parsed_packet& p, bool inbound, std::uint32_t now_ms, const flow_timeouts& t) {
  const track_verdict v = check(e, p, inbound);
  if (v != track_verdict::accept) return v;
  const bool original = from_original(e, inbound);
  if (p.proto == ip_proto::udp) {
    // An exchange is a reply after a request.
    if (!original && (e.flags & flow_flag::last_was_reply) == 0 && e.state < 255) ++e.state;
    e.flags = static_cast<std::uint8_t>(original ? e.flags & ~flow_flag::last_was_reply
                                                 : e.flags | flow_flag::last_was_reply);
  } else if (p.proto == ip_proto::tcp) {
    const std::uint8_t f = p.tcp_flags;
    auto s = static_cast<tcp_state>(e.state);
    if ((f & tcp_flag::rst) != 0) {  // within the window: check() said so
      const std::size_t d = original ? 0 : 1;
      const bool exact = p.tcp_seq == e.seq_end[d];
      if (exact || (s != tcp_state::established && s != tcp_state::unreplied)) {
        e.state = static_cast<std::uint8_t>(tcp_state::close);
      }
      refresh(e, now_ms, t);
      return track_verdict::accept;
    }
    if (s == tcp_state::unreplied) {
      // Only the other side's answer makes a picked-up flow a connection;
      // until then the initiator's FINs change nothing.
      if (original) {
        note_segment(e, p, 0);
        refresh(e, now_ms, t);
        return track_verdict::accept;
      }
      s = tcp_state::established;
    }
    if ((f & tcp_flag::syn) != 0 && (f & tcp_flag::ack) != 0 && !original) {
      // The answer to the SYN settles the window scaling (RFC 7323: both
      // sides must offer it).
      if ((e.window_scale >> 4) == k_scale_unknown) {
        const std::uint8_t offered = e.window_scale & 0x0F;
        if (offered != k_scale_unknown && p.tcp_wscale != k_no_window_scale) {
          set_scales(e, offered, p.tcp_wscale);
        } else {
          set_scales(e, 0, 0);
        }
      }
      if (s == tcp_state::syn_sent) s = tcp_state::syn_recv;
    } else if (original && s == tcp_state::syn_recv && acks_the_answer(e, p)) {
      s = tcp_state::established;
    }
    // A FIN counts once the connection is established, and only within
    // the window (Linux: FIN in SYN_SENT is INVALID); a blind one is
    // forwarded for the end host to judge and changes nothing here.
    if ((f & tcp_flag::fin) != 0 && s != tcp_state::syn_sent && s != tcp_state::syn_recv &&
        seq_in_window(e, p, original ? 0 : 1)) {
      e.flags |= original ? flow_flag::fin_original : flow_flag::fin_reply;
      const bool both = (e.flags & flow_flag::fin_original) != 0 && (e.flags & flow_flag::fin_reply) != 0;
      if (s != tcp_state::close) s = both ? tcp_state::time_wait : tcp_state::fin_wait;
    }
    e.state = static_cast<std::uint8_t>(s);
    note_segment(e, p, original ? 0 : 1);
  }
  refresh(e, now_ms, t);
  return track_verdict::accept;
}

}  // namespace sgfw::dp
