// The stateful packet path, one behaviour per test (docs/semantics.md S1-S11), driven
// by crafted frames through ring ports: what comes out of the other port,
// and which counter a drop lands in.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <rte_thash.h>

#include <array>
#include <string>

#include "pipeline.hpp"
#include "test_policies.hpp"

namespace sgfw::testing {
namespace {

using dp::drop_reason;
namespace flag = dp::tcp_flag;

frame_spec icmp(std::string_view src, std::string_view dst, std::uint8_t type, std::uint16_t id) {
  frame_spec s;
  s.src = src;
  s.dst = dst;
  s.proto = std::string_view(src).find(':') == std::string_view::npos ? 1 : 58;
  s.icmp_type = type;
  s.icmp_id = id;
  return s;
}

frame_spec other(std::string_view src, std::string_view dst, std::uint8_t proto) {
  frame_spec s;
  s.src = src;
  s.dst = dst;
  s.proto = proto;
  s.payload = bytes(24, 0x11);
  return s;
}

// A web server that may not start connections: inbound 80/443 from
// anywhere, SSH from the admin only, no egress rule at all.
const std::string k_web = with_sealed_egress(test_policy("web_server"));

// A client that may start anything and accepts nothing.
constexpr std::string_view k_client = R"(
[[security_group]]
id = "client"
[[resource]]
name = "client-1"
addresses = ["10.0.2.20", "fd00::20"]
security_groups = ["client"]
)";

TEST(Stateful, InboundAllowedAndDenied) {
  pipeline p(k_web);
  EXPECT_EQ(p.pass(side::outside, tcp("198.51.100.7", 40000, "10.0.1.10", 80, flag::syn)), 1U);
  EXPECT_EQ(p.pass(side::outside, tcp("198.51.100.7", 40001, "10.0.1.10", 443, flag::syn)), 1U);
  EXPECT_EQ(p.pass(side::outside, tcp("198.51.100.7", 40002, "10.0.1.10", 8080, flag::syn)), 0U);
  EXPECT_EQ(p.pass(side::outside, tcp("198.51.100.7", 40003, "10.0.1.10", 22, flag::syn)), 0U);
  EXPECT_EQ(p.pass(side::outside, tcp("192.0.2.100", 40004, "10.0.1.10", 22, flag::syn)), 1U);
  EXPECT_EQ(p.dropped(drop_reason::policy_denied), 2U);
  EXPECT_EQ(p.total(&dp::worker_counters::flows_created), 3U);
}

TEST(Stateful, ResponseToAllowedInboundLeavesWithoutEgressRule) {
  pipeline p(k_web);
  ASSERT_EQ(p.pass(side::outside, tcp("198.51.100.7", 40000, "10.0.1.10", 80, flag::syn, 100)), 1U);
  EXPECT_EQ(p.pass(side::inside, tcp("10.0.1.10", 80, "198.51.100.7", 40000, flag::syn | flag::ack, 900, 101)), 1U);
  EXPECT_EQ(p.pass(side::outside, tcp("198.51.100.7", 40000, "10.0.1.10", 80, flag::ack, 101, 901)), 1U);
  EXPECT_EQ(p.pass(side::inside, tcp("10.0.1.10", 80, "198.51.100.7", 40000, flag::ack, 901, 101)), 1U);
  // The same server starting its own connection: no egress rule.
  EXPECT_EQ(p.pass(side::inside, tcp("10.0.1.10", 50000, "198.51.100.7", 443, flag::syn)), 0U);
  EXPECT_EQ(p.dropped(drop_reason::policy_denied), 1U);
}

TEST(Stateful, ResponseToAllowedOutboundEntersWithoutIngressRule) {
  pipeline p(k_client);
  ASSERT_EQ(p.pass(side::inside, tcp("10.0.2.20", 50000, "203.0.113.5", 443, flag::syn, 7)), 1U);
  EXPECT_EQ(p.pass(side::outside, tcp("203.0.113.5", 443, "10.0.2.20", 50000, flag::syn | flag::ack, 70, 8)), 1U);
  EXPECT_EQ(p.pass(side::outside, tcp("203.0.113.5", 443, "10.0.2.20", 50000, flag::ack, 71, 8)), 1U);
  // Unsolicited inbound: no rule, no flow.
  EXPECT_EQ(p.pass(side::outside, tcp("203.0.113.5", 443, "10.0.2.20", 50001, flag::syn)), 0U);
  EXPECT_EQ(p.pass(side::outside, tcp("203.0.113.6", 443, "10.0.2.20", 50000, flag::ack)), 0U);
  EXPECT_EQ(p.dropped(drop_reason::policy_denied), 1U);
  EXPECT_EQ(p.dropped(drop_reason::tcp_invalid), 1U);  // an ACK may not open a flow (S5)
}

TEST(Stateful, UnionOfGroups) {
  pipeline p(R"(
[[security_group]]
id = "a"
  [[security_group.ingress]]
  protocol = "tcp"
  ports = 22
  cidr = "10.10.10.10/32"
[[security_group]]
id = "b"
  [[security_group.ingress]]
  protocol = "tcp"
  ports = 22
  cidr = "0.0.0.0/0"
[[resource]]
name = "r"
addresses = ["10.0.0.1"]
security_groups = ["a", "b"]
)");
  EXPECT_EQ(p.pass(side::outside, tcp("10.10.10.10", 1, "10.0.0.1", 22, flag::syn)), 1U);
  EXPECT_EQ(p.pass(side::outside, tcp("172.16.9.9", 1, "10.0.0.1", 22, flag::syn)), 1U);
  EXPECT_EQ(p.pass(side::outside, tcp("172.16.9.9", 1, "10.0.0.1", 23, flag::syn)), 0U);
}

const std::string k_tiers = test_policy("two_tiers");

TEST(Stateful, GroupReferencesAndResourceToResource) {
  pipeline p(k_tiers);
  // app-1 -> db-1:5432: app's egress and db's ingress both allow it.
  EXPECT_EQ(p.pass(side::inside, tcp("10.0.1.1", 40000, "10.0.2.1", 5432, flag::syn, 1)), 1U);
  EXPECT_EQ(p.flows(), 2U);  // one flow per resource side
  EXPECT_EQ(p.pass(side::inside, tcp("10.0.2.1", 5432, "10.0.1.1", 40000, flag::syn | flag::ack, 5, 2)), 1U);
  // db-1 -> db-2:5432: db-1 may send (default egress), db-2 only accepts app.
  EXPECT_EQ(p.pass(side::inside, tcp("10.0.2.1", 40001, "10.0.2.2", 5432, flag::syn)), 0U);
  // app-1 -> db-1:22: app's egress denies it, db's ingress too.
  EXPECT_EQ(p.pass(side::inside, tcp("10.0.1.1", 40002, "10.0.2.1", 22, flag::syn)), 0U);
  // Not a member of app: denied by db's ingress.
  EXPECT_EQ(p.pass(side::outside, tcp("198.51.100.1", 40003, "10.0.2.1", 5432, flag::syn)), 0U);
  // db-1 -> app-1 new connection: db's egress allows, app's ingress does not.
  EXPECT_EQ(p.pass(side::inside, tcp("10.0.2.1", 40004, "10.0.1.1", 8080, flag::syn)), 0U);
  EXPECT_EQ(p.dropped(drop_reason::policy_denied), 4U);
}

TEST(Stateful, Ipv6) {
  pipeline p(k_web);
  EXPECT_EQ(p.pass(side::outside, tcp("2001:db8::7", 40000, "fd00::10", 443, flag::syn, 1)), 1U);
  EXPECT_EQ(p.pass(side::inside, tcp("fd00::10", 443, "2001:db8::7", 40000, flag::syn | flag::ack, 9, 2)), 1U);
  EXPECT_EQ(p.pass(side::outside, tcp("2001:db8::7", 40001, "fd00::10", 22, flag::syn)), 0U);
  EXPECT_EQ(p.pass(side::inside, tcp("fd00::10", 40002, "2001:db8::7", 80, flag::syn)), 0U);
}

TEST(Stateful, PortRangesAllProtocolAndOtherProtocols) {
  pipeline p(R"(
[[security_group]]
id = "g"
egress = []
  [[security_group.ingress]]
  protocol = "udp"
  ports = "1000-2000"
  cidr = "0.0.0.0/0"
  [[security_group.ingress]]
  protocol = "all"
  cidr = "192.168.0.0/16"
  [[security_group.ingress]]
  protocol = 132
  ports = "5000-5001"
  cidr = "172.16.0.0/12"
[[resource]]
name = "r"
addresses = ["10.0.0.1"]
security_groups = ["g"]
)");
  EXPECT_EQ(p.pass(side::outside, udp("203.0.113.1", 9, "10.0.0.1", 999)), 0U);
  EXPECT_EQ(p.pass(side::outside, udp("203.0.113.1", 9, "10.0.0.1", 1000)), 1U);
  EXPECT_EQ(p.pass(side::outside, udp("203.0.113.1", 9, "10.0.0.1", 2000)), 1U);
  EXPECT_EQ(p.pass(side::outside, udp("203.0.113.1", 9, "10.0.0.1", 2001)), 0U);
  EXPECT_EQ(p.pass(side::outside, tcp("192.168.5.5", 1, "10.0.0.1", 3389, flag::syn)), 1U);
  EXPECT_EQ(p.pass(side::outside, other("192.168.5.5", "10.0.0.1", 47)), 1U);
  // Protocol 132 with a port range in the rule: every port matches (S2).
  frame_spec sctp = other("172.16.1.1", "10.0.0.1", 132);
  sctp.payload = {0x1F, 0x90, 0x00, 0x50, 0, 0, 0, 0, 0, 0, 0, 0};  // ports 8080 -> 80
  EXPECT_EQ(p.pass(side::outside, sctp), 1U);
  EXPECT_EQ(p.pass(side::outside, other("172.16.1.1", "10.0.0.1", 133)), 0U);
}

TEST(Stateful, IcmpEchoIsTrackedByIdentifier) {
  pipeline p(k_client);
  EXPECT_EQ(p.pass(side::inside, icmp("10.0.2.20", "203.0.113.5", 8, 77)), 1U);
  EXPECT_EQ(p.pass(side::outside, icmp("203.0.113.5", "10.0.2.20", 0, 77)), 1U);
  EXPECT_EQ(p.pass(side::outside, icmp("203.0.113.5", "10.0.2.20", 0, 78)), 0U);  // another identifier
  EXPECT_EQ(p.pass(side::outside, icmp("203.0.113.6", "10.0.2.20", 0, 77)), 0U);  // another host
  EXPECT_EQ(p.pass(side::inside, icmp("fd00::20", "2001:db8::5", 128, 9)), 1U);
  EXPECT_EQ(p.pass(side::outside, icmp("2001:db8::5", "fd00::20", 129, 9)), 1U);
  EXPECT_EQ(p.pass(side::outside, icmp("2001:db8::5", "fd00::20", 129, 10)), 0U);
}

TEST(Stateful, IcmpErrorsForTrackedFlowsAreRelated) {
  const std::string related = std::string(k_client);
  const std::string rules_only = "[appliance]\nicmp_errors = \"rules-only\"\n" + related;
  for (const bool related_mode : {true, false}) {
    pipeline p(related_mode ? related : rules_only);
    const frame_spec syn = tcp("10.0.2.20", 50000, "203.0.113.5", 443, flag::syn);
    ASSERT_EQ(p.pass(side::inside, syn), 1U);
    // Fragmentation needed from a router on the path, quoting our SYN.
    EXPECT_EQ(p.pass(side::outside, icmp_error("198.51.100.254", "10.0.2.20", syn, 3, 4)), related_mode ? 1U : 0U);
    // Packet too big for an IPv6 flow.
    const frame_spec syn6 = tcp("fd00::20", 50000, "2001:db8::5", 443, flag::syn);
    ASSERT_EQ(p.pass(side::inside, syn6), 1U);
    EXPECT_EQ(p.pass(side::outside, icmp_error("2001:db8::fe", "fd00::20", syn6, 2, 0)), related_mode ? 1U : 0U);
    // An error quoting a flow nobody opened is judged by the rules: denied.
    const frame_spec stranger = tcp("10.0.2.20", 50001, "203.0.113.5", 443, flag::syn);
    EXPECT_EQ(p.pass(side::outside, icmp_error("198.51.100.254", "10.0.2.20", stranger, 3, 4)), 0U);
    EXPECT_EQ(p.total(&dp::worker_counters::related), related_mode ? 2U : 0U);
  }
  // With an ingress rule for ICMP type 3, an error about an unknown flow passes.
  pipeline p(R"(
[[security_group]]
id = "g"
  [[security_group.ingress]]
  protocol = "icmp"
  icmp_type = 3
  cidr = "0.0.0.0/0"
[[resource]]
name = "r"
addresses = ["10.0.2.20"]
security_groups = ["g"]
)");
  const frame_spec stranger = tcp("10.0.2.20", 50001, "203.0.113.5", 443, flag::syn);
  EXPECT_EQ(p.pass(side::outside, icmp_error("198.51.100.254", "10.0.2.20", stranger, 3, 4)), 1U);
}

TEST(Stateful, UdpTimeoutsForOneExchangeAndForStreams) {
  pipeline p(k_client);
  // One exchange: the reply is allowed for 30 s after the request.
  ASSERT_EQ(p.pass(side::inside, udp("10.0.2.20", 5353, "203.0.113.53", 53)), 1U);
  p.advance_ms(29000);
  EXPECT_EQ(p.pass(side::outside, udp("203.0.113.53", 53, "10.0.2.20", 5353)), 1U);
  p.advance_ms(31000);
  p.run(20);  // ageing runs a slice per loop
  EXPECT_EQ(p.pass(side::outside, udp("203.0.113.53", 53, "10.0.2.20", 5353)), 0U);

  // A stream (more than one exchange): 180 s.
  ASSERT_EQ(p.pass(side::inside, udp("10.0.2.20", 6000, "203.0.113.53", 7000)), 1U);
  ASSERT_EQ(p.pass(side::outside, udp("203.0.113.53", 7000, "10.0.2.20", 6000)), 1U);
  ASSERT_EQ(p.pass(side::inside, udp("10.0.2.20", 6000, "203.0.113.53", 7000)), 1U);
  ASSERT_EQ(p.pass(side::outside, udp("203.0.113.53", 7000, "10.0.2.20", 6000)), 1U);
  p.advance_ms(170000);
  p.run(20);
  EXPECT_EQ(p.pass(side::outside, udp("203.0.113.53", 7000, "10.0.2.20", 6000)), 1U);
  p.advance_ms(181000);
  p.run(20);
  EXPECT_EQ(p.pass(side::outside, udp("203.0.113.53", 7000, "10.0.2.20", 6000)), 0U);
  EXPECT_GE(p.total(&dp::worker_counters::flows_expired), 2U);
}

// Ageing sweeps the table a slice at a time; a flow past its timeout that
// the sweep has not reached yet must not pass packets either.
TEST(Stateful, AnExpiredFlowPassesNothingBeforeTheSweepReachesIt) {
  pipeline p(k_client, {.ageing_period_ms = 0});  // no sweep at all
  ASSERT_EQ(p.pass(side::inside, udp("10.0.2.20", 5353, "203.0.113.53", 53)), 1U);
  p.advance_ms(31000);
  EXPECT_EQ(p.pass(side::outside, udp("203.0.113.53", 53, "10.0.2.20", 5353)), 0U);
  EXPECT_EQ(p.dropped(drop_reason::policy_denied), 1U);
  EXPECT_EQ(p.total(&dp::worker_counters::flows_expired), 1U);
}

TEST(Stateful, TimeoutsAreConfigurableGloballyAndPerResource) {
  pipeline p(R"(
[appliance.timeouts]
udp = 60
[[security_group]]
id = "client"
[[resource]]
name = "slow"
addresses = ["10.0.2.20"]
security_groups = ["client"]
[[resource]]
name = "quick"
addresses = ["10.0.2.21"]
security_groups = ["client"]
timeouts = { udp = 30 }
)");
  ASSERT_EQ(p.pass(side::inside, udp("10.0.2.20", 5000, "203.0.113.53", 53)), 1U);
  ASSERT_EQ(p.pass(side::inside, udp("10.0.2.21", 5000, "203.0.113.53", 53)), 1U);
  p.advance_ms(31000);
  p.run(20);
  EXPECT_EQ(p.pass(side::outside, udp("203.0.113.53", 53, "10.0.2.21", 5000)), 0U);  // its own 30 s
  EXPECT_EQ(p.pass(side::outside, udp("203.0.113.53", 53, "10.0.2.20", 5000)), 1U);  // the global 60 s
  p.advance_ms(61000);
  p.run(20);
  EXPECT_EQ(p.pass(side::outside, udp("203.0.113.53", 53, "10.0.2.20", 5000)), 0U);
}

TEST(Stateful, OtherProtocolsAreTrackedByAddressPair) {
  pipeline p(k_client);
  // GRE out and back.
  ASSERT_EQ(p.pass(side::inside, other("10.0.2.20", "203.0.113.5", 47)), 1U);
  EXPECT_EQ(p.pass(side::outside, other("203.0.113.5", "10.0.2.20", 47)), 1U);
  // ESP coming back from a peer it never sent ESP to.
  EXPECT_EQ(p.pass(side::outside, other("203.0.113.9", "10.0.2.20", 50)), 0U);
  // The pair is per protocol: ESP from the GRE peer is not GRE.
  EXPECT_EQ(p.pass(side::outside, other("203.0.113.5", "10.0.2.20", 50)), 0U);
  p.advance_ms(601000);
  p.run(40);
  EXPECT_EQ(p.pass(side::outside, other("203.0.113.5", "10.0.2.20", 47)), 0U);
}

TEST(Stateful, FinAndRstEndFlows) {
  pipeline p(k_client);
  ASSERT_EQ(p.pass(side::inside, tcp("10.0.2.20", 50000, "203.0.113.5", 443, flag::syn, 100)), 1U);
  ASSERT_EQ(p.pass(side::outside, tcp("203.0.113.5", 443, "10.0.2.20", 50000, flag::syn | flag::ack, 500, 101)), 1U);
  ASSERT_EQ(p.pass(side::inside, tcp("10.0.2.20", 50000, "203.0.113.5", 443, flag::ack, 101, 501)), 1U);
  // A reset far outside the window is not believed, and changes nothing.
  EXPECT_EQ(p.pass(side::outside, tcp("203.0.113.5", 443, "10.0.2.20", 50000, flag::rst, 500 + (1U << 30))), 0U);
  EXPECT_EQ(p.dropped(drop_reason::tcp_invalid), 1U);
  EXPECT_EQ(p.pass(side::outside, tcp("203.0.113.5", 443, "10.0.2.20", 50000, flag::ack, 501, 101)), 1U);
  // FIN both ways: time-wait for 120 s, then the flow is gone.
  ASSERT_EQ(p.pass(side::inside, tcp("10.0.2.20", 50000, "203.0.113.5", 443, flag::fin | flag::ack, 101, 501)), 1U);
  ASSERT_EQ(p.pass(side::outside, tcp("203.0.113.5", 443, "10.0.2.20", 50000, flag::fin | flag::ack, 501, 102)), 1U);
  p.advance_ms(119000);
  p.run(20);
  EXPECT_EQ(p.pass(side::outside, tcp("203.0.113.5", 443, "10.0.2.20", 50000, flag::ack, 502, 102)), 1U);
  p.advance_ms(121000);
  p.run(20);
  EXPECT_EQ(p.pass(side::outside, tcp("203.0.113.5", 443, "10.0.2.20", 50000, flag::ack, 502, 102)), 0U);

  // A plausible RST closes a flow: 10 s later it is gone.
  ASSERT_EQ(p.pass(side::inside, tcp("10.0.2.20", 50001, "203.0.113.5", 443, flag::syn, 100)), 1U);
  ASSERT_EQ(p.pass(side::outside, tcp("203.0.113.5", 443, "10.0.2.20", 50001, flag::syn | flag::ack, 500, 101)), 1U);
  EXPECT_EQ(p.pass(side::outside, tcp("203.0.113.5", 443, "10.0.2.20", 50001, flag::rst, 501)), 1U);
  p.advance_ms(11000);
  p.run(20);
  EXPECT_EQ(p.pass(side::outside, tcp("203.0.113.5", 443, "10.0.2.20", 50001, flag::ack, 501, 101)), 0U);
}

// The cloud's example (S8): HTTP from anywhere with egress all is untracked,
// SSH from one address is tracked.  Removing the ingress rules cuts the
// untracked flow at once; the tracked one keeps going.
TEST(Stateful, PolicyChangeCutsUntrackedFlowsAndKeepsTrackedOnes) {
  constexpr std::string_view before = R"(
[[security_group]]
id = "g"
  [[security_group.ingress]]
  protocol = "tcp"
  ports = 80
  cidr = "0.0.0.0/0"
  [[security_group.ingress]]
  protocol = "tcp"
  ports = 22
  cidr = "198.51.100.7/32"
[[resource]]
name = "r"
addresses = ["10.0.0.1"]
security_groups = ["g"]
)";
  constexpr std::string_view after = R"(
[[security_group]]
id = "g"
[[resource]]
name = "r"
addresses = ["10.0.0.1"]
security_groups = ["g"]
)";
  pipeline p(before);
  ASSERT_EQ(p.pass(side::outside, tcp("198.51.100.9", 40000, "10.0.0.1", 80, flag::syn, 1)), 1U);
  ASSERT_EQ(p.pass(side::inside, tcp("10.0.0.1", 80, "198.51.100.9", 40000, flag::syn | flag::ack, 5, 2)), 1U);
  ASSERT_EQ(p.pass(side::outside, tcp("198.51.100.7", 40001, "10.0.0.1", 22, flag::syn, 1)), 1U);
  ASSERT_EQ(p.pass(side::inside, tcp("10.0.0.1", 22, "198.51.100.7", 40001, flag::syn | flag::ack, 5, 2)), 1U);
  p.reload(after);
  EXPECT_EQ(p.pass(side::outside, tcp("198.51.100.9", 40000, "10.0.0.1", 80, flag::ack, 2, 6)), 0U);
  EXPECT_EQ(p.dropped(drop_reason::untracked_cut), 1U);
  EXPECT_EQ(p.pass(side::outside, tcp("198.51.100.7", 40001, "10.0.0.1", 22, flag::ack, 2, 6)), 1U);
  EXPECT_EQ(p.pass(side::inside, tcp("10.0.0.1", 22, "198.51.100.7", 40001, flag::ack, 6, 2)), 1U);
  // And new connections follow the new policy at once.
  EXPECT_EQ(p.pass(side::outside, tcp("198.51.100.7", 40002, "10.0.0.1", 22, flag::syn)), 0U);
}

