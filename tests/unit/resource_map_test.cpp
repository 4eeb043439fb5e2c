#include "policy/resource_map.hpp"

#include <gtest/gtest.h>

#include <map>
#include <random>

namespace sgfw::dp {
namespace {

TEST(ResourceMap, FindsEveryAddressAndNothingElse) {
  std::mt19937_64 r(7);
  std::vector<resource_map::entry> entries;
  std::map<net::ip_address, std::uint32_t> truth;
  for (std::uint32_t i = 0; i < 5000; ++i) {
    // Consecutive addresses, the common case, and random ones.
    const net::ip_address a =
        i % 2 == 0 ? net::ip_address::v4(0x0A000000U + i) : net::ip_address::v6((net::u128{r()} << 64) | r());
    if (truth.emplace(a, i).second) entries.push_back({a, i});
  }
  const auto m = resource_map::build(entries);
  for (const auto& [a, res] : truth) ASSERT_EQ(m.find(a), res);
  for (int i = 0; i < 20000; ++i) {
    const net::ip_address a = i % 2 == 0 ? net::ip_address::v4(static_cast<std::uint32_t>(r()))
                                         : net::ip_address::v6((net::u128{r()} << 64) | r());
    const auto it = truth.find(a);
    ASSERT_EQ(m.find(a), it == truth.end() ? k_no_resource : it->second);
  }
}

TEST(ResourceMap, EmptyMapFindsNothing) {
  const auto m = resource_map::build({});
  EXPECT_EQ(m.find(net::ip_address::v4(1)), k_no_resource);
  EXPECT_EQ(m.find(net::ip_address::v6(1)), k_no_resource);
}

}  // namespace
}  // namespace sgfw::dp
