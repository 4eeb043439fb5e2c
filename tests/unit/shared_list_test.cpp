// shared_list: copies share their elements until one writes; a write never
// reaches a copy, whichever way it is made.
#include "config/shared_list.hpp"

#include <gtest/gtest.h>

#include <string>

namespace sgfw::config {
namespace {

TEST(SharedList, AWriteNeverReachesACopy) {
  shared_list<std::string> a{"x", "y", "z"};
  const shared_list<std::string> frozen = a;
  const auto writes = {
      +[](shared_list<std::string>& l) { l.push_back("w"); },
      +[](shared_list<std::string>& l) { l.erase(l.cbegin()); },
      +[](shared_list<std::string>& l) { l[1] = "changed"; },
      +[](shared_list<std::string>& l) {
        for (auto& s : l) s += "!";
      },
      +[](shared_list<std::string>& l) { l.insert(l.cbegin() + 1, "in"); },
      +[](shared_list<std::string>& l) { l.front() = "f"; },
      +[](shared_list<std::string>& l) { l.resize(1); },
      +[](shared_list<std::string>& l) { l.clear(); },
  };
  for (const auto& write : writes) {
    shared_list<std::string> b = a;
    EXPECT_TRUE(b.shares_with(a));
    write(b);
    EXPECT_FALSE(b.shares_with(a));
    EXPECT_EQ(a.get(), (std::vector<std::string>{"x", "y", "z"}));
    EXPECT_EQ(frozen.get(), a.get());
  }
  // An iterator of the shared elements erases the same position of the copy's own.
  shared_list<std::string> c = a;
  c.erase(c.cbegin() + 1);  // c's cbegin() is still the shared elements'
  EXPECT_EQ(c.get(), (std::vector<std::string>{"x", "z"}));
  // A list not shared is written in place.
  shared_list<std::string> d{"only"};
  const std::string* before = &d.get()[0];
  d[0] = "still";
  EXPECT_EQ(&d.get()[0], before);
}

}  // namespace
}  // namespace sgfw::config
