// Per-rule counts (rule_counters.hpp, rule_stats.hpp): what each rule
// admitted — packets and bytes of every flow it opened, in both
// directions, and of what it passed without a flow; the flows it opened;
// its last hit — counted only for packets that pass, and kept by a rule
// through changes.  Each case in both address families.
#include <gtest/gtest.h>

#include <string>

#include "pipeline.hpp"

namespace sgfw::testing {
namespace {

namespace flag = dp::tcp_flag;

struct family_case {
  const char* name;
  const char* server;  // resource r
  const char* peer;    // a resource too (p, behind the inside port) in the two-resource cases
  const char* client;  // outside, no resource
  const char* any;
  const char* icmp;  // protocol name
  std::uint8_t icmp_proto;
  std::uint8_t unreachable;  // destination unreachable's type
};

const family_case k_families[] = {
    {"ipv4", "10.0.0.1", "10.0.0.2", "198.51.100.7", "0.0.0.0/0", "icmp", 1, 3},
    {"ipv6", "2001:db8::1", "2001:db8::2", "2001:db8:1::7", "::/0", "icmpv6", 58, 1},
};

class RuleCounters : public ::testing::TestWithParam<family_case> {
 protected:
  const family_case& f() const { return GetParam(); }
  std::string net(const char* a) const {
    return std::string(a) + (std::string_view(a).find(':') == std::string_view::npos ? "/32" : "/128");
  }

  // r (behind the inside port): ssh from the client, web from anywhere
  // (`web`), the family's destination-unreachable errors from anywhere,
  // and `extra`.  p (behind the outside port): nothing in, ssh out.
  std::string policy(bool web = true, const std::string& extra = "") const {
    std::string text = "[[security_group]]\nid = \"g\"\n";
    text += rule("ssh", "tcp", "ports = 22", net(f().client));
    if (web) text += rule("web", "tcp", "ports = 80", f().any);
    text += rule("unreachable", f().icmp, "icmp_type = " + std::to_string(f().unreachable), f().any);
    text += extra;
    text += "[[security_group]]\nid = \"peer\"\ningress = []\n";
    text += "  [[security_group.egress]]\n  id = \"peer-ssh\"\n  protocol = \"tcp\"\n  ports = 22\n  cidr = \"" +
            std::string(f().any) + "\"\n";
    text +=
        "[[resource]]\nname = \"r\"\naddresses = [\"" + std::string(f().server) + "\"]\nsecurity_groups = [\"g\"]\n";
    text += "[[resource]]\nname = \"p\"\naddresses = [\"" + std::string(f().peer) +
            "\"]\nsecurity_groups = [\"peer\"]\nside = \"outside\"\n";
    return text;
  }
  static std::string rule(const std::string& id, const std::string& proto, const std::string& match,
                          const std::string& cidr) {
    return "  [[security_group.ingress]]\n  id = \"" + id + "\"\n  protocol = \"" + proto + "\"\n  " + match +
           "\n  cidr = \"" + cidr + "\"\n";
  }

