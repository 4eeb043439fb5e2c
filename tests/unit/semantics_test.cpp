// Security-group semantics S1-S4 and S8 (tracked vs untracked), the seed's
// examples, and the union example, each answered by the compiled classifier
// (single and batched) and by the reference evaluator, which must agree.
#include <gtest/gtest.h>

#include "policy_fixture.hpp"
#include "test_policies.hpp"

namespace sgfw::testing {
namespace {

// --- the seed's examples ------------------------------------------------------

constexpr std::string_view k_seed_a = R"(
[[security_group]]
id = "basic"
  [[security_group.ingress]]
  id = "ssh"
  protocol = "tcp"
  ports = 22
  cidr = "0.0.0.0/0"
  [[security_group.ingress]]
  id = "http"
  protocol = "tcp"
  ports = 80
  cidr = "0.0.0.0/0"

[[resource]]
name = "i-1"
addresses = ["10.0.0.10", "2001:db8::10"]
security_groups = ["basic"]
)";

TEST(SeedExampleA, InboundSshAndHttpOnly) {
  policy_fixture p(k_seed_a);
  EXPECT_EQ(p.who(p.inbound("i-1", "tcp", "198.51.100.7", 22)), "basic/ssh");
  EXPECT_EQ(p.who(p.inbound("i-1", "tcp", "198.51.100.7", 80)), "basic/http");
  EXPECT_FALSE(p.inbound("i-1", "tcp", "198.51.100.7", 443).allowed());
  EXPECT_FALSE(p.inbound("i-1", "tcp", "198.51.100.7", 21).allowed());
  EXPECT_FALSE(p.inbound("i-1", "udp", "198.51.100.7", 80).allowed());
  EXPECT_FALSE(p.icmp("i-1", direction::ingress, "198.51.100.7", 8, 0).allowed());
  // 0.0.0.0/0 is IPv4 only.
  EXPECT_FALSE(p.inbound("i-1", "tcp", "2001:db8:ffff::1", 22).allowed());
}

TEST(SeedExampleA, AllOutboundByDefault) {
  policy_fixture p(k_seed_a);
  EXPECT_TRUE(p.outbound("i-1", "tcp", "203.0.113.9", 443).allowed());
  EXPECT_TRUE(p.outbound("i-1", "udp", "203.0.113.9", 53).allowed());
  EXPECT_TRUE(p.outbound("i-1", "47", "203.0.113.9", 0).allowed());
  EXPECT_TRUE(p.icmp("i-1", direction::egress, "203.0.113.9", 8, 0).allowed());
  EXPECT_TRUE(p.outbound("i-1", "tcp", "2001:db8:ffff::1", 443).allowed());
  EXPECT_TRUE(p.icmp("i-1", direction::egress, "2001:db8:ffff::1", 128, 0).allowed());
}

const std::string k_seed_b = test_policy("web_server");

TEST(SeedExampleB, WebFromAnywhereSshFromAdminOnly) {
  policy_fixture p(k_seed_b);
  for (const auto* from : {"198.51.100.7", "192.0.2.100", "0.0.0.1", "255.255.255.255"}) {
    EXPECT_EQ(p.who(p.inbound("web-1", "tcp", from, 80)), "web/web4") << from;
    EXPECT_EQ(p.who(p.inbound("web-1", "tcp", from, 443)), "web/web4") << from;
  }
  EXPECT_EQ(p.who(p.inbound("web-1", "tcp", "2001:db8:77::1", 443)), "web/web6");
  EXPECT_EQ(p.who(p.inbound("web-1", "tcp", "192.0.2.100", 22)), "web/admin-ssh");
  EXPECT_FALSE(p.inbound("web-1", "tcp", "192.0.2.101", 22).allowed());
  EXPECT_FALSE(p.inbound("web-1", "tcp", "192.0.2.99", 22).allowed());
  EXPECT_FALSE(p.inbound("web-1", "tcp", "2001:db8:77::1", 22).allowed());
  EXPECT_FALSE(p.inbound("web-1", "tcp", "198.51.100.7", 8080).allowed());
  EXPECT_TRUE(p.outbound("web-1", "tcp", "198.51.100.7", 5432).allowed());
}

// --- S3: union across groups, allow-only, order irrelevant ----------------------

constexpr std::string_view k_union = R"(
[[security_group]]
id = "a"
  [[security_group.ingress]]
  id = "ssh-from-one"
  protocol = "tcp"
  ports = 22
  cidr = "10.10.10.10/32"

[[security_group]]
id = "b"
  [[security_group.ingress]]
  id = "ssh-from-all"
  protocol = "tcp"
  ports = 22
  cidr = "0.0.0.0/0"

[[resource]]
name = "both"
addresses = ["10.0.0.1"]
security_groups = ["a", "b"]

[[resource]]
name = "both-reversed"
addresses = ["10.0.0.2"]
security_groups = ["b", "a"]

[[resource]]
name = "only-a"
addresses = ["10.0.0.3"]
security_groups = ["a"]
)";

