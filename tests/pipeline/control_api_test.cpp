// The control API (sgfwctl's requests, docs/operations.md) on a running
// policy store: every verb with good and bad input.  A refused request
// changes nothing: not the policy the workers read, not the generation,
// not the file.  An accepted one is running, and in the file, when the
// reply comes; the file then reads back to the running policy.
#include "control/control_api.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "config/address_text.hpp"
#include "config/policy_check.hpp"
#include "config/rule_text.hpp"
#include "config/toml_loader.hpp"
#include "control/file_persist.hpp"
#include "test_policies.hpp"

namespace sgfw::cp {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

class ControlApi : public ::testing::Test {
 protected:
  void SetUp() override { start(testing::test_policy("web_server"), true); }
  void TearDown() override { fs::remove_all(dir_); }

  void start(const std::string& text, bool persist, std::function<void()> before_commit = {}) {
    api_.reset();
    store_ = std::make_unique<policy_store>();
    handle_ = std::make_unique<dp::policy_handle>(1);
    dir_ = fs::temp_directory_path() / ("sgfw-api-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    path_ = (dir_ / "policy.toml").string();
    std::ofstream(path_) << text;
    config::checked_policy first = config::read_policy_file(path_);
    ASSERT_TRUE(first.ok());
    const std::string first_text = first.text;
    ASSERT_TRUE(store_->set_first(std::move(first)));
    store_->start(*handle_, 1, 1U << 16, [](std::uint16_t) { return false; });
    api_ = std::make_unique<control_api>(*store_, control_settings{path_, persist, {}, {}, std::move(before_commit)},
                                         first_text);
  }

  json call(json request) { return api_->handle(request); }
  std::string file() const {
    std::string s;
    read_whole_file(path_, s);
    return s;
  }
  // A refusal with `code`, and nothing changed.
  void expect_refused(const json& request, const std::string& code, const std::string& field = "") {
    const std::uint64_t generation = store_->generation();
    const dp::compiled_policy* running = handle_->current();
    const std::string before = file();
    const json reply = call(request);
    ASSERT_TRUE(reply.contains("Error")) << request.dump() << " -> " << reply.dump();
    EXPECT_EQ(reply["Error"]["Code"], code) << request.dump() << " -> " << reply.dump();
    if (!field.empty()) {
      EXPECT_EQ(reply["Error"].value("Field", ""), field) << reply.dump();
    }
    EXPECT_EQ(store_->generation(), generation);
    EXPECT_EQ(handle_->current(), running);
    EXPECT_EQ(file(), before);
    EXPECT_EQ(api_->running_text(), before);
  }
  // Accepted, published, persisted, and the file is what runs.
  json expect_done(const json& request) {
    const std::uint64_t generation = store_->generation();
    const json reply = call(request);
    EXPECT_TRUE(reply.value("Return", false)) << request.dump() << " -> " << reply.dump();
    EXPECT_EQ(reply.value("PolicyGeneration", 0U), generation + 1);
    EXPECT_EQ(store_->generation(), generation + 1);
    EXPECT_EQ(handle_->current(), &store_->current());
    EXPECT_EQ(file(), api_->running_text());
    // The file reads back to the running rules, ids and all.
    const config::checked_policy again = config::check_policy(config::load_policy_text(file(), path_));
    EXPECT_TRUE(again.ok()) << file();
    if (again.ok()) {
      EXPECT_EQ(rule_ids(*again.model), rule_ids(store_->model()));
    }
    return reply;
  }
  static std::vector<std::string> rule_ids(const config::policy_model& m) {
    std::vector<std::string> ids;
    for (const auto& g : m.groups) {
      for (const auto* rules : {&g.ingress, &g.egress}) {
        for (const auto& r : *rules) ids.push_back(g.id + "/" + r.id);
      }
    }
    return ids;
  }
  std::size_t ingress_of(const std::string& group) {
    const auto g = store_->model().find_group(group);
    return g ? store_->model().groups[*g].ingress.size() : 0;
  }
  std::string verdict(const std::string& src, const std::string& dst, int port, const char* proto = "tcp") {
    const json r = call(
        {{"Action", "Explain"}, {"Protocol", proto}, {"Source", src}, {"Destination", dst}, {"DestinationPort", port}});
    return r.value("Verdict", r.dump());
  }

  std::unique_ptr<dp::policy_handle> handle_;
  std::unique_ptr<policy_store> store_;
  std::unique_ptr<control_api> api_;
  fs::path dir_;
  std::string path_;
};

json authorize(const char* group, const char* proto, const char* port, const char* cidr) {
  return {{"Action", "AuthorizeSecurityGroupIngress"},
          {"GroupId", group},
          {"Protocol", proto},
          {"Port", port},
          {"Cidr", cidr}};
}

TEST_F(ControlApi, AuthorizeAppliesAtOnceInBothFamiliesAndRevokeTakesItBack) {
  for (const auto& [cidr, src, dst] : {std::tuple{"198.51.100.0/24", "198.51.100.7", "10.0.1.10"},
                                       std::tuple{"2001:db8:9::/48", "2001:db8:9::7", "2001:db8:1::10"}}) {
    EXPECT_EQ(verdict(src, dst, 8080), "deny");
    const json r = expect_done(authorize("web", "tcp", "8080", cidr));
    ASSERT_TRUE(r["Changes"].contains("RulesAdded")) << r.dump();
    const std::string id = r["Changes"]["RulesAdded"][0]["SecurityGroupRuleId"];
    EXPECT_EQ(verdict(src, dst, 8080), "allow");
    EXPECT_EQ(verdict(src, dst, 8081), "deny");
    // Revoked by content: the same rule, found by what it says.
    const json back = expect_done({{"Action", "RevokeSecurityGroupIngress"},
                                   {"GroupId", "web"},
                                   {"Protocol", "tcp"},
                                   {"Port", 8080},
                                   {"Cidr", cidr}});
    EXPECT_EQ(back["Changes"]["RulesRemoved"][0]["SecurityGroupRuleId"], id) << back.dump();
    EXPECT_EQ(verdict(src, dst, 8080), "deny");
  }
  EXPECT_EQ(ingress_of("web"), 3U);
}

// Text someone else wrote goes into the file as data, never as TOML: a
// description that closes a multi-line string and adds an allow-all rule,
// one that starts with a newline, quotes, backslashes, CR LF, tabs,
// Unicode.  The file reads back to exactly the running policy.
TEST_F(ControlApi, DescriptionsCannotWriteTomlIntoTheFile) {
  const std::vector<std::string> nasty{
      "x\n'''\nid = 'g'\n[[security_group.ingress]]\nprotocol='-1'\ncidr='0.0.0.0/0'\ndescription = '''",
      "\nleading newline",
      "ends with '''",
      "quote \" and \\ backslash and \"\"\" three",
      "cr lf\r\nand tab\t.",
      "unicode: \u00e9\u00e8 \u2713",
  };
  for (std::size_t i = 0; i < nasty.size(); ++i) {
    expect_done({{"Action", "CreateSecurityGroup"}, {"GroupId", "g" + std::to_string(i)}, {"Description", nasty[i]}});
    expect_done({{"Action", "AuthorizeSecurityGroupIngress"},
                 {"GroupId", "web"},
                 {"Protocol", "tcp"},
                 {"Port", std::to_string(7000 + i)},
                 {"Cidr", "10.0.0.0/8"},
                 {"Description", nasty[i]}});
  }
  const config::checked_policy again = config::check_policy(config::load_policy_text(file(), path_));
  ASSERT_TRUE(again.ok()) << file();
  const config::policy_model& running = store_->model();
  ASSERT_EQ(again.model->groups.size(), running.groups.size());
  for (std::size_t g = 0; g < running.groups.size(); ++g) {
    EXPECT_EQ(again.model->groups[g].description, running.groups[g].description) << g;
    ASSERT_EQ(again.model->groups[g].ingress.size(), running.groups[g].ingress.size()) << g;
    for (std::size_t r = 0; r < running.groups[g].ingress.size(); ++r) {
      EXPECT_EQ(again.model->groups[g].ingress[r].description, running.groups[g].ingress[r].description);
    }
  }
  for (std::size_t i = 0; i < nasty.size(); ++i) {
    const auto g = running.find_group("g" + std::to_string(i));
    ASSERT_TRUE(g);
    EXPECT_EQ(running.groups[*g].description, nasty[i]);
    EXPECT_TRUE(running.groups[*g].ingress.empty()) << "a description became a rule";
  }
}

TEST_F(ControlApi, IpPermissionsInTheCloudsShapeAndRevokeById) {
  const json r = expect_done({{"Action", "AuthorizeSecurityGroupIngress"},
                              {"GroupId", "web"},
                              {"IpPermissions",
                               {{{"IpProtocol", "udp"},
                                 {"FromPort", 5000},
                                 {"ToPort", 5010},
                                 {"IpRanges", {{{"CidrIp", "198.51.100.0/24"}, {"Description", "media"}}}},
                                 {"Ipv6Ranges", {{{"CidrIpv6", "2001:db8:9::/48"}}}}}}}});
  ASSERT_EQ(r["Changes"]["RulesAdded"].size(), 2U) << r.dump();
  EXPECT_EQ(verdict("198.51.100.1", "10.0.1.10", 5005, "udp"), "allow");
  EXPECT_EQ(verdict("2001:db8:9::1", "fd00::10", 5010, "udp"), "allow");
  const json rules = call({{"Action", "DescribeSecurityGroupRules"}, {"GroupId", "web"}});
  std::vector<std::string> ids;
  for (const auto& x : rules["SecurityGroupRules"]) {
    if (x["IpProtocol"] == "udp") {
      ids.push_back(x["SecurityGroupRuleId"]);
      EXPECT_EQ(x["FromPort"], 5000);
      EXPECT_EQ(x["ToPort"], 5010);
      EXPECT_FALSE(x["IsEgress"].get<bool>());
    }
  }
  ASSERT_EQ(ids.size(), 2U);
  expect_done({{"Action", "RevokeSecurityGroupIngress"}, {"GroupId", "web"}, {"SecurityGroupRuleIds", ids}});
  EXPECT_EQ(verdict("198.51.100.1", "10.0.1.10", 5005, "udp"), "deny");
}

// describe-security-group-rules shows each rule's counts, found by the
// rule's index in the running policy: after a change that adds a rule
// before them, every rule still shows its own.
TEST_F(ControlApi, RuleCountsAreShownForEachRuleAndFollowItThroughChanges) {
  api_->set_rule_counts([](std::uint32_t i) {
    return dp::rule_totals{i * 10, i * 1000, i, i == 1 ? 0U : 1'764'851'116'000U + i};
  });
  const auto counts_by_id = [this] {
    std::map<std::string, json> out;
    const json reply = call({{"Action", "DescribeSecurityGroupRules"}});
    for (const auto& x : reply["SecurityGroupRules"]) {
      out[x["SecurityGroupRuleId"]] = x;
    }
    return out;
  };
  const auto before = counts_by_id();
  ASSERT_GE(before.size(), 3U);
  const dp::compiled_policy& policy = store_->current();
  for (std::uint32_t i = 1; i < policy.rules.size(); ++i) {
    if (!policy.rules[i].used) continue;
    const json& x = before.at(std::string(policy.rule_id(i)));
    EXPECT_EQ(x["Packets"], i * 10);
    EXPECT_EQ(x["Bytes"], i * 1000);
    EXPECT_EQ(x["FlowsOpened"], i);
    if (i == 1) {
      EXPECT_TRUE(x["LastHit"].is_null());
    } else {
      EXPECT_EQ(x["LastHit"], "2025-12-04T12:25:16.0" + std::string(i < 10 ? "0" : "") + std::to_string(i) + "Z");
    }
  }
  expect_done(authorize("web", "udp", "53", "192.0.2.0/24"));
  const auto after = counts_by_id();
  EXPECT_EQ(after.size(), before.size() + 1);
  for (const auto& [id, x] : before) EXPECT_EQ(after.at(id), x) << id;
}

TEST_F(ControlApi, BadRequestsAreRefusedWithTheCloudsCodesAndChangeNothing) {
  expect_refused(authorize("nope", "tcp", "22", "10.0.0.0/8"), "InvalidGroup.NotFound", "GroupId");
  // The same rule as web4 (its id aside): the cloud's duplicate.
  expect_refused(authorize("web", "tcp", "80,443", "0.0.0.0/0"), "InvalidParameterValue", "Port");
  json dup = {
      {"Action", "AuthorizeSecurityGroupIngress"},
      {"GroupId", "web"},
      {"IpPermissions",
       {{{"IpProtocol", "tcp"}, {"FromPort", 22}, {"ToPort", 22}, {"IpRanges", {{{"CidrIp", "192.0.2.100/32"}}}}}}}};
  expect_refused(dup, "InvalidPermission.Duplicate");
  expect_refused(authorize("web", "tcp", "22", "10.0.0.0/33"), "InvalidParameterValue", "Cidr");
  expect_refused(authorize("web", "tcp", "22", "2001:db8::/129"), "InvalidParameterValue", "Cidr");
  expect_refused(authorize("web", "tcp", "70000", "10.0.0.0/8"), "InvalidParameterValue", "Port");
  expect_refused(authorize("web", "bogus", "22", "10.0.0.0/8"), "InvalidParameterValue", "Protocol");
  expect_refused({{"Action", "RevokeSecurityGroupIngress"},
                  {"GroupId", "web"},
                  {"Protocol", "tcp"},
                  {"Port", 23},
                  {"Cidr", "0.0.0.0/0"}},
                 "InvalidPermission.NotFound");
  expect_refused(
      {{"Action", "RevokeSecurityGroupIngress"}, {"GroupId", "web"}, {"SecurityGroupRuleIds", {"web4", "sgr-nope"}}},
      "InvalidSecurityGroupRuleId.NotFound", "SecurityGroupRuleIds[1]");
  expect_refused({{"Action", "DeleteSecurityGroup"}, {"GroupId", "web"}}, "DependencyViolation");
  expect_refused({{"Action", "DeleteSecurityGroup"}, {"GroupId", "default"}}, "CannotDelete");
  expect_refused({{"Action", "DeleteSecurityGroup"}, {"GroupId", "nope"}}, "InvalidGroup.NotFound");
  expect_refused({{"Action", "CreateSecurityGroup"}, {"GroupId", "web"}}, "InvalidGroup.Duplicate");
  expect_refused({{"Action", "CreateResource"}, {"Name", "web-2"}, {"Addresses", {"10.0.1.10"}}},
                 "InvalidIPAddress.InUse", "Addresses[0]");
  expect_refused({{"Action", "DeleteResource"}, {"Name", "nope"}}, "InvalidResource.NotFound");
  expect_refused({{"Action", "ModifyResourceAttribute"}, {"Name", "web-1"}, {"Groups", {"nope"}}},
                 "InvalidGroup.NotFound");
  expect_refused({{"Action", "Frobnicate"}}, "InvalidAction", "Action");
  expect_refused({{"GroupId", "web"}}, "MissingParameter", "Action");
  expect_refused({{"Action", "CreateSecurityGroup"}, {"GroupId", "x"}, {"Colour", "red"}}, "UnknownParameter",
                 "Colour");
  expect_refused({{"Action", "CreateSecurityGroup"}, {"GroupId", 7}}, "InvalidParameterValue", "GroupId");
  expect_refused({{"Action", "CreateSecurityGroup"}, {"GroupId", "x"}, {"DryRun", "yes"}}, "InvalidParameterValue",
                 "DryRun");
}

TEST_F(ControlApi, TheRuleQuotaHoldsForChangesAsForFiles) {
  json perms = json::array();
  for (int p = 0; p < 58; ++p) {
    perms.push_back({{"IpProtocol", "tcp"},
                     {"FromPort", 1000 + p},
                     {"ToPort", 1000 + p},
                     {"IpRanges", {{{"CidrIp", "198.51.100.0/24"}}}}});
  }
  expect_refused({{"Action", "AuthorizeSecurityGroupIngress"}, {"GroupId", "web"}, {"IpPermissions", perms}},
                 "RulesPerSecurityGroupLimitExceeded");
  perms.erase(perms.end() - 1);  // 60: the limit itself is fine
  expect_done({{"Action", "AuthorizeSecurityGroupIngress"}, {"GroupId", "web"}, {"IpPermissions", perms}});
  expect_refused(authorize("web", "tcp", "9", "198.51.100.0/24"), "RulesPerSecurityGroupLimitExceeded");
}

TEST_F(ControlApi, MalformedLinesAreRefusedWithoutEffect) {
  const std::uint64_t generation = store_->generation();
  for (const char* line : {"not json", "{\"Action\": ", "[1,2]", "\"Reload\"", "{}", "\xff\xfe"}) {
    const json reply = json::parse(api_->handle_line(line));
    ASSERT_TRUE(reply.contains("Error")) << line;
  }
  EXPECT_EQ(json::parse(api_->handle_line("[1]"))["Error"]["Code"], "InvalidRequest");
  // Nested a hundred thousand deep: refused before parsing (copying or
  // printing such a value would take the stack), in a RequestId too.
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_EQ(json::parse(api_->handle_line(deep))["Error"]["Code"], "InvalidRequest");
  const std::string deep_id = R"({"Action":"DescribeStats","RequestId":)" + deep + "}";
  const json refused = json::parse(api_->handle_line(deep_id));
  EXPECT_EQ(refused["Error"]["Code"], "InvalidRequest");
  EXPECT_FALSE(refused.contains("RequestId"));
  // Brackets inside strings are text, not nesting.
  const json fine =
      json::parse(api_->handle_line(R"({"Action":"DescribeStats","RequestId":")" + std::string(100, '[') + R"("})"));
  EXPECT_FALSE(fine.contains("Error")) << fine.dump();
  EXPECT_EQ(store_->generation(), generation);
  // The request id comes back, to match replies to requests.
  const json r = json::parse(api_->handle_line(R"({"Action":"DescribeStats","RequestId":"abc-1"})"));
  EXPECT_EQ(r["RequestId"], "abc-1");
  EXPECT_EQ(r["PolicyGeneration"], generation);
}

TEST_F(ControlApi, DryRunSaysWhatWouldChangeAndChangesNothing) {
  json request = authorize("web", "tcp", "8443", "0.0.0.0/0");
  request["DryRun"] = true;
  const std::uint64_t generation = store_->generation();
  const std::string before = file();
  const json r = call(request);
  EXPECT_TRUE(r.value("DryRun", false)) << r.dump();
  EXPECT_EQ(r["Changes"]["RulesAdded"].size(), 1U);
  EXPECT_EQ(store_->generation(), generation);
  EXPECT_EQ(file(), before);
  EXPECT_EQ(verdict("198.51.100.1", "10.0.1.10", 8443), "deny");
  // A dry run of something wrong is refused the same way.
  json bad = authorize("web", "tcp", "8443", "0.0.0.0/40");
  bad["DryRun"] = true;
  expect_refused(bad, "InvalidParameterValue", "Cidr");
}

// A change reads only the groups it edited and takes the others from the
// running policy (config::group_reuse).  Whatever a sequence of changes
// does (rules in, rules out, groups created and deleted so that indices
// move, prefix lists resized, memberships moved, dry runs, refusals,
// reloads), the running model is the one a full read of the file gives.
std::string canonical(const config::policy_model& m) {
  std::ostringstream o;
  for (const auto& g : m.groups) {
    o << "group " << g.id << "|" << g.description << "|" << g.synthesised << g.egress_declared << "\n";
    for (const auto* rules : {&g.ingress, &g.egress}) {
      for (const auto& r : *rules) {
        o << "  " << r.id << "|" << r.derived_id << "|" << to_string(r.dir) << "|"
          << config::describe_protocol(r.protocol) << "|" << config::describe_ports(r) << "|" << r.icmp_type << "/"
          << r.icmp_code << "|" << config::describe_peer(m, r.remote) << "#" << r.remote.index() << "|" << r.description
          << "\n";
      }
    }
  }
  for (const auto& pl : m.prefix_lists) {
    o << "list " << pl.id << " " << pl.max_entries << " " << pl.entries.size() << "\n";
  }
  for (const auto& res : m.resources) {
    o << "resource " << res.name << "|" << res.description << "|" << res.audit << "|" << res.max_flows << "|"
      << static_cast<int>(res.side) << "|" << (res.established_flows ? static_cast<int>(*res.established_flows) : -1)
      << " timeouts";
    for (const auto t : res.timeouts.seconds) o << " " << t;
    o << " groups";
    for (const auto g : res.groups) o << " " << m.groups.at(g).id;
    o << " addresses";
    for (const auto& a : res.addresses) o << " " << config::to_string(a);
    o << "\n";
  }
  return o.str();
}

TEST_F(ControlApi, ChangesReadOnlyWhatTheyEditedAndRunWhatAFullReadGives) {
  // One change in eight fails to put its file in place after it was
  // published, and is undone: what runs next reads from what was undone to.
  bool fail_commit = false;
  int undone = 0;
  start(R"(
[[prefix_list]]
id = "pl-a"
address_family = "IPv4"
max_entries = 4
entries = [{ cidr = "198.51.100.0/24" }]

[[security_group]]
id = "web"
ingress = [{ protocol = "tcp", ports = 443, cidr = "0.0.0.0/0" },
           { protocol = "tcp", ports = 22, prefix_list = "pl-a" }]

[[security_group]]
id = "app"
ingress = [{ protocol = "tcp", ports = 8000, security_group = "web" }]
egress = []

[[security_group]]
id = "db"
ingress = [{ protocol = "tcp", ports = 5432, security_group = "app", id = "db-from-app" }]

[[resource]]
name = "web-1"
addresses = ["10.0.1.10", "2001:db8::10"]
security_groups = ["web"]

[[resource]]
name = "app-1"
addresses = ["10.0.2.10"]
security_groups = ["app", "db"]

[[resource]]
name = "lone-1"
addresses = ["10.0.3.10"]
)",
        true, [&] {
          if (fail_commit) throw std::runtime_error("the disk went away");
        });
  std::mt19937 rng(11);
  std::vector<std::string> groups{"web", "app", "db", "default"};
  const auto any_group = [&] { return groups[rng() % groups.size()]; };
  std::vector<json> authorized;
  int made = 0;
  for (int step = 0; step < 300; ++step) {
    json r;
    const bool egress = rng() % 3 == 0;
    const std::string verb = egress ? "AuthorizeSecurityGroupEgress" : "AuthorizeSecurityGroupIngress";
    const std::string port = std::to_string(1000 + rng() % 50);
    switch (rng() % 11) {
      case 0:
        r = {{"Action", verb},
             {"GroupId", any_group()},
             {"Protocol", "tcp"},
             {"Port", port},
             {"Cidr", rng() % 2 ? "203.0.113.0/24" : "2001:db8:77::/48"}};
        break;
      case 1:
        r = {{"Action", verb},
             {"GroupId", any_group()},
             {"Protocol", "udp"},
             {"Port", port},
             {"SourceGroup", any_group()}};
        break;
      case 2:
        r = {{"Action", verb}, {"GroupId", any_group()}, {"Protocol", "tcp"}, {"Port", port}, {"PrefixListId", "pl-a"}};
        break;
      case 3:
        if (!authorized.empty()) {
          const std::size_t k = rng() % authorized.size();
          r = authorized[k];
          std::string action = r["Action"];
          r["Action"] = "Revoke" + action.substr(std::string("Authorize").size());
          authorized.erase(authorized.begin() + static_cast<long>(k));
        }
        break;
      case 4: {
        const std::string id = "g" + std::to_string(made++);
        r = {{"Action", "CreateSecurityGroup"}, {"GroupId", id}};
        groups.push_back(id);
        break;
      }
      case 5:
        // One made here (deleted unless a rule names it), or one in use (refused).
        r = {{"Action", "DeleteSecurityGroup"},
             {"GroupId", groups.size() > 4 && rng() % 4 != 0 ? groups[4 + rng() % (groups.size() - 4)] : any_group()}};
        break;
      case 6:
        r = {{"Action", "ModifyManagedPrefixList"},
             {"PrefixListId", "pl-a"},
             {rng() % 2 ? "AddEntries" : "RemoveEntries",
              {{{"Cidr", "192.0.2." + std::to_string(rng() % 4 * 64) + "/26"}}}}};
        break;
      case 7:
        r = {{"Action", "ModifyManagedPrefixList"}, {"PrefixListId", "pl-a"}, {"MaxEntries", 4 + rng() % 3}};
        break;
      case 8:
        r = {{"Action", "ModifyResourceAttribute"}, {"Name", "app-1"}, {"Groups", {any_group(), any_group()}}};
        break;
      case 9:
        switch (rng() % 4) {
          case 0:
            r = {{"Action", "Reload"}};
            break;
          case 1:
            // A resource of no group listed: the default group's member.
            r = {{"Action", "CreateResource"},
                 {"Name", "r" + std::to_string(made++)},
                 {"Addresses", {"10.0.4." + std::to_string(made % 250 + 1)}}};
            if (rng() % 2) r["Groups"] = {any_group()};
            break;
          case 2:
            r = {{"Action", "DeleteResource"}, {"Name", "r" + std::to_string(rng() % static_cast<unsigned>(made + 1))}};
            break;
          default:
            r = {{"Action", "ModifyResourceAttribute"},
                 {"Name", "lone-1"},
                 {"Addresses", {"10.0.3." + std::to_string(rng() % 200 + 1)}}};
            break;
        }
        break;
      default:
        r = {{"Action", verb}, {"GroupId", any_group()}, {"Protocol", "tcp"},
             {"Port", port},   {"Cidr", "10.9.0.0/16"},  {"DryRun", rng() % 2 == 0}};
        break;
    }
    if (r.is_null()) continue;
    fail_commit = rng() % 8 == 0;
    const json reply = call(r);
    if (reply.contains("Error") && reply["Error"].value("Code", "") == "PolicyFile.WriteFailed") ++undone;
    if (reply.value("Return", false) && std::string(r["Action"]).starts_with("Authorize") &&
        !r.value("DryRun", false)) {
      authorized.push_back(r);
    }
    if (r["Action"] == "DeleteSecurityGroup" && reply.value("Return", false)) {
      std::erase(groups, std::string(r["GroupId"]));
    }
    const config::checked_policy full = config::check_policy(config::load_policy_text(file(), path_));
    ASSERT_TRUE(full.ok()) << file();
    ASSERT_EQ(canonical(store_->model()), canonical(*full.model))
        << "step " << step << ": " << r.dump() << " -> " << reply.dump();
  }
  EXPECT_GT(undone, 10);
}

// The file a change writes reads back to the running policy whatever
// shape the groups had in the file it started from: inline tables
// (`security_group = [{...}, {...}]`), none at all, or an explicit empty
// array, with tables before them; in both families.
TEST_F(ControlApi, FilesInEveryShapeOfGroupsAreWrittenSoThatTheyReadBack) {
  const auto reads_back = [this](const char* what) {
    const config::checked_policy full = config::check_policy(config::load_policy_text(file(), path_));
    ASSERT_TRUE(full.ok()) << what << ":\n" << file();
    EXPECT_EQ(canonical(store_->model()), canonical(*full.model)) << what;
  };
  const char* resources = R"(
[appliance]
unprotected_traffic = "drop"

[[resource]]
name = "web-1"
addresses = ["10.0.1.10", "2001:db8::10"]
)";
  // Inline groups, the first with rules of both families.
  start(
      std::string(
          R"(security_group = [{ id = "web", ingress = [{ protocol = "tcp", ports = 443, cidr = "0.0.0.0/0" }, { protocol = "tcp", ports = 443, cidr = "::/0" }] }, { id = "app" }]
)") + resources +
          "security_groups = [\"web\"]\n",
      true);
  expect_done(authorize("web", "tcp", "8443", "0.0.0.0/0"));
  reads_back("inline, one edited");
  expect_done(authorize("app", "tcp", "8443", "::/0"));
  expect_done({{"Action", "CreateSecurityGroup"}, {"GroupId", "db"}});
  expect_done(authorize("db", "udp", "53", "2001:db8::/32"));
  reads_back("inline, then a [[security_group]] added");
  // No groups at all (every resource on the default group): one made and deleted.
  start(resources, true);
  expect_done({{"Action", "CreateSecurityGroup"}, {"GroupId", "web"}});
  reads_back("none, one made");
  expect_done({{"Action", "DeleteSecurityGroup"}, {"GroupId", "web"}});
  reads_back("none, one made and deleted");
  expect_done(authorize("default", "tcp", "22", "2001:db8::/32"));
  expect_done(authorize("default", "tcp", "22", "10.0.0.0/8"));
  reads_back("the default group written in");
  // An explicit empty array: written back by a change to no group, then by one that writes the default in.
  start(std::string("security_group = []\n") + resources, true);
  expect_done({{"Action", "ModifyResourceAttribute"}, {"Name", "web-1"}, {"Addresses", {"10.0.1.11", "2001:db8::11"}}});
  reads_back("empty array, no group edited");
  expect_done(authorize("default", "tcp", "22", "10.0.0.0/8"));
  reads_back("empty array, the default group written in");
}