TEST(Stateful, BothDirectionsOnDifferentWorkers) {
  pipeline p(k_client, {.workers = 2});
  // The SYN arrives on worker 0's queue, the answer on worker 1's: the
  // flow's owner gets both, whichever worker received them.
  for (std::uint16_t port = 50000; port < 50010; ++port) {
    EXPECT_EQ(p.pass(side::inside, tcp("10.0.2.20", port, "203.0.113.5", 443, flag::syn, 1), 0), 1U);
    EXPECT_EQ(p.pass(side::outside, tcp("203.0.113.5", 443, "10.0.2.20", port, flag::syn | flag::ack, 9, 2), 1), 1U);
  }
  EXPECT_GT(p.total(&dp::worker_counters::handed_off), 0U);
  EXPECT_EQ(p.total(&dp::worker_counters::handed_off), p.total(&dp::worker_counters::received_from_others));
  EXPECT_EQ(p.flows(), 10U);
  // Unsolicited traffic is still denied, on either worker.
  EXPECT_EQ(p.pass(side::outside, tcp("203.0.113.5", 443, "10.0.2.20", 60000, flag::ack), 0), 0U);
  EXPECT_EQ(p.pass(side::outside, tcp("203.0.113.5", 443, "10.0.2.20", 60000, flag::ack), 1), 0U);
}

