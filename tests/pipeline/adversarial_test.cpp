// The adversarial suite (issue 8): what a hostile frame from either port
// can do, one test per attack class, in both address families, with the
// attack frames in the same receive burst as the legitimate ones and in
// bursts of their own.  Each test says what must reach the other side and
// which counter must move; docs/semantics.md lists the classes and the
// tests that pin them.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <span>
#include <string>
#include <vector>

#include "pipeline.hpp"

namespace sgfw::testing {
namespace {

using dp::drop_reason;
namespace flag = dp::tcp_flag;

// Addresses of one family: two protected resources behind the inside
// port, a remote host they talk to, an attacker and a router, all outside.
struct family_case {
  const char* name;
  bool v6;
  std::string resource, resource2, remote, attacker, router;
  std::string unlisted;          // an address web-1 uses but does not list (link-local / secondary)
  std::string group, broadcast;  // a multicast group; the limited broadcast (IPv4) or all-nodes (IPv6)
  std::uint8_t icmp;             // 1 or 58
  std::uint8_t echo_request, echo_reply, unreachable, too_big_type, too_big_code;
};

const family_case k_v4{"ipv4",
                       false,
                       "10.0.1.10",
                       "10.0.1.20",
                       "198.51.100.7",
                       "203.0.113.66",
                       "192.0.2.254",
                       "10.0.1.99",
                       "224.0.0.251",
                       "255.255.255.255",
                       1,
                       8,
                       0,
                       3,
                       3,
                       4};
const family_case k_v6{"ipv6",
                       true,
                       "fd00::10",
                       "fd00::20",
                       "2001:db8::7",
                       "2001:db8:66::66",
                       "2001:db8:ffff::1",
                       "fe80::200:5eff:fe10:1",
                       "ff02::fb",
                       "ff02::1",
                       58,
                       128,
                       129,
                       1,
                       2,
                       0};

constexpr std::array<std::uint8_t, 6> k_web1_mac{0x02, 0x00, 0x5e, 0x10, 0x00, 0x01};

// A web server group: TCP 80 and UDP 53 from anywhere, egress all.
std::string web_policy(const family_case& f, std::string_view appliance = "", std::string_view web1_extra = "") {
  return std::string(appliance) + R"(
[[security_group]]
id = "web"
  [[security_group.ingress]]
  protocol = "tcp"
  ports = 80
  cidr = ")" +
         std::string(f.v6 ? "::/0" : "0.0.0.0/0") +
         R"("
  [[security_group.ingress]]
  protocol = "udp"
  ports = 53
  cidr = ")" +
         std::string(f.v6 ? "::/0" : "0.0.0.0/0") +
         R"("
[[resource]]
name = "web-1"
addresses = [")" +
         f.resource +
         R"("]
security_groups = ["web"]
)" + std::string(web1_extra) +
         R"(
[[resource]]
name = "web-2"
addresses = [")" +
         f.resource2 +
         R"("]
security_groups = ["web"]
)";
}

frame_spec icmp(const family_case& f, std::string_view src, std::string_view dst, std::uint8_t type,
                std::uint16_t id = 7) {
  frame_spec s;
  s.src = src;
  s.dst = dst;
  s.proto = f.icmp;
  s.icmp_type = type;
  s.icmp_id = id;
  return s;
}

enum class placement { separate, same_burst };

struct step {
  side from;
  bytes frame;
  bool passes;
  std::string what;
};

// Lets `ms` pass in steps, each followed by a loop of the workers, so that
// the ageing sweep (a slice whenever the clock moved) covers the table.
void age(pipeline& p, std::uint64_t ms) {
  for (std::uint64_t t = 0; t < ms + 2000; t += 100) {
    p.advance_ms(100);
    p.run(1);
  }
}

side across(side s) { return s == side::outside ? side::inside : side::outside; }

// Plays the steps: each in a burst of its own, or every run of steps from
// the same port in one burst (the ports are read one after the other, so a
// burst never mixes them).  A step passes when its frame comes out of the
// other port unchanged; nothing ever comes back out of the port it entered.
void play(pipeline& p, const std::vector<step>& steps, placement pl) {
  std::size_t i = 0;
  while (i < steps.size()) {
    std::size_t end = i + 1;
    if (pl == placement::same_burst) {
      while (end < steps.size() && steps[end].from == steps[i].from && end - i < dp::k_burst) ++end;
    }
    for (std::size_t k = i; k < end; ++k) p.send(steps[k].from, steps[k].frame);
    p.run();
    EXPECT_TRUE(p.received(steps[i].from).empty()) << "a frame came back out of the port it entered";
    std::vector<bytes> out = p.received(across(steps[i].from));
    for (std::size_t k = i; k < end; ++k) {
      auto it = std::find(out.begin(), out.end(), steps[k].frame);
      const bool passed = it != out.end();
      if (passed) out.erase(it);
      EXPECT_EQ(passed, steps[k].passes) << "step " << k << ": " << steps[k].what;
    }
    EXPECT_TRUE(out.empty()) << out.size() << " frames came out that were never sent";
    i = end;
  }
}

// x:5000 -> r:80 through its handshake: client sequence 100, server 900.
std::vector<step> handshake(const std::string& x, const std::string& r) {
  return {{side::outside, frame(tcp(x, 5000, r, 80, flag::syn, 100)), true, "SYN"},
          {side::inside, frame(tcp(r, 80, x, 5000, flag::syn | flag::ack, 900, 101)), true, "SYN-ACK"},
          {side::outside, frame(tcp(x, 5000, r, 80, flag::ack, 101, 901)), true, "ACK"}};
}

std::vector<step> then(std::vector<step> first, const std::vector<step>& next) {
  first.insert(first.end(), next.begin(), next.end());
  return first;
}

void PrintTo(const family_case& f, std::ostream* os) { *os << f.name; }

class Adversarial : public ::testing::TestWithParam<std::tuple<family_case, placement>> {
 protected:
  const family_case& f() const { return std::get<0>(GetParam()); }
  placement where() const { return std::get<1>(GetParam()); }
};

std::string case_name(const ::testing::TestParamInfo<std::tuple<family_case, placement>>& info) {
  return std::string(std::get<0>(info.param).name) +
         (std::get<1>(info.param) == placement::same_burst ? "_same_burst" : "_own_bursts");
}

// --- 1. Spoofed resource source (S1) ----------------------------------------