TEST(Union, MostPermissiveRuleWins) {
  policy_fixture p(k_union);
  for (const auto* res : {"both", "both-reversed"}) {
    EXPECT_TRUE(p.inbound(res, "tcp", "10.10.10.10", 22).allowed());
    EXPECT_TRUE(p.inbound(res, "tcp", "172.16.0.9", 22).allowed());
    EXPECT_TRUE(p.inbound(res, "tcp", "203.0.113.1", 22).allowed());
    EXPECT_FALSE(p.inbound(res, "tcp", "203.0.113.1", 23).allowed());
  }
  EXPECT_TRUE(p.inbound("only-a", "tcp", "10.10.10.10", 22).allowed());
  EXPECT_FALSE(p.inbound("only-a", "tcp", "172.16.0.9", 22).allowed());
}

TEST(Union, GroupOrderDoesNotChangeTheDecisionOrTheRuleNamed) {
  policy_fixture p(k_union);
  // Rules are reported in a canonical order (group declaration order), so
  // the listed order of a resource's groups changes nothing at all.
  EXPECT_EQ(p.who(p.inbound("both", "tcp", "10.10.10.10", 22)), "a/ssh-from-one");
  EXPECT_EQ(p.who(p.inbound("both-reversed", "tcp", "10.10.10.10", 22)), "a/ssh-from-one");
  EXPECT_EQ(p.who(p.inbound("both", "tcp", "172.16.0.9", 22)), "b/ssh-from-all");
  // Resources with the same groups share compiled tables.
  EXPECT_EQ(p.compiled().resource_set[p.resource("both")], p.compiled().resource_set[p.resource("both-reversed")]);
}

TEST(Union, RuleOrderInsideAGroupIsIrrelevant) {
  constexpr std::string_view forward = R"(
[[security_group]]
id = "g"
  [[security_group.ingress]]
  protocol = "tcp"
  ports = "1000-2000"
  cidr = "10.0.0.0/8"
  [[security_group.ingress]]
  protocol = "tcp"
  ports = "1500-2500"
  cidr = "10.1.0.0/16"
[[resource]]
name = "r"
addresses = ["192.168.0.1"]
security_groups = ["g"]
)";
  constexpr std::string_view backward = R"(
[[security_group]]
id = "g"
  [[security_group.ingress]]
  protocol = "tcp"
  ports = "1500-2500"
  cidr = "10.1.0.0/16"
  [[security_group.ingress]]
  protocol = "tcp"
  ports = "1000-2000"
  cidr = "10.0.0.0/8"
[[resource]]
name = "r"
addresses = ["192.168.0.1"]
security_groups = ["g"]
)";
  policy_fixture f(forward);
  policy_fixture b(backward);
  for (const auto* from : {"10.0.0.1", "10.1.2.3", "10.2.0.0", "11.0.0.0", "9.255.255.255"}) {
    for (const int p : {999, 1000, 1499, 1500, 2000, 2001, 2500, 2501}) {
      const auto port = static_cast<std::uint16_t>(p);
      EXPECT_EQ(f.inbound("r", "tcp", from, port).allowed(), b.inbound("r", "tcp", from, port).allowed())
          << from << ":" << port;
    }
  }
  EXPECT_TRUE(f.inbound("r", "tcp", "10.1.2.3", 2400).allowed());
  EXPECT_FALSE(f.inbound("r", "tcp", "10.2.0.0", 2400).allowed());
}