// The queue a NIC puts an IPv4 packet on with sgfw's RSS settings: DPDK's
// own software Toeplitz over the two addresses with the symmetric key, then
// the redirection table sgfw programs (entry j -> queue j % queues).
unsigned nic_queue(std::string_view src, std::string_view dst, unsigned queues) {
  std::array<std::uint32_t, 2> tuple{};
  in_addr a{};
  inet_pton(AF_INET, std::string(src).c_str(), &a);
  tuple[0] = ntohl(a.s_addr);
  inet_pton(AF_INET, std::string(dst).c_str(), &a);
  tuple[1] = ntohl(a.s_addr);
  return (rte_softrss(tuple.data(), 2, dp::k_symmetric_rss_key.data()) % 128) % queues;
}

TEST(Stateful, PacketsPlacedAsTheNicsRssWouldAreNeverHandedOff) {
  pipeline p(k_client, {.workers = 2});
  std::array<unsigned, 2> per_queue{};
  for (unsigned host = 1; host <= 40; ++host) {
    const std::string remote = "203.0.113." + std::to_string(host);
    const unsigned q = nic_queue("10.0.2.20", remote, 2);
    ASSERT_EQ(q, nic_queue(remote, "10.0.2.20", 2));  // symmetric key: both directions, one queue
    ++per_queue[q];
    EXPECT_EQ(p.pass(side::inside, tcp("10.0.2.20", 50000, remote, 443, flag::syn, 1), q), 1U);
    EXPECT_EQ(p.pass(side::outside, tcp(remote, 443, "10.0.2.20", 50000, flag::syn | flag::ack, 9, 2), q), 1U);
  }
  EXPECT_GT(per_queue[0], 0U);
  EXPECT_GT(per_queue[1], 0U);
  EXPECT_EQ(p.total(&dp::worker_counters::handed_off), 0U);
  EXPECT_EQ(p.flows(), 40U);
}