// A frame from the outside with a resource's source address must not open
// that resource's egress flow: otherwise the host it names is let in as
// "return traffic", to any port.
TEST_P(Adversarial, SpoofedResourceSourceOpensNothing) {
  pipeline p(web_policy(f()));
  const std::string& r = f().resource;
  const std::string& a = f().attacker;
  play(p,
       {
           {side::outside, frame(tcp(r, 40000, a, 4444, flag::syn, 1)), false, "spoofed SYN from web-1"},
           {side::outside, frame(udp(r, 5000, a, 53)), false, "spoofed UDP from web-1"},
           {side::outside, frame(icmp(f(), r, a, f().echo_request, 9)), false, "spoofed echo request from web-1"},
           // What the spoofed frames would have let back in.
           {side::outside, frame(tcp(a, 4444, r, 40000, flag::syn | flag::ack, 50, 2)), false, "SYN-ACK to it"},
           {side::outside, frame(tcp(a, 4444, r, 40000, flag::ack, 51, 2)), false, "ACK to it"},
           {side::outside, frame(udp(a, 53, r, 5000)), false, "UDP reply to it"},
           {side::outside, frame(icmp(f(), a, r, f().echo_reply, 9)), false, "echo reply to it"},
       },
       where());
  EXPECT_EQ(p.dropped(drop_reason::spoofed_source), 3U);
  EXPECT_EQ(p.flows(), 0U);
  // The legitimate flow, and a packet of it that comes back in on the
  // outside port with the resource's source (asymmetric routing): only the
  // creation of state is tied to the side.
  play(p,
       {
           {side::inside, frame(tcp(r, 40001, f().remote, 443, flag::syn, 100)), true, "web-1 connects out"},
           {side::outside, frame(tcp(f().remote, 443, r, 40001, flag::syn | flag::ack, 900, 101)), true, "answer"},
           {side::outside, frame(tcp(r, 40001, f().remote, 443, flag::ack, 101, 901)), true, "its ACK, other port"},
       },
       where());
}

// With two workers the frame may be handed to its flow's owner through
// the ring: the port it came in on travels with it.
TEST_P(Adversarial, TheSideCheckHoldsAcrossTheHandOff) {
  pipeline p(web_policy(f()), {.workers = 2});
  for (unsigned queue = 0; queue < 2; ++queue) {
    for (std::uint16_t port = 0; port < 8; ++port) {
      p.send(side::outside, tcp(f().resource, static_cast<std::uint16_t>(40000 + port), f().attacker, 4444, flag::syn),
             queue);
    }
  }
  p.run();
  EXPECT_EQ(p.received(side::inside).size(), 0U);
  EXPECT_EQ(p.dropped(drop_reason::spoofed_source), 16U);
  EXPECT_GT(p.total(&dp::worker_counters::handed_off), 0U);
  EXPECT_EQ(p.flows(), 0U);
}

// A resource may sit behind the outside port (the resource-to-resource
// case): its packets open flows from there, and not from the inside.
TEST_P(Adversarial, AResourceOnTheOutsideOpensFlowsFromThereOnly) {
  const std::string policy = web_policy(f()) + R"(
[[resource]]
name = "partner"
addresses = [")" + f().remote +
                             R"("]
side = "outside"
)";
  pipeline p(policy);
  play(p,
       {
           {side::inside, frame(tcp(f().remote, 41000, f().resource, 80, flag::syn)), false, "partner, wrong port"},
           {side::outside, frame(tcp(f().remote, 41001, f().resource, 80, flag::syn)), true, "partner, its port"},
       },
       where());
  EXPECT_EQ(p.dropped(drop_reason::spoofed_source), 1U);
}

// --- 2. ICMP errors and their outer addresses (S6) --------------------------

TEST_P(Adversarial, IcmpErrorsAreRelatedOnlyToTheSenderOfTheQuotedPacket) {
  pipeline p(web_policy(f()));
  const std::string& r = f().resource;
  const std::string& x = f().remote;
  const frame_spec syn = tcp(r, 40000, x, 443, flag::syn, 100);
  const frame_spec answer = tcp(x, 443, r, 40000, flag::syn | flag::ack, 900, 101);
  const frame_spec dns = udp(r, 5353, x, 53);
  const frame_spec ping = icmp(f(), r, x, f().echo_request, 77);
  const std::uint8_t type = f().too_big_type;
  const std::uint8_t code = f().too_big_code;
  play(p,
       {
           {side::inside, frame(syn), true, "web-1 connects out"},
           {side::inside, frame(dns), true, "web-1 asks DNS"},
           {side::inside, frame(ping), true, "web-1 pings"},
           {side::outside, frame(answer), true, "the answer"},
           // Towards another resource, quoting web-1's flows: nothing there.
           {side::outside, frame(icmp_error(f().router, f().resource2, syn, type, code)), false, "to web-2 (TCP)"},
           {side::outside, frame(icmp_error(f().router, f().resource2, dns, type, code)), false, "to web-2 (UDP)"},
           {side::outside, frame(icmp_error(f().router, f().resource2, ping, type, code)), false, "to web-2 (echo)"},
           // To web-1, but quoting a packet web-1 did not send.
           {side::outside, frame(icmp_error(f().router, r, answer, type, code)), false, "quoting the answer"},
           {side::outside, frame(icmp_error(f().router, r, tcp(r, 40009, x, 443, flag::syn), type, code)), false,
            "quoting no flow"},
           {side::outside, frame(icmp_error(f().router, r, icmp(f(), r, x, f().echo_request, 78), type, code)), false,
            "quoting another echo"},
           // The real thing: back to the sender, from any router on the path.
           {side::outside, frame(icmp_error(f().router, r, syn, type, code)), true, "too big (TCP)"},
           {side::outside, frame(icmp_error(f().attacker, r, dns, f().unreachable, 3)), true, "unreachable (UDP)"},
           {side::outside, frame(icmp_error(f().router, r, ping, f().v6 ? 3 : 11, 0)), true, "time exceeded (echo)"},
       },
       where());
  EXPECT_EQ(p.total(&dp::worker_counters::related), 3U);
  EXPECT_EQ(p.dropped(drop_reason::policy_denied), 6U);  // judged by the rules: no ICMP rule
}

