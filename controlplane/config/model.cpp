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

}  // namespace sgfw::config
