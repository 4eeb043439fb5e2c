// The per-flow state machine on its own (mission S5, S7): TCP states and
// their timeout classes, the RST plausibility check, restarts, UDP
// exchange counting, and which timeout each class gets.
#include "conntrack/tracker.hpp"

#include <gtest/gtest.h>

#include <cstring>

namespace sgfw::dp {
namespace {

namespace flag = tcp_flag;

constexpr std::uint32_t k_s = k_ms_per_second;

parsed_packet tcp(std::uint8_t flags, std::uint32_t seq, std::uint32_t ack = 0, std::uint32_t payload = 0) {
  parsed_packet p;
  p.kind = frame_kind::ip;
  p.proto = ip_proto::tcp;
  p.has_l4 = true;
  p.tcp_flags = flags;
  p.tcp_seq = seq;
  p.tcp_ack = ack;
  p.l4_payload = payload;
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

TEST(Tracker, RstIsBelievedOnlyNearTheExpectedSequence) {
  const flow_timeouts t = distinct();
  flow_entry e = established(0);
  const flow_entry before = e;
  // The server's next sequence number is 5001: far off is a blind reset.
  EXPECT_EQ(track(e, tcp(flag::rst, 5001 + (1U << 21)), true, 60, t), track_verdict::invalid);
  EXPECT_EQ(track(e, tcp(flag::rst, 5001 - (1U << 21)), true, 60, t), track_verdict::invalid);
  EXPECT_EQ(e.state, before.state);
  EXPECT_EQ(e.expires_at, before.expires_at);
  // Within the window, from either side, it closes the flow.
  EXPECT_EQ(track(e, tcp(flag::rst, 5001 + 70000), true, 70, t), track_verdict::accept);
  EXPECT_EQ(state_of(e), tcp_state::close);
  EXPECT_EQ(e.expires_at, expiry(timeout_class::tcp_close, 70));
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
  // The server sends 3 MB; its next sequence number moves with the data.
  std::uint32_t seq = 5001;
  for (int i = 0; i < 3000; ++i, seq += 1000) track(e, tcp(flag::ack, seq, 1001, 1000), true, 5, t);
  EXPECT_EQ(track(e, tcp(flag::rst, seq + 100), true, 6, t), track_verdict::accept);
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
  const parsed_packet packets[] = {tcp(flag::rst, 5001), tcp(flag::rst, 5001 + (1U << 21)),
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

TEST(Tracker, FlowsPickedUpMidStreamAreEstablished) {
  const flow_timeouts t = distinct();
  flow_entry e{};
  e.proto = ip_proto::tcp;
  track_first(e, tcp(flag::ack, 123456, 654321, 100), true, 0, t);
  EXPECT_EQ(state_of(e), tcp_state::established);
  EXPECT_NE(e.flags & flow_flag::initiated_inbound, 0);
  EXPECT_EQ(e.expires_at, expiry(timeout_class::tcp_established, 0));
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
