#include "control/policy_document.hpp"

#include <sstream>

#include "config/model.hpp"

namespace sgfw::cp {

std::optional<policy_document> policy_document::parse(std::string_view text, std::string& error) {
  policy_document d;
  try {
    d.root_ = toml::parse(text);
  } catch (const toml::parse_error& e) {
    error = std::string(e.description());
    return std::nullopt;
  }
  return d;
}

std::string policy_document::text() const {
  std::ostringstream out;
  // Every string as an escaped basic string: a literal or multi-line one
  // would carry a description's ''' or leading newline into the file as
  // TOML of its own (a rule the running policy does not have, or a file
  // that does not parse).
  out << toml::toml_formatter(root_, toml::format_flags::indentation);
  out << '\n';
  return out.str();
}

toml::array& policy_document::tables(std::string_view key) {
  if (toml::array* a = root_[key].as_array()) return *a;
  root_.insert_or_assign(key, toml::array{});
  return *root_[key].as_array();
}

toml::table* table_at(toml::array& a, std::size_t i) { return i < a.size() ? a.get(i)->as_table() : nullptr; }

toml::table* policy_document::find(std::string_view key, std::string_view field, std::string_view value,
                                   std::size_t* index) {
  toml::array* a = root_[key].as_array();
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
  std::size_t index = 0;
  if (find("security_group", "id", config::k_default_group_id, &index) != nullptr) return index;
  toml::array& groups = tables("security_group");
  toml::table g;
  g.insert("id", config::k_default_group_id);
  g.insert("description", "the appliance's default group: ingress from its own members, egress to all");
  toml::array ingress;
  ingress.push_back(toml::table{{"protocol", "all"},
                                {"security_group", config::k_default_group_id},
                                {"description", "default: all traffic from members of this group"}});
  g.insert("ingress", std::move(ingress));
  groups.push_back(std::move(g));
  return groups.size() - 1;
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