// Rule ids are unique policy-wide: a change to one group is checked
// against the ids of the groups it did not edit (which are not read again),
// and a malformed one is refused; in both families.
TEST_F(ControlApi, ARuleIdOfAnotherGroupIsRefusedThoughThatGroupIsNotReadAgain) {
  expect_done({{"Action", "CreateSecurityGroup"}, {"GroupId", "other"}});
  json named = authorize("other", "tcp", "8080", "10.0.0.0/8");
  named["RuleId"] = "office-http";
  expect_done(named);
  for (const char* cidr : {"192.0.2.0/24", "2001:db8::/32"}) {
    json again = authorize("web", "tcp", "8081", cidr);
    again["RuleId"] = "office-http";
    expect_refused(again, "InvalidSecurityGroupRuleId.Duplicate");
    again["RuleId"] = "not a valid id";
    expect_refused(again, "InvalidSecurityGroupRuleId.Malformed");
    again["RuleId"] = std::string("web-") + (cidr[0] == '1' ? "v4" : "v6");
    expect_done(again);
  }
}

// A group that a change did not edit is still checked again when what its
// checks depend on changed: a prefix list's max_entries counts against the
// quota of every group that names it (S4), in both families.
TEST_F(ControlApi, ResizingAPrefixListChecksTheQuotaOfGroupsItDidNotEdit) {
  start(R"(
[limits]
ingress_rules_per_group = 10

[[prefix_list]]
id = "pl-4"
address_family = "IPv4"
max_entries = 4
entries = [{ cidr = "198.51.100.0/24" }]

[[prefix_list]]
id = "pl-6"
address_family = "IPv6"
max_entries = 4
entries = [{ cidr = "2001:db8:1::/48" }]

[[security_group]]
id = "web"
ingress = [{ protocol = "tcp", ports = 22, prefix_list = "pl-4" },
           { protocol = "tcp", ports = 23, prefix_list = "pl-4" },
           { protocol = "tcp", ports = 22, prefix_list = "pl-6" },
           { protocol = "tcp", ports = 23, prefix_list = "pl-6" }]

[[resource]]
name = "web-1"
addresses = ["10.0.1.10", "2001:db8::10"]
security_groups = ["web"]
)",
        true);
  // A first change (read in full), then ones that do not edit web.
  expect_done(authorize("default", "tcp", "443", "0.0.0.0/0"));
  for (const char* list : {"pl-4", "pl-6"}) {
    expect_done({{"Action", "ModifyManagedPrefixList"}, {"PrefixListId", list}, {"MaxEntries", 5}});
    expect_refused({{"Action", "ModifyManagedPrefixList"}, {"PrefixListId", list}, {"MaxEntries", 6}},
                   "RulesPerSecurityGroupLimitExceeded");
  }
}