// A router between the appliance and a resource sends "too big" back to
// the peer whose packet it could not forward (path MTU discovery for a
// connection that came in): neither address is a resource's, yet it is
// related to the resource's flow.  Only from the resource's side, only
// quoting a flow it has, only back to the sender.
TEST_P(Adversarial, AnErrorFromARouterBehindTheApplianceReachesThePeer) {
  pipeline p(web_policy(f()));
  const std::string inner_router = f().v6 ? "fd00::fe" : "10.0.1.254";
  const frame_spec syn = tcp(f().remote, 5000, f().resource, 80, flag::syn, 1);
  const std::uint8_t type = f().too_big_type;
  const std::uint8_t code = f().too_big_code;
  play(
      p,
      {
          {side::outside, frame(syn), true, "a client connects in"},
          {side::inside, frame(icmp_error(inner_router, f().remote, syn, type, code)), true, "too big, back to it"},
          {side::outside, frame(icmp_error(inner_router, f().remote, syn, type, code)), false, "the same from outside"},
          {side::inside, frame(icmp_error(inner_router, f().attacker, syn, type, code)), false, "to someone else"},
          {side::inside,
           frame(icmp_error(inner_router, f().remote, tcp(f().remote, 5001, f().resource, 80, flag::syn), type, code)),
           false, "quoting no flow"},
      },
      where());
  EXPECT_EQ(p.total(&dp::worker_counters::related), 1U);
  EXPECT_EQ(p.dropped(drop_reason::unprotected), 3U);
}

// A resource reporting a packet it received (port unreachable) passes as
// related even with no egress rule at all; reporting someone else's flow,
// or sending the error elsewhere, does not.
TEST_P(Adversarial, ErrorsAResourceSendsAreRelatedToItsOwnFlowsOnly) {
  pipeline p(
      "[[security_group]]\nid = \"sealed\"\negress = []\n  [[security_group.ingress]]\n  protocol = "
      "\"udp\"\n  ports = 53\n  cidr = \"" +
      std::string(f().v6 ? "::/0" : "0.0.0.0/0") + "\"\n[[resource]]\nname = \"dns\"\naddresses = [\"" + f().resource +
      "\"]\nsecurity_groups = [\"sealed\"]\n");
  const frame_spec query = udp(f().remote, 3333, f().resource, 53);
  play(p,
       {
           {side::outside, frame(query), true, "a query comes in"},
           {side::inside, frame(icmp_error(f().resource, f().remote, query, f().unreachable, 3)), true,
            "port unreachable back to the asker"},
           {side::inside, frame(icmp_error(f().resource, f().attacker, query, f().unreachable, 3)), false,
            "the same error to someone else"},
           {side::inside,
            frame(icmp_error(f().resource, f().remote, udp(f().remote, 3334, f().resource, 53), f().unreachable, 3)),
            false, "quoting a query that never came"},
       },
       where());
  EXPECT_EQ(p.total(&dp::worker_counters::related), 1U);
}

// --- 3. Frames no security group judges (S9) --------------------------------

TEST_P(Adversarial, OtherEthertypesCarryNothingIn) {
  const bytes ip = ip_bytes(tcp(f().attacker, 1, f().resource, 22, flag::syn));
  const auto eth = [](std::uint16_t type) {
    bytes b = {0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1};
    b.push_back(static_cast<std::uint8_t>(type >> 8));
    b.push_back(static_cast<std::uint8_t>(type));
    return b;
  };
  bytes mpls = eth(0x8847);
  mpls.insert(mpls.end(), {0x00, 0x01, 0x01, 0x40});  // label 16, bottom of stack
  mpls.insert(mpls.end(), ip.begin(), ip.end());
  bytes pppoe = eth(0x8864);
  const auto len = static_cast<std::uint16_t>(ip.size() + 2);
  pppoe.insert(pppoe.end(), {0x11, 0x00, 0x00, 0x01, static_cast<std::uint8_t>(len >> 8),
                             static_cast<std::uint8_t>(len), 0x00, static_cast<std::uint8_t>(f().v6 ? 0x57 : 0x21)});
  pppoe.insert(pppoe.end(), ip.begin(), ip.end());
  bytes snap = eth(static_cast<std::uint16_t>(ip.size() + 8));  // 802.3 length, LLC/SNAP
  snap.insert(snap.end(), {0xAA, 0xAA, 0x03, 0, 0, 0, static_cast<std::uint8_t>(f().v6 ? 0x86 : 0x08),
                           static_cast<std::uint8_t>(f().v6 ? 0xDD : 0x00)});
  snap.insert(snap.end(), ip.begin(), ip.end());
  for (const bool forward : {false, true}) {
    pipeline p(web_policy(f(), forward ? "[appliance]\nother_ethertypes = \"forward\"\n" : ""));
    play(p,
         {
             {side::outside, mpls, forward, "MPLS"},
             {side::outside, pppoe, forward, "PPPoE"},
             {side::outside, snap, forward, "LLC/SNAP"},
             {side::inside, mpls, forward, "MPLS out"},
         },
         where());
    EXPECT_EQ(p.dropped(drop_reason::other_ethertype), forward ? 0U : 4U);
  }
}

TEST_P(Adversarial, BroadcastAndMulticastAreNotDeliveredUnlessListed) {
  for (const bool listed : {false, true}) {
    const std::string appliance =
        listed ? "[appliance]\nforward_multicast = [\"" + f().group + (f().v6 ? "/128" : "/32") + "\"]\n" : "";
    pipeline p(web_policy(f(), appliance));
    play(p,
         {
             {side::outside, frame(udp(f().attacker, 5353, f().group, 53)), listed, "to the listed group"},
             {side::outside, frame(udp(f().attacker, 5353, f().broadcast, 53)), false, "broadcast / all nodes"},
             {side::outside, frame(udp(f().attacker, 1, f().v6 ? "ff05::1:3" : "239.1.2.3", 53)), false,
              "another group"},
             {side::inside, frame(udp(f().resource, 5353, f().group, 53)), listed, "web-1 to the group"},
             {side::outside, frame(tcp(f().group, 80, f().resource, 80, flag::syn)), false, "a group as source"},
         },
         where());
    EXPECT_EQ(p.dropped(drop_reason::broadcast_multicast), listed ? 2U : 4U);
    EXPECT_EQ(p.dropped(drop_reason::martian_source), 1U);
  }
}

