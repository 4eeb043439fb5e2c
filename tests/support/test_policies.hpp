// Policies more than one test uses, kept once under tests/support/policies/.
#pragma once

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace sgfw::testing {

// The text of tests/support/policies/NAME.toml.
inline std::string test_policy(std::string_view name) {
  const std::string path = std::string(SGFW_SOURCE_DIR) + "/tests/support/policies/" + std::string(name) + ".toml";
  std::ifstream in(path);
  if (!in) throw std::runtime_error("no test policy " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The policy with `egress = []` on each group that declares no egress:
// the same servers, which may not start connections (S4).
inline std::string with_sealed_egress(std::string policy) {
  const std::string group = "[[security_group]]\n";
  for (std::size_t at = policy.find(group); at != std::string::npos; at = policy.find(group, at + 1)) {
    const std::size_t line = policy.find('\n', at + group.size());  // the id line
    policy.insert(line + 1, "egress = []\n");
  }
  return policy;
}

}  // namespace sgfw::testing
