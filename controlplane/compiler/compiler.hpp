// The policy compiler: config model -> compiled_policy (the workers' view).
//
// Everything expensive happens here, off the worker cores: groups are merged
// per distinct group set (S3: allow-only union, so order is irrelevant),
// group references are expanded to the current member addresses, prefix
// lists to their entries, and both dimensions of a rule (remote address;
// protocol + port / ICMP type and code) are cut into elementary intervals
// whose rule bitsets are deduplicated.  docs/classifier.md explains the
// result and its costs.
//
// A compile builds every group set's tables, unless the caller keeps the
// last compile's (compile_options::sets): then only the sets whose rules,
// rule indices, named groups' members or named prefix lists changed are
// built again, and the finished tables of the others are shared with the
// last policy while the policy-wide shapes are as they were
// (docs/performance.md: 2.4 -> about 0.2 ms for a one-group change at 10k
// rules in 51 sets).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "config/boot_settings.hpp"
#include "config/model.hpp"
#include "policy/compiled_policy.hpp"

namespace sgfw::cp {

class set_cache;

// How the compiler represents "which rules allow (address class, service
// class)" (docs/classifier.md).  `automatic` picks matrices when they stay
// within eight times the rows' memory, with one-byte entries when every
// table has fewer than 255 rules; tests force each form to cover them all.
enum class combine_choice { automatic, rows, matrices, wide_matrices };

struct compile_options {
  std::uint64_t generation = 0;
  combine_choice combine = combine_choice::automatic;
  // The per-resource flow limits (S11) are per worker: each worker holds
  // its share of a resource's flows.
  std::uint32_t workers = 1;
  std::uint32_t max_flows = config::k_default_max_flows;  // the running table's capacity (boot_settings.hpp)
  // Each resource's slot in the workers' per-resource flow counts, stable
  // across policies (resource_slots.hpp); null: its index.
  const std::vector<std::uint16_t>* resource_slots = nullptr;
  // Each rule's global index, stable across policies (rule_slots.hpp), in
  // the model's order (groups, ingress then egress); null: in order from 1.
  const std::vector<std::uint32_t>* rule_slots = nullptr;
  // Each group's rule ids (rule_ids_of), in the model's order, where the
  // caller keeps them (rule_slots.hpp: shared while a group's rules are
  // unchanged); null: made from the rules.
  const std::vector<std::shared_ptr<const dp::group_rule_ids>>* rule_ids = nullptr;
  // The last compile's group-set tables, taken again where nothing they
  // were built from changed (set_cache.hpp); null: every set built.
  set_cache* sets = nullptr;
};

dp::compiled_policy compile(const config::policy_model& model, const compile_options& options);
// A group's rule ids as compiled_policy::group_rules holds them.
std::shared_ptr<const dp::group_rule_ids> rule_ids_of(const config::security_group& g);
inline dp::compiled_policy compile(const config::policy_model& model, std::uint64_t generation = 0) {
  return compile(model, compile_options{generation, combine_choice::automatic});
}

// The services (protocol + destination-port ranges) on which flows of one
// family initiated in direction `initiated` would be untracked in the cloud's
// sense (S8) for a resource with these groups: the flow is allowed from/to
// the whole family (0.0.0.0/0 or ::/0) in that direction, and the opposite
// direction allows every port of that protocol to/from the whole family.
// ICMP and other protocols are always tracked.
struct service_range {
  std::uint8_t proto = 0;
  config::port_range ports;
  friend bool operator==(const service_range&, const service_range&) = default;
};
std::vector<service_range> untracked_services(const config::policy_model& model,
                                              const std::vector<std::uint32_t>& groups, direction initiated,
                                              net::family fam);

}  // namespace sgfw::cp