TEST_F(ControlApi, GroupsResourcesAndReferencesFollowChanges) {
  expect_done({{"Action", "CreateSecurityGroup"}, {"GroupId", "app"}, {"Description", "app tier"}});
  // app's members may reach web on 8000; app has no members yet.
  expect_done({{"Action", "AuthorizeSecurityGroupIngress"},
               {"GroupId", "web"},
               {"Protocol", "tcp"},
               {"Port", "8000"},
               {"SourceGroup", "app"}});
  EXPECT_EQ(verdict("10.0.2.5", "10.0.1.10", 8000), "deny");
  expect_done({{"Action", "CreateResource"}, {"Name", "app-1"}, {"Addresses", {"10.0.2.5"}}, {"Groups", {"app"}}});
  EXPECT_EQ(verdict("10.0.2.5", "10.0.1.10", 8000), "allow");
  // A group in use by a resource, or referenced by a rule, stays.
  expect_refused({{"Action", "DeleteSecurityGroup"}, {"GroupId", "app"}}, "DependencyViolation");
  // Membership moves the reference at once.
  expect_done({{"Action", "ModifyResourceAttribute"}, {"Name", "app-1"}, {"Groups", {"default"}}});
  EXPECT_EQ(verdict("10.0.2.5", "10.0.1.10", 8000), "deny");
  expect_done({{"Action", "ModifyResourceAttribute"}, {"Name", "app-1"}, {"Groups", {"app"}}});
  EXPECT_EQ(verdict("10.0.2.5", "10.0.1.10", 8000), "allow");
  expect_done({{"Action", "DeleteResource"}, {"Name", "app-1"}});
  EXPECT_EQ(verdict("10.0.2.5", "10.0.1.10", 8000), "deny");
  expect_refused({{"Action", "DeleteSecurityGroup"}, {"GroupId", "app"}}, "DependencyViolation");
  expect_done({{"Action", "RevokeSecurityGroupIngress"},
               {"GroupId", "web"},
               {"Protocol", "tcp"},
               {"Port", 8000},
               {"SourceGroup", "app"}});
  expect_done({{"Action", "DeleteSecurityGroup"}, {"GroupId", "app"}});
  const json groups = call({{"Action", "DescribeSecurityGroups"}});
  for (const auto& g : groups["SecurityGroups"]) EXPECT_NE(g["GroupId"], "app");
}

