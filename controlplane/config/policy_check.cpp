#include "config/policy_check.hpp"

#include "config/diagnostic.hpp"

namespace sgfw::config {

checked_policy check_policy(load_result loaded) {
  checked_policy out;
  out.boot = loaded.boot;
  // Each line ends with its stable code, for people and scripts alike.
  const auto line = [](const diagnostic& d) {
    return d.code != nullptr && *d.code != '\0' ? format(d) + " [" + d.code + "]" : format(d);
  };
  for (const auto& d : loaded.diagnostics) {
    (d.level == diagnostic::severity::error ? out.errors : out.notes).push_back(line(d));
  }
  if (!loaded.ok()) return out;
  if (auto refused = refuse_unintended_empty(*loaded.model)) {
    out.errors.push_back(line(*refused));
    return out;
  }
  out.model = std::move(*loaded.model);
  return out;
}

checked_policy read_policy_file(const std::string& path) { return check_policy(load_policy_file(path)); }

}  // namespace sgfw::config
