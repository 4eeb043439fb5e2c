// A message about the config that a user can act on:
//   file:line:column: key: message
// where key is the dotted path of the offending key (security_group[1].
// ingress[0].ports) and the message says what was found and what was
// expected.
#pragma once

#include <string>
#include <vector>

#include "config/model.hpp"

namespace sgfw::config {

struct diagnostic {
  enum class severity { error, warning };

  severity level = severity::error;
  std::string file;
  source_pos pos;
  std::string key;  // empty for file-level problems (syntax, unreadable file)
  std::string message;
  const char* code = "";  // stable, for programs: validation.hpp's codes
};

std::string format(const diagnostic& d);

bool has_errors(const std::vector<diagnostic>& diags);

}  // namespace sgfw::config