// --- S1: resources, addresses, directions ------------------------------------

const std::string k_two_tiers = test_policy("two_tiers");

TEST(Resources, LocateByAddressGivesDirection) {
  policy_fixture p(k_two_tiers);
  const auto& c = p.compiled();
  const auto app = p.resource("app-1");
  const auto db = p.resource("db-1");
  auto sides = dp::locate(c, ip("10.0.1.1"), ip("10.0.2.1"));  // resource to resource
  EXPECT_EQ(sides.source, app);
  EXPECT_EQ(sides.destination, db);
  sides = dp::locate(c, ip("198.51.100.1"), ip("fd00::2:1"));  // inbound only
  EXPECT_EQ(sides.source, dp::k_no_resource);
  EXPECT_EQ(sides.destination, db);
  EXPECT_TRUE(sides.inbound());
  EXPECT_FALSE(sides.outbound());
  sides = dp::locate(c, ip("fd00::1:1"), ip("2001:db8::1"));  // outbound only
  EXPECT_EQ(sides.source, app);
  EXPECT_FALSE(sides.inbound());
  sides = dp::locate(c, ip("198.51.100.1"), ip("198.51.100.2"));  // not ours (S9)
  EXPECT_FALSE(sides.protected_traffic());
  // An IPv4 address never matches an IPv6 one with the same low bits.
  EXPECT_EQ(c.resources.find(net::ip_address::v6(0x0A000101)), dp::k_no_resource);
}

TEST(Resources, BetweenTwoResourcesBothSidesMustAllow) {
  policy_fixture p(k_two_tiers);
  // app-1 -> db-1:5432 passes app's egress and db's ingress.
  EXPECT_EQ(p.who(p.outbound("app-1", "tcp", "10.0.2.1", 5432)), "app/app-to-db");
  EXPECT_EQ(p.who(p.inbound("db-1", "tcp", "10.0.1.1", 5432)), "db/db-from-app");
  EXPECT_EQ(p.who(p.outbound("app-1", "tcp", "fd00::2:1", 5432)), "app/app-to-db");
  EXPECT_EQ(p.who(p.inbound("db-1", "tcp", "fd00::1:1", 5432)), "db/db-from-app");
  // db-1 -> db-2:5432: db-1 may send (default egress), db-2 refuses.
  EXPECT_TRUE(p.outbound("db-1", "tcp", "10.0.2.2", 5432).allowed());
  EXPECT_FALSE(p.inbound("db-2", "tcp", "10.0.2.1", 5432).allowed());
  // app-1 -> anything else: app's egress denies it.
  EXPECT_FALSE(p.outbound("app-1", "tcp", "10.0.2.1", 22).allowed());
  EXPECT_FALSE(p.outbound("app-1", "tcp", "198.51.100.1", 5432).allowed());
}

// --- S2: what a rule matches ------------------------------------------------------

constexpr std::string_view k_protocols = R"(
[[prefix_list]]
id = "partners"
max_entries = 5
entries = ["198.51.100.0/24", "203.0.113.128/25"]

[[prefix_list]]
id = "partners6"
entries = ["2001:db8:aaaa::/48"]

[[security_group]]
id = "g"
egress = []
  [[security_group.ingress]]
  id = "everything-from-lan"
  protocol = "all"
  cidr = "192.168.0.0/16"
  [[security_group.ingress]]
  id = "gre"
  protocol = 47
  cidr = "172.16.0.0/12"
  [[security_group.ingress]]
  id = "sctp-ranged"
  protocol = "132"
  ports = "5000-5001"
  cidr = "172.16.0.0/12"
  [[security_group.ingress]]
  id = "echo"
  protocol = "icmp"
  icmp_type = 8
  cidr = "0.0.0.0/0"
  [[security_group.ingress]]
  id = "frag-needed"
  protocol = "icmp"
  icmp_type = 3
  icmp_code = 4
  cidr = "0.0.0.0/0"
  [[security_group.ingress]]
  id = "all-icmpv6"
  protocol = "icmpv6"
  cidr = "::/0"
  [[security_group.ingress]]
  id = "dns"
  protocol = "udp"
  ports = [53, "5353"]
  prefix_list = "partners"
  [[security_group.ingress]]
  id = "high"
  protocol = "tcp"
  ports = "1024-65535"
  prefix_list = "partners6"
  [[security_group.ingress]]
  id = "minus-one"
  protocol = -1
  cidr = "10.9.9.9/32"