// Addresses a resource uses without listing them (IPv6 link-local and
// SLAAC, an IPv4 secondary): not a way around its rules.  Dropped as
// traffic of no resource by default; with the resource's MAC listed they
// are its own and its rules apply.
TEST_P(Adversarial, AddressesAResourceDidNotListAreNotAWayIn) {
  frame_spec to80 = tcp(f().attacker, 2000, f().unlisted, 80, flag::syn);
  frame_spec to22 = tcp(f().attacker, 2001, f().unlisted, 22, flag::syn);
  frame_spec out = tcp(f().unlisted, 2002, f().remote, 443, flag::syn);
  frame_spec spoofed = tcp(f().unlisted, 2003, f().attacker, 443, flag::syn);
  to80.dst_mac = to22.dst_mac = k_web1_mac;
  out.src_mac = spoofed.src_mac = k_web1_mac;
  {
    pipeline p(web_policy(f()));
    play(p,
         {
             {side::outside, frame(to80), false, "to the unlisted address, port 80"},
             {side::outside, frame(to22), false, "port 22"},
         },
         where());
    EXPECT_EQ(p.dropped(drop_reason::unprotected), 2U);
  }
  pipeline p(web_policy(f(), "", "mac = \"02:00:5e:10:00:01\"\n"));
  play(p,
       {
           {side::outside, frame(to80), true, "port 80: allowed by web-1's rules"},
           {side::outside, frame(to22), false, "port 22: web-1's rules say no"},
           {side::inside, frame(out), true, "web-1 out from the unlisted address"},
           {side::outside, frame(spoofed), false, "web-1's MAC and address from the outside"},
       },
       where());
  EXPECT_EQ(p.dropped(drop_reason::policy_denied), 1U);
  EXPECT_EQ(p.dropped(drop_reason::spoofed_source), 1U);
}

// RA guard (RFC 6105): router advertisements and redirects from the outside
// are not the neighbour discovery that passes unfiltered; from the inside
// they are.  Over IPv4 an ICMP redirect is judged by the rules.
TEST_P(Adversarial, RouterAdvertisementsAndRedirectsFromTheOutsideAreDropped) {
  if (!f().v6) {
    pipeline p(web_policy(f()));
    play(p, {{side::outside, frame(icmp(f(), f().router, f().resource, 5, 0)), false, "ICMP redirect"}}, where());
    EXPECT_EQ(p.dropped(drop_reason::ra_guard), 1U);
    return;
  }
  const auto nd = [&](std::string_view src, std::string_view dst, std::uint8_t type, std::uint8_t hops,
                      bool atomic_fragment = false) {
    frame_spec s = icmp(f(), src, dst, type, 0);
    s.hop_limit = hops;
    s.fragment = atomic_fragment;  // offset 0, no more fragments
    return frame(s);
  };
  for (const bool guard : {true, false}) {
    pipeline p(web_policy(f(), guard ? "" : "[appliance]\nra_guard = false\n"));
    play(p,
         {
             {side::outside, nd("fe80::1", "ff02::1", 134, 255), !guard, "RA from the outside"},
             {side::outside, nd("fe80::1", f().resource, 137, 255), !guard, "redirect from the outside"},
             {side::outside, nd("fe80::1", "ff02::1:ff00:10", 135, 255), true, "NS from the outside"},
             {side::inside, nd("fe80::2", "ff02::1", 134, 255), true, "RA from the inside"},
             // Not on-link (hop limit below 255): not neighbour discovery.
             {side::outside, nd("fe80::1", "ff02::1", 134, 64), false, "RA with hop limit 64"},
             {side::outside, nd(f().attacker, f().resource, 136, 254), false, "NA with hop limit 254"},
             // Not neighbour discovery either (RFC 6980), yet an RA or
             // redirect all the same to whoever takes it.
             {side::outside, nd("fe80::1", f().resource, 137, 255, true), false, "redirect, an atomic fragment"},
             {side::outside, nd("fe80::1", f().resource, 134, 64), false, "RA to web-1, hop limit 64"},
         },
         where());
    EXPECT_EQ(p.dropped(drop_reason::ra_guard), guard ? 5U : 0U);
  }
}

// Unicast IP in a broadcast or multicast frame reaches every host behind
// the port (RFC 1122 3.3.6: hosts should discard it): dropped, even to an
// address and port the rules allow.
TEST_P(Adversarial, UnicastInABroadcastFrameIsDropped) {
  pipeline p(web_policy(f()));
  frame_spec broadcast = tcp(f().remote, 5000, f().resource, 80, flag::syn, 1);
  broadcast.dst_mac = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
  frame_spec multicast = udp(f().remote, 5000, f().resource, 53);
  multicast.dst_mac = f().v6 ? std::array<std::uint8_t, 6>{0x33, 0x33, 0, 0, 0, 1}
                             : std::array<std::uint8_t, 6>{0x01, 0x00, 0x5E, 0, 0, 1};
  play(p,
       {{side::outside, frame(broadcast), false, "to web-1:80 in a broadcast frame"},
        {side::outside, frame(multicast), false, "to web-1:53 in a multicast frame"},
        {side::outside, frame(tcp(f().remote, 5000, f().resource, 80, flag::syn, 1)), true, "the same, unicast"}},
       where());
  EXPECT_EQ(p.dropped(drop_reason::broadcast_multicast), 2U);
}

// --- 5. Fragments (S10) -----------------------------------------------------

struct fragmented {
  frame_spec first, later;
};

// A TCP SYN to `port` in two fragments: the first with the TCP header (and,
// for IPv6 when asked, 24 bytes of extension headers after the Fragment
// header), the second from `later_offset`.
fragmented two_fragments(const family_case& f, std::uint16_t port, std::uint32_t id, std::uint16_t later_offset,
                         bool ext_after_fragment = false) {
  fragmented d;
  d.first = tcp(f.attacker, 3000, f.resource, port, flag::syn);
  d.first.fragment = true;
  d.first.more_fragments = true;
  d.first.fragment_id = id;
  d.first.payload = bytes(4, 1);  // TCP 20 + 4 (+ 24): a multiple of 8
  if (ext_after_fragment) d.first.ipv6_extensions_after_fragment = {60, 60, 60};
  d.later = d.first;
  d.later.fragment_offset = later_offset;
  d.later.more_fragments = false;
  d.later.use_override = true;
  d.later.l3_payload_override = bytes(40, 2);
  return d;
}