TEST(Stateful, Fragments) {
  pipeline p(k_web);
  frame_spec first = tcp("198.51.100.7", 40000, "10.0.1.10", 80, flag::syn);
  first.fragment = true;
  first.more_fragments = true;
  first.payload = bytes(36, 1);  // 20 + 36 = 56 bytes: a multiple of 8
  frame_spec later = first;
  later.fragment_offset = 56;
  later.more_fragments = false;
  later.use_override = true;
  later.l3_payload_override = bytes(40, 2);
  EXPECT_EQ(p.pass(side::outside, first), 1U);
  EXPECT_EQ(p.pass(side::outside, later), 1U);  // follows its first fragment

  frame_spec orphan = later;
  orphan.fragment_id = 99;  // its first fragment was never seen
  EXPECT_EQ(p.pass(side::outside, orphan), 0U);
  EXPECT_EQ(p.dropped(drop_reason::fragment_orphan), 1U);

  frame_spec overlap = later;
  overlap.fragment_offset = 16;  // would rewrite the judged TCP header
  EXPECT_EQ(p.pass(side::outside, overlap), 0U);
  EXPECT_EQ(p.dropped(drop_reason::fragment_overlap), 1U);

  frame_spec denied_first = first;
  denied_first.dst_port = 8080;
  denied_first.fragment_id = 500;
  frame_spec denied_later = later;
  denied_later.fragment_id = 500;
  EXPECT_EQ(p.pass(side::outside, denied_first), 0U);
  EXPECT_EQ(p.pass(side::outside, denied_later), 0U);
  EXPECT_EQ(p.dropped(drop_reason::fragment_orphan), 2U);  // a denied first fragment's followers are orphans

  frame_spec tiny = first;
  tiny.fragment_id = 600;
  tiny.use_override = true;
  tiny.l3_payload_override = bytes(8, 0);  // half a TCP header
  EXPECT_EQ(p.pass(side::outside, tiny), 0U);
  EXPECT_EQ(p.dropped(drop_reason::fragment_tiny), 1U);

  // After the timeout, followers are orphans.
  frame_spec first2 = first;
  first2.fragment_id = 700;
  frame_spec later2 = later;
  later2.fragment_id = 700;
  ASSERT_EQ(p.pass(side::outside, first2), 1U);
  p.advance_ms(31000);
  EXPECT_EQ(p.pass(side::outside, later2), 0U);
}