[[resource]]
name = "r"
addresses = ["10.0.0.1", "2001:db8::1"]
security_groups = ["g"]
)";

TEST(Rules, ProtocolAllMatchesEveryProtocolAndPort) {
  policy_fixture p(k_protocols);
  EXPECT_EQ(p.who(p.inbound("r", "tcp", "192.168.3.4", 1)), "g/everything-from-lan");
  EXPECT_EQ(p.who(p.inbound("r", "udp", "192.168.3.4", 65535)), "g/everything-from-lan");
  EXPECT_EQ(p.who(p.inbound("r", "50", "192.168.3.4", 0)), "g/everything-from-lan");
  EXPECT_EQ(p.who(p.icmp("r", direction::ingress, "192.168.3.4", 13, 0)), "g/everything-from-lan");
  EXPECT_EQ(p.who(p.inbound("r", "0", "10.9.9.9", 0)), "g/minus-one");
  EXPECT_FALSE(p.inbound("r", "tcp", "192.169.0.1", 1).allowed());
}

TEST(Rules, OtherProtocolsMatchEveryPort) {
  policy_fixture p(k_protocols);
  EXPECT_EQ(p.who(p.inbound("r", "47", "172.16.5.5", 0)), "g/gre");
  // A port range given for protocol 132 is ignored: every port matches.
  EXPECT_EQ(p.who(p.inbound("r", "132", "172.16.5.5", 80)), "g/sctp-ranged");
  EXPECT_EQ(p.who(p.inbound("r", "132", "172.16.5.5", 9)), "g/sctp-ranged");
  EXPECT_FALSE(p.inbound("r", "tcp", "172.16.5.5", 5000).allowed());
  EXPECT_FALSE(p.inbound("r", "51", "172.16.5.5", 0).allowed());
}

TEST(Rules, IcmpTypeAndCodeWildcards) {
  policy_fixture p(k_protocols);
  EXPECT_EQ(p.who(p.icmp("r", direction::ingress, "203.0.113.1", 8, 0)), "g/echo");
  EXPECT_EQ(p.who(p.icmp("r", direction::ingress, "203.0.113.1", 8, 7)), "g/echo");  // any code
  EXPECT_EQ(p.who(p.icmp("r", direction::ingress, "203.0.113.1", 3, 4)), "g/frag-needed");
  EXPECT_FALSE(p.icmp("r", direction::ingress, "203.0.113.1", 3, 3).allowed());
  EXPECT_FALSE(p.icmp("r", direction::ingress, "203.0.113.1", 0, 0).allowed());
  EXPECT_EQ(p.who(p.icmp("r", direction::ingress, "2001:db8:1::5", 128, 0)), "g/all-icmpv6");
  EXPECT_EQ(p.who(p.icmp("r", direction::ingress, "2001:db8:1::5", 2, 0)), "g/all-icmpv6");
  // An icmp (IPv4) rule never matches ICMPv6, nor the reverse.
  EXPECT_FALSE(p.ask(p.key("r", direction::ingress, "icmp", "2001:db8:1::5", 0, 0, 8, 0)).allowed());
}

