#include "control/policy_document.hpp"

#include <sstream>

#include "config/model.hpp"

namespace sgfw::cp {

std::optional<policy_document> policy_document::parse(std::string_view text, std::string& error) {
  policy_document d;
  try {
    d.root_ = std::make_shared<toml::table>(toml::parse(text));
  } catch (const toml::parse_error& e) {
    error = std::string(e.description());
    return std::nullopt;
  }
  if (toml::node* n = d.root_->get("security_group")) {
    toml::array* groups = n->as_array();
    if (groups == nullptr) {
      error = "security_group is not an array of tables";
      return std::nullopt;
    }
    for (std::size_t i = 0; i < groups->size(); ++i) {
      toml::table* t = table_at(*groups, i);
      if (t == nullptr) {
        error = "security_group[" + std::to_string(i) + "] is not a table";
        return std::nullopt;
      }
      d.groups_.push_back({std::make_shared<toml::table>(std::move(*t)), nullptr});
    }
    d.groups_key_ = true;
    d.root_->erase("security_group");
  }
  return d;
}

namespace {
// An empty array is a plain value: before every table, as TOML++ would
// place it (after one, it would be a key of that table).
constexpr std::string_view k_no_groups = "security_group = []\n\n";
constexpr std::string_view k_between = "\n\n";
}  // namespace

std::size_t policy_document::text_size() const {
  // Every string as an escaped basic string: a literal or multi-line one
  // would carry a description's ''' or leading newline into the file as
  // TOML of its own (a rule the running policy does not have, or a file
  // that does not parse).
  const auto formatted = [](const toml::table& t) {
    std::ostringstream out;
    out << toml::toml_formatter(t, toml::format_flags::indentation);
    return std::make_shared<const std::string>(out.str());
  };
  if (!root_text_) root_text_ = formatted(*root_);
  // The groups after every other top-level key, as TOML++ orders a whole
  // document (security_group last), each as a [[security_group]] table
  // even where the file wrote them inline (inline, each would be a
  // `security_group = [...]` of its own: a duplicate key, or a key of the
  // table before).  Each one's text is made once.
  std::size_t size = (groups_.empty() && groups_key_ ? k_no_groups.size() : 0) + root_text_->size() + 1;
  for (const group_entry& g : groups_) {
    if (!g.text) {
      toml::table t = *g.table;
      t.is_inline(false);
      g.text = formatted(toml::table{{"security_group", toml::array{std::move(t)}}});
    }
    size += k_between.size() + g.text->size();
  }
  return size;
}

std::string policy_document::text() const {
  std::string out;
  out.reserve(text_size());
  if (groups_.empty() && groups_key_) out += k_no_groups;
  out += *root_text_;
  for (const group_entry& g : groups_) {
    out += k_between;
    out += *g.text;
  }
  out += '\n';
  return out;
}

toml::table& policy_document::edit_root() {
  if (root_.use_count() > 1) root_ = std::make_shared<toml::table>(*root_);
  root_text_.reset();
  return *root_;
}

toml::array& policy_document::tables(std::string_view key) {
  toml::table& root = edit_root();
  if (toml::array* a = root[key].as_array()) return *a;
  root.insert_or_assign(key, toml::array{});
  return *root[key].as_array();
}

toml::table* table_at(toml::array& a, std::size_t i) { return i < a.size() ? a.get(i)->as_table() : nullptr; }

std::optional<std::size_t> policy_document::find_group(std::string_view id) const {
  for (std::size_t i = 0; i < groups_.size(); ++i) {
    const auto v = (*groups_[i].table)["id"].value<std::string_view>();
    if (v && *v == id) return i;
  }
  return std::nullopt;
}

toml::table& policy_document::edit_group(std::size_t index) {
  group_entry& g = groups_.at(index);
  if (g.table.use_count() > 1) g.table = std::make_shared<toml::table>(*g.table);
  g.text.reset();
  return *g.table;
}

std::size_t policy_document::add_group(toml::table group) {
  groups_.push_back({std::make_shared<toml::table>(std::move(group)), nullptr});
  groups_key_ = true;
  return groups_.size() - 1;
}

void policy_document::erase_group(std::size_t index) {
  groups_.erase(groups_.begin() + static_cast<std::ptrdiff_t>(index));
}

std::vector<const toml::table*> policy_document::group_tables() const {
  std::vector<const toml::table*> out;
  out.reserve(groups_.size());
  for (const auto& g : groups_) out.push_back(g.table.get());
  return out;
}

toml::table* policy_document::find(std::string_view key, std::string_view field, std::string_view value,
                                   std::size_t* index) {
  if (!root_->contains(key)) return nullptr;
  toml::array* a = edit_root()[key].as_array();
  if (a == nullptr) return nullptr;
  for (std::size_t i = 0; i < a->size(); ++i) {
    toml::table* t = table_at(*a, i);
    if (t == nullptr) continue;
    const auto v = (*t)[field].value<std::string_view>();
    if (v && *v == value) {
      if (index != nullptr) *index = i;
      return t;
    }
  }
  return nullptr;
}

std::size_t policy_document::materialise_default_group() {
  if (const auto index = find_group(config::k_default_group_id)) return *index;
  toml::table g;
  g.insert("id", config::k_default_group_id);
  g.insert("description", "the appliance's default group: ingress from its own members, egress to all");
  toml::array ingress;
  ingress.push_back(toml::table{{"protocol", "all"},
                                {"security_group", config::k_default_group_id},
                                {"description", "default: all traffic from members of this group"}});
  g.insert("ingress", std::move(ingress));
  return add_group(std::move(g));
}

toml::array& policy_document::rules(toml::table& group, direction d) {
  const char* key = d == direction::ingress ? "ingress" : "egress";
  if (toml::array* a = group[key].as_array()) return *a;
  toml::array made;
  if (d == direction::egress) {
    // S4, as normalise() supplies it: IPv4 first, then IPv6.
    for (const char* any : {"0.0.0.0/0", "::/0"}) {
      made.push_back(toml::table{{"protocol", "all"}, {"cidr", any}, {"description", "default: all outbound traffic"}});
    }
  }
  group.insert_or_assign(key, std::move(made));
  return *group[key].as_array();
}

}  // namespace sgfw::cp