TEST_P(Adversarial, ALaterFragmentCannotRewriteTheJudgedHeader) {
  pipeline p(web_policy(f()));
  // IPv4: the TCP header is bytes 0-19 of the payload, the first fragment
  // ends at 24.  IPv6 with 24 bytes of Destination Options after the
  // Fragment header: the TCP header is bytes 24-43 of the fragmentable
  // part, the first fragment ends at 48; a fragment at 24 would rewrite
  // the whole TCP header (ports, flags) unless offsets count from after
  // the Fragment header.
  const bool ext = f().v6;
  const fragmented ok = two_fragments(f(), 80, 11, ext ? 48 : 24, ext);
  const fragmented overlap = two_fragments(f(), 80, 12, ext ? 24 : 16, ext);
  fragmented late_header = two_fragments(f(), 80, 13, ext ? 48 : 24, ext);
  // A legitimate later fragment whose data happens to look like a header.
  late_header.later.l3_payload_override = {60, 200, 0, 0, 0, 0, 0, 0};
  late_header.later.l3_payload_override.resize(40, 0xFF);
  play(p,
       {
           {side::outside, frame(ok.first), true, "first"},
           {side::outside, frame(ok.later), true, "its follower"},
           {side::outside, frame(overlap.first), true, "first"},
           {side::outside, frame(overlap.later), false, "a follower reaching into the TCP header"},
           {side::outside, frame(late_header.first), true, "first"},
           {side::outside, frame(late_header.later), true, "a follower whose data looks like a header"},
       },
       where());
  EXPECT_EQ(p.dropped(drop_reason::fragment_overlap), 1U);
}

// A first fragment sent again cannot make room for a follower: a shorter
// copy does not move the judged header's end back, and a copy from the
// other port does not take the datagram's port (its followers would be
// orphans).
TEST_P(Adversarial, ARepeatedFirstFragmentMovesNeitherTheBoundaryNorThePort) {
  pipeline p(web_policy(f()));
  fragmented longer = two_fragments(f(), 80, 31, 24);
  longer.first.payload = bytes(20, 1);                        // TCP 20 + 20: the judged header ends at 40
  const fragmented shorter = two_fragments(f(), 80, 31, 24);  // ends at 24; its follower at 24
  fragmented other = two_fragments(f(), 80, 32, 24);
  play(p,
       {
           {side::outside, frame(longer.first), true, "first, 40 bytes"},
           {side::outside, frame(shorter.first), true, "the same datagram's first, 24 bytes"},
           {side::outside, frame(shorter.later), false, "a follower at 24, inside the first 40"},
       },
       where());
  play(p,
       {
           {side::outside, frame(other.first), true, "first"},
           {side::inside, frame(other.first), true, "a copy from the inside"},
           {side::outside, frame(other.later), true, "its follower, from the outside"},
       },
       where());
}

// Fragments delivered back to back (as a large DNS answer is) follow their
// first fragment in whatever burst they land, also when they overtake it
// inside one burst; a follower from the other port does not.
TEST_P(Adversarial, FragmentsFollowTheirFirstWhateverTheBurstBoundaries) {
  pipeline p(web_policy(f()));
  frame_spec first = udp(f().remote, 53, f().resource, 53);
  first.fragment = true;
  first.more_fragments = true;
  first.fragment_id = 21;
  first.payload = bytes(32, 1);  // 8 + 32 = 40
  std::vector<frame_spec> later;
  for (std::uint16_t k = 0; k < 3; ++k) {
    frame_spec l = first;
    l.fragment_offset = static_cast<std::uint16_t>(40 + 40 * k);
    l.more_fragments = k < 2;
    l.use_override = true;
    l.l3_payload_override = bytes(40, static_cast<std::uint8_t>(k));
    later.push_back(l);
  }
  play(p,
       {
           {side::outside, frame(first), true, "first fragment"},
           {side::outside, frame(later[0]), true, "second"},
           {side::outside, frame(later[1]), true, "third"},
           {side::outside, frame(later[2]), true, "last"},
           {side::inside, frame(later[1]), false, "a copy from the other port"},
       },
       where());
  // Overtaking: the followers come first, in one burst with their first.
  for (auto& l : later) l.fragment_id = 22;
  first.fragment_id = 22;
  p.send(side::outside, later[1]);
  p.send(side::outside, later[0]);
  p.send(side::outside, first);
  p.send(side::outside, later[2]);
  p.run();
  EXPECT_EQ(p.received(side::inside).size(), 4U);
  EXPECT_EQ(p.dropped(drop_reason::fragment_orphan), 1U);
}

// Denied first fragments take no slot, and a table full of allowed ones
// gives way to new datagrams: a flood of either delays no new datagram.
TEST_P(Adversarial, FloodsOfFragmentsDoNotLockOutNewDatagrams) {
  pipeline p(web_policy(f()), {.fragment_slots = 64});
  for (std::uint32_t id = 0; id < 1000; ++id) {
    p.send(side::outside, two_fragments(f(), 22, 1000 + id, 24).first);  // denied: port 22
    if (id % 16 == 15) p.run(1);
  }
  p.run();
  EXPECT_EQ(p.received(side::inside).size(), 0U);
  fragmented fresh = two_fragments(f(), 80, 5, 24);
  play(p, {{side::outside, frame(fresh.first), true, "first"}, {side::outside, frame(fresh.later), true, "later"}},
       where());
  for (std::uint32_t id = 0; id < 1000; ++id) {
    p.send(side::outside, two_fragments(f(), 80, 3000 + id, 24).first);  // allowed, never completed
    if (id % 16 == 15) p.run(1);
  }
  p.run();
  p.received(side::inside);
  EXPECT_GT(p.total(&dp::worker_counters::fragments_evicted), 0U);
  fresh = two_fragments(f(), 80, 6, 24);
  play(p, {{side::outside, frame(fresh.first), true, "first"}, {side::outside, frame(fresh.later), true, "later"}},
       where());
}

// An ICMP error in fragments: its first fragment would go to the quoted
// flow's worker, its followers to another; no router sends one.
TEST_P(Adversarial, FragmentedIcmpErrorsAreDropped) {
  pipeline p(web_policy(f()));
  const frame_spec syn = tcp(f().resource, 40000, f().remote, 443, flag::syn);
  frame_spec error = icmp_error(f().router, f().resource, syn, f().too_big_type, f().too_big_code);
  error.fragment = true;
  error.more_fragments = true;
  error.payload.resize(f().v6 ? 48 + 8 : 28 + 12, 0);  // keep the fragment a multiple of 8
  play(p,
       {{side::inside, frame(syn), true, "web-1 connects out"},
        {side::outside, frame(error), false, "a fragmented error quoting it"}},
       where());
  EXPECT_EQ(p.dropped(drop_reason::icmp_error_fragmented), 1U);
}

