// The connection table against a std::map on random inserts, finds and
// erases (heavy churn, so backward shifting is exercised), plus capacity,
// ageing and the early-drop neighbourhood.
#include "conntrack/flow_table.hpp"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <tuple>
#include <vector>

namespace sgfw::dp {
namespace {

flow_key key_of(std::uint64_t n, bool v6) {
  flow_key k;
  k.fam = v6 ? net::family::ipv6 : net::family::ipv4;
  k.local = v6 ? (net::u128{0x20010db8ULL} << 96) | (n & 0xFF) : 0x0A000001U + (n & 0xFF);
  k.remote = v6 ? (net::u128{0x20010db9ULL} << 96) | (n >> 8) : 0xC0000000U + static_cast<std::uint32_t>(n >> 8);
  k.local_port = static_cast<std::uint16_t>(80 + (n % 3));
  k.remote_port = static_cast<std::uint16_t>(n * 7);
  k.proto = n % 5 == 0 ? 17 : 6;
  return k;
}

struct key_less {
  bool operator()(const flow_key& a, const flow_key& b) const {
    return std::tie(a.local, a.remote, a.local_port, a.remote_port, a.proto, a.fam) <
           std::tie(b.local, b.remote, b.local_port, b.remote_port, b.proto, b.fam);
  }
};

TEST(FlowTable, MatchesAMapUnderChurn) {
  flow_table t(5000);
  std::map<flow_key, std::uint32_t, key_less> model;
  std::mt19937_64 r(1);
  for (int step = 0; step < 200000; ++step) {
    const flow_key k = key_of(r() % 20000, (r() & 1) != 0);
    const std::uint64_t h = t.hash(k);
    flow_entry* e = t.find(k, h);
    const auto it = model.find(k);
    ASSERT_EQ(e != nullptr, it != model.end()) << step;
    if (e != nullptr) {
      ASSERT_TRUE(e->matches(k));
      ASSERT_EQ(e->rule, it->second);
      if (r() % 3 == 0) {
        t.erase(e);
        model.erase(it);
      }
    } else if (model.size() < t.capacity()) {
      flow_entry* n = t.insert(k, h);
      ASSERT_NE(n, nullptr) << step;
      ASSERT_TRUE(n->matches(k));
      n->rule = static_cast<std::uint32_t>(step);
      model[k] = static_cast<std::uint32_t>(step);
    }
    ASSERT_EQ(t.size(), model.size());
  }
  // Everything the model holds is still found, with its data.
  for (const auto& [k, rule] : model) {
    flow_entry* e = t.find(k, t.hash(k));
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->rule, rule);
  }
}

TEST(FlowTable, FullTableRefusesNewFlowsAndKeepsOldOnes) {
  flow_table t(1000);
  for (std::uint64_t n = 0; n < 1000; ++n) ASSERT_NE(t.insert(key_of(n, false), t.hash(key_of(n, false))), nullptr);
  EXPECT_EQ(t.size(), 1000U);
  EXPECT_EQ(t.insert(key_of(5000, false), t.hash(key_of(5000, false))), nullptr);
  for (std::uint64_t n = 0; n < 1000; ++n) EXPECT_NE(t.find(key_of(n, false), t.hash(key_of(n, false))), nullptr);
  // 64-byte entries and 2-byte control words, a sixteenth spare, a fixed tail.
  EXPECT_LE(t.memory_bytes(), (std::size_t{1000} * 17 / 16 + 2 + 256) * 66);
}

TEST(FlowTable, AgeingErasesOnlyWhatIsExpiredASliceAtATime) {
  flow_table t(2000);
  for (std::uint64_t n = 0; n < 1500; ++n) {
    flow_entry* e = t.insert(key_of(n, n % 2 == 0), t.hash(key_of(n, n % 2 == 0)));
    e->expires_at = n % 3 == 0 ? 10 : 1000;
  }
  std::uint32_t erased = 0;
  std::uint32_t calls = 0;
  while (erased < 500 && calls < 1000) {
    erased += t.age(64, [](const flow_entry& e) { return e.expires_at == 10; });
    ++calls;
  }
  EXPECT_EQ(erased, 500U);
  EXPECT_GT(calls, 10U);  // incremental, not all at once
  EXPECT_EQ(t.size(), 1000U);
  for (std::uint64_t n = 0; n < 1500; ++n) {
    EXPECT_EQ(t.find(key_of(n, n % 2 == 0), t.hash(key_of(n, n % 2 == 0))) != nullptr, n % 3 != 0) << n;
  }
}

TEST(FlowTable, NearbyFindsCandidatesAroundTheHome) {
  flow_table t(100);
  for (std::uint64_t n = 0; n < 100; ++n)
    t.insert(key_of(n, false), t.hash(key_of(n, false)))->expires_at = static_cast<std::uint32_t>(n);
  const flow_entry* oldest = t.nearby(
      t.hash(key_of(7, false)), 2 * t.slot_count(),
      [](const flow_entry& e, const flow_entry* best) { return best == nullptr || e.expires_at < best->expires_at; });
  ASSERT_NE(oldest, nullptr);
  EXPECT_EQ(oldest->expires_at, 0U);
}

// Hashes chosen by the test: every key homed on the last home slot, so
// the probe run goes through the tail to the probe limit.
TEST(FlowTable, OneLongRunAtTheEndStopsAtTheProbeLimit) {
  flow_table t(1000);
  const std::uint64_t last_home = 0xFFFFFFFF00000000ULL;  // high half picks the slot
  std::uint32_t stored = 0;
  for (std::uint64_t n = 0; n < flow_table::k_max_probe + 20; ++n) {
    const std::uint64_t h = last_home | (n % 3);  // three tags: tag matches are common
    if (t.insert(key_of(n, n % 2 == 0), h) != nullptr) ++stored;
  }
  EXPECT_EQ(stored, flow_table::k_max_probe);
  for (std::uint64_t n = 0; n < flow_table::k_max_probe + 20; ++n) {
    const flow_entry* e = t.find(key_of(n, n % 2 == 0), last_home | (n % 3));
    EXPECT_EQ(e != nullptr, n < flow_table::k_max_probe) << n;
  }
  // Erasing from the middle of the run keeps the rest findable.
  for (std::uint64_t n = 0; n < flow_table::k_max_probe; n += 2) {
    t.erase(t.find(key_of(n, n % 2 == 0), last_home | (n % 3)));
  }
  for (std::uint64_t n = 1; n < flow_table::k_max_probe; n += 2) {
    EXPECT_NE(t.find(key_of(n, n % 2 == 0), last_home | (n % 3)), nullptr) << n;
  }
}

// find(key, hash, hint) answers as find(key, hash) whatever the hint:
// fresh, stale after inserts and erases, or nonsense.
TEST(FlowTable, HintsNeverChangeTheAnswer) {
  flow_table t(2000);
  std::mt19937_64 r(7);
  std::vector<std::size_t> hints(3000);
  for (std::uint64_t n = 0; n < 1500; ++n) t.insert(key_of(n, false), t.hash(key_of(n, false)));
  for (std::uint64_t n = 0; n < hints.size(); ++n) hints[n] = t.prefetch_entry(t.hash(key_of(n, false)));
  for (std::uint64_t n = 0; n < 1500; n += 3) t.erase(t.find(key_of(n, false), t.hash(key_of(n, false))));
  for (std::uint64_t n = 1500; n < 2000; ++n) t.insert(key_of(n, false), t.hash(key_of(n, false)));
  for (std::uint64_t n = 0; n < hints.size(); ++n) {
    const flow_key k = key_of(n, false);
    const std::uint64_t h = t.hash(k);
    const flow_entry* want = t.find(k, h);
    EXPECT_EQ(t.find(k, h, hints[n]), want) << n;
    EXPECT_EQ(t.find(k, h, r() % t.slot_count()), want) << n;
    EXPECT_EQ(t.find(k, h, flow_table::k_no_hint), want) << n;
    EXPECT_EQ(t.find(k, h, t.prefetch_entry(h)), want) << n;
  }
}

TEST(FlowTable, DistinctTablesHashDifferently) {
  flow_table a(10);
  flow_table b(10);
  int same = 0;
  for (std::uint64_t n = 0; n < 64; ++n) same += a.hash(key_of(n, false)) == b.hash(key_of(n, false)) ? 1 : 0;
  EXPECT_LT(same, 4);
}

}  // namespace
}  // namespace sgfw::dp
