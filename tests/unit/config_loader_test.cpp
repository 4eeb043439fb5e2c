// The TOML loader on good input: what the model says, defaults, warnings.
#include <gtest/gtest.h>

#include <filesystem>

#include "config/address_text.hpp"
#include "config/toml_loader.hpp"

namespace sgfw::config {
namespace {

namespace fs = std::filesystem;

load_result load(std::string_view text) { return load_policy_text(text, "t.toml"); }

const policy_model& ok(const load_result& r) {
  for (const auto& d : r.diagnostics) ADD_FAILURE() << format(d);
  if (!r.ok()) throw std::runtime_error("did not load");
  return *r.model;
}

TEST(Examples, EveryExampleConfigChecksCleanWithoutWarnings) {
  std::size_t n = 0;
  for (const auto& e : fs::directory_iterator(SGFW_SOURCE_DIR "/config/examples")) {
    if (e.path().extension() != ".toml") continue;
    ++n;
    const load_result r = load_policy_file(e.path().string());
    EXPECT_TRUE(r.ok()) << e.path();
    for (const auto& d : r.diagnostics) ADD_FAILURE() << format(d);
  }
  EXPECT_GE(n, 3U);
}

TEST(Loader, RuleFieldsAreReadAsWritten) {
  const auto r = load(R"(
[[prefix_list]]
id = "pl"
entries = [{ cidr = "2001:db8::/32", description = "docs" }, "2001:db8:1::/48"]
[[security_group]]
id = "g"
description = "a group"
  [[security_group.ingress]]
  id = "x1"
  protocol = "TCP"
  ports = [443, "1000-2000", 80]
  cidr = "10.0.0.0/8"
  description = "web"
  [[security_group.ingress]]
  protocol = 6
  ports = "all"
  prefix_list = "pl"
  [[security_group.ingress]]
  protocol = "icmpv6"
  icmp_type = 128
  icmp_code = "all"
  security_group = "g"
  [[security_group.egress]]
  protocol = "-1"
  cidr = "::/0"
[[resource]]
name = "r"
addresses = "10.1.1.1"
security_groups = ["g"]
)");
  const auto& m = ok(r);
  ASSERT_EQ(m.groups.size(), 2U);  // g and the implicit default
  const auto& g = m.groups[0];
  EXPECT_EQ(g.description, "a group");
  ASSERT_EQ(g.ingress.size(), 3U);
  EXPECT_EQ(g.ingress[0].id, "x1");
  EXPECT_TRUE(g.ingress[0].protocol.is(ip_proto::tcp));
  ASSERT_EQ(g.ingress[0].ports.size(), 3U);  // sorted
  EXPECT_EQ(g.ingress[0].ports[0], (port_range{80, 80}));
  EXPECT_EQ(g.ingress[0].ports[1], (port_range{443, 443}));
  EXPECT_EQ(g.ingress[0].ports[2], (port_range{1000, 2000}));
  EXPECT_EQ(g.ingress[1].ports[0], (port_range{0, 65535}));
  EXPECT_EQ(std::get<prefix_list_ref>(g.ingress[1].remote).index, 0U);
  EXPECT_EQ(g.ingress[2].icmp_type, 128);
  EXPECT_EQ(g.ingress[2].icmp_code, k_icmp_any);
  EXPECT_EQ(std::get<group_ref>(g.ingress[2].remote).index, 0U);
  ASSERT_EQ(g.egress.size(), 1U);  // declared egress replaces the default
  EXPECT_TRUE(g.egress[0].protocol.all);
  EXPECT_EQ(m.prefix_lists[0].fam, net::family::ipv6);
  EXPECT_EQ(m.prefix_lists[0].max_entries, 2U);  // defaults to the entry count
  EXPECT_EQ(m.resources[0].addresses.size(), 1U);
  EXPECT_EQ(g.ingress[0].pos.line, 8U);
}

TEST(Loader, DefaultEgressAndDefaultGroup) {
  const auto r = load(R"(
[[security_group]]
id = "g"
[[resource]]
name = "r"
addresses = ["10.0.0.1"]
)");
  const auto& m = ok(r);
  ASSERT_EQ(m.groups.size(), 2U);
  EXPECT_EQ(m.groups[0].egress.size(), 2U);  // 0.0.0.0/0 and ::/0
  EXPECT_TRUE(m.groups[0].egress[0].protocol.all);
  EXPECT_EQ(std::get<net::cidr>(m.groups[0].egress[0].remote), net::cidr::any(net::family::ipv4));
  EXPECT_EQ(std::get<net::cidr>(m.groups[0].egress[1].remote), net::cidr::any(net::family::ipv6));
  EXPECT_EQ(m.groups[1].id, "default");
  EXPECT_TRUE(m.groups[1].synthesised);
  EXPECT_EQ(m.resources[0].groups, std::vector<std::uint32_t>{1});
}

// A rule that names the implicit `default` group adds that group while
// its own group is being read: the rule lands in its group however many
// groups there are (the groups' storage may move), in either direction and
// family.
TEST(Loader, ARuleNamingTheImplicitDefaultGroupIsKeptWhereverTheGroupsMove) {
  for (int groups = 1; groups <= 9; ++groups) {
    for (const char* dir : {"ingress", "egress"}) {
      std::string text;
      for (int g = 0; g < groups; ++g) text += "[[security_group]]\nid = \"g" + std::to_string(g) + "\"\n";
      text += std::string("[[security_group.") + dir +
              "]]\nprotocol = \"tcp\"\nports = 22\nsecurity_group = \"default\"\n"
              "[[security_group." +
              dir + "]]\nprotocol = \"udp\"\nports = 53\ncidr = \"2001:db8::/32\"\n";
      const auto r = load(text);
      const auto& m = ok(r);
      ASSERT_EQ(m.groups.size(), static_cast<std::size_t>(groups) + 1) << groups << " " << dir;
      const security_group& last = m.groups[static_cast<std::size_t>(groups) - 1];
      const auto& rules = std::string(dir) == "ingress" ? last.ingress : last.egress;
      ASSERT_EQ(rules.size(), 2U) << groups << " groups, " << dir;
      EXPECT_TRUE(std::holds_alternative<group_ref>(rules[0].remote));
      EXPECT_EQ(std::get<group_ref>(rules[0].remote).index, static_cast<std::uint32_t>(groups));
      EXPECT_EQ(std::get<net::cidr>(rules[1].remote).fam(), net::family::ipv6);
    }
  }
}

TEST(Loader, LimitsAreConfigurable) {
  const auto r = load(R"(
[limits]
groups_per_resource = 16
ingress_rules_per_group = 100
egress_rules_per_group = 1
[[security_group]]
id = "g"
egress = []
  [[security_group.ingress]]
  protocol = "tcp"
  ports = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62]
  cidr = "10.0.0.0/8"
)");
  const auto& m = ok(r);
  EXPECT_EQ(m.quota.groups_per_resource, 16U);
  EXPECT_EQ(m.quota.ingress_rules_per_group, 100U);
  EXPECT_EQ(m.quota.egress_rules_per_group, 1U);
}

TEST(Loader, SixteenGroupsPerResourceWhenAllowed) {
  std::string text = "[limits]\ngroups_per_resource = 16\n";
  std::string list;
  for (int i = 0; i < 16; ++i) {
    text += "[[security_group]]\nid = \"g" + std::to_string(i) + "\"\n";
    list += (i ? ", " : "") + std::string("\"g") + std::to_string(i) + "\"";
  }
  text += "[[resource]]\nname = \"r\"\naddresses = [\"10.0.0.1\"]\nsecurity_groups = [" + list + "]\n";
  EXPECT_EQ(ok(load(text)).resources[0].groups.size(), 16U);
  const auto over = load(text + "[[resource]]\nname = \"r2\"\naddresses = [\"10.0.0.2\"]\nsecurity_groups = [" + list +
                         ", \"default\"]\n");
  EXPECT_FALSE(over.ok());
}

TEST(Loader, RuntimeSettingsForSgfwRun) {
  const load_result loaded = load(R"(
[appliance]
workers = 2
cores = [3, 5]
main_core = 1
watch = true
status_interval = 0
  [appliance.ports]
  outside = "net_af_packet0,iface=veth-o"
  inside = "0000:03:00.1"
  rx_descriptors = 512
  packet_buffers = 2000000
  [appliance.eal]
  hugepages = "no"
  memory_mb = 256
  file_prefix = "fw-1"
  args = ["--log-level=lib.eal:debug"]
)");
  ok(loaded);
  const auto& r = loaded.boot;
  EXPECT_EQ(r.workers, 2U);
  EXPECT_EQ(r.cores, (std::vector<std::uint32_t>{3, 5}));
  EXPECT_EQ(r.main_core, 1U);
  EXPECT_TRUE(r.watch);
  EXPECT_EQ(r.status_interval, 0U);
  EXPECT_EQ(r.outside, "net_af_packet0,iface=veth-o");
  EXPECT_EQ(r.inside, "0000:03:00.1");
  EXPECT_EQ(r.rx_descriptors, 512U);
  EXPECT_EQ(r.tx_descriptors, 1024U);  // default
  EXPECT_EQ(r.packet_buffers, 2000000U);
  EXPECT_EQ(r.hugepages, boot_settings::hugepages_mode::no);
  EXPECT_EQ(r.memory_mb, 256U);
  EXPECT_EQ(r.file_prefix, "fw-1");
  EXPECT_EQ(r.eal_args, (std::vector<std::string>{"--log-level=lib.eal:debug"}));
}

TEST(Loader, ApplianceSettingsAndPerResourceTimeouts) {
  const load_result loaded = load(R"(
[appliance]
icmp_errors = "rules-only"
unprotected_traffic = "drop"
arp_nd = "drop"
  [appliance.conntrack]
  max_flows = 4096
  early_drop = false
  fragment_timeout = 5
  [appliance.timeouts]
  tcp_established = 7200
  udp = 40
  other = 100
  tcp_close = 3
[[resource]]
name = "a"
addresses = ["10.0.0.1"]
[[resource]]
name = "b"
addresses = ["10.0.0.2"]
timeouts = { tcp_established = 60, udp_stream = 60 }
)");
  const auto& m = ok(loaded);
  EXPECT_FALSE(m.appliance.icmp_errors_related);
  EXPECT_FALSE(m.appliance.unprotected_forward);
  EXPECT_FALSE(m.appliance.arp_nd_pass);
  EXPECT_EQ(loaded.boot.max_flows, 4096U);
  EXPECT_FALSE(loaded.boot.early_drop);
  EXPECT_EQ(loaded.boot.fragment_timeout, 5U);
  EXPECT_EQ(m.appliance.timeouts[timeout_class::tcp_established], 7200U);
  EXPECT_EQ(m.appliance.timeouts[timeout_class::tcp_close], 3U);
  EXPECT_EQ(m.appliance.timeouts[timeout_class::udp_stream], 180U);  // default
  const auto& a = m.resources[0].timeouts;
  const auto& b = m.resources[1].timeouts;
  EXPECT_EQ(a, m.appliance.timeouts);
  EXPECT_EQ(b[timeout_class::tcp_established], 60U);
  EXPECT_EQ(b[timeout_class::udp_stream], 60U);
  EXPECT_EQ(b[timeout_class::udp], 40U);  // the appliance's
  EXPECT_EQ(b[timeout_class::other], 100U);
}

TEST(Loader, ApplianceDefaultsAreTheCloudsAndLinuxs) {
  const load_result loaded = load("[[resource]]\nname = \"a\"\naddresses = [\"10.0.0.1\"]\n");
  const auto& m = ok(loaded);
  const flow_timeouts& t = m.resources[0].timeouts;
  EXPECT_EQ(t[timeout_class::tcp_established], 432000U);
  EXPECT_EQ(t[timeout_class::udp], 30U);
  EXPECT_EQ(t[timeout_class::udp_stream], 180U);
  EXPECT_EQ(t[timeout_class::other], 600U);
  EXPECT_EQ(t[timeout_class::tcp_syn_sent], 120U);
  EXPECT_EQ(t[timeout_class::tcp_syn_recv], 60U);
  EXPECT_EQ(t[timeout_class::tcp_fin_wait], 120U);
  EXPECT_EQ(t[timeout_class::tcp_time_wait], 120U);
  EXPECT_EQ(t[timeout_class::tcp_close], 10U);
  EXPECT_EQ(t[timeout_class::tcp_unreplied], 30U);
  EXPECT_TRUE(m.appliance.icmp_errors_related);
  // Fail closed (S9): traffic of no resource and other ethertypes dropped;
  // no mid-stream pickup; RA guard on.
  EXPECT_FALSE(m.appliance.unprotected_forward);
  EXPECT_FALSE(m.appliance.other_ethertypes_forward);
  EXPECT_FALSE(m.appliance.adopt_midstream);
  EXPECT_TRUE(m.appliance.ra_guard);
  EXPECT_TRUE(m.appliance.forward_multicast.empty());
  EXPECT_TRUE(m.appliance.arp_nd_pass);
  EXPECT_EQ(loaded.boot.max_flows, 1048576U);
  EXPECT_EQ(loaded.boot.max_fragmented_datagrams, 16384U);
  // A resource sits inside and may hold half the table by default.
  EXPECT_EQ(m.resources[0].side, port_side::inside);
  EXPECT_FALSE(m.resources[0].mac.has_value());
  EXPECT_EQ(m.appliance.resource_share(m.resources[0], loaded.boot.max_flows), 524288U);
}

TEST(Loader, ResourceSideMacAndShare) {
  const auto& loaded = load(R"(
[appliance]
other_ethertypes = "forward"
midstream = "adopt"
ra_guard = false
forward_multicast = ["224.0.0.251/32", "ff02::fb/128", "255.255.255.255/32"]
  [appliance.conntrack]
  max_flows = 100000
  max_flows_per_resource = 30000
  max_fragmented_datagrams = 1000
[[resource]]
name = "a"
addresses = ["10.0.0.1"]
side = "outside"
mac = "02:00:5E:10:00:01"
max_flows = 500
[[resource]]
name = "b"
addresses = ["10.0.0.2"]
mac = "02-00-5e-10-00-02"
)");
  const auto& m = ok(loaded);
  EXPECT_TRUE(m.appliance.other_ethertypes_forward);
  EXPECT_TRUE(m.appliance.adopt_midstream);
  EXPECT_FALSE(m.appliance.ra_guard);
  EXPECT_EQ(m.appliance.forward_multicast.size(), 3U);
  EXPECT_EQ(loaded.boot.max_fragmented_datagrams, 1000U);
  EXPECT_EQ(m.resources[0].side, port_side::outside);
  EXPECT_EQ(m.resources[0].mac, std::optional<std::uint64_t>{0x02005E100001ULL});
  EXPECT_EQ(m.resources[1].mac, std::optional<std::uint64_t>{0x02005E100002ULL});
  EXPECT_EQ(m.appliance.resource_share(m.resources[0], loaded.boot.max_flows), 500U);
  EXPECT_EQ(m.appliance.resource_share(m.resources[1], loaded.boot.max_flows), 30000U);
}

TEST(Loader, AnEmptyPolicyIsRefusedUnlessTheFileSaysSo) {
  for (const std::string_view text : {"", "\n# nothing here\n", "[[security_group]]\nid = \"g\"\n"}) {
    const load_result r = load(text);
    ASSERT_TRUE(r.ok());
    const auto refused = refuse_unintended_empty(*r.model);
    ASSERT_TRUE(refused.has_value()) << text;
    EXPECT_EQ(format(*refused).substr(0, 20), "t.toml:1:1: resource");
  }
  const load_result r = load("resource = []\n");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(refuse_unintended_empty(*r.model).has_value());
  const load_result one = load("[[resource]]\nname = \"a\"\naddresses = [\"10.0.0.1\"]\n");
  EXPECT_FALSE(refuse_unintended_empty(ok(one)).has_value());
}

TEST(Loader, PortsOnOtherProtocolsAreAWarningNotAnError) {
  const auto r = load(R"(
[[security_group]]
id = "g"
  [[security_group.ingress]]
  protocol = 132
  ports = "5000-5001"
  cidr = "10.0.0.0/8"
)");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r.diagnostics.size(), 1U);
  EXPECT_EQ(format(r.diagnostics[0]),
            "t.toml:6:11: warning: security_group[0].ingress[0].ports: ignored: protocol 132 has no ports, so "
            "every port matches");
}

TEST(Loader, ExplicitIdsAndDerivedIdsAreBothStable) {
  const auto a = load(
      "[[security_group]]\nid = \"g\"\n[[security_group.ingress]]\nprotocol = \"tcp\"\nports = 22\ncidr = "
      "\"10.0.0.0/8\"\n");
  const auto b = load(
      "# moved down\n\n[[security_group]]\nid = \"g\"\n[[security_group.ingress]]\ncidr = \"10.0.0.0/8\"\nports = "
      "22\nprotocol = \"tcp\"\n");
  EXPECT_EQ(ok(a).groups[0].ingress[0].id, ok(b).groups[0].ingress[0].id);
  EXPECT_EQ(ok(a).groups[0].ingress[0].id.substr(0, 4), "sgr-");
}

}  // namespace
}  // namespace sgfw::config
