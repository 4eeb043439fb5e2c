// policy_document: the text it writes parses to the very document it holds,
// whatever shape the groups had in the file (inline tables, [[...]] with
// rule arrays of tables, mixed arrays, an empty array, none, nothing but
// groups), and a copy shares each group's table (and text) until edited.
#include "control/policy_document.hpp"

#include <gtest/gtest.h>

#include <string>

namespace sgfw::cp {
namespace {

// The document `d` holds, as one TOML table (groups under security_group).
toml::table whole(const policy_document& d, bool groups_key) {
  toml::table t = d.root();
  if (groups_key || d.group_count() != 0) {
    toml::array groups;
    for (const toml::table* g : d.group_tables()) {
      toml::table copy = *g;
      copy.is_inline(false);
      groups.push_back(std::move(copy));
    }
    t.insert("security_group", std::move(groups));
  }
  return t;
}

policy_document parsed(const std::string& text) {
  std::string error;
  auto d = policy_document::parse(text, error);
  EXPECT_TRUE(d.has_value()) << error;
  return d ? std::move(*d) : policy_document{};
}

TEST(PolicyDocument, TextParsesToTheDocumentInEveryShapeOfGroups) {
  const char* resource =
      "\n[appliance]\nunprotected_traffic = \"drop\"\n\n[[resource]]\nname = \"a\"\n"
      "addresses = [\"10.0.0.1\", \"2001:db8::1\"]\n";
  const struct {
    const char* what;
    std::string text;
    bool groups_key;
  } shapes[] = {
      {"inline groups",
       std::string("security_group = [{ id = \"web\", ingress = [{ protocol = \"tcp\", ports = 443, "
                   "cidr = \"0.0.0.0/0\" }] }, { id = \"app\", egress = [] }]\n") +
           resource,
       true},
      {"tables with arrays of tables",
       std::string(resource) +
           "\n[[security_group]]\nid = \"web\"\n[[security_group.ingress]]\nprotocol = \"udp\"\nports = 53\n"
           "cidr = \"::/0\"\n[[security_group.ingress]]\nprotocol = \"tcp\"\nports = 22\n"
           "cidr = \"10.0.0.0/8\"\n[[security_group]]\nid = \"db\"\n",
       true},
      {"empty array", std::string("security_group = []\n") + resource, true},
      {"no key", resource, false},
      {"groups only", "[[security_group]]\nid = \"web\"\ndescription = \"]]\\n[[security_group]]\\nid = 'x'\"\n", true},
  };
  for (const auto& s : shapes) {
    policy_document d = parsed(s.text);
    const std::string text = d.text();
    toml::table back;
    ASSERT_NO_THROW(back = toml::parse(text)) << s.what << ":\n" << text;
    EXPECT_EQ(back, whole(d, s.groups_key)) << s.what << ":\n" << text;
    // Edited through the API's way: a rule appended to a group (a table
    // added to an inline array), a group added after the inline ones.
    policy_document next = d;
    if (next.group_count() != 0) {
      next.rules(next.edit_group(0), direction::ingress)
          .push_back(toml::table{{"protocol", "tcp"}, {"ports", 8443}, {"cidr", "2001:db8::/32"}});
    }
    next.add_group(toml::table{{"id", "new"}});
    const std::string edited = next.text();
    ASSERT_NO_THROW(back = toml::parse(edited)) << s.what << ", edited:\n" << edited;
    EXPECT_EQ(back, whole(next, true)) << s.what << ", edited:\n" << edited;
    // The copy it was made from is as it was.
    EXPECT_EQ(d.text(), text) << s.what;
  }
}

TEST(PolicyDocument, CopiesShareGroupsUntilOneIsEdited) {
  policy_document d = parsed("[[security_group]]\nid = \"a\"\n[[security_group]]\nid = \"b\"\n");
  policy_document copy = d;
  EXPECT_EQ(copy.group_tables(), d.group_tables());
  copy.edit_group(1).insert_or_assign("description", "edited");
  const auto mine = copy.group_tables();
  const auto theirs = d.group_tables();
  EXPECT_EQ(mine[0], theirs[0]);
  EXPECT_NE(mine[1], theirs[1]);
  EXPECT_EQ((*theirs[1])["description"].value<std::string>(), std::nullopt);
  EXPECT_NE(copy.text().find("edited"), std::string::npos);
  EXPECT_EQ(d.text().find("edited"), std::string::npos);
  // Erasing the last group leaves an empty array, which reads back as one.
  copy.erase_group(1);
  copy.erase_group(0);
  EXPECT_EQ(toml::parse(copy.text())["security_group"].as_array()->size(), 0U);
}

// The rest of the document too: shared until one copy edits it, and its
// text made again only for the copy that did.
TEST(PolicyDocument, CopiesShareTheRestUntilOneIsEdited) {
  policy_document d =
      parsed("[[resource]]\nname = \"web-1\"\naddresses = [\"10.0.1.10\"]\n[[security_group]]\nid = \"a\"\n");
  const std::string before = d.text();
  policy_document copy = d;
  EXPECT_EQ(&copy.root(), &d.root());
  toml::table* res = copy.find("resource", "name", "web-1");
  ASSERT_NE(res, nullptr);
  res->insert_or_assign("description", "edited");
  EXPECT_NE(&copy.root(), &d.root());
  EXPECT_NE(copy.text().find("edited"), std::string::npos);
  EXPECT_EQ(d.text(), before);
  copy.tables("prefix_list").push_back(toml::table{{"id", "pl"}, {"address_family", "IPv4"}});
  EXPECT_NE(copy.text().find("[[prefix_list]]"), std::string::npos);
  EXPECT_EQ(d.text(), before);
  copy.edit_root().erase("resource");
  EXPECT_EQ(copy.text().find("web-1"), std::string::npos);
  EXPECT_EQ(d.text(), before);
  EXPECT_EQ(toml::parse(d.text()), toml::parse(before));
}

}  // namespace
}  // namespace sgfw::cp
