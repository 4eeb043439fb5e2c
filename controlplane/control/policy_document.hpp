// policy_document: the running policy as the TOML document it was read
// from, which the control API's verbs edit.  A change is made here, the
// document is read again by the TOML reader (config::
// load_policy_document), so a change from the API meets exactly the
// checks, quotas and messages a file does, and the text that was read is
// the text written back: the file on disk is what runs.
//
// The groups' tables ([[security_group]]) are kept apart from the rest and
// shared between a document and its copies until one of them edits a
// group (copy on write): copying a document of 10k rules costs a pointer
// per group, and the reader takes every group whose table is the very one
// it read last time from the policy it read then (toml_loader.hpp), so a
// change reads and checks the groups it edited, not all of them; each
// group's text is kept with it, so writing the file formats those only.
//
// The document and the model agree on order: groups, rules, resources and
// prefix lists are in the document's order in the model, except what
// normalise() adds (the implicit `default` group, the default egress of a
// group without an `egress` key).  Editing those first writes them into
// the document (materialise_*), so an index in the model is an index here.
//
// TOML++ keeps no comments and orders a table's keys by name: a document
// written back has the file's content, not its layout (docs/operations.md).
//
// Control thread only.
#pragma once

#include <toml++/toml.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/direction.hpp"

namespace sgfw::cp {

class policy_document {
 public:
  // The document of `text`; nothing when it is not TOML (the error in `error`).
  static std::optional<policy_document> parse(std::string_view text, std::string& error);

  std::string text() const;
  // text().size(), formatting what was edited since (which text() then
  // only assembles).
  std::size_t text_size() const;
  // Everything but the groups, shared with the copies of this document
  // until one edits it (edit_root, tables, find).
  const toml::table& root() const { return *root_; }
  toml::table& edit_root();

  // The array of tables under `key` at the top level (resource,
  // prefix_list; not security_group: the groups below), created when
  // absent; for editing, as find().
  toml::array& tables(std::string_view key);
  // The table whose `field` (id or name) is `value` in tables(key), and its index.
  toml::table* find(std::string_view key, std::string_view field, std::string_view value, std::size_t* index = nullptr);

  // The groups, in order.
  std::size_t group_count() const { return groups_.size(); }
  std::optional<std::size_t> find_group(std::string_view id) const;
  // Group `index` to edit (from now on this document's own; its text is
  // made again by the next text(), so edit through the reference before
  // that, or ask again).
  toml::table& edit_group(std::size_t index);
  std::size_t add_group(toml::table group);  // its index
  void erase_group(std::size_t index);
  // The groups' tables, for the reader: a table this document shares with
  // the one it was copied from is the same pointer in both.
  std::vector<const toml::table*> group_tables() const;

  // Writes the implicit `default` group (S4) into the document, as
  // normalise() would supply it, so that it can be edited.  Its index.
  std::size_t materialise_default_group();
  // The group's rules of one direction.  A group without an `egress` key
  // has the cloud's default egress (S4); asking for its egress rules
  // writes those two rules in first, as normalise() orders them.
  toml::array& rules(toml::table& group, direction d);

 private:
  // A group's table and, once made, its text as a [[security_group]] of
  // the file: text() formats only the groups edited since.
  struct group_entry {
    std::shared_ptr<toml::table> table;
    mutable std::shared_ptr<const std::string> text;
  };
  // Without the security_group key; and its text, once made.
  std::shared_ptr<toml::table> root_ = std::make_shared<toml::table>();
  mutable std::shared_ptr<const std::string> root_text_;
  std::vector<group_entry> groups_;
  bool groups_key_ = false;  // the text had a security_group key (even as an empty array)
};

// A rule table's or an entry's array element as a table (nullptr for other elements).
toml::table* table_at(toml::array& a, std::size_t i);

}  // namespace sgfw::cp
