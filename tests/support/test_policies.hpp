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

}  // namespace sgfw::testing