  // Passes `s` from `from`; adds its frame's size to `bytes` if it passed.
  static void pass(pipeline& p, side from, const frame_spec& s, std::uint64_t& bytes, std::size_t& passed) {
    const std::size_t n = p.pass(from, s);
    passed += n;
    if (n != 0) bytes += frame(s).size();
  }
  // The client's SSH connection to r, established: 3 packets.
  void open_ssh(pipeline& p, std::uint16_t port, std::uint64_t& bytes) const {
    std::size_t passed = 0;
    pass(p, side::outside, tcp(f().client, port, f().server, 22, flag::syn, 1), bytes, passed);
    pass(p, side::inside, tcp(f().server, 22, f().client, port, flag::syn | flag::ack, 5, 2), bytes, passed);
    pass(p, side::outside, tcp(f().client, port, f().server, 22, flag::ack, 2, 6), bytes, passed);
    ASSERT_EQ(passed, 3U);
  }
};

// Every packet of the flow the rule opened counts, both directions; the
// flow counts once; the last hit is the last packet's time; other rules
// are untouched.
TEST_P(RuleCounters, CountPacketsBytesFlowsAndLastHitOfTheRuleThatOpenedTheFlow) {
  pipeline p(policy());
  std::uint64_t bytes = 0;
  std::size_t passed = 0;
  p.advance_ms(1000);
  open_ssh(p, 40000, bytes);
  p.advance_ms(4000);
  pass(p, side::inside, tcp(f().server, 22, f().client, 40000, flag::ack, 6, 2), bytes, passed);
  ASSERT_EQ(passed, 1U);
  const dp::rule_totals ssh = p.rule_counts("ssh");
  EXPECT_EQ(ssh.packets, 4U);
  EXPECT_EQ(ssh.bytes, bytes);
  EXPECT_EQ(ssh.flows, 1U);
  EXPECT_EQ(ssh.last_ms, pipeline::k_unix_start + 5000);
  EXPECT_EQ(p.rule_counts("web"), dp::rule_totals{});
  EXPECT_EQ(p.rule_counts("unreachable"), dp::rule_totals{});
  // A second connection: a second flow.
  open_ssh(p, 40001, bytes);
  EXPECT_EQ(p.rule_counts("ssh").flows, 2U);
  EXPECT_EQ(p.rule_counts("ssh").packets, 7U);
  EXPECT_EQ(p.rule_counts("ssh").bytes, bytes);
}

// What a rule passes without a flow counts too: an ICMP error that quotes
// no flow, judged by the rules alone, is the unreachable rule's packet
// (and opens nothing).
TEST_P(RuleCounters, PacketsPassedWithoutAFlowCountForTheirRule) {
  pipeline p(policy());
  const frame_spec quoted = udp(f().server, 5353, f().client, 5353);
  const frame_spec error = icmp_error(f().client, f().server, quoted, f().unreachable, 1);
  ASSERT_EQ(p.pass(side::outside, error), 1U);
  const dp::rule_totals u = p.rule_counts("unreachable");
  EXPECT_EQ(u.packets, 1U);
  EXPECT_EQ(u.bytes, frame(error).size());
  EXPECT_EQ(u.flows, 0U);
  EXPECT_EQ(p.flows(), 0U);
}

// Only what passes counts: a denied SYN, a SYN-ACK or ACK with no flow, a
// RST outside the window of the rule's flow, a spoofed source, and a packet one resource's rule allows but the other's
// denies count for no rule.
TEST_P(RuleCounters, PacketsThatDoNotPassCountForNoRule) {
  pipeline p(policy());
  std::uint64_t bytes = 0;
  open_ssh(p, 40000, bytes);
  const dp::rule_totals ssh = p.rule_counts("ssh");
  ASSERT_EQ(ssh.packets, 3U);
  EXPECT_EQ(p.pass(side::outside, tcp(f().client, 40001, f().server, 23, flag::syn, 1)), 0U);
  EXPECT_EQ(p.pass(side::outside, tcp(f().client, 40002, f().server, 22, flag::syn | flag::ack, 1, 1)), 0U);
  EXPECT_EQ(p.pass(side::outside, tcp(f().client, 40003, f().server, 22, flag::ack, 1, 1)), 0U);
  EXPECT_EQ(p.pass(side::outside, tcp(f().client, 40000, f().server, 22, flag::rst, 0x70000000)), 0U);
  // r's address from the port it does not sit behind, opening a flow
  // its (default, all-allowing) egress would allow.
  EXPECT_EQ(p.pass(side::outside, tcp(f().server, 41000, f().client, 22, flag::syn, 1)), 0U);
  // p to r: p's egress allows ssh, r's ingress does not (only the client);
  // r's web allows 80 from anywhere, p's egress does not.
  EXPECT_EQ(p.pass(side::outside, tcp(f().peer, 40004, f().server, 22, flag::syn, 1)), 0U);
  EXPECT_EQ(p.pass(side::outside, tcp(f().peer, 40005, f().server, 80, flag::syn, 1)), 0U);
  EXPECT_EQ(p.rule_counts("ssh"), ssh);
  EXPECT_EQ(p.rule_counts("peer-ssh"), dp::rule_totals{});
  EXPECT_EQ(p.rule_counts("web"), dp::rule_totals{});
}

// A rule that survives a change keeps its counts and goes on counting;
// one removed and added again is a new rule (as revoking and authorizing
// again is in the cloud) and starts from zero.
TEST_P(RuleCounters, ARuleKeepsItsCountsThroughChanges) {
  pipeline p(policy());
  std::uint64_t bytes = 0;
  open_ssh(p, 40000, bytes);
  std::uint64_t web_bytes = 0;
  std::size_t passed = 0;
  pass(p, side::outside, tcp(f().client, 40001, f().server, 80, flag::syn, 1), web_bytes, passed);
  ASSERT_EQ(passed, 1U);
  ASSERT_EQ(p.rule_counts("web").bytes, web_bytes);
  // web goes, a new rule comes before ssh's neighbours: ssh's index stays.
  p.reload(policy(false, rule("dns", "udp", "ports = 53", f().any)));
  EXPECT_EQ(p.rule_counts("ssh").packets, 3U);
  EXPECT_EQ(p.rule_counts("ssh").bytes, bytes);
  EXPECT_EQ(p.rule_counts("dns"), dp::rule_totals{});
  std::uint64_t more = 0;
  pass(p, side::inside, tcp(f().server, 22, f().client, 40000, flag::ack, 6, 2), more, passed);
  ASSERT_EQ(passed, 2U);
  EXPECT_EQ(p.rule_counts("ssh").packets, 4U);
  EXPECT_EQ(p.rule_counts("ssh").bytes, bytes + more);
  p.reload(policy());
  EXPECT_EQ(p.rule_counts("web"), dp::rule_totals{});
  EXPECT_EQ(p.rule_counts("ssh").packets, 4U);
}

INSTANTIATE_TEST_SUITE_P(Families, RuleCounters, ::testing::ValuesIn(k_families),
                         [](const auto& c) { return std::string(c.param.name); });

}  // namespace
}  // namespace sgfw::testing