// --- 6. What may open a flow (S5), and what the table lets one resource take (S11)

TEST_P(Adversarial, OnlyASynOpensATcpFlow) {
  pipeline p(web_policy(f()));
  const std::string& a = f().attacker;
  const std::string& r = f().resource;
  play(p,
       {
           {side::outside, frame(tcp(a, 1, r, 80, flag::ack, 5, 6)), false, "ACK"},
           {side::outside, frame(tcp(a, 2, r, 80, flag::ack | 0x08, 5, 6)), false, "data"},
           {side::outside, frame(tcp(a, 3, r, 80, flag::fin | flag::ack, 5, 6)), false, "FIN"},
           {side::outside, frame(tcp(a, 4, r, 80, flag::rst, 5)), false, "RST"},
           {side::outside, frame(tcp(a, 5, r, 80, flag::rst | flag::ack, 5, 6)), false, "RST-ACK"},
           {side::outside, frame(tcp(a, 6, r, 80, flag::syn | flag::ack, 5, 6)), false, "SYN-ACK"},
           {side::outside, frame(tcp(a, 7, r, 80, flag::syn | flag::fin, 5)), false, "SYN-FIN"},
           {side::outside, frame(tcp(a, 8, r, 80, 0, 5)), false, "no flags"},
           {side::outside, frame(tcp(a, 9, r, 80, 0x29, 5)), false, "Xmas"},
           {side::inside, frame(tcp(r, 80, a, 10, flag::syn | flag::ack, 5, 6)), false, "SYN-ACK going out"},
           {side::outside, frame(tcp(a, 11, r, 80, flag::syn, 5)), true, "SYN"},
       },
       where());
  EXPECT_EQ(p.dropped(drop_reason::tcp_invalid), 10U);
  EXPECT_EQ(p.flows(), 1U);
}

// A flood of spoofed ACKs to an open port makes no entry; with
// midstream = "adopt" each makes an unreplied one, short-lived and evicted
// first, so new connections still get in once the table is full.
TEST_P(Adversarial, SpoofedAckFloodsCannotFillTheTable) {
  for (const bool adopt : {false, true}) {
    pipeline p(web_policy(f(), adopt ? "[appliance]\nmidstream = \"adopt\"\n" : ""), {.flow_capacity = 64});
    for (std::uint16_t port = 1; port <= 200; ++port) {
      p.send(side::outside, tcp(f().attacker, port, f().resource, 80, flag::ack, port, 1));
      if (port % 16 == 0) p.run(1);
    }
    p.run();
    // Adopted, each ACK passes; the unreplied flows keep replacing each
    // other in the full table instead of piling up.
    EXPECT_EQ(p.received(side::inside).size(), adopt ? 200U : 0U);
    EXPECT_EQ(p.flows(), adopt ? 64U : 0U);
    EXPECT_EQ(p.dropped(drop_reason::tcp_invalid), adopt ? 0U : 200U);
    play(p,
         {{side::outside, frame(tcp(f().remote, 5000, f().resource, 80, flag::syn, 1)), true, "a real client"},
          {side::inside, frame(tcp(f().resource, 80, f().remote, 5000, flag::syn | flag::ack, 9, 2)), true,
           "its answer"}},
         where());
    if (adopt) {
      EXPECT_GE(p.total(&dp::worker_counters::flows_early_dropped), 1U);
      age(p, 31000);             // tcp_unreplied: 30 s
      EXPECT_EQ(p.flows(), 1U);  // only the real connection is left
    }
  }
}

// An echo reply never opens a flow, even where the rules let it in.
TEST_P(Adversarial, AnEchoReplyOpensNothing) {
  const std::string rule = std::string("  [[security_group.ingress]]\n  protocol = \"") + (f().v6 ? "icmpv6" : "icmp") +
                           "\"\n  icmp_type = " + std::to_string(f().echo_reply) + "\n  cidr = \"" +
                           (f().v6 ? "::/0" : "0.0.0.0/0") + "\"\n";
  std::string policy = web_policy(f());
  policy.insert(policy.find("[[resource]]"), rule);
  pipeline p(policy);
  play(p,
       {
           {side::outside, frame(icmp(f(), f().attacker, f().resource, f().echo_reply, 5)), true, "allowed by a rule"},
           {side::inside, frame(icmp(f(), f().resource, f().attacker, f().echo_request, 5)), true, "web-1's own ping"},
           {side::outside, frame(icmp(f(), f().attacker, f().resource, f().echo_request, 5)), false,
            "a request back on it"},
       },
       where());
  EXPECT_EQ(p.flows(), 1U);  // web-1's ping only
}

// After a ping with identifier 0, the peer may send the echo reply and
// nothing else back: other ICMP types are judged by the rules.
TEST_P(Adversarial, APingDoesNotOpenOtherIcmpBack) {
  pipeline p(web_policy(f()));
  const std::uint8_t others_v4[] = {13, 14, 9, 10, 5, 4, 17};
  const std::uint8_t others_v6[] = {130, 139, 140, 200, 1};
  std::vector<step> steps{
      {side::inside, frame(icmp(f(), f().resource, f().remote, f().echo_request, 0)), true, "ping, id 0"}};
  std::size_t n = 0;
  for (const std::uint8_t t :
       f().v6 ? std::span<const std::uint8_t>(others_v6) : std::span<const std::uint8_t>(others_v4)) {
    frame_spec s = icmp(f(), f().remote, f().resource, t, 0);
    s.payload = bytes(40, 0);  // for the error type: quotes nothing sensible
    steps.push_back({side::outside, frame(s), false, "ICMP type " + std::to_string(t)});
    ++n;
  }
  steps.push_back({side::outside, frame(icmp(f(), f().remote, f().resource, f().echo_reply, 0)), true, "the reply"});
  play(p, steps, where());
  EXPECT_EQ(p.dropped(drop_reason::policy_denied) + p.dropped(drop_reason::icmp_bad_header) +
                p.dropped(drop_reason::ra_guard),
            n);
}

