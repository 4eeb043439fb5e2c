#include "policy/interval_map.hpp"

#include <gtest/gtest.h>

#include <random>

namespace sgfw::dp {
namespace {

template <class K>
std::uint32_t naive(const std::vector<K>& bounds, const std::vector<std::uint32_t>& values, K x) {
  std::size_t i = 0;
  while (i + 1 < bounds.size() && bounds[i + 1] <= x) ++i;
  return values[i];
}

template <class K>
void check_random(std::size_t n, std::uint64_t seed, K max, unsigned depth = 1) {
  std::mt19937_64 r(seed);
  std::vector<K> bounds{0};
  while (bounds.size() < n) {
    const K k = static_cast<K>((static_cast<net::u128>(r()) << 64 | r()) % (static_cast<net::u128>(max)));
    bounds.push_back(k);
  }
  if (n > 2) bounds.push_back(max);  // the largest key is a bound of its own
  std::sort(bounds.begin(), bounds.end());
  bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());
  std::vector<std::uint32_t> values;
  for (std::size_t i = 0; i < bounds.size(); ++i) values.push_back(static_cast<std::uint32_t>(i * 7 + 1));
  const auto m = interval_map<K>::build(bounds, values, depth);
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    ASSERT_EQ(m.lookup(bounds[i]), values[i]) << "n=" << n << " i=" << i;
    if (bounds[i] != 0) {
      ASSERT_EQ(m.lookup(static_cast<K>(bounds[i] - 1)), values[i - 1]);
    }
  }
  ASSERT_EQ(m.lookup(max), naive(bounds, values, max));
  ASSERT_EQ(m.lookup(0), values[0]);
  for (int i = 0; i < 2000; ++i) {
    const K x = static_cast<K>(static_cast<net::u128>(r()) << 64 | r());
    ASSERT_EQ(m.lookup(x), naive(bounds, values, x));
  }
}

TEST(IntervalMap, MatchesNaiveSearchAtEverySize32) {
  for (const std::size_t n : {1UL, 2UL, 15UL, 16UL, 17UL, 255UL, 256UL, 257UL, 1000UL, 4096UL, 5000UL}) {
    check_random<std::uint32_t>(n, n, 0xFFFFFFFFU);
    check_random<std::uint32_t>(n, n + 1, 0xFFFFFFU);
  }
}

TEST(IntervalMap, MatchesNaiveSearchAtEverySize128) {
  for (const std::size_t n : {1UL, 2UL, 16UL, 17UL, 300UL, 4097UL}) check_random<net::u128>(n, n, ~net::u128{0});
}

TEST(IntervalMap, DeepTreesAndPaddedDepths) {
  check_random<std::uint32_t>(20000, 3, 0xFFFFFFFFU);  // four levels
  check_random<net::u128>(5000, 4, ~net::u128{0});     // four levels
  // Policies pad every map to one depth: extra empty levels on top.
  for (const unsigned depth : {2U, 3U, 5U}) {
    check_random<std::uint32_t>(10, depth, 0xFFFFFFFFU, depth);
    check_random<std::uint32_t>(300, depth, 0xFFFFFFFFU, depth);
    check_random<net::u128>(10, depth, ~net::u128{0}, depth);
  }
  const std::vector<std::uint32_t> one{0};
  const std::vector<std::uint32_t> seven{7};
  const auto m = interval_map<std::uint32_t>::build(one, seven, 3);
  EXPECT_EQ(m.depth(), 3U);
  EXPECT_EQ(m.lookup(0), 7U);
  EXPECT_EQ(m.lookup(0xFFFFFFFFU), 7U);
}

TEST(IntervalMap, LargestKeyLandsInTheLastInterval) {
  const std::vector<std::uint32_t> bounds{0, 10, 0xFFFFFFF0U};
  const std::vector<std::uint32_t> values{1, 2, 3};
  const auto m = interval_map<std::uint32_t>::build(bounds, values);
  EXPECT_EQ(m.lookup(0xFFFFFFFFU), 3U);
  EXPECT_EQ(m.lookup(0xFFFFFFEFU), 2U);
  EXPECT_EQ(m.depth(), 1U);
}

}  // namespace
}  // namespace sgfw::dp
