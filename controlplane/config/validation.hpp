// The cloud's rules on a policy model, whatever source it came from (the
// TOML reader today; the control API and etcd next): normalise() fills in
// what the cloud fills in (S4: the default group, allow-all egress for a
// group that declares none, the default group for a resource that names
// none, derived rule ids), and validate() checks what the cloud refuses
// (duplicate ids and rules, quotas, address and MAC ownership).
//
// A finding names a place in the model, not in a file: each source turns
// it into its own place (file:line:column and a key path for the file; a
// request field for the API), so the same rule gives the same code and
// message from every source.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/model.hpp"

namespace sgfw::config {

// Stable codes: the EC2 API's error names where it has one, otherwise
// sgfw's own in the same style.  docs/configuration.md lists them.
namespace code {
inline constexpr const char* invalid_parameter_value = "InvalidParameterValue";
inline constexpr const char* invalid_parameter_combination = "InvalidParameterCombination";
inline constexpr const char* missing_parameter = "MissingParameter";
inline constexpr const char* unknown_parameter = "UnknownParameter";
inline constexpr const char* invalid_syntax = "InvalidSyntax";
inline constexpr const char* unreadable = "PolicyFile.Unreadable";
inline constexpr const char* changed_while_read = "PolicyFile.ChangedWhileRead";
inline constexpr const char* empty_policy = "Policy.NoResources";
inline constexpr const char* group_not_found = "InvalidGroup.NotFound";
inline constexpr const char* group_duplicate = "InvalidGroup.Duplicate";
inline constexpr const char* group_malformed = "InvalidGroupId.Malformed";
inline constexpr const char* prefix_list_not_found = "InvalidPrefixListID.NotFound";
inline constexpr const char* prefix_list_duplicate = "InvalidPrefixListID.Duplicate";
inline constexpr const char* prefix_list_malformed = "InvalidPrefixListID.Malformed";
inline constexpr const char* prefix_list_entries_exceeded = "PrefixListMaxEntriesExceeded";
inline constexpr const char* permission_duplicate = "InvalidPermission.Duplicate";
inline constexpr const char* permission_malformed = "InvalidPermission.Malformed";
inline constexpr const char* rule_id_duplicate = "InvalidSecurityGroupRuleId.Duplicate";
inline constexpr const char* rule_id_malformed = "InvalidSecurityGroupRuleId.Malformed";
inline constexpr const char* rules_limit = "RulesPerSecurityGroupLimitExceeded";
inline constexpr const char* groups_per_resource_limit = "SecurityGroupsPerInterfaceLimitExceeded";
inline constexpr const char* group_listed_twice = "InvalidGroup.ListedTwice";
inline constexpr const char* resource_duplicate = "InvalidResource.Duplicate";
inline constexpr const char* resource_malformed = "InvalidResource.Malformed";
inline constexpr const char* resources_limit = "ResourceLimitExceeded";
inline constexpr const char* address_in_use = "InvalidIPAddress.InUse";
inline constexpr const char* mac_in_use = "InvalidMacAddress.InUse";
}  // namespace code

// A place in the model.  `index` is the group, resource or prefix list;
// `item` the rule, address or listed group within it.
struct model_place {
  enum class kind : std::uint8_t {
    group_id,             // groups[index].id
    group_rules,          // groups[index].<dir>, the list
    rule,                 // groups[index].<dir>[item]
    rule_id,              // groups[index].<dir>[item].id
    prefix_list_id,       // prefix_lists[index].id
    prefix_list_entries,  // prefix_lists[index].entries
    resource,             // resources[index]
    resource_name,        // resources[index].name
    resource_address,     // resources[index].addresses[item]
    resource_mac,         // resources[index].mac
    resource_groups,      // resources[index].security_groups
    resource_group,       // resources[index].security_groups[item]
  };
  kind what = kind::resource;
  std::uint32_t index = 0;
  direction dir = direction::ingress;
  std::uint32_t item = 0;
};

struct finding {
  bool error = true;  // false: a warning
  const char* code = code::invalid_parameter_value;
  model_place where;
  // "{}" in the message stands for `other`'s place, in the source's words
  // ("line 7" for a file).
  std::string message;
  std::optional<model_place> other;
};

// A field path for a place, in the model's own terms
// (security_group[web].ingress[2], resource[web-1].addresses[0]): what a
// source without positions (the API) reports.
std::string field_path(const policy_model& m, const model_place& p);

// Groups taken unchanged from a policy that was normalised and validated
// with no error, in the same context (the same group ids in order, prefix
// lists and quotas: toml_loader.hpp's group_reuse): by group index, true
// for such a group.  Their rules are neither derived again nor checked
// again, only against the others (rule ids are unique policy-wide).
using unchanged_groups = std::vector<bool>;

// Idempotent.  Call before validate(), and again after every edit.
void normalise(policy_model& m, const unchanged_groups* unchanged = nullptr);

// Every problem, in model order.  The model is normalised.
std::vector<finding> validate(const policy_model& m, const unchanged_groups* unchanged = nullptr);

}  // namespace sgfw::config
