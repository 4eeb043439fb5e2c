// What a policy change does to flows that exist (docs/semantics.md S8):
// keep (the cloud's) and revalidate, set per change, per resource and for
// the appliance; and audit mode, where what a resource's groups would deny
// is passed, tracked and counted.  Each case in both address families.
#include <gtest/gtest.h>

#include <string>

#include "pipeline.hpp"
#include "test_policies.hpp"

namespace sgfw::testing {
namespace {

using config::established_flows_mode;
using dp::drop_reason;
namespace flag = dp::tcp_flag;

struct family_case {
  const char* name;
  const char* server;  // the resource
  const char* client;  // allowed by the first policy only
  const char* other;   // allowed by both
  const char* any;     // "0.0.0.0/0" or "::/0"
  std::uint8_t icmp_proto;
  std::uint8_t echo_request;
  std::uint8_t echo_reply;
};

const family_case k_families[] = {
    {"ipv4", "10.0.0.1", "198.51.100.7", "198.51.100.8", "0.0.0.0/0", 1, 8, 0},
    {"ipv6", "2001:db8::1", "2001:db8:1::7", "2001:db8:1::8", "::/0", 58, 128, 129},
};

class PolicyChange : public ::testing::TestWithParam<family_case> {
 protected:
  const family_case& f() const { return GetParam(); }
  std::string net(const char* a) const {
    return std::string(a) + (std::string_view(a).find(':') == std::string_view::npos ? "/32" : "/128");
  }

  // SSH from `other`, and with `client_rules` SSH and echo from `client`:
  // all tracked (no rule is open to the world).  `extra` goes into the
  // resource, `appliance` before everything.
  std::string policy(bool client_rules, const std::string& extra, const std::string& appliance) const {
    std::string rules = ssh_rule(f().other);
    if (client_rules) {
      rules += ssh_rule(f().client) + "  [[security_group.ingress]]\n  protocol = \"" +
               (f().icmp_proto == 1 ? "icmp" : "icmpv6") + "\"\n  icmp_type = " + std::to_string(f().echo_request) +
               "\n  cidr = \"" + net(f().client) + "\"\n";
    }
    return appliance + "[[security_group]]\nid = \"g\"\n" + rules + "[[resource]]\nname = \"r\"\naddresses = [\"" +
           f().server + "\"]\nsecurity_groups = [\"g\"]\n" + extra;
  }
  std::string ssh_rule(const char* peer) const {
    return "  [[security_group.ingress]]\n  protocol = \"tcp\"\n  ports = 22\n  cidr = \"" + net(peer) + "\"\n";
  }
  std::string before(const std::string& extra = "", const std::string& appliance = "") const {
    return policy(true, extra, appliance);
  }
  std::string after(const std::string& extra = "", const std::string& appliance = "") const {
    return policy(false, extra, appliance);
  }

  frame_spec echo(bool request, std::uint16_t id) const {
    frame_spec s;
    s.src = request ? f().client : f().server;
    s.dst = request ? f().server : f().client;
    s.proto = f().icmp_proto;
    s.icmp_type = request ? f().echo_request : f().echo_reply;
    s.icmp_id = id;
    return s;
  }

