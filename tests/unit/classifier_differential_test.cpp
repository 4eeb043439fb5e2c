// The compiled classifier against the reference evaluator on random
// policies (up to 1k rules, many groups and resources, IPv4 and IPv6, port
// ranges, group references, prefix lists) and random keys: more than a
// million lookups in all, single and batched, and resource lookups too.
#include <gtest/gtest.h>

#include "compiler/compiler.hpp"
#include "compiler/reference_evaluator.hpp"
#include "config/rule_text.hpp"
#include "policy/classifier.hpp"
#include "random_policy.hpp"

namespace sgfw::testing {
namespace {

struct differential_case {
  const char* name;
  random_policy_options options;
  std::size_t keys;

  friend void PrintTo(const differential_case& c, std::ostream* os) { *os << c.name; }
};

constexpr std::uint64_t k_rounds = 4;

class Differential : public ::testing::TestWithParam<differential_case> {};

TEST_P(Differential, CompiledEqualsReference) {
  const differential_case& c = GetParam();
  std::size_t untracked = 0;
  for (std::uint64_t round = 0; round < k_rounds; ++round) {
    random_policy_options o = c.options;
    o.seed = o.seed * 1000 + round;
    const config::policy_model model = random_policy(o);
    // Both combine representations, whatever the automatic choice.
    const dp::compiled_policy compiled = cp::compile(model, {1, cp::combine_choice::rows});
    const dp::compiled_policy matrices = cp::compile(model, {1, cp::combine_choice::matrices});
    const dp::compiled_policy wide = cp::compile(model, {1, cp::combine_choice::wide_matrices});
    ASSERT_FALSE(compiled.matrices);
    ASSERT_TRUE(matrices.matrices);
    ASSERT_EQ(matrices.matrix_entry_bytes, 1U);
    ASSERT_EQ(wide.matrix_entry_bytes, 2U);
    const cp::reference_evaluator reference(model);
    const auto keys = random_keys(model, c.keys, o.seed + 17);
    std::vector<dp::decision> burst(keys.size());
    std::vector<dp::decision> matrix_burst(keys.size());
    dp::classify_burst(compiled, keys.data(), burst.data(), keys.size());
    dp::classify_burst(matrices, keys.data(), matrix_burst.data(), keys.size());
    std::vector<dp::decision> wide_burst(keys.size());
    dp::classify_burst(wide, keys.data(), wide_burst.data(), keys.size());
    std::size_t allowed = 0;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      const dp::decision want = reference.classify(keys[i]);
      const dp::decision got = dp::classify(compiled, keys[i]);
      allowed += want.allowed() ? 1U : 0U;
      untracked += want.untracked ? 1U : 0U;
      const dp::decision matrix_single = dp::classify(matrices, keys[i]);
      if (got != want || burst[i] != want || matrix_burst[i] != want || matrix_single != want ||
          wide_burst[i] != want) {
        const auto& k = keys[i];
        FAIL() << c.name << " seed " << o.seed << " key " << i << ": resource " << k.resource << " dir "
               << to_string(k.dir) << " proto " << int{k.proto()} << " fam " << int(k.fam) << " lport " << k.local_port
               << " rport " << k.remote_port << " icmp " << int{k.icmp_type} << "/" << int{k.icmp_code}
               << ": reference rule " << want.rule << (want.untracked ? " untracked" : "") << ", compiled rule "
               << got.rule << (got.untracked ? " untracked" : "") << ", burst rule " << burst[i].rule << ", matrices "
               << matrix_single.rule << "/" << matrix_burst[i].rule;
      }
    }
    // Both answers must be common, or the test proves little.
    EXPECT_GT(allowed, keys.size() / 10) << c.name;
    EXPECT_LT(allowed, keys.size() * 9 / 10) << c.name;

    // Resource lookup: the compiled map against a linear search.
    for (const auto& res : model.resources) {
      for (const auto& a : res.addresses) {
        ASSERT_EQ(compiled.resources.find(a), reference.resource_of(a));
        net::ip_address b = a;
        b.value ^= 1;
        ASSERT_EQ(compiled.resources.find(b), reference.resource_of(b));
      }
    }
  }
  // Untracked decisions (S8) must show up too, in policies big enough to
  // have rules open to the whole address space.
  if (c.options.rules >= 60) {
    EXPECT_GT(untracked, 0U) << c.name;
  }
}

random_policy_options opts(std::uint32_t resources, std::uint32_t groups, std::uint32_t rules, double v6,
                           std::uint64_t seed) {
  random_policy_options o;
  o.resources = resources;
  o.groups = groups;
  o.rules = rules;
  o.ipv6_share = v6;
  o.seed = seed;
  return o;
}

const std::vector<differential_case> k_cases{
    {"tiny", opts(3, 2, 8, 0.3, 1), 40000},        {"small", opts(10, 5, 60, 0.3, 2), 40000},
    {"medium", opts(40, 20, 300, 0.4, 3), 50000},  {"large", opts(100, 60, 1000, 0.3, 4), 50000},
    {"v4_only", opts(30, 10, 400, 0.0, 5), 40000}, {"v6_heavy", opts(30, 10, 400, 0.8, 6), 40000},
};

INSTANTIATE_TEST_SUITE_P(Policies, Differential, ::testing::ValuesIn(k_cases),
                         [](const ::testing::TestParamInfo<differential_case>& param_info) {
                           return param_info.param.name;
                         });

TEST(DifferentialSize, AtLeastAMillionKeysCompared) {
  std::uint64_t keys = 0;
  for (const auto& c : k_cases) keys += c.keys * k_rounds;
  EXPECT_GE(keys, 1000000U);  // each compared single and batched, rows and both matrices, against the reference
}

}  // namespace
}  // namespace sgfw::testing
