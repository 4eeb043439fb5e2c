#include "conntrack/tracker.hpp"

namespace sgfw::dp {

namespace {

// A RST is plausible (RFC 5961's concern: blind resets) when its sequence
// number is within this distance of the next one its sender is expected to
// use.  The tracker does not follow window scaling, so the bound is the
// largest scaled window a peer is likely to advertise rather than the
// advertised one.
constexpr std::int32_t k_rst_window = 1 << 20;

bool from_original(const flow_entry& e, bool inbound) {
  return inbound == ((e.flags & flow_flag::initiated_inbound) != 0);
}

std::uint8_t seq_known_flag(bool original) {
  return original ? flow_flag::seq_known_original : flow_flag::seq_known_reply;
}

// The sequence space a TCP segment occupies ends after its payload, SYN
// and FIN; remember the furthest end per direction.
void note_sequence(flow_entry& e, const parsed_packet& p, bool original) {
  const std::uint32_t end = p.tcp_seq + p.l4_payload + ((p.tcp_flags & tcp_flag::syn) != 0 ? 1U : 0U) +
                            ((p.tcp_flags & tcp_flag::fin) != 0 ? 1U : 0U);
  const std::size_t d = original ? 0 : 1;
  if ((e.flags & seq_known_flag(original)) == 0 || static_cast<std::int32_t>(end - e.seq_next[d]) > 0) {
    e.seq_next[d] = end;
    e.flags |= seq_known_flag(original);
  }
}

bool rst_plausible(const flow_entry& e, const parsed_packet& p, bool original) {
  const auto state = static_cast<tcp_state>(e.state);
  if (!original && state == tcp_state::syn_sent && (p.tcp_flags & tcp_flag::ack) != 0) {
    // Refusing our SYN: it must acknowledge exactly the SYN.
    return (e.flags & flow_flag::seq_known_original) == 0 || p.tcp_ack == e.seq_next[0];
  }
  if ((e.flags & seq_known_flag(original)) == 0) return true;  // never saw this side: cannot judge
  const auto distance = static_cast<std::int32_t>(p.tcp_seq - e.seq_next[original ? 0 : 1]);
  return distance >= -k_rst_window && distance <= k_rst_window;
}

void refresh(flow_entry& e, std::uint32_t now_ms, const flow_timeouts& t) {
  e.expires_at = now_ms + t[timeout_of(e)] * k_ms_per_second;
}

}  // namespace

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
  e.seq_next[0] = e.seq_next[1] = 0;
  if (p.proto == ip_proto::tcp) {
    const std::uint8_t f = p.tcp_flags;
    tcp_state s = tcp_state::established;  // picked up mid-stream
    if ((f & tcp_flag::syn) != 0) {
      s = (f & tcp_flag::ack) != 0 ? tcp_state::syn_recv : tcp_state::syn_sent;
    } else if ((f & tcp_flag::fin) != 0) {
      s = tcp_state::fin_wait;
      e.flags |= flow_flag::fin_original;
    }
    e.state = static_cast<std::uint8_t>(s);
    note_sequence(e, p, true);
  }
  refresh(e, now_ms, t);
}

track_verdict check(const flow_entry& e, const parsed_packet& p, bool inbound) {
  if (p.proto != ip_proto::tcp) return track_verdict::accept;
  const bool original = from_original(e, inbound);
  const std::uint8_t f = p.tcp_flags;
  if ((f & tcp_flag::rst) != 0) return rst_plausible(e, p, original) ? track_verdict::accept : track_verdict::invalid;
  const auto s = static_cast<tcp_state>(e.state);
  if ((f & tcp_flag::syn) != 0 && (f & tcp_flag::ack) == 0 && original &&
      (s == tcp_state::time_wait || s == tcp_state::close)) {
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
    if ((f & tcp_flag::rst) != 0) {  // plausible: check() said so
      e.state = static_cast<std::uint8_t>(tcp_state::close);
      refresh(e, now_ms, t);
      return track_verdict::accept;
    }
    if ((f & tcp_flag::syn) != 0 && (f & tcp_flag::ack) != 0 && !original && s == tcp_state::syn_sent) {
      s = tcp_state::syn_recv;
    } else if ((f & tcp_flag::ack) != 0 && original && s == tcp_state::syn_recv) {
      s = tcp_state::established;
    }
    if ((f & tcp_flag::fin) != 0) {
      e.flags |= original ? flow_flag::fin_original : flow_flag::fin_reply;
      const bool both = (e.flags & flow_flag::fin_original) != 0 && (e.flags & flow_flag::fin_reply) != 0;
      if (s != tcp_state::close) s = both ? tcp_state::time_wait : tcp_state::fin_wait;
    }
    e.state = static_cast<std::uint8_t>(s);
    note_sequence(e, p, original);
  }
  refresh(e, now_ms, t);
  return track_verdict::accept;
}

}  // namespace sgfw::dp
