// The cloud's rules run on the model, whatever source built it: here a
// model built in code, as the control API will build one, gets the same
// codes as a file and places named by field path; normalise() fills in the
// cloud's defaults once, however often it runs.
#include "config/validation.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "config/toml_loader.hpp"

namespace sgfw::config {
namespace {

net::ip_address v4(std::uint32_t a) { return net::ip_address::v4(a); }

rule tcp_from(std::uint16_t port, net::cidr peer_cidr, direction d = direction::ingress) {
  rule r;
  r.dir = d;
  r.protocol = {false, ip_proto::tcp};
  r.ports = {{port, port}};
  r.remote = peer_cidr;
  return r;
}

policy_model two_tier() {
  policy_model m;
  security_group web;
  web.id = "web";
  web.ingress.push_back(tcp_from(443, net::cidr::any(net::family::ipv4)));
  web.ingress.push_back(tcp_from(80, net::cidr::any(net::family::ipv6)));
  m.groups.push_back(web);
  resource r;
  r.name = "web-1";
  r.addresses = {v4(0x0A000001)};
  r.groups = {0};
  m.resources.push_back(r);
  return m;
}

struct seen {
  std::string code;
  std::string path;
  std::string message;
};

std::vector<seen> findings(policy_model m) {
  normalise(m);
  std::vector<seen> out;
  for (const finding& f : validate(m)) out.push_back({f.code, field_path(m, f.where), f.message});
  return out;
}

TEST(Validation, AValidModelHasNoFindings) { EXPECT_TRUE(findings(two_tier()).empty()); }

TEST(Validation, NormaliseFillsTheCloudsDefaultsOnce) {
  policy_model m = two_tier();
  m.resources.push_back({});
  m.resources.back().name = "no-groups";
  m.resources.back().addresses = {v4(0x0A000002)};
  normalise(m);
  // S4: allow-all egress for a group that declares none, the default group
  // (self ingress, allow-all egress) for a resource that names none, ids.
  ASSERT_EQ(m.groups.size(), 2U);
  EXPECT_EQ(m.groups[0].egress.size(), 2U);
  EXPECT_EQ(m.groups[1].id, k_default_group_id);
  EXPECT_EQ(m.groups[1].ingress.size(), 1U);
  EXPECT_EQ(m.resources[1].groups, std::vector<std::uint32_t>{1});
  for (const auto& g : m.groups) {
    for (const auto* rules : {&g.ingress, &g.egress}) {
      for (const rule& r : *rules) EXPECT_EQ(r.id.rfind("sgr-", 0), 0U) << r.id;
    }
  }
  const policy_model once = m;
  normalise(m);
  EXPECT_EQ(m.groups.size(), once.groups.size());
  EXPECT_EQ(m.groups[0].egress.size(), 2U);
  EXPECT_EQ(m.groups[1].ingress.size(), 1U);
  EXPECT_EQ(m.groups[0].ingress[0].id, once.groups[0].ingress[0].id);
}

TEST(Validation, DeclaredEmptyEgressStaysEmpty) {
  policy_model m = two_tier();
  m.groups[0].egress_declared = true;
  normalise(m);
  EXPECT_TRUE(m.groups[0].egress.empty());
}

TEST(Validation, DuplicateRuleIsTheCloudsInvalidPermissionDuplicate) {
  policy_model m = two_tier();
  m.groups[0].ingress.push_back(tcp_from(443, net::cidr::any(net::family::ipv4)));
  const auto f = findings(m);
  ASSERT_EQ(f.size(), 1U);
  EXPECT_EQ(f[0].code, "InvalidPermission.Duplicate");
  EXPECT_EQ(f[0].path, "security_group[web].ingress[2]");
}

TEST(Validation, DuplicateIdsAndNamesAndOwnership) {
  policy_model m = two_tier();
  m.groups.push_back(m.groups[0]);  // a second "web"
  resource other;
  other.name = "web-1";                                // the name again
  other.addresses = {v4(0x0A000001), v4(0x0A000009)};  // and web-1's address
  other.mac = 0x02005E000001ULL;
  m.resources.push_back(other);
  m.resources[0].mac = 0x02005E000001ULL;  // one MAC, two resources
  std::vector<std::string> codes;
  for (const auto& s : findings(m)) codes.push_back(s.code + " " + s.path);
  std::sort(codes.begin(), codes.end());
  EXPECT_EQ(codes, (std::vector<std::string>{
                       "InvalidGroup.Duplicate security_group[web].id",
                       "InvalidIPAddress.InUse resource[web-1].addresses[0]",
                       "InvalidMacAddress.InUse resource[web-1].mac",
                       "InvalidResource.Duplicate resource[web-1].name",
                   }));
}

TEST(Validation, QuotasAreTheClouds) {
  policy_model m = two_tier();
  m.quota.ingress_rules_per_group = 1;
  m.quota.groups_per_resource = 1;
  m.groups.push_back(m.groups[0]);
  m.groups[1].id = "web2";
  m.groups[1].ingress.resize(1);
  m.resources[0].groups = {0, 1};
  std::vector<std::string> codes;
  for (const auto& s : findings(m)) codes.push_back(s.code + " " + s.path);
  std::sort(codes.begin(), codes.end());
  // The first group has one IPv4 and one IPv6 rule: within one per family.
  EXPECT_EQ(codes, (std::vector<std::string>{
                       "SecurityGroupsPerInterfaceLimitExceeded resource[web-1].security_groups",
                   }));
  m.groups[0].ingress.push_back(tcp_from(22, net::cidr::any(net::family::ipv4)));
  bool over = false;
  for (const auto& s : findings(m)) {
    over = over || (s.code == "RulesPerSecurityGroupLimitExceeded" && s.path == "security_group[web].ingress");
  }
  EXPECT_TRUE(over);
}

TEST(Validation, ExplicitRuleIdsAreCheckedDerivedOnesAreNot) {
  policy_model m = two_tier();
  m.groups[0].ingress[0].id = "has space";
  m.groups[0].ingress[0].derived_id = false;
  m.groups[0].ingress[1].id = "ok-id";
  m.groups[0].ingress[1].derived_id = false;
  auto f = findings(m);
  ASSERT_EQ(f.size(), 1U);
  EXPECT_EQ(f[0].code, "InvalidSecurityGroupRuleId.Malformed");
  EXPECT_EQ(f[0].path, "security_group[web].ingress[0].id");
  m.groups[0].ingress[0].id = "ok-id";
  f = findings(m);
  ASSERT_EQ(f.size(), 1U);
  EXPECT_EQ(f[0].code, "InvalidSecurityGroupRuleId.Duplicate");
}

// An explicit id may not be the id derived for another rule, before it or
// after it (a revoke by that id would take the other rule); both families.
TEST(Validation, AnExplicitRuleIdMayNotBeAnotherRulesDerivedId) {
  for (const std::uint32_t victim : {0U, 1U}) {  // the IPv4 rule, the IPv6 one
    policy_model m = two_tier();
    normalise(m);
    const std::string derived = m.groups[0].ingress[victim].id;
    m = two_tier();
    // Before the victim, and after it.
    for (const bool before : {true, false}) {
      policy_model e = m;
      rule r = tcp_from(8080, net::cidr::any(victim == 0 ? net::family::ipv4 : net::family::ipv6));
      r.id = derived;
      r.derived_id = false;
      auto& rules = e.groups[0].ingress;
      rules.insert(before ? rules.begin() : rules.end(), r);
      const auto f = findings(e);
      ASSERT_EQ(f.size(), 1U) << derived << " before=" << before;
      EXPECT_EQ(f[0].code, "InvalidSecurityGroupRuleId.Duplicate");
      const std::size_t at = before ? 0 : rules.size() - 1;
      EXPECT_EQ(f[0].path, "security_group[web].ingress[" + std::to_string(at) + "].id") << f[0].message;
    }
  }
}

// An id the source did not give follows the rule: an edit that changes
// the rule changes its id, so two rules never share one (an attacker's
// edit cannot pass a rule off as another's in flow logs), and a copy in
// another group gets that group's id.
TEST(Validation, DerivedIdsFollowEditsAndNeverCollide) {
  policy_model m = two_tier();
  normalise(m);
  const std::string was = m.groups[0].ingress[0].id;
  m.groups[0].ingress[0].ports = {{2222, 2222}};
  m.groups[0].ingress.push_back(tcp_from(443, net::cidr::any(net::family::ipv4)));  // what rule 0 was
  m.groups[0].ingress.back().id = "bad id, kept by no one";                         // derived: replaced
  security_group other;
  other.id = "other";
  other.ingress.push_back(m.groups[0].ingress[1]);
  m.groups.push_back(other);
  EXPECT_TRUE(findings(m).empty());
  normalise(m);
  EXPECT_NE(m.groups[0].ingress[0].id, was);
  EXPECT_EQ(m.groups[0].ingress[2].id, was);
  EXPECT_NE(m.groups[1].ingress[0].id, m.groups[0].ingress[1].id);
}

// An edit may name a group or prefix list that is not there (by index):
// an error, never a read past the end.
TEST(Validation, ReferencesOutOfRangeAreNotFound) {
  policy_model m = two_tier();
  m.groups[0].ingress[0].remote = group_ref{7};
  m.resources[0].groups = {0, 9};
  std::vector<std::string> codes;
  for (const auto& s : findings(m)) codes.push_back(s.code + " " + s.path);
  std::sort(codes.begin(), codes.end());
  EXPECT_EQ(codes, (std::vector<std::string>{"InvalidGroup.NotFound resource[web-1].security_groups[1]",
                                             "InvalidGroup.NotFound security_group[web].ingress[0]"}));
  m = two_tier();
  m.groups[0].ingress[0].remote = prefix_list_ref{0};
  ASSERT_EQ(findings(m).size(), 1U);
  EXPECT_EQ(findings(m)[0].code, "InvalidPrefixListID.NotFound");
}

// The file and a model built in code reach the same verdict: what the
// reader read, normalised again, is unchanged and valid.
TEST(Validation, WhatTheReaderReadIsAlreadyNormalAndValid) {
  const load_result r = load_policy_text(R"(
[[security_group]]
id = "web"
  [[security_group.ingress]]
  protocol = "tcp"
  ports = 443
  cidr = "0.0.0.0/0"
[[resource]]
name = "web-1"
addresses = ["10.0.0.1"]
security_groups = ["web"]
[[resource]]
name = "plain"
addresses = ["10.0.0.2"]
)",
                                         "t.toml");
  ASSERT_TRUE(r.ok());
  policy_model m = *r.model;
  const std::size_t groups = m.groups.size();
  const std::size_t egress = m.groups[0].egress.size();
  EXPECT_TRUE(findings(m).empty());
  normalise(m);
  EXPECT_EQ(m.groups.size(), groups);
  EXPECT_EQ(m.groups[0].egress.size(), egress);
}

}  // namespace
}  // namespace sgfw::config