// Each reply's Changes names what the change added, removed and modified,
// whether the groups, resources and lists stay in their order or not.
TEST_F(ControlApi, ChangesNameEveryKindOfEdit) {
  const auto changes = [&](const json& request) {
    const json r = expect_done(request);
    return r.value("Changes", json::object());
  };
  json c = changes({{"Action", "CreateSecurityGroup"}, {"GroupId", "extra"}});
  EXPECT_EQ(c["GroupsAdded"], json::array({"extra"})) << c.dump();
  // Its default egress rules (S4) are new rules of a new group.
  EXPECT_EQ(c["RulesAdded"].size(), 2U) << c.dump();
  EXPECT_FALSE(c.contains("GroupsRemoved"));
  c = changes({{"Action", "AuthorizeSecurityGroupIngress"},
               {"GroupId", "extra"},
               {"Protocol", "udp"},
               {"Port", "53"},
               {"Cidr", "2001:db8::/32"},
               {"RuleId", "dns6"}});
  EXPECT_EQ(c["RulesAdded"], json::array({json{{"GroupId", "extra"}, {"SecurityGroupRuleId", "dns6"}}})) << c.dump();
  EXPECT_FALSE(c.contains("RulesRemoved")) << c.dump();
  EXPECT_FALSE(c.contains("GroupsAdded")) << c.dump();
  c = changes({{"Action", "CreateResource"},
               {"Name", "db-1"},
               {"Addresses", {"10.0.9.9", "2001:db8:9::9"}},
               {"Groups", {"extra"}}});
  EXPECT_EQ(c["ResourcesAdded"], json::array({"db-1"})) << c.dump();
  c = changes({{"Action", "ModifyResourceAttribute"}, {"Name", "db-1"}, {"Groups", {"extra", "web"}}});
  EXPECT_EQ(c["ResourcesModified"], json::array({"db-1"})) << c.dump();
  EXPECT_FALSE(c.contains("ResourcesAdded")) << c.dump();
  c = changes(
      {{"Action", "CreateManagedPrefixList"}, {"PrefixListId", "pl-a"}, {"AddressFamily", "IPv6"}, {"MaxEntries", 4}});
  EXPECT_EQ(c["PrefixListsAdded"], json::array({"pl-a"})) << c.dump();
  c = changes({{"Action", "ModifyManagedPrefixList"},
               {"PrefixListId", "pl-a"},
               {"AddEntries", {{{"Cidr", "2001:db8:5::/48"}}}}});
  EXPECT_EQ(c["PrefixListsModified"], json::array({"pl-a"})) << c.dump();
  c = changes({{"Action", "DeleteManagedPrefixList"}, {"PrefixListId", "pl-a"}});
  EXPECT_EQ(c["PrefixListsRemoved"], json::array({"pl-a"})) << c.dump();
  c = changes({{"Action", "DeleteResource"}, {"Name", "db-1"}});
  EXPECT_EQ(c["ResourcesRemoved"], json::array({"db-1"})) << c.dump();
  c = changes({{"Action", "DeleteSecurityGroup"}, {"GroupId", "extra"}});
  EXPECT_EQ(c["GroupsRemoved"], json::array({"extra"})) << c.dump();
  EXPECT_EQ(c["RulesRemoved"].size(), 3U) << c.dump();
  EXPECT_FALSE(c.contains("RulesAdded")) << c.dump();
}

