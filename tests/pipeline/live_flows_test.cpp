// The control API over running workers: describe-flows and explain see the
// flows the workers hold (worker/flow_dump.hpp), and a change with
// EstablishedFlows or a resource's Mode acts on them.  Requests run on a
// thread of their own while the test's thread turns the workers, as the
// control thread and the worker cores do in the appliance: a change's reply
// comes once every worker has taken the new policy.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <string>
#include <thread>

#include "control/control_api.hpp"
#include "pipeline.hpp"
#include "test_policies.hpp"

namespace sgfw::testing {
namespace {

using json = nlohmann::json;
using dp::drop_reason;
namespace flag = dp::tcp_flag;

struct family_case {
  const char* name;
  const char* server;  // web-1
  const char* client;  // anyone
  const char* admin;   // SSH allowed (IPv4 only in the policy)
  const char* rule;    // the rule that lets the client in
};

const family_case k_families[] = {
    {"ipv4", "10.0.1.10", "203.0.113.5", "192.0.2.100", "web4"},
    {"ipv6", "2001:db8:1::10", "2001:db8:9::5", "192.0.2.100", "web6"},
};

class LiveFlows : public ::testing::TestWithParam<family_case> {
 protected:
  LiveFlows()
      : p_(test_policy("web_server"), {.flow_counters = true}),
        api_(p_.store(), cp::control_settings{"unused.toml", false, {}, {}}, test_policy("web_server")) {
    api_.set_flows([this](const dp::flow_query& q, std::size_t limit) {
      const auto dumps = p_.dumps();
      return cp::gather_flows(dumps, q, limit, std::chrono::seconds(5),
                              [] { std::this_thread::sleep_for(std::chrono::microseconds(50)); });
    });
  }
  const family_case& f() const { return GetParam(); }

  // A request on its own thread while this one turns the workers.
  json call(const json& request) {
    auto reply = std::async(std::launch::async, [&] { return api_.handle(request); });
    while (reply.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready) p_.run(1);
    return reply.get();
  }
  void connect(const char* from, std::uint16_t port, std::uint16_t to_port) {
    const char* to = std::string_view(from).find(':') == std::string_view::npos ? "10.0.1.10" : f().server;
    ASSERT_EQ(p_.pass(side::outside, tcp(from, port, to, to_port, flag::syn, 100)), 1U);
    ASSERT_EQ(p_.pass(side::inside, tcp(to, to_port, from, port, flag::syn | flag::ack, 900, 101)), 1U);
    ASSERT_EQ(p_.pass(side::outside, tcp(from, port, to, to_port, flag::ack, 101, 901)), 1U);
  }