TEST(Rules, PortRangesAndLists) {
  policy_fixture p(k_protocols);
  EXPECT_EQ(p.who(p.inbound("r", "udp", "198.51.100.77", 53)), "g/dns");
  EXPECT_EQ(p.who(p.inbound("r", "udp", "203.0.113.200", 5353)), "g/dns");
  EXPECT_FALSE(p.inbound("r", "udp", "203.0.113.127", 53).allowed());  // outside the /25
  EXPECT_FALSE(p.inbound("r", "udp", "198.51.100.77", 54).allowed());
  EXPECT_FALSE(p.inbound("r", "tcp", "198.51.100.77", 53).allowed());
  EXPECT_EQ(p.who(p.inbound("r", "tcp", "2001:db8:aaaa:1::1", 1024)), "g/high");
  EXPECT_EQ(p.who(p.inbound("r", "tcp", "2001:db8:aaaa:ffff::1", 65535)), "g/high");
  EXPECT_FALSE(p.inbound("r", "tcp", "2001:db8:aaaa::1", 1023).allowed());
  EXPECT_FALSE(p.inbound("r", "tcp", "2001:db8:aaab::1", 2000).allowed());
}

TEST(Rules, PortIsTheFlowsDestinationPort) {
  policy_fixture p(k_seed_b);
  // Ingress rules name the resource's (local) port, whatever the source port.
  EXPECT_TRUE(p.inbound("web-1", "tcp", "198.51.100.7", 443, 22).allowed());
  EXPECT_FALSE(p.inbound("web-1", "tcp", "198.51.100.7", 22, 443).allowed());
}

constexpr std::string_view k_references = R"(
[[security_group]]
id = "web"
  [[security_group.ingress]]
  id = "peers"
  protocol = "tcp"
  ports = 7946
  security_group = "web"
  [[security_group.ingress]]
  id = "http"
  protocol = "tcp"
  ports = 80
  cidr = "0.0.0.0/0"

[[security_group]]
id = "db"
  [[security_group.ingress]]
  id = "pg"
  protocol = "tcp"
  ports = 5432
  security_group = "web"

[[security_group]]
id = "empty"

[[security_group]]
id = "cache"
  [[security_group.ingress]]
  id = "from-nobody"
  protocol = "tcp"
  ports = 6379
  security_group = "empty"

[[resource]]
name = "web-1"
addresses = ["10.0.1.1", "fd00::1"]
security_groups = ["web"]

[[resource]]
name = "web-2"
addresses = ["10.0.1.2"]
security_groups = ["web"]

[[resource]]
name = "db-1"
addresses = ["10.0.2.1"]
security_groups = ["db", "cache"]
)";

TEST(Rules, GroupReferenceMeansCurrentMembers) {
  policy_fixture p(k_references);
  EXPECT_EQ(p.who(p.inbound("db-1", "tcp", "10.0.1.1", 5432)), "db/pg");
  EXPECT_EQ(p.who(p.inbound("db-1", "tcp", "10.0.1.2", 5432)), "db/pg");
  EXPECT_EQ(p.who(p.inbound("db-1", "tcp", "fd00::1", 5432)), "db/pg");
  EXPECT_FALSE(p.inbound("db-1", "tcp", "10.0.1.3", 5432).allowed());
  EXPECT_FALSE(p.inbound("db-1", "tcp", "10.0.2.1", 5432).allowed());  // db-1 is not in web
  // A group referencing itself: members reach each other.
  EXPECT_EQ(p.who(p.inbound("web-1", "tcp", "10.0.1.2", 7946)), "web/peers");
  EXPECT_FALSE(p.inbound("web-1", "tcp", "10.0.2.1", 7946).allowed());
  // A reference to a group with no members matches nothing.
  EXPECT_FALSE(p.inbound("db-1", "tcp", "10.0.1.1", 6379).allowed());
}

TEST(Rules, ReferencedGroupsRulesAreNotInherited) {
  policy_fixture p(k_references);
  // db references web, but web's "80 from anywhere" does not apply to db-1.
  EXPECT_TRUE(p.inbound("web-1", "tcp", "198.51.100.1", 80).allowed());
  EXPECT_FALSE(p.inbound("db-1", "tcp", "198.51.100.1", 80).allowed());
  EXPECT_FALSE(p.inbound("db-1", "tcp", "10.0.1.1", 80).allowed());
}

TEST(Rules, MembershipChangesTakeEffectOnRecompile) {
  std::string text(k_references);
  text += R"(
[[resource]]
name = "web-3"
addresses = ["10.0.1.3"]
security_groups = ["web"]
)";
  policy_fixture p(text);
  EXPECT_TRUE(p.inbound("db-1", "tcp", "10.0.1.3", 5432).allowed());
  EXPECT_TRUE(p.inbound("web-1", "tcp", "10.0.1.3", 7946).allowed());
}