TEST_F(ControlApi, PrefixListsChangeEveryRuleThatNamesThem) {
  expect_done({{"Action", "CreateManagedPrefixList"},
               {"PrefixListId", "pl-office"},
               {"AddressFamily", "IPv4"},
               {"MaxEntries", 4},
               {"Entries", {{{"Cidr", "198.51.100.0/24"}}}}});
  expect_done({{"Action", "AuthorizeSecurityGroupIngress"},
               {"GroupId", "web"},
               {"Protocol", "tcp"},
               {"Port", "9000"},
               {"PrefixListId", "pl-office"}});
  EXPECT_EQ(verdict("198.51.100.1", "10.0.1.10", 9000), "allow");
  EXPECT_EQ(verdict("203.0.113.1", "10.0.1.10", 9000), "deny");
  expect_done({{"Action", "ModifyManagedPrefixList"},
               {"PrefixListId", "pl-office"},
               {"AddEntries", {{{"Cidr", "203.0.113.0/24"}}}},
               {"RemoveEntries", {{{"Cidr", "198.51.100.0/24"}}}}});
  EXPECT_EQ(verdict("198.51.100.1", "10.0.1.10", 9000), "deny");
  EXPECT_EQ(verdict("203.0.113.1", "10.0.1.10", 9000), "allow");
  const json entries = call({{"Action", "GetManagedPrefixListEntries"}, {"PrefixListId", "pl-office"}});
  ASSERT_EQ(entries["Entries"].size(), 1U);
  EXPECT_EQ(entries["Entries"][0]["Cidr"], "203.0.113.0/24");
  expect_refused({{"Action", "ModifyManagedPrefixList"},
                  {"PrefixListId", "pl-office"},
                  {"RemoveEntries", {{{"Cidr", "192.0.2.0/24"}}}}},
                 "InvalidPrefixListModification", "RemoveEntries[0].Cidr");
  expect_refused({{"Action", "ModifyManagedPrefixList"},
                  {"PrefixListId", "pl-office"},
                  {"AddEntries", {{{"Cidr", "2001:db8::/32"}}}}},
                 "InvalidParameterCombination", "AddEntries");
  expect_refused({{"Action", "DeleteManagedPrefixList"}, {"PrefixListId", "pl-office"}}, "DependencyViolation");
}

