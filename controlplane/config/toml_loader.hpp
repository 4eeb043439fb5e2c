// Reading a policy from TOML: the file's syntax, keys, types, values and
// references by name are checked here, and the cloud's rules on the model
// (validation.hpp, shared with every other source) run on what was read;
// every problem becomes a diagnostic with file:line:column and a code.  A
// config with any error yields no model at all, never a partial one, so
// the running policy stays untouched.  The same file carries the boot
// settings (boot_settings.hpp), which are read alongside but are not part
// of the policy.
#pragma once

#include <toml++/toml.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/boot_settings.hpp"
#include "config/diagnostic.hpp"
#include "config/model.hpp"
#include "config/validation.hpp"

namespace sgfw::config {

struct load_result {
  std::optional<policy_model> model;    // present only when there is no error
  boot_settings boot;                   // as far as they were read
  std::vector<diagnostic> diagnostics;  // errors and warnings, in file order
  std::string text;                     // what was read: the control API edits and persists this document

  bool ok() const { return model.has_value(); }
};

// Reads the file in one go and checks that it did not change while it was
// read (same file, size and modification time before and after, every byte
// read): a file caught mid-write is an error, never a policy.
load_result load_policy_file(const std::string& path);

// The same, from text already in memory; `path` is only used in messages.
// The cloud's rules (validation.hpp) name their findings' places by line
// (`file`), or by the model's path (`model`: for a document the control
// API made, whose lines nobody wrote).
enum class places : std::uint8_t { file, model };
load_result load_policy_text(std::string_view text, const std::string& path, places where = places::file);
// The same for a document already parsed (the control API's edit of the
// running one), named by model paths: what load_policy_text(its text,
// path, places::model) gives, without parsing again (the result's `text`
// is left empty: the document makes its text when it is written).
//
// The document keeps its groups' tables apart from `root` (`groups`, in
// order, as [[security_group]]).  A change to one group of thousands reads
// and checks that group only: a group whose table is the very one its
// group in `reuse.previous` was read from (the control API's documents
// share unchanged groups' tables) is taken from there as read, normalised
// and checked then, when everything its reading and checks depend on
// besides its table is as it was: the groups' ids in order, the prefix
// lists' ids, families and max_entries, the quotas.  The resources are
// taken as read too when, besides that, `root` is the very table they were
// read from (a change that edited only groups).  Otherwise, and for every
// other part of the policy, it is read as from a file.
struct group_reuse {
  const policy_model* previous = nullptr;  // a policy read with no error
  std::vector<const toml::table*> tables;  // the tables its groups were read from, in order
  const toml::table* root = nullptr;       // the root its resources were read from
};
load_result load_policy_document(const toml::table& root, const std::vector<const toml::table*>& groups,
                                 const std::string& path, const group_reuse& reuse = {});

// A policy that protects no resource is what an empty or cut-off file
// looks like; `sgfw run` (at start and on every reload) and `sgfw check`
// refuse it unless the file says so explicitly with `resource = []`.
std::optional<diagnostic> refuse_unintended_empty(const policy_model& model);

}  // namespace sgfw::config
