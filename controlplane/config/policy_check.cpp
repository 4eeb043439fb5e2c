#include "config/policy_check.hpp"

#include "config/diagnostic.hpp"
#include "config/validation.hpp"

namespace sgfw::config {

checked_policy check_policy(load_result loaded) {
  checked_policy out;
  out.boot = loaded.boot;
  out.text = std::move(loaded.text);
  // Each line ends with its stable code, for people and scripts alike.
  const auto line = [](const diagnostic& d) {
    return d.code != nullptr && *d.code != '\0' ? format(d) + " [" + d.code + "]" : format(d);
  };
  for (const auto& d : loaded.diagnostics) {
    (d.level == diagnostic::severity::error ? out.errors : out.notes).push_back(line(d));
  }
  out.findings = std::move(loaded.diagnostics);
  if (!loaded.ok()) return out;
  if (auto refused = refuse_unintended_empty(*loaded.model)) {
    out.errors.push_back(line(*refused));
    out.findings.push_back(*refused);
    return out;
  }
  out.model = std::move(*loaded.model);
  return out;
}

checked_policy read_policy_file(const std::string& path) { return check_policy(load_policy_file(path)); }

checked_policy check_model(policy_model model, const std::string& source) {
  normalise(model);
  load_result r;
  for (const finding& f : validate(model)) {
    std::string message = f.message;
    if (f.other) {
      if (const auto brace = message.find("{}"); brace != std::string::npos) {
        message.replace(brace, 2, field_path(model, *f.other));
      }
    }
    r.diagnostics.push_back({f.error ? diagnostic::severity::error : diagnostic::severity::warning,
                             source,
                             {},
                             field_path(model, f.where),
                             std::move(message),
                             f.code});
  }
  if (!has_errors(r.diagnostics)) r.model = std::move(model);
  return check_policy(std::move(r));
}

}  // namespace sgfw::config
