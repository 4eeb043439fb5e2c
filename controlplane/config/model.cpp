#include "config/model.hpp"

#include <algorithm>

namespace sgfw::config {

std::vector<net::ip_address> policy_model::members(std::uint32_t group) const {
  std::vector<net::ip_address> out;
  for (const resource& r : resources) {
    if (std::find(r.groups.begin(), r.groups.end(), group) != r.groups.end()) {
      out.insert(out.end(), r.addresses.begin(), r.addresses.end());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<std::uint32_t> policy_model::find_group(std::string_view id) const {
  for (std::size_t i = 0; i < groups.size(); ++i) {
    if (groups[i].id == id) return static_cast<std::uint32_t>(i);
  }
  return std::nullopt;
}

std::optional<std::uint32_t> policy_model::find_prefix_list(std::string_view id) const {
  for (std::size_t i = 0; i < prefix_lists.size(); ++i) {
    if (prefix_lists[i].id == id) return static_cast<std::uint32_t>(i);
  }
  return std::nullopt;
}

std::uint32_t policy_model::default_group() {
  if (auto i = find_group(k_default_group_id)) return *i;
  security_group g;
  g.id = k_default_group_id;
  g.synthesised = true;
  g.description = "the appliance's default group: ingress from its own members, egress to all";
  groups.push_back(std::move(g));
  return static_cast<std::uint32_t>(groups.size() - 1);
}

}  // namespace sgfw::config
