// One security-group rule from its TOML table: protocol, ports, ICMP type
// and code, and its one peer (a CIDR block, or a prefix list or group by
// id, resolved against the model being read).  What is about one rule's
// own keys is checked here; what is about rules together (duplicates,
// ids, quotas) is the model's (validation.hpp).
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/model.hpp"
#include "config/toml_reader.hpp"

namespace sgfw::config {

class rule_reader {
 public:
  rule_reader(toml_reader& in, policy_model& model) : in_(in), model_(model) {}

  // The rule in table `t` at `path`, or nothing (its problems reported).
  std::optional<rule> load_rule(const toml::table& t, const std::string& path, direction dir);

  // A reference to a group by id; "default" is the appliance's implicit
  // group unless the file defines one.
  std::optional<std::uint32_t> resolve_group(std::string_view id);
  // Every group id a reference may name, for suggestions.
  std::vector<std::string> group_ids() const;

 private:
  std::optional<protocol_spec> parse_protocol(const toml::node& n, const std::string& key);
  std::optional<port_range> parse_port_item(const toml::node& n, const std::string& key);
  std::optional<std::vector<port_range>> parse_ports(const toml::node& n, const std::string& key);
  std::optional<int> parse_icmp_field(const toml::node& n, const std::string& key, std::string_view name);
  std::optional<peer> parse_peer(const toml::table& t, const std::string& path, const protocol_spec& proto);

  toml_reader& in_;
  policy_model& model_;
  // Group id hash -> index, for the groups read so far (resolve_group: a
  // resource names a few of thousands); each candidate's id is compared
  // where it is now, so the groups may be assigned or moved meanwhile.
  std::unordered_multimap<std::size_t, std::uint32_t> group_index_;
  std::size_t indexed_groups_ = 0;
};

}  // namespace sgfw::config