TEST_F(ControlApi, AFileEditedByHandIsNeverOverwrittenUnasked) {
  std::ofstream(path_, std::ios::app) << "# an operator's edit\n";
  const std::string edited = file();
  const json r = call(authorize("web", "tcp", "8080", "0.0.0.0/0"));
  EXPECT_EQ(r["Error"]["Code"], "PolicyFile.ChangedSinceLoad") << r.dump();
  EXPECT_EQ(file(), edited);
  EXPECT_EQ(store_->generation(), 1U);
  // Reload takes the file's policy; then changes go on.
  EXPECT_TRUE(call({{"Action", "Reload"}}).value("Return", false));
  EXPECT_EQ(api_->running_text(), edited);
  expect_done(authorize("web", "tcp", "8080", "0.0.0.0/0"));
  // Save --force writes the running one over another edit.
  std::ofstream(path_, std::ios::app) << "# again\n";
  EXPECT_EQ(call({{"Action", "Save"}})["Error"]["Code"], "PolicyFile.ChangedSinceLoad");
  EXPECT_TRUE(call({{"Action", "Save"}, {"Force", true}}).value("Return", false));
  EXPECT_EQ(file(), api_->running_text());
}

// After a change the file is known by its stamp, not read on every
// change: an edit in place that keeps the size is still seen.
TEST_F(ControlApi, AHandEditAfterAChangeIsSeenThoughItKeepsTheSize) {
  expect_done(authorize("web", "tcp", "8080", "0.0.0.0/0"));
  expect_done(authorize("web", "tcp", "8081", "0.0.0.0/0"));   // the stamp of sgfw's own write: no refusal
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // past the file system's clock tick
  std::string text = file();
  const auto at = text.find("8081");
  ASSERT_NE(at, std::string::npos);
  {
    std::fstream f(path_, std::ios::in | std::ios::out);
    f.seekp(static_cast<std::streamoff>(at));
    f << "8082";
  }
  text.replace(at, 4, "8082");
  ASSERT_EQ(file(), text);
  const json r = call(authorize("web", "tcp", "9090", "0.0.0.0/0"));
  EXPECT_EQ(r["Error"]["Code"], "PolicyFile.ChangedSinceLoad") << r.dump();
  EXPECT_EQ(file(), text);
}

