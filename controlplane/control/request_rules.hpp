// The rules a control request names, in the file's terms: the cloud's
// `IpPermissions` (IpProtocol, FromPort, ToPort, IpRanges, Ipv6Ranges,
// PrefixListIds, UserIdGroupPairs) or sgfwctl's shorthand (Protocol,
// Port, Cidr, SourceGroup, PrefixListId, IcmpType, IcmpCode, Description)
// become rule tables as a [[security_group.ingress]] would hold them, each
// with the request field every key came from.  The rule's own checks are
// the TOML reader's (the tables are read by it), and its messages are
// given back naming these fields.
#pragma once

#include <toml++/toml.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <variant>
#include <vector>

namespace sgfw::cp {

struct request_rule {
  toml::table table;                        // protocol, ports | icmp_type/icmp_code, one peer, description
  std::string field;                        // where in the request: "IpPermissions[0].IpRanges[1]", or ""
  std::map<std::string, std::string> keys;  // file key -> request field
};

struct request_error {
  const char* code = "";
  std::string field;
  std::string message;
};

// `request` holds IpPermissions or the shorthand fields (not both).
std::variant<std::vector<request_rule>, request_error> rules_of_request(const nlohmann::json& request);

// The request field a reader's key path names, given the rule's table was
// read at `table_path` (security_group[2].ingress[5]): "IpPermissions[0].
// IpRanges[1].CidrIp" for table_path + ".cidr"; `key_path` itself when it
// is not within the rule.
std::string request_field(const request_rule& r, const std::string& table_path, const std::string& key_path);

}  // namespace sgfw::cp
