#include "config/diagnostic.hpp"

#include <algorithm>

namespace sgfw::config {

std::string format(const diagnostic& d) {
  std::string s = d.file;
  if (d.pos.line != 0) {
    s += ':' + std::to_string(d.pos.line) + ':' + std::to_string(d.pos.column);
  }
  s += ": ";
  if (d.level == diagnostic::severity::warning) s += "warning: ";
  if (!d.key.empty()) s += d.key + ": ";
  s += d.message;
  return s;
}

bool has_errors(const std::vector<diagnostic>& diags) {
  return std::any_of(diags.begin(), diags.end(),
                     [](const diagnostic& d) { return d.level == diagnostic::severity::error; });
}

}  // namespace sgfw::config