TEST_F(ControlApi, AReloadOfABadFileKeepsTheRunningPolicy) {
  std::ofstream(path_) << "[[resource]]\nname = \"x\"\naddresses = [\"10.0.0.1/33\"]\n";
  const json r = call({{"Action", "Reload"}});
  ASSERT_TRUE(r.contains("Error")) << r.dump();
  EXPECT_EQ(r["PolicyGeneration"], 1U);
  EXPECT_EQ(store_->generation(), 1U);
  EXPECT_EQ(verdict("198.51.100.1", "10.0.1.10", 80), "allow");
}

TEST_F(ControlApi, TheWatchSeesTheApisOwnWriteAsNoChange) {
  expect_done(authorize("web", "tcp", "8080", "0.0.0.0/0"));
  bool unchanged = false;
  const apply_result r = api_->reload(true, &unchanged);
  EXPECT_TRUE(unchanged);
  EXPECT_EQ(r.generation, 2U);
  EXPECT_EQ(store_->generation(), 2U);
}

TEST_F(ControlApi, WithoutPersistChangesRunAndTheFileStaysAsItWas) {
  start(testing::test_policy("web_server"), false);
  const std::string before = file();
  const json r = call(authorize("web", "tcp", "8080", "0.0.0.0/0"));
  EXPECT_TRUE(r.value("Return", false)) << r.dump();
  EXPECT_EQ(store_->generation(), 2U);
  EXPECT_EQ(file(), before);
  EXPECT_EQ(verdict("198.51.100.1", "10.0.1.10", 8080), "allow");
}