TEST(Stateful, MalformedFramesAreDroppedAndCounted) {
  pipeline p(k_web);
  const frame_spec ok = tcp("198.51.100.7", 40000, "10.0.1.10", 80, flag::syn);
  auto send_raw = [&](bytes f) {
    p.send(side::outside, f);
    p.run();
    return p.received(side::inside).size();
  };
  EXPECT_EQ(send_raw(bytes(10, 0)), 0U);
  EXPECT_EQ(p.dropped(drop_reason::truncated_ethernet), 1U);
  frame_spec vlans = ok;
  vlans.vlans = {1, 2, 3};
  EXPECT_EQ(send_raw(frame(vlans)), 0U);
  EXPECT_EQ(p.dropped(drop_reason::vlan_too_deep), 1U);
  bytes f = frame(ok);
  f[14] = 0x46;  // IHL 6 with no options present: TCP header shifted
  f[14] = 0x43;  // IHL 3
  EXPECT_EQ(send_raw(f), 0U);
  EXPECT_EQ(p.dropped(drop_reason::ipv4_bad_header), 1U);
  f = frame(ok);
  f.resize(40);
  EXPECT_EQ(send_raw(f), 0U);
  EXPECT_EQ(p.dropped(drop_reason::ipv4_truncated), 1U);
  f = frame(ok);
  f[14 + 20 + 12] = 0x10;
  EXPECT_EQ(send_raw(f), 0U);
  EXPECT_EQ(p.dropped(drop_reason::tcp_bad_header), 1U);
  frame_spec u = udp("198.51.100.7", 1, "10.0.1.10", 53);
  f = frame(u);
  f[14 + 20 + 5] = 3;
  EXPECT_EQ(send_raw(f), 0U);
  EXPECT_EQ(p.dropped(drop_reason::udp_bad_header), 1U);
  frame_spec v6 = tcp("2001:db8::7", 1, "fd00::10", 80, flag::syn);
  f = frame(v6);
  f[14 + 4] = 0xFF;
  EXPECT_EQ(send_raw(f), 0U);
  EXPECT_EQ(p.dropped(drop_reason::ipv6_bad_header), 1U);
  v6.ipv6_extensions = {60, 0};
  EXPECT_EQ(send_raw(frame(v6)), 0U);
  EXPECT_EQ(p.dropped(drop_reason::ipv6_bad_extensions), 1U);
  frame_spec e = icmp_error("192.0.2.1", "10.0.1.10", ok, 3, 1);
  e.payload.resize(6);
  EXPECT_EQ(send_raw(frame(e)), 0U);
  EXPECT_EQ(p.dropped(drop_reason::icmp_bad_header), 1U);
  // The worker carries on.
  EXPECT_EQ(p.pass(side::outside, ok), 1U);
}