TEST(Rules, PrefixListEditsApplyToEveryRuleThatUsesIt) {
  constexpr std::string_view before = R"(
[[prefix_list]]
id = "office"
max_entries = 3
entries = ["198.51.100.0/24"]
[[security_group]]
id = "g"
  [[security_group.ingress]]
  protocol = "tcp"
  ports = 22
  prefix_list = "office"
  [[security_group.egress]]
  protocol = "tcp"
  ports = 443
  prefix_list = "office"
[[resource]]
name = "r"
addresses = ["10.0.0.1"]
security_groups = ["g"]
)";
  std::string after(before);
  after.replace(after.find("[\"198.51.100.0/24\"]"), 19, "[\"198.51.100.0/24\", \"203.0.113.0/24\"]");
  policy_fixture p1(before);
  policy_fixture p2(after);
  EXPECT_FALSE(p1.inbound("r", "tcp", "203.0.113.5", 22).allowed());
  EXPECT_FALSE(p1.outbound("r", "tcp", "203.0.113.5", 443).allowed());
  EXPECT_TRUE(p2.inbound("r", "tcp", "203.0.113.5", 22).allowed());
  EXPECT_TRUE(p2.outbound("r", "tcp", "203.0.113.5", 443).allowed());
  EXPECT_TRUE(p2.inbound("r", "tcp", "198.51.100.5", 22).allowed());
}

// --- S4: defaults ---------------------------------------------------------------

constexpr std::string_view k_defaults = R"(
[[security_group]]
id = "implicit-egress"
  [[security_group.ingress]]
  protocol = "tcp"
  ports = 22
  cidr = "0.0.0.0/0"

[[security_group]]
id = "no-egress"
egress = []
  [[security_group.ingress]]
  protocol = "tcp"
  ports = 22
  cidr = "0.0.0.0/0"

[[security_group]]
id = "nothing"
egress = []

[[resource]]
name = "open-out"
addresses = ["10.0.0.1", "fd00::1"]
security_groups = ["implicit-egress"]

[[resource]]
name = "closed-out"
addresses = ["10.0.0.2", "fd00::2"]
security_groups = ["no-egress"]

[[resource]]
name = "sealed"
addresses = ["10.0.0.3"]
security_groups = ["nothing"]

[[resource]]
name = "d1"
addresses = ["10.0.9.1", "fd00::9:1"]

[[resource]]
name = "d2"
addresses = ["10.0.9.2"]
security_groups = []
)";

TEST(Defaults, NoEgressKeyMeansAllOutboundOnBothFamilies) {
  policy_fixture p(k_defaults);
  EXPECT_TRUE(p.outbound("open-out", "tcp", "198.51.100.1", 443).allowed());
  EXPECT_TRUE(p.outbound("open-out", "udp", "2001:db8::5", 53).allowed());
  EXPECT_TRUE(p.outbound("open-out", "47", "198.51.100.1", 0).allowed());
}

TEST(Defaults, EmptyEgressListMeansNoOutbound) {
  policy_fixture p(k_defaults);
  EXPECT_FALSE(p.outbound("closed-out", "tcp", "198.51.100.1", 443).allowed());
  EXPECT_FALSE(p.outbound("closed-out", "udp", "2001:db8::5", 53).allowed());
  EXPECT_FALSE(p.icmp("closed-out", direction::egress, "198.51.100.1", 8, 0).allowed());
  EXPECT_TRUE(p.inbound("closed-out", "tcp", "198.51.100.1", 22).allowed());
}

TEST(Defaults, InboundIsDeniedUnlessAllowed) {
  policy_fixture p(k_defaults);
  for (const auto* res : {"open-out", "closed-out", "sealed"}) {
    EXPECT_FALSE(p.inbound(res, "tcp", "198.51.100.1", 80).allowed()) << res;
    EXPECT_FALSE(p.inbound(res, "udp", "198.51.100.1", 53).allowed()) << res;
    EXPECT_FALSE(p.icmp(res, direction::ingress, "198.51.100.1", 8, 0).allowed()) << res;
  }
  EXPECT_FALSE(p.outbound("sealed", "tcp", "198.51.100.1", 80).allowed());
}

