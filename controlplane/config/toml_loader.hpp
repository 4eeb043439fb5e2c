// Loading a policy from TOML: syntax, types, values, references and quotas
// are all checked here, at the boundary, and every problem becomes a
// diagnostic with file:line:column.  A config with any error yields no model
// at all, never a partial one, so the running policy stays untouched.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/diagnostic.hpp"
#include "config/model.hpp"

namespace sgfw::config {

struct load_result {
  std::optional<policy_model> model;    // present only when there is no error
  std::vector<diagnostic> diagnostics;  // errors and warnings, in file order

  bool ok() const { return model.has_value(); }
};

// Reads the file in one go and checks that it did not change while it was
// read (same file, size and modification time before and after, every byte
// read): a file caught mid-write is an error, never a policy.
load_result load_policy_file(const std::string& path);

// The same, from text already in memory; `path` is only used in messages.
load_result load_policy_text(std::string_view text, const std::string& path);

// A policy that protects no resource is what an empty or cut-off file
// looks like; `sgfw run` (at start and on every reload) and `sgfw check`
// refuse it unless the file says so explicitly with `resource = []`.
std::optional<diagnostic> refuse_unintended_empty(const policy_model& model);

}  // namespace sgfw::config
