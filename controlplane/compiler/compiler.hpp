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
// Membership changes (a resource added, removed, or attached to another
// group) are handled by recompiling the whole policy: compile time is linear
// in the expanded rules (about 1.5 ms for 10k rules, docs/performance.md), so
// an incremental path would buy nothing worth its complexity.
#pragma once

#include <cstdint>
#include <vector>

#include "config/boot_settings.hpp"
#include "config/model.hpp"
#include "policy/compiled_policy.hpp"

namespace sgfw::cp {

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
};

dp::compiled_policy compile(const config::policy_model& model, const compile_options& options);
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
