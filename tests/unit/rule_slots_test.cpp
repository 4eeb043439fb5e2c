// rule_slots: a rule keeps its global index across policies; a removed
// rule's index is reused only late, and never while a live rule holds it.
#include "compiler/rule_slots.hpp"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <string>
#include <tuple>

#include "compiler/compiler.hpp"

namespace sgfw::cp {
namespace {

config::rule make_rule(const std::string& id) {
  config::rule r;
  r.id = id;
  r.derived_id = false;
  r.protocol.all = true;
  r.remote = net::cidr{};
  return r;
}

config::policy_model model_with(const std::vector<std::string>& ingress_ids) {
  config::policy_model m;
  config::security_group g;
  g.id = "g";
  for (const auto& id : ingress_ids) g.ingress.push_back(make_rule(id));
  g.egress.push_back(make_rule("out"));
  m.groups.push_back(g);
  return m;
}

TEST(RuleSlots, RulesKeepTheirIndexWhateverChangesAroundThem) {
  rule_slots s;
  const auto first = s.assign(model_with({"a", "b"}));  // a, b, out
  ASSERT_EQ(first.size(), 3U);
  EXPECT_EQ(std::set<std::uint32_t>(first.begin(), first.end()).size(), 3U);
  EXPECT_EQ(std::count(first.begin(), first.end(), 0U), 0);  // 0 is no rule
  // A rule inserted before them moves none of them.
  const auto second = s.assign(model_with({"new", "a", "b"}));
  EXPECT_EQ(second[1], first[0]);
  EXPECT_EQ(second[2], first[1]);
  EXPECT_EQ(second[3], first[2]);
  EXPECT_EQ(std::set<std::uint32_t>(second.begin(), second.end()).size(), 4U);
  // The same id in the other direction is another rule.
  config::policy_model m = model_with({"out"});
  const auto third = s.assign(m);
  EXPECT_NE(third[0], third[1]);
}

TEST(RuleSlots, RemovedIndicesAreReusedLateAndNeverTwiceAtOnce) {
  rule_slots s;
  std::set<std::uint32_t> removed;
  const auto first = s.assign(model_with({"a"}));
  removed.insert(first[0]);
  // Churn: each policy replaces the one rule.  No index that a removed
  // rule held comes back before thousands of changes.
  for (int i = 0; i < 3000; ++i) {
    const auto next = s.assign(model_with({"r" + std::to_string(i)}));
    EXPECT_EQ(removed.count(next[0]), 0U) << i;
    removed.insert(next[0]);
  }
  // ... and then the space stops growing: indices come back, oldest first.
  // reused() names exactly the indices given again (their old rules'
  // counts are not the new rules').
  std::uint32_t top = s.limit();
  std::size_t reused = 0;
  for (int i = 0; i < 10000; ++i) {
    const std::uint32_t before = s.limit();
    const auto next = s.assign(model_with({"x" + std::to_string(i)}));
    const bool fresh = s.limit() != before;
    ASSERT_EQ(s.reused().size(), fresh ? 0U : 1U) << i;
    if (!fresh) {
      EXPECT_EQ(s.reused()[0], next[0]);
      EXPECT_EQ(removed.count(next[0]), 1U);
      ++reused;
    }
    removed.insert(next[0]);
  }
  EXPECT_GT(reused, 5000U);
  EXPECT_LE(s.limit(), top + 4096 + 8);
  // Whatever comes back, the live rules never share one.
  for (int i = 0; i < 50; ++i) {
    std::vector<std::string> ids;
    for (int k = 0; k < 100; ++k) ids.push_back("y" + std::to_string(i * 37 + k));
    const auto v = s.assign(model_with(ids));
    EXPECT_EQ(std::set<std::uint32_t>(v.begin(), v.end()).size(), v.size());
  }
}

// The compiler places each rule at its index and names it from there.
TEST(RuleSlots, CompiledPolicyNamesRulesByTheirStableIndex) {
  rule_slots s;
  s.assign(model_with({"a", "b"}));
  const config::policy_model m = model_with({"c", "b"});
  const auto indices = s.assign(m);
  compile_options o;
  o.rule_slots = &indices;
  const dp::compiled_policy p = compile(m, o);
  EXPECT_EQ(p.rule_id(indices[0]), "c");
  EXPECT_EQ(p.rule_id(indices[1]), "b");
  EXPECT_EQ(p.rule_id(indices[2]), "out");
}

// Many groups changed at random, one or two at a time, as the control API
// changes them: every rule that stays (same group, direction and id) keeps
// its index, whether its group changed or not; no two live rules share one;
// and a group removed and made again starts afresh.
TEST(RuleSlots, ManyGroupsChangedAtRandomKeepEveryStayingRulesIndex) {
  using key = std::tuple<std::string, int, std::string>;
  std::mt19937 rng(7);
  config::policy_model m;
  for (int g = 0; g < 12; ++g) {
    config::security_group grp;
    grp.id = "g" + std::to_string(g);
    for (int r = 0; r < 5; ++r) grp.ingress.push_back(make_rule("i" + std::to_string(r)));
    grp.egress.push_back(make_rule("out"));
    m.groups.push_back(grp);
  }
  rule_slots s;
  std::map<key, std::uint32_t> before;
  int next_rule = 100;
  for (int round = 0; round < 400; ++round) {
    const std::vector<std::uint32_t> out = s.assign(m);
    std::map<key, std::uint32_t> now;
    std::set<std::uint32_t> used;
    std::size_t i = 0;
    for (const auto& g : m.groups) {
      for (const direction d : {direction::ingress, direction::egress}) {
        for (const auto& r : g.rules(d)) {
          const std::uint32_t slot = out.at(i++);
          ASSERT_NE(slot, 0U);
          ASSERT_TRUE(used.insert(slot).second) << "index " << slot << " given twice in round " << round;
          const key k{g.id, static_cast<int>(d), r.id};
          if (const auto it = before.find(k); it != before.end()) {
            ASSERT_EQ(slot, it->second) << g.id << "/" << r.id << " moved in round " << round;
          }
          now.emplace(k, slot);
        }
      }
    }
    ASSERT_EQ(i, out.size());
    // The ids the compiler names the rules by are the model's, group by group.
    ASSERT_EQ(s.rule_ids().size(), m.groups.size());
    for (std::size_t gi = 0; gi < m.groups.size(); ++gi) {
      std::uint32_t position = 0;
      for (const direction d : {direction::ingress, direction::egress}) {
        for (const auto& r : m.groups[gi].rules(d)) {
          ASSERT_EQ(s.rule_ids()[gi]->id(position++), r.id) << m.groups[gi].id << " in round " << round;
        }
      }
      ASSERT_EQ(s.rule_ids()[gi]->starts.size(), position + 1U);
    }
    before = std::move(now);
    // The next change: one group's rules edited, or a group gone or new.
    auto& g = m.groups[rng() % m.groups.size()];
    switch (rng() % 5) {
      case 0:
        g.ingress.push_back(make_rule("i" + std::to_string(next_rule++)));
        break;
      case 1:
        if (!g.ingress.empty()) g.ingress.erase(g.ingress.begin() + static_cast<long>(rng() % g.ingress.size()));
        break;
      case 2:
        if (!g.ingress.empty()) std::swap(g.ingress.front(), g.ingress.back());
        break;
      case 3: {
        // Removed, and later made again under its old name with new rules.
        const std::string id = g.id;
        m.groups.erase(m.groups.begin() + (&g - m.groups.data()));
        s.assign(m);
        for (auto it = before.begin(); it != before.end();) {
          it = std::get<0>(it->first) == id ? before.erase(it) : std::next(it);
        }
        config::security_group again;
        again.id = id;
        again.ingress.push_back(make_rule("i0"));
        m.groups.push_back(again);
        break;
      }
      default:
        g.egress.push_back(make_rule("e" + std::to_string(next_rule++)));
        break;
    }
  }
}

}  // namespace
}  // namespace sgfw::cp
