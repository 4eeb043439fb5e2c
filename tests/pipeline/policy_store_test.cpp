// The policy store, the running policy's one writer: a whole new model or
// an edit of the running one goes validate -> compile -> publish, and one
// with any error changes nothing (model, generation, what workers read).
// An edit's errors name the model's field and carry the cloud's code, as
// the control API will report them.
#include "appliance/policy_store.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "config/policy_check.hpp"
#include "test_policies.hpp"

namespace sgfw::cp {
namespace {

// TCP `port` from anywhere (IPv4).
config::rule tcp_in(std::uint16_t port) {
  config::rule r;
  r.dir = direction::ingress;
  r.protocol = {false, ip_proto::tcp};
  r.ports = {{port, port}};
  r.remote = net::cidr::any(net::family::ipv4);
  return r;
}

class PolicyStore : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(store_.set_first(
        config::check_policy(config::load_policy_text(testing::test_policy("web_server"), "web.toml"))));
    store_.start(handle_, 1, 1U << 16, [](std::uint16_t) { return false; });
    ASSERT_EQ(store_.generation(), 1U);
    ASSERT_EQ(handle_.current(), &store_.current());
  }
  // The running policy as workers see it: unchanged unless published.
  void expect_unchanged(const apply_result& r, std::uint64_t generation, std::size_t rules) {
    EXPECT_FALSE(r.published);
    EXPECT_EQ(r.generation, generation);
    EXPECT_EQ(store_.generation(), generation);
    EXPECT_EQ(handle_.current(), &store_.current());
    EXPECT_EQ(store_.current().generation, generation);
    EXPECT_EQ(store_.model().groups[0].ingress.size(), rules);
  }
  static bool has(const apply_result& r, const std::string& text) {
    return std::any_of(r.errors.begin(), r.errors.end(),
                       [&](const std::string& e) { return e.find(text) != std::string::npos; });
  }

  dp::policy_handle handle_{1};
  policy_store store_;
};

TEST_F(PolicyStore, AnEditIsValidatedCompiledAndPublished) {
  const apply_result r =
      store_.apply_edit([](config::policy_model& m) { m.groups[0].ingress.push_back(tcp_in(8080)); }, "api");
  ASSERT_TRUE(r.published) << (r.errors.empty() ? "" : r.errors[0]);
  EXPECT_EQ(r.generation, 2U);
  EXPECT_EQ(handle_.current(), &store_.current());
  EXPECT_EQ(store_.current().generation, 2U);
  ASSERT_EQ(store_.model().groups[0].ingress.size(), 4U);
  // Normalised as any model: the new rule has its derived id.
  EXPECT_EQ(store_.model().groups[0].ingress[3].id.rfind("sgr-", 0), 0U);
  store_.reclaim();
  EXPECT_EQ(store_.retired(), 0U);  // no worker reads the old one
}

TEST_F(PolicyStore, AnEditWithAnErrorChangesNothingAndSaysWhereAndWhy) {
  // web4 again: the cloud's InvalidPermission.Duplicate.
  apply_result r =
      store_.apply_edit([](config::policy_model& m) { m.groups[0].ingress.push_back(m.groups[0].ingress[0]); }, "api");
  expect_unchanged(r, 1, 3);
  EXPECT_TRUE(has(r, "api: security_group[web].ingress[3].id: duplicate rule id 'web4'")) << r.errors[0];
  // Without its id it is the same rule all the same.
  r = store_.apply_edit(
      [](config::policy_model& m) {
        config::rule copy = m.groups[0].ingress[0];
        copy.id.clear();
        copy.derived_id = true;
        m.groups[0].ingress.push_back(copy);
      },
      "api");
  expect_unchanged(r, 1, 3);
  EXPECT_TRUE(has(r,
                  "api: security_group[web].ingress[3]: duplicate rule: same protocol, ports and peer as the rule at "
                  "security_group[web].ingress[0] [InvalidPermission.Duplicate]"))
      << r.errors[0];
  // A second resource claiming web-1's address: InvalidIPAddress.InUse.
  r = store_.apply_edit(
      [](config::policy_model& m) {
        config::resource other = m.resources[0];
        other.name = "web-2";
        m.resources.push_back(other);
      },
      "api");
  expect_unchanged(r, 1, 3);
  EXPECT_TRUE(has(r,
                  "resource[web-2].addresses[0]: address 10.0.1.10 already belongs to resource 'web-1' "
                  "(resource[web-1].addresses[0]); an address has one owner [InvalidIPAddress.InUse]"))
      << r.errors[0];
  // Removing every resource is what a cut-off source looks like.
  r = store_.apply_edit([](config::policy_model& m) { m.resources.clear(); }, "api");
  expect_unchanged(r, 1, 3);
  EXPECT_TRUE(has(r, "[Policy.NoResources]"));
  // And then a good edit still applies, as generation 2.
  r = store_.apply_edit([](config::policy_model& m) { m.groups[0].ingress.pop_back(); }, "api");
  EXPECT_TRUE(r.published);
  EXPECT_EQ(store_.generation(), 2U);
}

TEST_F(PolicyStore, ABadFileChangesNothing) {
  const apply_result r = store_.apply(
      config::check_policy(config::load_policy_text("[[security_group]]\nid = 7\n", "web.toml")), "web.toml");
  expect_unchanged(r, 1, 3);
  EXPECT_TRUE(has(r, "web.toml:2:6: security_group[0].id"));
}

}  // namespace
}  // namespace sgfw::cp