// One resource under attack takes at most its share of the table; the
// others still open flows, and the share follows the resource by name
// across a reload that reorders the resources.
TEST_P(Adversarial, OneResourceCannotTakeTheWholeTable) {
  const std::string policy = web_policy(f(), "", "max_flows = 50\n");
  pipeline p(policy, {.flow_capacity = 1024});
  for (std::uint16_t port = 1; port <= 100; ++port) {
    p.send(side::outside, udp(f().attacker, port, f().resource, 53));
    if (port % 16 == 0) p.run(1);
  }
  p.run();
  EXPECT_EQ(p.received(side::inside).size(), 50U);
  EXPECT_EQ(p.dropped(drop_reason::resource_allowance_exceeded), 50U);
  EXPECT_EQ(p.resource_flows("web-1"), 50U);
  EXPECT_EQ(p.resource_exceeded("web-1"), 50U);
  play(p, {{side::outside, frame(udp(f().remote, 9, f().resource2, 53)), true, "web-2 is not affected"}}, where());
  // A reload that puts another resource first: web-1 keeps its count.
  std::string reordered = policy;
  reordered.insert(reordered.find("[[resource]]"), "[[resource]]\nname = \"first\"\naddresses = [\"" +
                                                       std::string(f().v6 ? "fd00::99" : "10.0.1.99") + "\"]\n");
  p.reload(reordered);
  EXPECT_EQ(p.resource_flows("web-1"), 50U);
  play(p, {{side::outside, frame(udp(f().remote, 10, f().resource, 53)), false, "web-1 is still full"}}, where());
  // Its flows end (UDP: 30 s): room again.
  age(p, 31000);
  EXPECT_EQ(p.resource_flows("web-1"), 0U);
  play(p, {{side::outside, frame(udp(f().remote, 11, f().resource, 53)), true, "room again"}}, where());
}

// A SYN flood against a resource fills its share, never more: new SYNs
// evict the resource's own half-open flows (early drop), never the
// share's established ones.
TEST_P(Adversarial, ASynFloodAtTheShareEvictsOnlyItsOwnHalfOpenFlows) {
  pipeline p(web_policy(f(), "", "max_flows = 8\n"), {.flow_capacity = 1024});
  for (std::uint16_t port = 1; port <= 4; ++port) {  // four established connections
    p.send(side::outside, tcp(f().remote, port, f().resource, 80, flag::syn, 1));
    p.run();
    p.send(side::inside, tcp(f().resource, 80, f().remote, port, flag::syn | flag::ack, 9, 2));
    p.run();
    p.send(side::outside, tcp(f().remote, port, f().resource, 80, flag::ack, 2, 10));
    p.run();
  }
  for (std::uint16_t port = 100; port < 200; ++port) {
    p.send(side::outside, tcp(f().attacker, port, f().resource, 80, flag::syn, 1));
    if (port % 16 == 0) p.run(1);
  }
  p.run();
  p.received(side::inside);
  p.received(side::outside);
  EXPECT_EQ(p.resource_flows("web-1"), 8U);
  EXPECT_GT(p.total(&dp::worker_counters::flows_early_dropped), 0U);
  for (std::uint16_t port = 1; port <= 4; ++port) {
    play(p, {{side::outside, frame(tcp(f().remote, port, f().resource, 80, flag::ack, 2, 10)), true, "established"}},
         placement::separate);
  }
}

// --- 7. RSTs (S5) -------------------------------------------------------------

TEST_P(Adversarial, BlindResetsDoNotEndAConnection) {
  pipeline p(web_policy(f()));
  const std::string& r = f().resource;
  const std::string& x = f().remote;
  play(p,
       then(handshake(x, r),
            {
                // Off the window (65535 bytes): dropped.
                {side::outside, frame(tcp(x, 5000, r, 80, flag::rst, 101 + (1U << 20))), false, "RST far ahead"},
                {side::outside, frame(tcp(x, 5000, r, 80, flag::rst, 101U - 70000U)), false, "RST far behind"},
                // In the window, not exact: forwarded, the connection stays.
                {side::outside, frame(tcp(x, 5000, r, 80, flag::rst, 101 + 30000)), true, "RST in the window"},
            }),
       where());
  EXPECT_EQ(p.dropped(drop_reason::tcp_invalid), 2U);
  // Well past tcp_close (10 s), the connection goes on.
  p.advance_ms(20000);
  p.run(40);
  play(p,
       {{side::inside, frame(tcp(r, 80, x, 5000, flag::ack, 901, 101)), true, "still talking"},
        {side::outside, frame(tcp(x, 5000, r, 80, flag::rst, 101)), true, "the real RST"}},
       where());
  age(p, 11000);
  EXPECT_EQ(p.flows(), 0U);
}

// Three blind frames from the outside used to end any connection: a FIN
// from the peer (any sequence number), a FIN and a SYN "from" the
// resource.  A resource's segment from its wrong port now changes no flow
// (its SYN, FIN or RST is dropped), and a FIN outside the window changes
// nothing.
TEST_P(Adversarial, BlindFinsAndWrongPortSegmentsDoNotEndAConnection) {
  pipeline p(web_policy(f()));
  const std::string& r = f().resource;
  const std::string& x = f().remote;
  play(p,
       then(handshake(x, r),
            {
                {side::outside, frame(tcp(x, 5000, r, 80, flag::fin | flag::ack, 101 + (1U << 31), 901)), true,
                 "a blind FIN: the host judges it"},
                {side::outside, frame(tcp(r, 80, x, 5000, flag::fin | flag::ack, 901, 101)), false,
                 "web-1's FIN, spoofed"},
                {side::outside, frame(tcp(r, 80, x, 5000, flag::syn, 7)), false, "web-1's SYN, spoofed"},
                {side::outside, frame(tcp(r, 80, x, 5000, flag::rst, 901)), false, "web-1's RST, spoofed"},
                {side::outside, frame(tcp(r, 80, x, 5000, flag::ack, 901, 101)), true,
                 "its ACK: forwarded, nothing more"},
            }),
       where());
  EXPECT_EQ(p.dropped(drop_reason::spoofed_source), 3U);
  age(p, 130000);  // past tcp_fin_wait (120 s)
  play(p,
       {{side::inside, frame(tcp(r, 80, x, 5000, flag::ack, 901, 101)), true, "still established"},
        {side::outside, frame(tcp(x, 5000, r, 80, flag::ack, 101, 901)), true, "both ways"}},
       where());
}

