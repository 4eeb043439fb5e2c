// The per-flow state machine on its own (docs/semantics.md S5, S7): TCP states and
// their timeout classes, what may open a flow, the RST window check (with
// window scaling) and what an accepted RST does, restarts, flows picked up
// mid-stream, UDP exchange counting, and which timeout each class gets.
#include "conntrack/tracker.hpp"

#include <gtest/gtest.h>

#include <cstring>

namespace sgfw::dp {
namespace {

namespace flag = tcp_flag;

constexpr std::uint32_t k_s = k_ms_per_second;

parsed_packet tcp(std::uint8_t flags, std::uint32_t seq, std::uint32_t ack = 0, std::uint32_t payload = 0,
                  std::uint16_t window = 65535, std::uint8_t wscale = k_no_window_scale) {
  parsed_packet p;
  p.kind = frame_kind::ip;
  p.proto = ip_proto::tcp;
  p.has_l4 = true;
  p.tcp_flags = flags;
  p.tcp_seq = seq;
  p.tcp_ack = ack;
  p.l4_payload = payload;
  p.tcp_window = window;
  p.tcp_wscale = wscale;
  return p;
}

parsed_packet of_proto(std::uint8_t proto) {
  parsed_packet p;
  p.kind = frame_kind::ip;
  p.proto = proto;
  p.has_l4 = true;
  return p;
}

tcp_state state_of(const flow_entry& e) { return static_cast<tcp_state>(e.state); }

// Distinct timeouts per class, so a wrong class shows in expires_at.
flow_timeouts distinct() {
  flow_timeouts t;
  for (std::size_t i = 0; i < timeout_class_count; ++i) t.seconds[i] = static_cast<std::uint32_t>(100 + i);
  return t;
}

std::uint32_t expiry(timeout_class c, std::uint32_t now) { return now + distinct()[c] * k_s; }

// An outbound connection through its handshake: client seq 1000, server 5000.
flow_entry established(std::uint32_t now = 0) {
  flow_entry e{};
  e.proto = ip_proto::tcp;
  const flow_timeouts t = distinct();
  track_first(e, tcp(flag::syn, 1000), false, now, t);
  EXPECT_EQ(track(e, tcp(flag::syn | flag::ack, 5000, 1001), true, now, t), track_verdict::accept);
  EXPECT_EQ(track(e, tcp(flag::ack, 1001, 5001), false, now, t), track_verdict::accept);
  return e;
}

TEST(Tracker, TcpHandshakeMovesThroughItsStatesAndTimeoutClasses) {
  const flow_timeouts t = distinct();
  flow_entry e{};
  e.proto = ip_proto::tcp;
  track_first(e, tcp(flag::syn, 1000), false, 0, t);
  EXPECT_EQ(state_of(e), tcp_state::syn_sent);
  EXPECT_EQ(e.expires_at, expiry(timeout_class::tcp_syn_sent, 0));
  EXPECT_EQ(e.flags & flow_flag::initiated_inbound, 0);

  // The client's own retransmitted SYN-ACK would not advance it; the server's does.
  track(e, tcp(flag::syn | flag::ack, 1000, 1), false, 10, t);
  EXPECT_EQ(state_of(e), tcp_state::syn_sent);
  track(e, tcp(flag::syn | flag::ack, 5000, 1001), true, 20, t);
  EXPECT_EQ(state_of(e), tcp_state::syn_recv);
  EXPECT_EQ(e.expires_at, expiry(timeout_class::tcp_syn_recv, 20));
  track(e, tcp(flag::ack, 1001, 5001), false, 30, t);
  EXPECT_EQ(state_of(e), tcp_state::established);
  EXPECT_EQ(e.expires_at, expiry(timeout_class::tcp_established, 30));
}

TEST(Tracker, FinEachWayThenTimeWait) {
  const flow_timeouts t = distinct();
  flow_entry e = established();
  track(e, tcp(flag::fin | flag::ack, 1001, 5001), false, 40, t);
  EXPECT_EQ(state_of(e), tcp_state::fin_wait);
  EXPECT_EQ(e.expires_at, expiry(timeout_class::tcp_fin_wait, 40));
  // A second FIN from the same side is still one side closed.
  track(e, tcp(flag::fin | flag::ack, 1001, 5001), false, 45, t);
  EXPECT_EQ(state_of(e), tcp_state::fin_wait);
  track(e, tcp(flag::fin | flag::ack, 5001, 1002), true, 50, t);
  EXPECT_EQ(state_of(e), tcp_state::time_wait);
  EXPECT_EQ(e.expires_at, expiry(timeout_class::tcp_time_wait, 50));
}

TEST(Tracker, RstIsBelievedOnlyWithinTheReceiversWindow) {
  const flow_timeouts t = distinct();
  flow_entry e = established(0);
  const flow_entry before = e;
  // The server has sent up to 5001; the client's window is 65535 (no
  // scaling): a RST further off than that is a blind reset.
  for (const std::uint32_t off : {70000U, 1U << 20, 1U << 30}) {
    EXPECT_EQ(track(e, tcp(flag::rst, 5001 + off), true, 60, t), track_verdict::invalid) << off;
    EXPECT_EQ(track(e, tcp(flag::rst, 5001 - off), true, 60, t), track_verdict::invalid) << off;
  }
  EXPECT_EQ(e.state, before.state);
  EXPECT_EQ(e.expires_at, before.expires_at);
  // Within the window but not where the sender stands: forwarded (the end
  // host decides; RFC 5961 hosts answer with a challenge ACK), and the
  // connection stays established, its timeout unchanged in class.
  EXPECT_EQ(track(e, tcp(flag::rst, 5001 + 60000), true, 70, t), track_verdict::accept);
  EXPECT_EQ(state_of(e), tcp_state::established);
  EXPECT_EQ(e.expires_at, expiry(timeout_class::tcp_established, 70));
  // Exactly there: the connection is reset.
  EXPECT_EQ(track(e, tcp(flag::rst, 5001), true, 80, t), track_verdict::accept);
  EXPECT_EQ(state_of(e), tcp_state::close);
  EXPECT_EQ(e.expires_at, expiry(timeout_class::tcp_close, 80));
}

TEST(Tracker, TheRstWindowFollowsWindowScaling) {
  const flow_timeouts t = distinct();
  for (const bool both_offer : {true, false}) {
    flow_entry e{};
    e.proto = ip_proto::tcp;
    track_first(e, tcp(flag::syn, 1000, 0, 0, 64240, 7), false, 0, t);
    track(e, tcp(flag::syn | flag::ack, 5000, 1001, 0, 65535, both_offer ? 7 : k_no_window_scale), true, 0, t);
    // The client advertises 1000 << 7 = 128000 bytes when scaling is on.
    track(e, tcp(flag::ack, 1001, 5001, 0, 1000), false, 0, t);
    const track_verdict v = check(e, tcp(flag::rst, 5001 + 100000), true);
    EXPECT_EQ(v, both_offer ? track_verdict::accept : track_verdict::invalid) << both_offer;
  }
}

TEST(Tracker, RstFromASideNeverHeardIsNotBelieved) {
  const flow_timeouts t = distinct();
  flow_entry e{};
  e.proto = ip_proto::tcp;
  track_first(e, tcp(flag::syn, 1000), false, 0, t);
  // The server never answered: its plain RST cannot be judged.
  EXPECT_EQ(check(e, tcp(flag::rst, 0), true), track_verdict::invalid);
  EXPECT_EQ(check(e, tcp(flag::rst, 777), true), track_verdict::invalid);
  // The client's own RST must be where its SYN left it.
  EXPECT_EQ(check(e, tcp(flag::rst, 1005), false), track_verdict::invalid);
  EXPECT_EQ(check(e, tcp(flag::rst, 1001), false), track_verdict::accept);
}

TEST(Tracker, RstAnsweringASynMustAcknowledgeIt) {
  const flow_timeouts t = distinct();
  flow_entry e{};
  e.proto = ip_proto::tcp;
  track_first(e, tcp(flag::syn, 1000), false, 0, t);
  EXPECT_EQ(track(e, tcp(flag::rst | flag::ack, 0, 1002), true, 1, t), track_verdict::invalid);
  EXPECT_EQ(state_of(e), tcp_state::syn_sent);
  EXPECT_EQ(track(e, tcp(flag::rst | flag::ack, 0, 1001), true, 2, t), track_verdict::accept);
  EXPECT_EQ(state_of(e), tcp_state::close);
}

TEST(Tracker, SequenceFollowsTheStreamSoLateRstsStayPlausible) {
  const flow_timeouts t = distinct();
  flow_entry e = established(0);
  // The server sends 3 MB, the client acknowledges it: where the server
  // stands moves with the client's ACKs.
  std::uint32_t seq = 5001;
  for (int i = 0; i < 3000; ++i, seq += 1000) {
    track(e, tcp(flag::ack, seq, 1001, 1000), true, 5, t);
    track(e, tcp(flag::ack, 1001, seq + 1000), false, 5, t);
  }
  EXPECT_EQ(check(e, tcp(flag::rst, 5001), true), track_verdict::invalid);  // 3 MB behind
  EXPECT_EQ(check(e, tcp(flag::rst, seq + 100), true), track_verdict::accept);
  EXPECT_EQ(track(e, tcp(flag::rst, seq), true, 6, t), track_verdict::accept);
  EXPECT_EQ(state_of(e), tcp_state::close);
}

// The tracker is liberal with data, but a segment far beyond the
// receiver's window (which no real sender emits, and which a blind
// attacker can) does not move the point a RST is judged against.
TEST(Tracker, ASpoofedFarSegmentDoesNotMoveTheRstWindow) {
  const flow_timeouts t = distinct();
  flow_entry e = established(0);
  const std::uint32_t far = 5001 + (1U << 30);
  EXPECT_EQ(track(e, tcp(flag::ack, far, 1001, 100), true, 5, t), track_verdict::accept);
  EXPECT_EQ(check(e, tcp(flag::rst, far + 100), true), track_verdict::invalid);
  EXPECT_EQ(check(e, tcp(flag::rst, 5001), true), track_verdict::accept);
}

// What a sender claims does not move where its RSTs are judged; only the
// receiver's ACKs do (else in-window data, walked across the sequence
// space, turns a blind RST into an exact one).
TEST(Tracker, DataTheReceiverHasNotAcknowledgedDoesNotMakeARstExact) {
  const flow_timeouts t = distinct();
  flow_entry e = established(0);
  EXPECT_EQ(track(e, tcp(flag::ack, 5001 + 30000, 1001, 1), true, 5, t), track_verdict::accept);
  EXPECT_EQ(track(e, tcp(flag::rst, 5001 + 30001), true, 6, t), track_verdict::accept);  // in the window
  EXPECT_EQ(state_of(e), tcp_state::established);
  EXPECT_EQ(track(e, tcp(flag::rst, 5001), true, 7, t), track_verdict::accept);  // where the client stands
  EXPECT_EQ(state_of(e), tcp_state::close);
}

// An ACK ahead of the receiver's window is no acknowledgement either.
TEST(Tracker, AnAckBeyondTheWindowMovesNothing) {
  const flow_timeouts t = distinct();
  flow_entry e = established(0);
  EXPECT_EQ(track(e, tcp(flag::ack, 1001, 5001 + 200000), false, 5, t), track_verdict::accept);
  EXPECT_EQ(track(e, tcp(flag::rst, 5001 + 200000), true, 6, t), track_verdict::invalid);
  EXPECT_EQ(state_of(e), tcp_state::established);
}

// The handshake completes only with an ACK of the answer to the SYN; a
// guessed one leaves the flow half-open (short timeout, evictable).
TEST(Tracker, TheHandshakeCompletesOnlyWithAnAckOfTheAnswer) {
  const flow_timeouts t = distinct();
  flow_entry e{};
  e.proto = ip_proto::tcp;
  track_first(e, tcp(flag::syn, 1000), false, 0, t);
  EXPECT_EQ(track(e, tcp(flag::syn | flag::ack, 5000, 1001), true, 1, t), track_verdict::accept);
  EXPECT_EQ(track(e, tcp(flag::ack, 1001, 123456), false, 2, t), track_verdict::accept);
  EXPECT_EQ(state_of(e), tcp_state::syn_recv);
  EXPECT_TRUE(half_open(e));
  EXPECT_EQ(track(e, tcp(flag::fin | flag::ack, 1001, 99), false, 3, t), track_verdict::accept);
  EXPECT_EQ(state_of(e), tcp_state::syn_recv);  // a FIN of no connection
  EXPECT_EQ(track(e, tcp(flag::ack, 1001, 5001), false, 4, t), track_verdict::accept);
  EXPECT_EQ(state_of(e), tcp_state::established);
  EXPECT_FALSE(half_open(e));
}

// An answer to a SYN that does not acknowledge it is INVALID: it cannot
// take the real answer's place.
TEST(Tracker, AGuessedSynAckIsInvalid) {
  const flow_timeouts t = distinct();
  flow_entry e{};
  e.proto = ip_proto::tcp;
  track_first(e, tcp(flag::syn, 1000), false, 0, t);
  EXPECT_EQ(track(e, tcp(flag::syn | flag::ack, 7777, 4242), true, 1, t), track_verdict::invalid);
  EXPECT_EQ(state_of(e), tcp_state::syn_sent);
  EXPECT_EQ(track(e, tcp(flag::syn | flag::ack, 5000, 1001), true, 2, t), track_verdict::accept);
  EXPECT_EQ(track(e, tcp(flag::ack, 1001, 5001), false, 3, t), track_verdict::accept);
  EXPECT_EQ(state_of(e), tcp_state::established);
}

// A FIN before the handshake (Linux: INVALID in SYN_SENT) or outside the
// receiver's window changes nothing: a blind FIN cannot shorten an
// established connection's timeout to fin_wait's.
TEST(Tracker, AFinCountsOnlyInTheWindowOfAConnection) {
  const flow_timeouts t = distinct();
  flow_entry half{};
  half.proto = ip_proto::tcp;
  track_first(half, tcp(flag::syn, 1000), true, 0, t);
  EXPECT_EQ(track(half, tcp(flag::fin | flag::ack, 1001, 0), true, 1, t), track_verdict::accept);
  EXPECT_EQ(state_of(half), tcp_state::syn_sent);
  EXPECT_TRUE(half_open(half));

  flow_entry e = established(0);
  EXPECT_EQ(track(e, tcp(flag::fin | flag::ack, 5001 + (1U << 31), 1001), true, 5, t), track_verdict::accept);
  EXPECT_EQ(state_of(e), tcp_state::established);
  EXPECT_EQ(e.expires_at, expiry(timeout_class::tcp_established, 5));
  EXPECT_EQ(track(e, tcp(flag::fin | flag::ack, 5001, 1001), true, 6, t), track_verdict::accept);
  EXPECT_EQ(state_of(e), tcp_state::fin_wait);
}

TEST(Tracker, WhatMayOpenAFlow) {
  for (const bool adopt : {false, true}) {
    EXPECT_EQ(how_it_opens(tcp(flag::syn, 1), adopt), opening::opens);
    EXPECT_EQ(how_it_opens(tcp(flag::syn | flag::ack, 1), adopt), opening::invalid);
    EXPECT_EQ(how_it_opens(tcp(flag::rst, 1), adopt), opening::invalid);
    EXPECT_EQ(how_it_opens(tcp(flag::rst | flag::ack, 1), adopt), opening::invalid);
    EXPECT_EQ(how_it_opens(tcp(flag::fin | flag::ack, 1), adopt), opening::invalid);
    EXPECT_EQ(how_it_opens(tcp(flag::ack, 1), adopt), adopt ? opening::opens : opening::invalid);
    EXPECT_EQ(how_it_opens(tcp(flag::ack | 0x08, 1, 0, 100), adopt), adopt ? opening::opens : opening::invalid);
  }
  parsed_packet echo = of_proto(ip_proto::icmp);
  echo.icmp_query = true;
  echo.icmp_request = true;
  EXPECT_EQ(how_it_opens(echo, false), opening::opens);
  echo.icmp_request = false;  // a reply
  EXPECT_EQ(how_it_opens(echo, false), opening::stateless);
  parsed_packet redirect = of_proto(ip_proto::icmp);  // neither query nor error
  EXPECT_EQ(how_it_opens(redirect, false), opening::stateless);
  EXPECT_EQ(how_it_opens(of_proto(ip_proto::udp), false), opening::opens);
  EXPECT_EQ(how_it_opens(of_proto(47), false), opening::opens);
}

TEST(Tracker, TcpFlagCombinationsAsLinuxConntrackJudgesThem) {
  constexpr std::uint8_t urg = 0x20;
  constexpr std::uint8_t psh = 0x08;
  for (const std::uint8_t f :
       {flag::syn, std::uint8_t(flag::syn | flag::ack), flag::rst, std::uint8_t(flag::rst | flag::ack),
        std::uint8_t(flag::fin | flag::ack), flag::ack, std::uint8_t(flag::ack | psh), std::uint8_t(flag::ack | urg),
        std::uint8_t(flag::syn | 0xC0)}) {  // ECE and CWR do not matter
    EXPECT_TRUE(tcp_flags_valid(f)) << int{f};
  }
  for (const std::uint8_t f : {std::uint8_t{0}, flag::fin, std::uint8_t(flag::syn | flag::fin),
                               std::uint8_t(flag::syn | flag::rst), std::uint8_t(flag::fin | psh | urg),
                               std::uint8_t(flag::rst | flag::fin | flag::ack), std::uint8_t{0x3F}, psh}) {
    EXPECT_FALSE(tcp_flags_valid(f)) << int{f};
  }
}

TEST(Tracker, WindowEncodingNeverUndershoots) {
  for (std::uint64_t w = 0; w < 70000; ++w) {
    const std::uint64_t d = decode_window(encode_window(w));
    ASSERT_GE(d, w);
    ASSERT_LE(d, w + w / 8 + 1);
  }
  for (unsigned shift = 0; shift <= 14; ++shift) {
    const std::uint64_t w = std::uint64_t{65535} << shift;
    EXPECT_GE(decode_window(encode_window(w)), w);
    EXPECT_LE(decode_window(encode_window(w)), w + w / 8);
  }
  // Codes order as the windows they stand for.
  for (unsigned c = 1; c < 256; ++c) {
    EXPECT_LT(decode_window(static_cast<std::uint8_t>(c - 1)), decode_window(static_cast<std::uint8_t>(c)));
  }
}

TEST(Tracker, NewSynOnAClosedFlowRestartsIt) {
  const flow_timeouts t = distinct();
  flow_entry e = established(0);
  track(e, tcp(flag::fin | flag::ack, 1001, 5001), false, 1, t);
  track(e, tcp(flag::fin | flag::ack, 5001, 1002), true, 2, t);
  ASSERT_EQ(state_of(e), tcp_state::time_wait);
  // A SYN from the far side is not a new connection of this flow's initiator.
  EXPECT_EQ(track(e, tcp(flag::syn, 9000), true, 3, t), track_verdict::accept);
  EXPECT_EQ(state_of(e), tcp_state::time_wait);
  EXPECT_EQ(track(e, tcp(flag::syn, 7000), false, 4, t), track_verdict::restart);
}

TEST(Tracker, CheckAnswersLikeTrackWithoutChangingTheEntry) {
  const flow_timeouts t = distinct();
  const flow_entry e = established(0);
  const parsed_packet packets[] = {tcp(flag::rst, 5001), tcp(flag::rst, 5001 + (1U << 21)), tcp(flag::rst, 5001 + 1000),
                                   tcp(flag::fin | flag::ack, 1001), tcp(flag::syn, 7000)};
  for (const parsed_packet& pk : packets) {
    for (const bool inbound : {false, true}) {
      flow_entry copy = e;
      const track_verdict checked = check(copy, pk, inbound);
      EXPECT_EQ(std::memcmp(&copy, &e, sizeof e), 0);
      EXPECT_EQ(checked, track(copy, pk, inbound, 1, t));
    }
  }
}

// midstream = "adopt" (S5): a plain ACK opens the flow *unreplied*, with
// its own short timeout and evictable (half_open); the initiator alone
// (FINs included) changes nothing; the other side's answer makes it
// established.
TEST(Tracker, FlowsPickedUpMidStreamStayUnrepliedUntilTheOtherSideAnswers) {
  const flow_timeouts t = distinct();
  flow_entry e{};
  e.proto = ip_proto::tcp;
  track_first(e, tcp(flag::ack, 123456, 654321, 100), true, 0, t);
  EXPECT_EQ(state_of(e), tcp_state::unreplied);
  EXPECT_TRUE(half_open(e));
  EXPECT_NE(e.flags & flow_flag::initiated_inbound, 0);
  EXPECT_EQ(e.expires_at, expiry(timeout_class::tcp_unreplied, 0));
  EXPECT_EQ(track(e, tcp(flag::ack, 123556, 654321, 100), true, 1, t), track_verdict::accept);
  EXPECT_EQ(track(e, tcp(flag::fin | flag::ack, 123656, 654321), true, 2, t), track_verdict::accept);
  EXPECT_EQ(state_of(e), tcp_state::unreplied);
  EXPECT_EQ(e.expires_at, expiry(timeout_class::tcp_unreplied, 2));
  // The other side's RST is judged against where the initiator's ACK says
  // it stands, within the initiator's window, taken as scaled by the most
  // (the handshake that settled the scaling was not seen): liberal, but not
  // anything.
  EXPECT_EQ(check(e, tcp(flag::rst, 654321 + 0x7FFFFFFFU), false), track_verdict::invalid);
  EXPECT_EQ(check(e, tcp(flag::rst, 654321), false), track_verdict::accept);
  EXPECT_EQ(track(e, tcp(flag::ack, 654321, 123657), false, 3, t), track_verdict::accept);
  EXPECT_EQ(state_of(e), tcp_state::established);
  EXPECT_FALSE(half_open(e));
  EXPECT_EQ(e.expires_at, expiry(timeout_class::tcp_established, 3));
}

TEST(Tracker, UdpBecomesAStreamAfterMoreThanOneExchange) {
  const flow_timeouts t = distinct();
  flow_entry e{};
  e.proto = ip_proto::udp;
  const parsed_packet u = of_proto(ip_proto::udp);
  track_first(e, u, false, 0, t);
  EXPECT_EQ(timeout_of(e), timeout_class::udp);
  track(e, u, true, 1, t);  // reply: one exchange
  track(e, u, true, 2, t);  // another reply without a request: still one
  EXPECT_EQ(timeout_of(e), timeout_class::udp);
  EXPECT_EQ(e.expires_at, expiry(timeout_class::udp, 2));
  track(e, u, false, 3, t);  // request
  EXPECT_EQ(timeout_of(e), timeout_class::udp);
  track(e, u, true, 4, t);  // reply: two exchanges
  EXPECT_EQ(timeout_of(e), timeout_class::udp_stream);
  EXPECT_EQ(e.expires_at, expiry(timeout_class::udp_stream, 4));
}

TEST(Tracker, IcmpAndOtherProtocolsUseTheirClasses) {
  const flow_timeouts t = distinct();
  for (const std::uint8_t proto : {ip_proto::icmp, ip_proto::icmpv6}) {
    flow_entry e{};
    e.proto = proto;
    track_first(e, of_proto(proto), false, 7, t);
    EXPECT_EQ(e.expires_at, expiry(timeout_class::icmp, 7));
  }
  for (const std::uint8_t proto : {std::uint8_t{47}, std::uint8_t{50}, std::uint8_t{132}}) {
    flow_entry e{};
    e.proto = proto;
    track_first(e, of_proto(proto), true, 8, t);
    EXPECT_EQ(e.expires_at, expiry(timeout_class::other, 8));
    track(e, of_proto(proto), false, 9, t);
    EXPECT_EQ(e.expires_at, expiry(timeout_class::other, 9));
  }
}

TEST(Tracker, ExpiryIsRightAcrossTheClockWrapping) {
  flow_entry e{};
  e.expires_at = 0xFFFFFF00U + 1000;  // wrapped past zero
  EXPECT_FALSE(expired(e, 0xFFFFFF00U));
  EXPECT_FALSE(expired(e, 0xFFFFFFFFU));
  EXPECT_TRUE(expired(e, 1000 - 256));
  EXPECT_TRUE(expired(e, 5000));
}

}  // namespace
}  // namespace sgfw::dp