TEST(Defaults, ResourceWithoutGroupsGetsTheDefaultGroup) {
  policy_fixture p(k_defaults);
  // Ingress from members of `default` itself (both families), egress all.
  EXPECT_TRUE(p.inbound("d1", "tcp", "10.0.9.2", 12345).allowed());
  EXPECT_TRUE(p.inbound("d2", "udp", "10.0.9.1", 53).allowed());
  EXPECT_TRUE(p.inbound("d2", "udp", "fd00::9:1", 53).allowed());
  EXPECT_FALSE(p.inbound("d1", "tcp", "10.0.0.1", 22).allowed());
  EXPECT_FALSE(p.inbound("d1", "tcp", "198.51.100.1", 22).allowed());
  EXPECT_TRUE(p.outbound("d1", "tcp", "198.51.100.1", 443).allowed());
  EXPECT_TRUE(p.outbound("d1", "tcp", "2001:db8::1", 443).allowed());
  EXPECT_EQ(p.model().groups[p.model().resources[p.resource("d1")].groups.at(0)].id, "default");
}

TEST(Defaults, AUserDefinedDefaultGroupReplacesTheImplicitOne) {
  policy_fixture p(R"(
[[security_group]]
id = "default"
egress = []
  [[security_group.ingress]]
  protocol = "tcp"
  ports = 22
  cidr = "0.0.0.0/0"
[[resource]]
name = "r"
addresses = ["10.0.0.1"]
)");
  EXPECT_TRUE(p.inbound("r", "tcp", "198.51.100.1", 22).allowed());
  EXPECT_FALSE(p.outbound("r", "tcp", "198.51.100.1", 443).allowed());
  EXPECT_EQ(p.model().groups.size(), 1U);
}

// --- S8: tracked or untracked ------------------------------------------------------

// The cloud's own example (EC2 user guide, "Untracked connections"): inbound
// TCP 22 from one address, inbound TCP 80 from anywhere, egress all.
constexpr std::string_view k_tracking = R"(
[[security_group]]
id = "g"
  [[security_group.ingress]]
  protocol = "tcp"
  ports = 22
  cidr = "203.0.113.1/32"
  [[security_group.ingress]]
  protocol = "tcp"
  ports = 80
  cidr = "0.0.0.0/0"
  [[security_group.ingress]]
  protocol = "tcp"
  ports = 80
  cidr = "::/0"
  [[security_group.ingress]]
  protocol = "icmp"
  cidr = "0.0.0.0/0"
  [[security_group.ingress]]
  protocol = "udp"
  ports = 53
  cidr = "0.0.0.0/0"
  [[security_group.egress]]
  id = "out4"
  protocol = "all"
  cidr = "0.0.0.0/0"
  [[security_group.egress]]
  id = "out6"
  protocol = "all"
  cidr = "::/0"
[[resource]]
name = "r"
addresses = ["10.0.0.1", "fd00::1"]
security_groups = ["g"]
)";

TEST(Tracking, CloudExample) {
  policy_fixture p(k_tracking);
  const auto ssh = p.inbound("r", "tcp", "203.0.113.1", 22);
  ASSERT_TRUE(ssh.allowed());
  EXPECT_FALSE(ssh.untracked);  // from one address: tracked
  const auto http = p.inbound("r", "tcp", "198.51.100.9", 80);
  ASSERT_TRUE(http.allowed());
  EXPECT_TRUE(http.untracked);  // from anywhere, egress all: untracked
  const auto http6 = p.inbound("r", "tcp", "2001:db8::9", 80);
  ASSERT_TRUE(http6.allowed());
  EXPECT_TRUE(http6.untracked);
  const auto dns = p.inbound("r", "udp", "198.51.100.9", 53);
  ASSERT_TRUE(dns.allowed());
  EXPECT_TRUE(dns.untracked);
  // ICMP is always tracked.
  const auto ping = p.icmp("r", direction::ingress, "198.51.100.9", 8, 0);
  ASSERT_TRUE(ping.allowed());
  EXPECT_FALSE(ping.untracked);
  // Flows started outbound: the way back is not open to all ports: tracked.
  const auto out = p.outbound("r", "tcp", "198.51.100.9", 443);
  ASSERT_TRUE(out.allowed());
  EXPECT_FALSE(out.untracked);
}

