#include "config/policy_check.hpp"

#include "config/diagnostic.hpp"

namespace sgfw::config {

checked_policy check_policy(load_result loaded) {
  checked_policy out;
  for (const auto& d : loaded.diagnostics) {
    (d.level == diagnostic::severity::error ? out.errors : out.notes).push_back(format(d));
  }
  if (!loaded.ok()) return out;
  if (auto refused = refuse_unintended_empty(*loaded.model)) {
    out.errors.push_back(format(*refused));
    return out;
  }
  out.model = std::move(*loaded.model);
  return out;
}

checked_policy read_policy_file(const std::string& path) { return check_policy(load_policy_file(path)); }

}  // namespace sgfw::config