TEST(Stateful, FullTableDropsNewFlowsAndKeepsEstablishedOnes) {
  pipeline p(k_client, {.flow_capacity = 16, .early_drop = false});
  for (std::uint16_t port = 1; port <= 16; ++port) {
    ASSERT_EQ(p.pass(side::inside, udp("10.0.2.20", port, "203.0.113.5", 53)), 1U) << port;
  }
  EXPECT_EQ(p.pass(side::inside, udp("10.0.2.20", 17, "203.0.113.5", 53)), 0U);
  EXPECT_EQ(p.dropped(drop_reason::conntrack_allowance_exceeded), 1U);
  // Existing flows are never evicted (S11).
  for (std::uint16_t port = 1; port <= 16; ++port) {
    EXPECT_EQ(p.pass(side::outside, udp("203.0.113.5", 53, "10.0.2.20", port)), 1U) << port;
  }
}

// A packet is applied all or nothing: when its second flow does not fit,
// the first one it created goes too, so no reply can use it.
TEST(Stateful, ADroppedPacketLeavesNoFlowBehind) {
  pipeline p(R"(
[[security_group]]
id = "a"
[[security_group]]
id = "b"
  [[security_group.ingress]]
  protocol = "tcp"
  ports = 80
  security_group = "a"
[[resource]]
name = "a"
addresses = ["10.0.2.20"]
security_groups = ["a"]
[[resource]]
name = "b"
addresses = ["10.0.3.30"]
security_groups = ["b"]
)",
             {.flow_capacity = 16, .early_drop = false});
  for (std::uint16_t port = 1; port <= 15; ++port) {
    ASSERT_EQ(p.pass(side::inside, udp("10.0.2.20", port, "203.0.113.53", 53)), 1U);
  }
  // a -> b needs two flows (a's egress, b's ingress); only one fits.
  EXPECT_EQ(p.pass(side::inside, tcp("10.0.2.20", 40000, "10.0.3.30", 80, flag::syn)), 0U);
  EXPECT_EQ(p.dropped(drop_reason::conntrack_allowance_exceeded), 1U);
  EXPECT_EQ(p.flows(), 15U);
  p.advance_ms(31000);
  p.run(20);
  // a has no ingress rule: an answer to the dropped SYN must not get in.
  EXPECT_EQ(p.pass(side::outside, tcp("10.0.3.30", 80, "10.0.2.20", 40000, flag::syn | flag::ack, 5, 101)), 0U);
}

