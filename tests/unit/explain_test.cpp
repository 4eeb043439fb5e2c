// explain (sgfwctl explain) against the reference evaluator on the
// classifier differential test's random policies and keys: each key asked
// as a packet (addresses, ports, direction) must get the verdict, the
// tracking and the union of allowing rules the reference gives it.  Also
// the S9 answers: no resource, multicast.
#include "control/explain.hpp"

#include <gtest/gtest.h>

#include <set>

#include "compiler/compiler.hpp"
#include "compiler/reference_evaluator.hpp"
#include "config/address_text.hpp"
#include "config/policy_check.hpp"
#include "config/toml_loader.hpp"
#include "random_policy.hpp"

namespace sgfw::cp {
namespace {

using nlohmann::json;

bool multicast(const net::ip_address& a) {
  if (a.fam == net::family::ipv4) return (a.v4_value() >> 28) == 0xE || a.v4_value() == 0xFFFFFFFFU;
  return static_cast<std::uint8_t>(a.value >> 120) == 0xFF;
}

// The key as the packet explain is asked about, or nothing when the
// resource has no address of the key's family or the peer is multicast.
std::optional<json> packet_of(const config::policy_model& m, const dp::classify_key& k) {
  const config::resource& res = m.resources[k.resource];
  std::optional<net::ip_address> local;
  for (const auto& a : res.addresses) {
    if (a.fam == k.fam) {
      local = a;
      break;
    }
  }
  net::ip_address remote;
  remote.fam = k.fam;
  remote.value = k.remote;
  if (!local || multicast(remote) || multicast(*local)) return std::nullopt;
  const bool in = k.dir == direction::ingress;
  json p{{"Resource", res.name},
         {"Direction", in ? "ingress" : "egress"},
         {"Protocol", int{k.proto()}},
         {"Source", config::to_string(in ? remote : *local)},
         {"Destination", config::to_string(in ? *local : remote)}};
  if (k.proto() == ip_proto::tcp || k.proto() == ip_proto::udp) {
    p["SourcePort"] = in ? k.remote_port : k.local_port;
    p["DestinationPort"] = in ? k.local_port : k.remote_port;
  } else if (k.proto() == ip_proto::icmp || k.proto() == ip_proto::icmpv6) {
    p["IcmpType"] = k.icmp_type;
    p["IcmpCode"] = k.icmp_code;
  }
  return p;
}

TEST(Explain, GivesTheReferenceVerdictOnTheDifferentialKeys) {
  std::size_t asked = 0;
  std::size_t allowed = 0;
  for (std::uint64_t seed = 1; seed <= 4; ++seed) {
    testing::random_policy_options o;
    o.seed = 7000 + seed;
    o.rules = 300;
    const config::policy_model model = testing::random_policy(o);
    const dp::compiled_policy compiled = compile(model, 1);
    const reference_evaluator reference(model);
    const auto keys = testing::random_keys(model, 3000, seed);
    for (std::size_t i = 0; i < keys.size(); ++i) {
      const auto packet = packet_of(model, keys[i]);
      if (!packet) continue;
      ++asked;
      const dp::decision want = reference.classify(keys[i]);
      const json got = explain(model, compiled, *packet);
      ASSERT_FALSE(got.contains("Error")) << packet->dump() << " -> " << got.dump();
      // The named resource's own check (a peer that is a resource adds its side).
      ASSERT_FALSE(got["Checks"].empty()) << got.dump();
      const json& check = got["Checks"][0];
      ASSERT_EQ(check["Resource"], model.resources[keys[i].resource].name);
      ASSERT_EQ(check["Verdict"] == "allow", want.allowed())
          << "seed " << o.seed << " key " << i << ": " << packet->dump() << " -> " << got.dump();
      if (!want.allowed()) continue;
      ++allowed;
      ASSERT_EQ(check["Tracked"].get<bool>(), !want.untracked) << packet->dump() << " -> " << got.dump();
      // Every allowing rule, and the first is among them.
      std::set<std::string> want_rules;
      for (const auto& [g, r] : reference.allowing_rules(keys[i])) {
        want_rules.insert(model.groups[g].rules(keys[i].dir)[r].id);
      }
      std::set<std::string> got_rules;
      for (const json& a : check["AllowedBy"]) got_rules.insert(a["SecurityGroupRuleId"].get<std::string>());
      ASSERT_EQ(got_rules, want_rules) << packet->dump();
      ASSERT_TRUE(got_rules.count(check["FirstRule"].get<std::string>())) << got.dump();
    }
  }
  // Enough of both answers for the comparison to mean something.
  EXPECT_GT(asked, 6000U);
  EXPECT_GT(allowed, asked / 10);
  EXPECT_LT(allowed, asked * 9 / 10);
}

class ExplainWeb : public ::testing::Test {
 protected:
  void SetUp() override {
    config::checked_policy c = config::check_policy(config::load_policy_text(R"(
[[security_group]]
id = "web"
  [[security_group.ingress]]
  protocol = "tcp"
  ports = 443
  cidr = "0.0.0.0/0"
  [[security_group.ingress]]
  protocol = "tcp"
  ports = 443
  cidr = "::/0"
[[resource]]
name = "web-1"
addresses = ["10.0.0.2", "fd00::2"]
security_groups = ["web"]
)",
                                                                             "web.toml"));
    ASSERT_TRUE(c.ok());
    model_ = std::move(*c.model);
    compiled_ = std::make_unique<dp::compiled_policy>(compile(model_, 1));
  }
  json ask(json r) { return explain(model_, *compiled_, r); }