// Data the resource has not acknowledged does not move where the peer's
// RSTs are judged: a blind attacker cannot walk in-window segments across
// the sequence space to make its RST exact.
TEST_P(Adversarial, UnacknowledgedDataDoesNotMakeABlindRstExact) {
  pipeline p(web_policy(f()));
  const std::string& r = f().resource;
  const std::string& x = f().remote;
  frame_spec data = tcp(x, 5000, r, 80, flag::ack, 101 + 30000, 901);
  data.payload = bytes(1, 0x41);
  play(p,
       then(handshake(x, r),
            {
                {side::outside, frame(data), true, "in-window data web-1 will not take"},
                {side::outside, frame(tcp(x, 5000, r, 80, flag::rst, 101 + 30001)), true, "RST at its end"},
            }),
       where());
  age(p, 11000);  // past tcp_close (10 s)
  play(p, {{side::inside, frame(tcp(r, 80, x, 5000, flag::ack, 901, 101)), true, "still established"}}, where());
}

// Forged handshakes cannot hold a resource's share: a guessed ACK of the
// SYN-ACK, or a FIN before any answer, leaves the flow half-open, so a
// real client's SYN still gets in (early drop) and the forged entries
// expire on the short timeouts.
TEST_P(Adversarial, ForgedHandshakesStayHalfOpen) {
  // A table the early-drop scan covers at once (k_evict_scan).
  pipeline p(web_policy(f(), "", "max_flows = 4\n"), {.flow_capacity = 256});
  const std::string& r = f().resource;
  const std::string& a = f().attacker;
  for (std::uint16_t port = 1; port <= 2; ++port) {
    play(p,
         {{side::outside, frame(tcp(a, port, r, 80, flag::syn, 100)), true, "SYN"},
          {side::inside, frame(tcp(r, 80, a, port, flag::syn | flag::ack, 900, 101)), true, "web-1's answer"},
          {side::outside, frame(tcp(a, port, r, 80, flag::ack, 101, 12345)), true, "a guessed ACK"}},
         placement::separate);
    play(p,
         {{side::outside, frame(tcp(a, port + 10, r, 80, flag::syn, 100)), true, "SYN"},
          {side::outside, frame(tcp(a, port + 10, r, 80, flag::fin | flag::ack, 101, 0)), true, "FIN, no answer"}},
         where());
  }
  play(p, {{side::outside, frame(tcp(a, 77, r, 80, flag::syn | flag::ack, 5, 6)), false, "a SYN-ACK opens nothing"}},
       where());
  EXPECT_EQ(p.resource_flows("web-1"), 4U);
  play(p, {{side::outside, frame(tcp(f().remote, 5000, r, 80, flag::syn, 1)), true, "a real client"}}, where());
  EXPECT_GE(p.total(&dp::worker_counters::flows_early_dropped), 1U);
  age(p, 121000);  // past tcp_syn_recv (60 s) and tcp_syn_sent (120 s)
  EXPECT_EQ(p.flows(), 0U);
}

// A flow picked up mid-stream becomes a connection only by the answer
// from the resource's own port: an "answer" spoofed from the outside is
// forwarded and changes nothing, so the flow stays unreplied (30 s).
TEST_P(Adversarial, AnAdoptedFlowIsAnsweredOnlyFromTheResourcesPort) {
  pipeline p(web_policy(f(), "[appliance]\nmidstream = \"adopt\"\n"));
  const std::string& r = f().resource;
  const std::string& a = f().attacker;
  play(p,
       {{side::outside, frame(tcp(a, 4000, r, 80, flag::ack, 100, 900)), true, "a mid-stream ACK"},
        {side::outside, frame(tcp(r, 80, a, 4000, flag::ack, 900, 100)), true, "its answer, spoofed"}},
       where());
  EXPECT_EQ(p.flows(), 1U);
  age(p, 31000);  // tcp_unreplied
  EXPECT_EQ(p.flows(), 0U);
}

// A RST from a side never heard from cannot be judged: not believed.
TEST_P(Adversarial, ARstFromASideNeverHeardIsNotBelieved) {
  pipeline p(web_policy(f()));
  play(p,
       {
           {side::inside, frame(tcp(f().resource, 40000, f().remote, 443, flag::syn, 100)), true, "SYN out"},
           {side::outside, frame(tcp(f().remote, 443, f().resource, 40000, flag::rst, 12345)), false, "plain RST"},
           {side::outside, frame(tcp(f().remote, 443, f().resource, 40000, flag::rst | flag::ack, 0, 7)), false,
            "RST-ACK of another SYN"},
           {side::outside, frame(tcp(f().remote, 443, f().resource, 40000, flag::syn | flag::ack, 5, 101)), true,
            "the real answer"},
       },
       where());
}

// --- 8. Smaller ones ------------------------------------------------------------

TEST_P(Adversarial, LandPacketsAreDropped) {
  pipeline p(web_policy(f()));
  play(p,
       {{side::outside, frame(tcp(f().resource, 80, f().resource, 80, flag::syn)), false, "land, same ports"},
        {side::outside, frame(udp(f().resource, 53, f().resource, 53)), false, "land, UDP"}},
       where());
  EXPECT_EQ(p.dropped(drop_reason::land), 2U);
  EXPECT_EQ(p.flows(), 0U);
}

// VLAN ids are not part of a flow (docs/semantics.md): the appliance is one
// address space.  Pinned here so a change of that is deliberate.
TEST_P(Adversarial, VlanIdsAreNotPartOfAFlow) {
  pipeline p(web_policy(f()));
  frame_spec syn = tcp(f().resource, 40000, f().remote, 443, flag::syn, 100);
  syn.vlans = {10};
  frame_spec answer = tcp(f().remote, 443, f().resource, 40000, flag::syn | flag::ack, 5, 101);
  answer.vlans = {20};
  play(p, {{side::inside, frame(syn), true, "VLAN 10 out"}, {side::outside, frame(answer), true, "VLAN 20 back"}},
       where());
}

INSTANTIATE_TEST_SUITE_P(EveryFamilyAndPlacement, Adversarial,
                         ::testing::Combine(::testing::Values(k_v4, k_v6),
                                            ::testing::Values(placement::separate, placement::same_burst)),
                         case_name);

}  // namespace
}  // namespace sgfw::testing