  // Opens SSH from `from` on `port`, handshake complete.
  void open_ssh(pipeline& p, const char* from, std::uint16_t port) const {
    ASSERT_EQ(p.pass(side::outside, tcp(from, port, f().server, 22, flag::syn, 1)), 1U);
    ASSERT_EQ(p.pass(side::inside, tcp(f().server, 22, from, port, flag::syn | flag::ack, 5, 2)), 1U);
    ASSERT_EQ(p.pass(side::outside, tcp(from, port, f().server, 22, flag::ack, 2, 6)), 1U);
  }
  std::size_t talk(pipeline& p, const char* from, std::uint16_t port) const {
    return p.pass(side::outside, tcp(from, port, f().server, 22, flag::ack, 2, 6)) +
           p.pass(side::inside, tcp(f().server, 22, from, port, flag::ack, 6, 2));
  }
};

// Keep (the default): the client's open connection and ping go on; new
// ones are refused.
TEST_P(PolicyChange, KeepLetsTrackedFlowsGoOn) {
  pipeline p(before());
  open_ssh(p, f().client, 40000);
  ASSERT_EQ(p.pass(side::outside, echo(true, 7)), 1U);
  p.reload(after());
  EXPECT_EQ(talk(p, f().client, 40000), 2U);
  EXPECT_EQ(p.pass(side::inside, echo(false, 7)), 1U);
  EXPECT_EQ(p.pass(side::outside, tcp(f().client, 40001, f().server, 22, flag::syn, 1)), 0U);
  EXPECT_EQ(p.dropped(drop_reason::policy_denied), 1U);
  EXPECT_EQ(p.dropped(drop_reason::revalidate_cut), 0U);
  EXPECT_EQ(p.total(&dp::worker_counters::flows_revalidated), 0U);
}

// Revalidate on the change: the client's connection and its ping end on
// their next packet, whichever direction it comes from; the other peer's
// connection, still allowed, goes on.
TEST_P(PolicyChange, RevalidateEndsFlowsNoRuleAllowsAnyMore) {
  pipeline p(before());
  open_ssh(p, f().client, 40000);
  open_ssh(p, f().other, 40000);
  ASSERT_EQ(p.pass(side::outside, echo(true, 7)), 1U);
  p.reload(after(), established_flows_mode::revalidate);
  EXPECT_EQ(p.pass(side::inside, tcp(f().server, 22, f().client, 40000, flag::ack, 6, 2)), 0U);   // reply side
  EXPECT_EQ(p.pass(side::outside, tcp(f().client, 40000, f().server, 22, flag::ack, 2, 6)), 0U);  // gone
  EXPECT_EQ(p.pass(side::inside, echo(false, 7)), 0U);
  EXPECT_EQ(talk(p, f().other, 40000), 2U);
  EXPECT_EQ(p.dropped(drop_reason::revalidate_cut), 2U);
  EXPECT_EQ(p.total(&dp::worker_counters::flows_revalidated), 3U);  // each flow once
  EXPECT_EQ(p.flows(), 1U);
}

// A mark outlives later changes in keep mode: a flow not seen between a
// revalidating change and a keeping one is still judged when it is.
TEST_P(PolicyChange, RevalidationMarkSurvivesLaterKeepChanges) {
  pipeline p(before());
  open_ssh(p, f().client, 40000);
  p.reload(after(), established_flows_mode::revalidate);
  p.reload(after("description = \"x\"\n"), established_flows_mode::keep);
  EXPECT_EQ(talk(p, f().client, 40000), 0U);
  EXPECT_EQ(p.dropped(drop_reason::revalidate_cut), 1U);
}

// A flow judged again and allowed is not judged again by the next change
// in keep mode; and one opened after the mark is not judged at all.
TEST_P(PolicyChange, FlowsJudgedOnceAndNewFlowsNotAtAll) {
  pipeline p(before());
  open_ssh(p, f().other, 40000);
  p.reload(before(), established_flows_mode::revalidate);
  EXPECT_EQ(talk(p, f().other, 40000), 2U);
  open_ssh(p, f().other, 40001);
  p.reload(before("description = \"x\"\n"), established_flows_mode::keep);
  EXPECT_EQ(talk(p, f().other, 40000), 2U);
  EXPECT_EQ(talk(p, f().other, 40001), 2U);
  EXPECT_EQ(p.total(&dp::worker_counters::flows_revalidated), 1U);
}

// The resource's own setting, and the appliance's, apply to a reload.
TEST_P(PolicyChange, ResourceAndApplianceSettingsApplyToReloads) {
  {
    pipeline p(before("established_flows = \"revalidate\"\n"));
    open_ssh(p, f().client, 40000);
    p.reload(after("established_flows = \"revalidate\"\n"));
    EXPECT_EQ(talk(p, f().client, 40000), 0U);
  }
  {
    const std::string revalidate = "[appliance]\nestablished_flows = \"revalidate\"\n";
    pipeline p(before("", revalidate));
    open_ssh(p, f().client, 40000);
    p.reload(after("", revalidate));
    EXPECT_EQ(talk(p, f().client, 40000), 0U);
  }
  {
    // The resource's keep over the appliance's revalidate.
    const std::string revalidate = "[appliance]\nestablished_flows = \"revalidate\"\n";
    pipeline p(before("established_flows = \"keep\"\n", revalidate));
    open_ssh(p, f().client, 40000);
    p.reload(after("established_flows = \"keep\"\n", revalidate));
    EXPECT_EQ(talk(p, f().client, 40000), 2U);
    // ... and a change's own revalidate over both.
    p.reload(after("established_flows = \"keep\"\n", revalidate), established_flows_mode::revalidate);
    EXPECT_EQ(talk(p, f().client, 40000), 0U);
  }
}

// Audit: what the groups would deny passes, is tracked (its answer comes
// back) and counted; the same packets in enforce mode are dropped.
TEST_P(PolicyChange, AuditPassesAndCountsWhatEnforceDrops) {
  pipeline p(after("mode = \"audit\"\n"));
  ASSERT_EQ(p.pass(side::outside, tcp(f().client, 40000, f().server, 22, flag::syn, 1)), 1U);
  EXPECT_EQ(p.pass(side::inside, tcp(f().server, 22, f().client, 40000, flag::syn | flag::ack, 5, 2)), 1U);
  EXPECT_EQ(p.pass(side::outside, echo(true, 9)), 1U);
  EXPECT_EQ(p.pass(side::inside, echo(false, 9)), 1U);
  EXPECT_EQ(p.total(&dp::worker_counters::audit_would_deny), 2U);  // each flow's first packet
  EXPECT_EQ(p.dropped(drop_reason::policy_denied), 0U);
  // Allowed traffic is not counted.
  open_ssh(p, f().other, 40000);
  EXPECT_EQ(p.total(&dp::worker_counters::audit_would_deny), 2U);
  // A packet that may not open a flow is still dropped: audit relaxes the
  // rules, not the tracker.
  EXPECT_EQ(p.pass(side::outside, tcp(f().client, 40009, f().server, 22, flag::ack, 2, 6)), 0U);
  EXPECT_EQ(p.dropped(drop_reason::tcp_invalid), 1U);

  // Enforce, even in keep mode: what audit let in and no rule allows ends
  // on its next packet (else whoever connected during the audit window
  // would keep a connection for days); the allowed flow goes on; new
  // denied ones are dropped.
  p.reload(after());
  EXPECT_EQ(p.pass(side::outside, tcp(f().client, 40000, f().server, 22, flag::ack, 2, 6)), 0U);
  EXPECT_EQ(p.dropped(drop_reason::revalidate_cut), 1U);
  EXPECT_EQ(p.pass(side::inside, echo(false, 9)), 0U);
  EXPECT_EQ(talk(p, f().other, 40000), 2U);
  EXPECT_EQ(p.pass(side::outside, tcp(f().client, 40001, f().server, 22, flag::syn, 1)), 0U);
  EXPECT_EQ(p.dropped(drop_reason::policy_denied), 1U);
}

// An audit flow that a rule allows by the time the resource enforces is
// kept, and from then on names that rule.
TEST_P(PolicyChange, AuditFlowAllowedLaterIsKept) {
  pipeline p(after("mode = \"audit\"\n"));
  open_ssh(p, f().client, 40000);
  p.reload(before());
  EXPECT_EQ(talk(p, f().client, 40000), 2U);
  p.reload(after());  // and revoked in keep mode: a tracked flow with a rule goes on
  EXPECT_EQ(talk(p, f().client, 40000), 2U);
}

// An ICMP error quoting a flow that revalidation ends is not related to
// anything: judged by the rules alone (here: denied), whichever packet
// comes first after the change.
TEST_P(PolicyChange, IcmpErrorsQuotingARevalidatedFlowAreNotRelated) {
  pipeline p(before());
  open_ssh(p, f().client, 40000);
  p.reload(after(), established_flows_mode::revalidate);
  const bool v6 = f().icmp_proto == 58;
  // The client reports the server's segment unreachable (as if it had
  // sent one): quotes the server -> client packet.
  const frame_spec back = tcp(f().server, 22, f().client, 40000, flag::ack, 6, 2);
  EXPECT_EQ(p.pass(side::outside, icmp_error(f().client, f().server, back, v6 ? 1 : 3, v6 ? 4 : 3)), 0U);
  EXPECT_EQ(p.total(&dp::worker_counters::related), 0U);
  EXPECT_EQ(talk(p, f().client, 40000), 0U);  // and the flow is gone
}

// Flows of a resource deleted and created again (or of addresses moved to
// another) were judged for the old one: judged again even in keep mode.
TEST_P(PolicyChange, AResourceCreatedAgainDoesNotInheritItsPredecessorsFlows) {
  pipeline p(before());
  open_ssh(p, f().client, 40000);
  const std::string gone =
      std::string("[[security_group]]\nid = \"g\"\n[[resource]]\nname = \"other\"\naddresses = [\"") +
      (f().icmp_proto == 58 ? "2001:db8::99" : "10.0.0.99") + "\"]\nsecurity_groups = [\"g\"]\n";
  p.reload(gone);
  // Created again, under another name, with groups that do not allow it.
  std::string again = after();
  const auto at = again.find("name = \"r\"");
  again.replace(at, 10, "name = \"r2\"");
  p.reload(again);
  EXPECT_EQ(talk(p, f().client, 40000), 0U);
  EXPECT_EQ(p.dropped(drop_reason::revalidate_cut), 1U);
}

// Listing the resource's addresses in another order, or adding one, is no
// reason to judge its flows again in keep mode.
TEST_P(PolicyChange, ReorderedOrAddedAddressesKeepTheFlows) {
  pipeline p(before());
  open_ssh(p, f().client, 40000);
  const std::string extra = f().icmp_proto == 58 ? "2001:db8::77" : "10.0.0.77";
  std::string more = after();
  const std::string list = std::string("addresses = [\"") + f().server + "\"]";
  more.replace(more.find(list), list.size(), "addresses = [\"" + extra + "\", \"" + f().server + "\"]");
  p.reload(more);
  EXPECT_EQ(talk(p, f().client, 40000), 2U);
  EXPECT_EQ(p.dropped(drop_reason::revalidate_cut), 0U);
  EXPECT_EQ(p.total(&dp::worker_counters::flows_revalidated), 0U);
}

// An address moved from one live resource to another: its flows were
// judged by the first one's groups, and are judged again by the second's.
TEST_P(PolicyChange, AnAddressMovedToAnotherResourceJudgesItsFlowsAgain) {
  const std::string second =
      std::string("[[security_group]]\nid = \"none\"\negress = []\n[[resource]]\nname = \"r2\"\n") + "addresses = [\"" +
      (f().icmp_proto == 58 ? "2001:db8::99" : "10.0.0.99") + "\"]\nsecurity_groups = [\"none\"]\n";
  pipeline p(before() + second);
  open_ssh(p, f().client, 40000);
  // The server's address now belongs to r2; r keeps another one.
  std::string moved = before() + second;
  const std::string mine = std::string("addresses = [\"") + f().server + "\"]";
  const std::string theirs =
      std::string("addresses = [\"") + (f().icmp_proto == 58 ? "2001:db8::99" : "10.0.0.99") + "\"]";
  moved.replace(moved.find(mine), mine.size(), theirs);
  moved.replace(moved.rfind(theirs), theirs.size(), mine);
  p.reload(moved);
  EXPECT_EQ(talk(p, f().client, 40000), 0U);
  EXPECT_EQ(p.dropped(drop_reason::revalidate_cut), 1U);
}

// An echo request with a code other than 0 opens no flow (a query flow is
// keyed by its type alone, so a revalidation could not judge its code): it
// is judged by the rules, and its "reply" too (here, with no egress rule,
// denied); with code 0 the reply passes on the flow.
TEST_P(PolicyChange, AnEchoWithAnOddCodeOpensNoFlow) {
  pipeline p(with_sealed_egress(before()));
  frame_spec request = echo(true, 11);
  request.icmp_code = 1;
  EXPECT_EQ(p.pass(side::outside, request), 1U);  // the rule names the type only
  EXPECT_EQ(p.flows(), 0U);
  EXPECT_EQ(p.pass(side::inside, echo(false, 11)), 0U);
  EXPECT_EQ(p.pass(side::outside, echo(true, 12)), 1U);
  EXPECT_EQ(p.pass(side::inside, echo(false, 12)), 1U);
}

INSTANTIATE_TEST_SUITE_P(Families, PolicyChange, ::testing::ValuesIn(k_families),
                         [](const auto& p) { return std::string(p.param.name); });

}  // namespace
}  // namespace sgfw::testing