TEST(Tracking, RemovingTheIpv4EgressRuleTracksIpv4Only) {
  std::string text(k_tracking);
  const auto at = text.find("  [[security_group.egress]]\n  id = \"out4\"");
  const auto end = text.find("  [[security_group.egress]]\n  id = \"out6\"");
  text.erase(at, end - at);
  policy_fixture p(text);
  const auto http = p.inbound("r", "tcp", "198.51.100.9", 80);
  ASSERT_TRUE(http.allowed());
  EXPECT_FALSE(http.untracked);
  const auto http6 = p.inbound("r", "tcp", "2001:db8::9", 80);
  ASSERT_TRUE(http6.allowed());
  EXPECT_TRUE(http6.untracked);
}

TEST(Tracking, ReturnPathMustCoverEveryPortOfTheProtocol) {
  policy_fixture p(R"(
[[security_group]]
id = "g"
  [[security_group.ingress]]
  protocol = "tcp"
  ports = 80
  cidr = "0.0.0.0/0"
  [[security_group.ingress]]
  protocol = "udp"
  ports = 53
  cidr = "0.0.0.0/0"
  [[security_group.egress]]
  protocol = "tcp"
  ports = ["0-1023", "1024-65535"]
  cidr = "0.0.0.0/0"
  [[security_group.egress]]
  protocol = "udp"
  ports = "1024-65535"
  cidr = "0.0.0.0/0"
[[resource]]
name = "r"
addresses = ["10.0.0.1"]
security_groups = ["g"]
)");
  EXPECT_TRUE(p.inbound("r", "tcp", "198.51.100.9", 80).untracked);   // all TCP ports out
  EXPECT_FALSE(p.inbound("r", "udp", "198.51.100.9", 53).untracked);  // not every UDP port
  EXPECT_TRUE(p.inbound("r", "udp", "198.51.100.9", 53).allowed());
}

// --- stable rule ids ----------------------------------------------------------------

TEST(RuleIds, DerivedIdsSurviveReorderingAndDescriptionEdits) {
  constexpr std::string_view one = R"(
[[security_group]]
id = "g"
  [[security_group.ingress]]
  protocol = "tcp"
  ports = 22
  cidr = "10.0.0.0/8"
  description = "ssh"
  [[security_group.ingress]]
  protocol = "udp"
  ports = 53
  cidr = "10.0.0.0/8"
[[resource]]
name = "r"
addresses = ["192.168.0.1"]
security_groups = ["g"]
)";
  constexpr std::string_view two = R"(
[[security_group]]
id = "g"
  [[security_group.ingress]]
  protocol = "udp"
  ports = 53
  cidr = "10.0.0.0/8"
  [[security_group.ingress]]
  protocol = "tcp"
  ports = [22]
  cidr = "10.0.0.0/8"
  description = "secure shell"
[[resource]]
name = "r"
addresses = ["192.168.0.1"]
security_groups = ["g"]
)";
  policy_fixture a(one);
  policy_fixture b(two);
  EXPECT_EQ(a.who(a.inbound("r", "tcp", "10.1.1.1", 22)), b.who(b.inbound("r", "tcp", "10.1.1.1", 22)));
  EXPECT_EQ(a.who(a.inbound("r", "udp", "10.1.1.1", 53)), b.who(b.inbound("r", "udp", "10.1.1.1", 53)));
  EXPECT_NE(a.who(a.inbound("r", "tcp", "10.1.1.1", 22)), a.who(a.inbound("r", "udp", "10.1.1.1", 53)));
  EXPECT_EQ(a.who(a.inbound("r", "tcp", "10.1.1.1", 22)).substr(0, 6), "g/sgr-");
}

}  // namespace
}  // namespace sgfw::testing