TEST_F(ControlApi, AFileThatCannotBeWrittenRefusesTheChange) {
  // The file's folder is gone: the change cannot be kept, so it is not made.
  fs::rename(dir_, dir_.string() + ".moved");
  const json r = call(authorize("web", "tcp", "8080", "0.0.0.0/0"));
  fs::rename(dir_.string() + ".moved", dir_);
  ASSERT_TRUE(r.contains("Error")) << r.dump();
  EXPECT_EQ(store_->generation(), 1U);
  EXPECT_EQ(verdict("198.51.100.1", "10.0.1.10", 8080), "deny");
}

// What would make the file's renames fail after the publish is found
// before it: a folder where FILE.prev goes refuses the change cleanly.
TEST_F(ControlApi, AFileThatCouldNotBePutInPlaceIsRefusedBeforeItRuns) {
  fs::create_directories(path_ + ".prev/in-the-way");
  expect_refused(authorize("web", "tcp", "8080", "0.0.0.0/0"), "PolicyFile.WriteFailed");
  EXPECT_EQ(verdict("198.51.100.1", "10.0.1.10", 8080), "deny");
  EXPECT_EQ(verdict("2001:db8:9::5", "2001:db8:1::10", 8080), "deny");
  // Nothing left beside the file.
  std::size_t entries = 0;
  for (const auto& e : fs::directory_iterator(dir_))
    entries += e.path().filename().string().find(".tmp") != std::string::npos;
  EXPECT_EQ(entries, 0U);
  fs::remove_all(path_ + ".prev");
  expect_done(authorize("web", "tcp", "8080", "0.0.0.0/0"));
}

TEST_F(ControlApi, DescribeShowsTheCloudsShapes) {
  const json g = call({{"Action", "DescribeSecurityGroups"}, {"GroupIds", {"web"}}});
  ASSERT_EQ(g["SecurityGroups"].size(), 1U) << g.dump();
  const json& web = g["SecurityGroups"][0];
  EXPECT_EQ(web["GroupId"], "web");
  // One permission per port range, as the cloud lists them.
  EXPECT_EQ(web["IpPermissions"].size(), 5U) << web.dump();
  EXPECT_FALSE(web["IpPermissionsEgress"].empty());  // the default egress, all out
  EXPECT_EQ(call({{"Action", "DescribeSecurityGroups"}, {"GroupIds", {"nope"}}})["Error"]["Code"],
            "InvalidGroup.NotFound");
  const json res = call({{"Action", "DescribeResources"}});
  ASSERT_EQ(res["Resources"].size(), 1U);
  const json stats = call({{"Action", "DescribeStats"}});
  EXPECT_EQ(stats["PolicyGeneration"], 1U);
  // 3 ingress + the default egress in both families, for web and the default group.
  EXPECT_EQ(stats["Rules"].get<int>(), 8);
}

}  // namespace
}  // namespace sgfw::cp
