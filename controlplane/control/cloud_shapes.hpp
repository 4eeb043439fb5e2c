// The policy in the cloud's JSON shapes, for the control API's describe
// verbs: SecurityGroups[] with IpPermissions / IpPermissionsEgress,
// SecurityGroupRules[] (SecurityGroupRuleId, GroupId, IsEgress,
// IpProtocol, FromPort, ToPort, CidrIpv4 | CidrIpv6 | PrefixListId |
// ReferencedGroupInfo), managed prefix lists, and sgfw's resources.
#pragma once

#include <nlohmann/json.hpp>

#include "config/model.hpp"
#include "worker/rule_counters.hpp"

namespace sgfw::cp {

nlohmann::json security_group_json(const config::policy_model& m, std::uint32_t group);
nlohmann::json security_group_rule_json(const config::policy_model& m, std::uint32_t group, const config::rule& r);
nlohmann::json resource_json(const config::policy_model& m, const config::resource& r);
nlohmann::json prefix_list_json(const config::prefix_list& pl);
// sgfw's own fields of a rule (the cloud counts nothing): Packets, Bytes
// and FlowsOpened it admitted, LastHit (ISO 8601, UTC; null: never).
void add_rule_counts(nlohmann::json& rule, const dp::rule_totals& t);
// Milliseconds since 1970 as 2026-12-04T12:25:16.123Z.
std::string iso8601_utc(std::uint64_t unix_ms);

// The cloud's IpProtocol: "tcp", "udp", "icmp", "icmpv6", "-1" for all,
// otherwise the number as a string.
std::string ip_protocol(const config::protocol_spec& p);

}  // namespace sgfw::cp
