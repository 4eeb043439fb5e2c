// The one sequence every consumer of a policy runs after reading it: the
// reader's diagnostics split into errors and notes (formatted
// file:line:column), and the policy-wide refusals (an unintended empty
// policy).  The appliance's store, `sgfw check` and the test fixtures all
// go through here, so they accept and refuse the same policies.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/model.hpp"
#include "config/toml_loader.hpp"

namespace sgfw::config {

struct checked_policy {
  std::optional<policy_model> model;  // present only when there is no error
  boot_settings boot;                 // the file's, for `sgfw run` (not part of the policy)
  std::vector<std::string> errors;    // formatted, in file order, each with its code: "... [InvalidGroup.NotFound]"
  std::vector<std::string> notes;     // warnings, formatted
  std::vector<diagnostic> findings;   // the same, unformatted (the control API names request fields)
  std::string text;                   // the source's text, when it has one (the file's)

  bool ok() const { return model.has_value(); }
};

checked_policy check_policy(load_result loaded);

// load_policy_file() then check_policy(): the file as a policy source.
checked_policy read_policy_file(const std::string& path);

// A model from a source without a file (an edit of the running model, the
// control API, etcd): normalised and validated (validation.hpp), each
// finding placed by its field path (security_group[web].ingress[2]) and
// named after `source`, then check_policy().
checked_policy check_model(policy_model model, const std::string& source);

}  // namespace sgfw::config