// A known flow's state moves only with packets that pass: a RST its own
// side would believe, dropped by the other side's rules, closes nothing.
TEST(Stateful, OneSideDoesNotTrackWhatTheOtherSideDrops) {
  const std::string alone = std::string(k_client);
  const std::string with_peer = alone + R"(
[[security_group]]
id = "closed"
egress = []
[[resource]]
name = "peer"
addresses = ["203.0.113.5"]
security_groups = ["closed"]
)";
  pipeline p(alone);
  ASSERT_EQ(p.pass(side::inside, tcp("10.0.2.20", 50000, "203.0.113.5", 443, flag::syn, 100)), 1U);
  p.reload(with_peer);
  EXPECT_EQ(p.pass(side::inside, tcp("10.0.2.20", 50000, "203.0.113.5", 443, flag::rst, 101)), 0U);
  EXPECT_EQ(p.dropped(drop_reason::tcp_invalid), 1U);  // the peer's side has no flow, and a RST opens none
  p.reload(alone);
  p.advance_ms(11000);  // past tcp_close (10 s), well within tcp_syn_sent (120 s)
  p.run(20);
  EXPECT_EQ(p.pass(side::outside, tcp("203.0.113.5", 443, "10.0.2.20", 50000, flag::syn | flag::ack, 500, 101)), 1U);
}