  config::policy_model model_;
  std::unique_ptr<dp::compiled_policy> compiled_;
};

TEST_F(ExplainWeb, BothFamiliesNamedByAddress) {
  for (const auto& [src, dst] : {std::pair{"192.0.2.9", "10.0.0.2"}, std::pair{"2001:db8::9", "fd00::2"}}) {
    json r = ask({{"Protocol", "tcp"}, {"Source", src}, {"Destination", dst}, {"DestinationPort", 443}});
    EXPECT_EQ(r["Verdict"], "allow") << r.dump();
    r = ask({{"Protocol", "tcp"}, {"Source", src}, {"Destination", dst}, {"DestinationPort", 22}});
    EXPECT_EQ(r["Verdict"], "deny") << r.dump();
    r = ask({{"Address", dst}, {"Protocol", "udp"}, {"Source", src}, {"Destination", dst}, {"DestinationPort", 443}});
    EXPECT_EQ(r["Verdict"], "deny") << r.dump();
  }
}

TEST_F(ExplainWeb, TrafficOfNoResourceAndMulticastFailClosed) {
  for (const auto& [src, dst] : {std::pair{"192.0.2.9", "192.0.2.10"}, std::pair{"2001:db8::9", "2001:db8::10"}}) {
    const json r = ask({{"Protocol", "tcp"}, {"Source", src}, {"Destination", dst}, {"DestinationPort", 443}});
    EXPECT_EQ(r["Verdict"], "deny");
    EXPECT_NE(r["Reason"].get<std::string>().find("S9"), std::string::npos) << r.dump();
  }
  for (const auto& [src, dst] : {std::pair{"10.0.0.2", "224.0.0.251"}, std::pair{"fd00::2", "ff02::fb"}}) {
    const json r = ask({{"Protocol", "udp"}, {"Source", src}, {"Destination", dst}, {"DestinationPort", 5353}});
    EXPECT_EQ(r["Verdict"], "deny") << r.dump();
  }
}

TEST_F(ExplainWeb, MalformedQuestionsAreRefusedByField) {
  const std::vector<std::pair<json, std::string>> cases{
      {{{"Protocol", "tcp"}, {"Destination", "10.0.0.2"}, {"DestinationPort", 443}}, "Source"},
      {{{"Protocol", "tcp"}, {"Source", "10.0.0.1/33"}, {"Destination", "10.0.0.2"}, {"DestinationPort", 443}},
       "Source"},
      {{{"Protocol", "tcp"}, {"Source", "fd00::9"}, {"Destination", "10.0.0.2"}, {"DestinationPort", 443}},
       "Destination"},
      {{{"Protocol", "gre!"}, {"Source", "10.0.0.1"}, {"Destination", "10.0.0.2"}}, "Protocol"},
      {{{"Protocol", "tcp"}, {"Source", "10.0.0.1"}, {"Destination", "10.0.0.2"}}, "DestinationPort"},
      {{{"Protocol", "tcp"}, {"Source", "10.0.0.1"}, {"Destination", "10.0.0.2"}, {"DestinationPort", 70000}},
       "DestinationPort"},
      {{{"Resource", "nope"}, {"Protocol", "icmp"}, {"Source", "10.0.0.1"}, {"Destination", "10.0.0.2"}}, "Resource"},
      {{{"Resource", "web-1"},
        {"Direction", "egress"},
        {"Protocol", "icmp"},
        {"Source", "10.0.0.1"},
        {"Destination", "10.0.0.2"}},
       "Direction"},
  };
  for (const auto& [request, field] : cases) {
    const json r = ask(request);
    ASSERT_TRUE(r.contains("Error")) << request.dump();
    EXPECT_EQ(r["Error"]["Field"], field) << request.dump() << " -> " << r.dump();
  }
}

}  // namespace
}  // namespace sgfw::cp