  pipeline p_;
  cp::control_api api_;
};

TEST_P(LiveFlows, DescribeFlowsShowsStateTimeLeftCountsAndRule) {
  connect(f().client, 40000, 80);
  connect(f().client, 40001, 443);
  const json all = call({{"Action", "DescribeFlows"}, {"Resource", "web-1"}});
  ASSERT_EQ(all["FlowCount"], 2) << all.dump();
  ASSERT_EQ(all["Flows"].size(), 2U);
  const json& flow = all["Flows"][0];
  EXPECT_EQ(flow["Resource"], "web-1");
  EXPECT_EQ(flow["Protocol"], "tcp");
  EXPECT_EQ(flow["LocalAddress"], f().server);
  EXPECT_EQ(flow["RemoteAddress"], f().client);
  EXPECT_EQ(flow["LocalPort"], 80);
  EXPECT_EQ(flow["RemotePort"], 40000);
  EXPECT_EQ(flow["Direction"], "ingress");
  EXPECT_EQ(flow["State"], "tcp_established");
  EXPECT_EQ(flow["Tracked"], false);  // open to the world with egress all: untracked (S8)
  EXPECT_EQ(flow["SecurityGroupRuleId"], f().rule);
  EXPECT_EQ(flow["GroupId"], "web");
  EXPECT_EQ(flow["PacketsOriginal"], 2);  // SYN, ACK
  EXPECT_EQ(flow["PacketsReply"], 1);     // SYN-ACK
  EXPECT_GT(flow["BytesOriginal"].get<std::uint64_t>(), flow["BytesReply"].get<std::uint64_t>());
  EXPECT_NEAR(flow["TimeLeftSeconds"].get<double>(), 432000, 1);

  // Each filter narrows.
  EXPECT_EQ(call({{"Action", "DescribeFlows"}, {"Port", 443}})["FlowCount"], 1);
  EXPECT_EQ(call({{"Action", "DescribeFlows"}, {"Port", 22}})["FlowCount"], 0);
  EXPECT_EQ(call({{"Action", "DescribeFlows"}, {"Protocol", "udp"}})["FlowCount"], 0);
  EXPECT_EQ(call({{"Action", "DescribeFlows"}, {"Address", f().client}})["FlowCount"], 2);
  EXPECT_EQ(call({{"Action", "DescribeFlows"}, {"Address", f().server}})["FlowCount"], 2);
  EXPECT_EQ(call({{"Action", "DescribeFlows"}, {"Address", "198.51.100.1"}})["FlowCount"], 0);
  EXPECT_EQ(call({{"Action", "DescribeFlows"}, {"State", {"tcp_syn_sent", "udp"}}})["FlowCount"], 0);
  EXPECT_EQ(call({{"Action", "DescribeFlows"}, {"State", "tcp_established"}})["FlowCount"], 2);
  const json one = call({{"Action", "DescribeFlows"}, {"Limit", 1}});
  EXPECT_EQ(one["Flows"].size(), 1U);
  EXPECT_EQ(one["FlowCount"], 2);
  EXPECT_EQ(one["Truncated"], true);

  // A FIN moves the state; time left follows.
  const char* to = f().server;
  ASSERT_EQ(p_.pass(side::outside, tcp(f().client, 40000, to, 80, flag::fin | flag::ack, 101, 901)), 1U);
  const json closing = call({{"Action", "DescribeFlows"}, {"Port", 80}});
  EXPECT_EQ(closing["Flows"][0]["State"], "tcp_fin_wait");
  EXPECT_NEAR(closing["Flows"][0]["TimeLeftSeconds"].get<double>(), 120, 1);
}

TEST_P(LiveFlows, BadFiltersAreRefusedByName) {
  const auto refused = [&](const json& r, const char* field) {
    const json reply = call(r);
    ASSERT_TRUE(reply.contains("Error")) << reply.dump();
    EXPECT_EQ(reply["Error"]["Field"], field) << reply.dump();
  };
  refused({{"Action", "DescribeFlows"}, {"Resource", "nope"}}, "Resource");
  refused({{"Action", "DescribeFlows"}, {"Address", "10.0.0.300"}}, "Address");
  refused({{"Action", "DescribeFlows"}, {"Port", 70000}}, "Port");
  refused({{"Action", "DescribeFlows"}, {"Port", "80"}}, "Port");
  refused({{"Action", "DescribeFlows"}, {"Protocol", "sctp-ish"}}, "Protocol");
  refused({{"Action", "DescribeFlows"}, {"State", "ESTABLISHED!"}}, "State");
  refused({{"Action", "DescribeFlows"}, {"Limit", 0}}, "Limit");
  refused({{"Action", "DescribeFlows"}, {"Limit", 10001}}, "Limit");
  refused({{"Action", "DescribeFlows"}, {"Bogus", 1}}, "Bogus");
}

// explain says whether a flow exists for the packet, and in which state.
TEST_P(LiveFlows, ExplainShowsTheFlowOfThePacket) {
  const json ask{{"Action", "Explain"}, {"Source", f().client},  {"Destination", f().server}, {"Protocol", "tcp"},
                 {"SourcePort", 40000}, {"DestinationPort", 80}, {"Direction", "ingress"}};
  json reply = call(ask);
  ASSERT_EQ(reply["Checks"].size(), 1U) << reply.dump();
  EXPECT_TRUE(reply["Checks"][0]["Flow"].is_null()) << reply.dump();
  connect(f().client, 40000, 80);
  reply = call(ask);
  EXPECT_EQ(reply["Verdict"], "allow");
  EXPECT_EQ(reply["Checks"][0]["Flow"]["State"], "tcp_established") << reply.dump();
  EXPECT_GT(reply["Checks"][0]["Flow"]["TimeLeftSeconds"].get<double>(), 431000);
  // The answer's direction names the same flow.
  json back = ask;
  back["Source"] = f().server;
  back["Destination"] = f().client;
  back["SourcePort"] = 80;
  back["DestinationPort"] = 40000;
  back["Direction"] = "egress";
  EXPECT_EQ(call(back)["Checks"][0]["Flow"]["RemotePort"], 40000);
}

// Revoke by the API: keep lets the admin's SSH go on, revalidate ends it.
TEST_P(LiveFlows, RevokeKeepsOrRevalidatesAsAsked) {
  connect(f().admin, 50000, 22);
  const json bad = call({{"Action", "RevokeSecurityGroupIngress"},
                         {"GroupId", "web"},
                         {"SecurityGroupRuleIds", {"admin-ssh"}},
                         {"EstablishedFlows", "sometimes"}});
  EXPECT_EQ(bad["Error"]["Field"], "EstablishedFlows") << bad.dump();
  const json kept = call({{"Action", "RevokeSecurityGroupIngress"},
                          {"GroupId", "web"},
                          {"SecurityGroupRuleIds", {"admin-ssh"}},
                          {"EstablishedFlows", "keep"}});
  ASSERT_TRUE(kept.value("Return", false)) << kept.dump();
  EXPECT_EQ(p_.pass(side::outside, tcp(f().admin, 50000, "10.0.1.10", 22, flag::ack, 101, 901)), 1U);
  json flows = call({{"Action", "DescribeFlows"}, {"Port", 22}});
  ASSERT_EQ(flows["FlowCount"], 1);
  EXPECT_EQ(flows["Flows"][0]["RuleRemoved"], true) << flows.dump();  // its rule is gone, the flow is not
  // Authorized again (a new rule) and revoked with revalidate: cut.
  ASSERT_TRUE(call({{"Action", "AuthorizeSecurityGroupIngress"},
                    {"GroupId", "web"},
                    {"Protocol", "tcp"},
                    {"Port", "22"},
                    {"Cidr", "192.0.2.100/32"},
                    {"RuleId", "ssh-again"}})
                  .value("Return", false));
  connect(f().admin, 50001, 22);
  const json cut = call({{"Action", "RevokeSecurityGroupIngress"},
                         {"GroupId", "web"},
                         {"SecurityGroupRuleIds", {"ssh-again"}},
                         {"EstablishedFlows", "revalidate"}});
  ASSERT_TRUE(cut.value("Return", false)) << cut.dump();
  EXPECT_EQ(p_.pass(side::outside, tcp(f().admin, 50001, "10.0.1.10", 22, flag::ack, 101, 901)), 0U);
  EXPECT_EQ(p_.pass(side::outside, tcp(f().admin, 50000, "10.0.1.10", 22, flag::ack, 101, 901)), 0U);
  EXPECT_EQ(p_.dropped(drop_reason::revalidate_cut), 2U);
}

// Audit mode by the API: what enforce drops passes, is counted, and its
// flow says so.
TEST_P(LiveFlows, AuditModeByModifyResourceAttribute) {
  const auto ssh_syn = [&](std::uint16_t port) {
    return p_.pass(side::outside, tcp(f().client, port, f().server, 22, flag::syn, 100));
  };
  EXPECT_EQ(ssh_syn(41000), 0U);
  const json bad = call({{"Action", "ModifyResourceAttribute"}, {"Name", "web-1"}, {"Mode", "observe"}});
  EXPECT_EQ(bad["Error"]["Field"], "Mode") << bad.dump();
  ASSERT_TRUE(
      call({{"Action", "ModifyResourceAttribute"}, {"Name", "web-1"}, {"Mode", "audit"}}).value("Return", false));
  EXPECT_EQ(call({{"Action", "DescribeResources"}})["Resources"][0]["Mode"], "audit");
  EXPECT_EQ(ssh_syn(41001), 1U);
  EXPECT_EQ(p_.total(&dp::worker_counters::audit_would_deny), 1U);
  const json flows = call({{"Action", "DescribeFlows"}, {"Port", 22}});
  ASSERT_EQ(flows["FlowCount"], 1) << flows.dump();
  EXPECT_EQ(flows["Flows"][0]["Audit"], "would-deny");
  // Back to enforce, revalidating: the audit flow ends, new ones are dropped.
  ASSERT_TRUE(call({{"Action", "ModifyResourceAttribute"},
                    {"Name", "web-1"},
                    {"Mode", "enforce"},
                    {"EstablishedFlows", "revalidate"}})
                  .value("Return", false));
  EXPECT_EQ(p_.pass(side::inside, tcp(f().server, 22, f().client, 41001, flag::syn | flag::ack, 900, 101)), 0U);
  EXPECT_EQ(ssh_syn(41002), 0U);
  EXPECT_EQ(call({{"Action", "DescribeStats"}})["PolicyGeneration"], 3);
}

// A change is published before its file is flushed and put in place (the
// new rules do not wait for the disk).  When that last step fails, the
// change is undone: the previous policy runs again and the flows the
// undone rule let in meanwhile are judged again by it, and cut.
TEST_P(LiveFlows, AChangeWhoseFileCannotBePutInPlaceIsUndoneWithItsFlows) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("sgfw-undo-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string path = (dir / "policy.toml").string();
  std::ofstream(path) << test_policy("web_server");
  const std::string before = test_policy("web_server");
  std::atomic<int> step{0};  // 1: published, its file not yet in place; 2: go on
  cp::control_settings settings{path, true, {}, {}};
  settings.before_commit = [&] {
    // The file's place is taken by a folder: neither FILE.prev nor the rename can be made.
    fs::remove(path);
    fs::create_directories(path + "/in-the-way");
    step = 1;
    while (step != 2) std::this_thread::sleep_for(std::chrono::microseconds(50));
  };
  cp::control_api api(p_.store(), settings, before);
  const bool v6 = std::string_view(f().client).find(':') != std::string_view::npos;
  const json request{
      {"Action", "AuthorizeSecurityGroupIngress"},           {"GroupId", "web"},  {"Protocol", "tcp"}, {"Port", "8080"},
      {"Cidr", v6 ? "2001:db8:9::5/128" : "203.0.113.5/32"}, {"RuleId", "undone"}};
  const std::uint64_t generation = p_.store().generation();
  auto reply = std::async(std::launch::async, [&] { return api.handle(request); });
  while (reply.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready) {
    p_.run(1);
    if (step == 1) {
      // The new rule runs: a connection to 8080 opens (a tracked flow).
      connect(f().client, 42000, 8080);
      step = 2;
    }
  }
  const json r = reply.get();
  ASSERT_EQ(step, 2) << r.dump();
  ASSERT_TRUE(r.contains("Error")) << r.dump();
  EXPECT_EQ(r["Error"]["Code"], "PolicyFile.WriteFailed");
  EXPECT_NE(r["Error"]["Message"].get<std::string>().find("undone"), std::string::npos) << r.dump();
  // Published, then undone: two generations on, the previous rules running.
  EXPECT_EQ(r["PolicyGeneration"], generation + 2);
  EXPECT_EQ(p_.store().generation(), generation + 2);
  const auto g = p_.store().model().find_group("web");
  ASSERT_TRUE(g);
  for (const auto& rule : p_.store().model().groups[*g].ingress) EXPECT_NE(rule.id, "undone");
  const char* to = v6 ? f().server : "10.0.1.10";
  EXPECT_EQ(p_.pass(side::outside, tcp(f().client, 42000, to, 8080, flag::ack, 101, 901)), 0U);
  EXPECT_EQ(p_.dropped(drop_reason::revalidate_cut), 1U);
  EXPECT_EQ(p_.pass(side::outside, tcp(f().client, 42001, to, 8080, flag::syn, 100)), 0U);
  // Flows the previous rules allow were judged again too, and go on.
  connect(f().client, 42002, 80);
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Families, LiveFlows, ::testing::ValuesIn(k_families),
                         [](const auto& p) { return std::string(p.param.name); });

}  // namespace
}  // namespace sgfw::testing