TEST(Stateful, EarlyDropMakesRoomFromHalfOpenFlows) {
  pipeline p(k_client, {.flow_capacity = 16, .early_drop = true});
  for (std::uint16_t port = 1; port <= 8; ++port) {  // established
    ASSERT_EQ(p.pass(side::inside, tcp("10.0.2.20", port, "203.0.113.5", 443, flag::syn, 1)), 1U);
    ASSERT_EQ(p.pass(side::outside, tcp("203.0.113.5", 443, "10.0.2.20", port, flag::syn | flag::ack, 5, 2)), 1U);
    ASSERT_EQ(p.pass(side::inside, tcp("10.0.2.20", port, "203.0.113.5", 443, flag::ack, 2, 6)), 1U);
  }
  for (std::uint16_t port = 100; port < 108; ++port) {  // half-open
    ASSERT_EQ(p.pass(side::inside, tcp("10.0.2.20", port, "203.0.113.5", 443, flag::syn, 1)), 1U);
  }
  for (std::uint16_t port = 200; port < 204; ++port) {
    EXPECT_EQ(p.pass(side::inside, tcp("10.0.2.20", port, "203.0.113.5", 443, flag::syn, 1)), 1U);
  }
  EXPECT_GE(p.total(&dp::worker_counters::flows_early_dropped), 1U);
  for (std::uint16_t port = 1; port <= 8; ++port) {
    EXPECT_EQ(p.pass(side::outside, tcp("203.0.113.5", 443, "10.0.2.20", port, flag::ack, 6, 2)), 1U) << port;
  }
}

TEST(Stateful, ArpNeighbourDiscoveryAndUnprotectedTraffic) {
  {
    pipeline p(k_web);
    p.send(side::outside, arp_frame());
    p.run();
    EXPECT_EQ(p.received(side::inside).size(), 1U);
    frame_spec ns = icmp("fe80::1", "ff02::1:ff00:10", 135, 0);
    ns.hop_limit = 255;
    EXPECT_EQ(p.pass(side::outside, ns), 1U);
    // Between two hosts that are no resource: dropped by default (S9).
    EXPECT_EQ(p.pass(side::outside, tcp("198.51.100.1", 1, "198.51.100.2", 2, flag::syn)), 0U);
    EXPECT_EQ(p.dropped(drop_reason::unprotected), 1U);
  }
  {
    pipeline p("[appliance]\nunprotected_traffic = \"forward\"\n" + k_web);
    EXPECT_EQ(p.pass(side::outside, tcp("198.51.100.1", 1, "198.51.100.2", 2, flag::syn)), 1U);
  }
  pipeline p("[appliance]\nunprotected_traffic = \"drop\"\narp_nd = \"drop\"\n" + k_web);
  p.send(side::outside, arp_frame());
  p.run();
  EXPECT_EQ(p.received(side::inside).size(), 0U);
  EXPECT_EQ(p.pass(side::outside, tcp("198.51.100.1", 1, "198.51.100.2", 2, flag::syn)), 0U);
  EXPECT_EQ(p.dropped(drop_reason::unprotected), 1U);
  EXPECT_EQ(p.dropped(drop_reason::arp_nd), 1U);
}

}  // namespace
}  // namespace sgfw::testing
