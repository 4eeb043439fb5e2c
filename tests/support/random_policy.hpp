// Random but valid policies and lookup keys, for the differential test and
// the classifier benchmarks.  Deterministic for a given seed.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "config/model.hpp"
#include "policy/compiled_policy.hpp"

namespace sgfw::testing {

struct random_policy_options {
  std::uint32_t resources = 20;
  std::uint32_t groups = 10;
  std::uint32_t rules = 200;  // total over all groups, both directions
  std::uint32_t max_groups_per_resource = 5;
  std::uint32_t prefix_lists = 4;
  double ipv6_share = 0.3;       // of rule peers and resource addresses
  double group_ref_share = 0.1;  // of rule peers
  double prefix_list_share = 0.1;
  // Partitioned: every group belongs to exactly one resource (rules of one
  // resource are its own, as a benchmark wants).  Otherwise groups are
  // attached at random and shared.
  bool partitioned = false;
  // Small pools of networks and ports make rules overlap and nest, which is
  // where classifiers go wrong; benchmarks turn it off for realistic spread.
  bool dense = true;
  std::uint64_t seed = 1;
};

config::policy_model random_policy(const random_policy_options& options);

// Keys for a policy: about half aimed at a rule (inside or just outside its
// address block and port range), the rest anywhere; resource addresses as
// remotes too, so group references are exercised.
std::vector<dp::classify_key> random_keys(const config::policy_model& model, std::size_t count, std::uint64_t seed);

}  // namespace sgfw::testing
