// rule_counters and rule_stats: a worker's per-rule counts, and what the
// control thread makes of them — all workers added up, the last hit in
// wall-clock time, and an index given to another rule starting from zero.
#include "appliance/rule_stats.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "worker/rule_counters.hpp"

namespace sgfw::cp {
namespace {

constexpr std::uint64_t k_wall_at_zero = 1'700'000'000'000;

// Two workers' counts, room for indices 0-7 in each.
struct two_workers {
  two_workers() {
    a.reserve(8);
    b.reserve(8);
  }
  dp::rule_counters a, b;
  dp::manual_clock clock;
  rule_stats stats{[this](std::uint32_t i) {
                     dp::rule_totals t = a.read(i);
                     t += b.read(i);
                     return t;
                   },
                   clock.source(), [this] { return k_wall_at_zero + clock.ms; }};
};

TEST(RuleCounters, OnlyReservedIndicesAreCountedAndReadsAddUp) {
  dp::rule_counters c;
  c.admit(1, 100, 5);  // nothing reserved yet: not counted, no crash
  EXPECT_EQ(c.read(1), dp::rule_totals{});
  ASSERT_TRUE(c.reserve(10));
  c.admit(1, 100, 5);
  c.admit(1, 60, 9);
  c.opened(1);
  const dp::rule_totals t = c.read(1);
  EXPECT_EQ(t.packets, 2U);
  EXPECT_EQ(t.bytes, 160U);
  EXPECT_EQ(t.flows, 1U);
  EXPECT_EQ(t.last_ms, 10U);  // 1 + the clock at the last packet
  // Reserving is per chunk; an index past every chunk is never counted.
  c.admit(dp::rule_counters::k_chunk, 1, 1);
  EXPECT_EQ(c.read(dp::rule_counters::k_chunk), dp::rule_totals{});
  const std::uint32_t past = dp::rule_counters::k_chunk * dp::rule_counters::k_chunks + 3;
  c.admit(past, 1, 1);
  EXPECT_EQ(c.read(past), dp::rule_totals{});
}

TEST(RuleStats, AddsUpWorkersAndGivesTheLastHitInWallClockTime) {
  two_workers w;
  w.clock.ms = 1000;
  w.a.admit(3, 10, w.clock.ms);
  w.clock.ms = 4000;
  w.b.admit(3, 20, w.clock.ms);
  w.b.opened(3);
  w.clock.ms = 9000;  // read later: the last hit stays when it was
  const dp::rule_totals t = w.stats.read(3);
  EXPECT_EQ(t.packets, 2U);
  EXPECT_EQ(t.bytes, 30U);
  EXPECT_EQ(t.flows, 1U);
  EXPECT_EQ(t.last_ms, k_wall_at_zero + 4000);
  EXPECT_EQ(w.stats.read(4), dp::rule_totals{});  // never hit: no time
}

// An index given to another rule: the new rule starts at zero, with no
// last hit until its own first packet; other indices are untouched.
TEST(RuleStats, AnIndexGivenToAnotherRuleStartsFromZero) {
  two_workers w;
  w.clock.ms = 100;
  w.a.admit(5, 40, w.clock.ms);
  w.b.opened(5);
  w.a.admit(6, 7, w.clock.ms);
  w.stats.reused({5});
  EXPECT_EQ(w.stats.read(5), dp::rule_totals{});
  EXPECT_EQ(w.stats.read(6).packets, 1U);
  w.clock.ms = 300;
  w.b.admit(5, 8, w.clock.ms);
  const dp::rule_totals t = w.stats.read(5);
  EXPECT_EQ(t.packets, 1U);
  EXPECT_EQ(t.bytes, 8U);
  EXPECT_EQ(t.flows, 0U);
  EXPECT_EQ(t.last_ms, k_wall_at_zero + 300);
  // Given again once more: zero again.
  w.stats.reused({5});
  EXPECT_EQ(w.stats.read(5), dp::rule_totals{});
}

}  // namespace
}  // namespace sgfw::cp
