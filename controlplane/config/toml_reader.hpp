// What every reader of a TOML file shares: the file's diagnostics
// (file:line:column, a key path, a stable code) and typed access to its
// tables that reports each wrong key, type or value in those words.  The
// policy reader (toml_loader.cpp), the boot settings (boot_reader.hpp) and
// the rules (rule_reader.hpp) all read through one of these, so a file's
// problems come back as one list in file order.
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/diagnostic.hpp"
#include "config/validation.hpp"

namespace sgfw::config {

source_pos pos_of(const toml::source_region& r);
source_pos pos_of(const toml::node& n);
std::string_view type_name(const toml::node& n);  // "a table", "an integer", ...
std::string quoted(std::string_view s);           // 'text'
std::string lower(std::string_view s);
std::string join(const std::vector<std::string>& items, std::string_view sep = ", ");
// A name from `known` that `word` is probably a typo of (one or two edits), or "".
std::string closest(std::string_view word, const std::vector<std::string>& known);
std::string with_index(const std::string& path, std::size_t i);       // path[i]
std::string with_key(const std::string& path, std::string_view key);  // path.key

class toml_reader {
 public:
  using severity = diagnostic::severity;

  explicit toml_reader(std::string file) : file_(std::move(file)) {}
  const std::string& file() const { return file_; }
  std::vector<diagnostic> take_diagnostics() { return std::move(diags_); }

  void report(severity level, source_pos pos, std::string key, std::string message, const char* why) {
    diags_.push_back({level, file_, pos, std::move(key), std::move(message), why});
  }
  void error(source_pos pos, std::string key, std::string message, const char* why = code::invalid_parameter_value) {
    report(severity::error, pos, std::move(key), std::move(message), why);
  }
  void warning(source_pos pos, std::string key, std::string message) {
    report(severity::warning, pos, std::move(key), std::move(message), code::invalid_parameter_value);
  }

  void check_keys(const toml::table& t, const std::string& path, std::initializer_list<std::string_view> allowed) {
    std::vector<std::string> known(allowed.begin(), allowed.end());
    for (auto&& [k, v] : t) {
      if (std::find(known.begin(), known.end(), k.str()) != known.end()) continue;
      std::string msg = "unknown key " + config::quoted(k.str());
      const std::string guess = closest(k.str(), known);
      msg += guess.empty() ? "; expected one of: " + join(known) : "; did you mean " + config::quoted(guess) + "?";
      error(pos_of(k.source()), with_key(path, k.str()), msg, code::unknown_parameter);
    }
  }

  void wrong_type(const toml::node& n, const std::string& key, std::string_view expected) {
    error(pos_of(n), key, "expected " + std::string(expected) + ", found " + std::string(type_name(n)));
  }

  std::optional<std::string> get_string(const toml::table& t, std::string_view key, const std::string& path,
                                        bool required, std::string_view what = "a string") {
    const toml::node* n = t.get(key);
    const std::string k = with_key(path, key);
    if (n == nullptr) {
      if (required) {
        error(pos_of(t), k, "missing required key " + config::quoted(key) + "; expected " + std::string(what),
              code::missing_parameter);
      }
      return std::nullopt;
    }
    if (!n->is_string()) {
      wrong_type(*n, k, what);
      return std::nullopt;
    }
    return n->as_string()->get();
  }

  // An integer in [lo, hi]; `present` tells a missing key from a bad one.
  std::optional<std::int64_t> get_integer(const toml::table& t, std::string_view key, const std::string& path,
                                          std::int64_t lo, std::int64_t hi) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return std::nullopt;
    const std::string k = with_key(path, key);
    if (!n->is_integer()) {
      wrong_type(*n, k, "an integer");
      return std::nullopt;
    }
    const std::int64_t v = n->as_integer()->get();
    if (v < lo || v > hi) {
      error(pos_of(*n), k,
            std::to_string(v) + " is out of range; expected " + std::to_string(lo) + "-" + std::to_string(hi));
      return std::nullopt;
    }
    return v;
  }

  // Elements of an array of tables ([[name]] or name = [{...}]).
  std::vector<std::pair<const toml::table*, std::string>> tables_in(const toml::table& parent, std::string_view key,
                                                                    const std::string& path) {
    std::vector<std::pair<const toml::table*, std::string>> out;
    const toml::node* n = parent.get(key);
    if (n == nullptr) return out;
    const std::string k = with_key(path, key);
    const toml::array* arr = n->as_array();
    if (arr == nullptr) {
      wrong_type(*n, k, "an array of tables ([[" + k + "]])");
      return out;
    }
    for (std::size_t i = 0; i < arr->size(); ++i) {
      const toml::node& e = *arr->get(i);
      if (!e.is_table()) {
        wrong_type(e, with_index(k, i), "a table");
        continue;
      }
      out.emplace_back(e.as_table(), with_index(k, i));
    }
    return out;
  }

  std::optional<bool> get_bool(const toml::table& t, std::string_view key, const std::string& path) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return std::nullopt;
    if (!n->is_boolean()) {
      wrong_type(*n, with_key(path, key), "true or false");
      return std::nullopt;
    }
    return n->as_boolean()->get();
  }

  // One of two words, as a bool (true = the first).
  std::optional<bool> get_choice(const toml::table& t, std::string_view key, const std::string& path,
                                 std::string_view yes, std::string_view no) {
    if (t.get(key) == nullptr) return std::nullopt;
    const std::string what = "\"" + std::string(yes) + "\" or \"" + std::string(no) + "\"";
    auto v = get_string(t, key, path, false, what);
    if (!v) return std::nullopt;
    if (*v == yes) return true;
    if (*v == no) return false;
    error(pos_of(*t.get(key)), with_key(path, key), "unknown value " + config::quoted(*v) + "; expected " + what);
    return std::nullopt;
  }

  const toml::table* sub_table(const toml::table& t, std::string_view key, const std::string& path) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return nullptr;
    if (!n->is_table()) {
      wrong_type(*n, with_key(path, key), "a table");
      return nullptr;
    }
    return n->as_table();
  }

 protected:
  std::string file_;
  std::vector<diagnostic> diags_;
};

}  // namespace sgfw::config
