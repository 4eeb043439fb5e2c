// The reference evaluator: security-group semantics straight from the config
// model, one rule at a time, with no precomputation that could hide a bug.
// Slow on purpose; it is the oracle the compiled classifier is tested
// against (tests/unit/classifier_differential_test.cpp).
#pragma once

#include <array>
#include <bitset>
#include <map>
#include <memory>
#include <tuple>
#include <vector>

#include "config/model.hpp"
#include "policy/compiled_policy.hpp"

namespace sgfw::cp {

class reference_evaluator {
 public:
  explicit reference_evaluator(const config::policy_model& model);

  // The first allowing rule in (group index, rule order) order, the order the
  // compiler numbers rules in, so both name the same rule.
  dp::decision classify(const dp::classify_key& key) const;

  // Every rule of the resource's groups that allows the key (S3: the
  // union), as (group index, index in the key's direction), in group order.
  std::vector<std::pair<std::uint32_t, std::uint32_t>> allowing_rules(const dp::classify_key& key) const;

  // The resource owning an address, by linear search; dp::k_no_resource if none.
  std::uint32_t resource_of(const net::ip_address& a) const;

 private:
  bool matches(const config::rule& r, const dp::classify_key& key) const;
  bool peer_contains(const config::peer& p, const net::ip_address& a) const;
  bool untracked(const dp::classify_key& key) const;
  const std::bitset<65536>& whole_family_ports(std::uint32_t resource, direction d, net::family f,
                                               std::uint8_t proto) const;

  const config::policy_model& model_;
  std::vector<std::array<std::vector<std::uint32_t>, direction_count>> global_index_;
  // Cache of "ports allowed from/to the whole family" per resource, direction,
  // family and protocol, each computed by marking every port one by one.
  mutable std::map<std::tuple<std::uint32_t, direction, net::family, std::uint8_t>, std::unique_ptr<std::bitset<65536>>>
      ports_cache_;
};

}  // namespace sgfw::cp
