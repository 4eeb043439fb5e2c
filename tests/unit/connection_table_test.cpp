// Connection tracking's own rules, behind one interface: expire on find,
// the resource's share and early drop, all-or-nothing undo, per-flow counts
// that stay with their flow as Robin Hood moves entries, and a flow event
// for every start and end (and none for a flow that was undone).
#include "conntrack/connection_table.hpp"

#include <gtest/gtest.h>

#include <array>
#include <map>
#include <random>
#include <tuple>
#include <vector>

#include "conntrack/tracker.hpp"

namespace sgfw::dp {
namespace {

flow_key key_of(std::uint32_t n, bool v6 = false) {
  flow_key k;
  k.fam = v6 ? net::family::ipv6 : net::family::ipv4;
  k.local = v6 ? (net::u128{0x20010db8ULL} << 96) | 1 : 0x0A000001U;
  k.remote = v6 ? (net::u128{0x20010db9ULL} << 96) | n : 0xC6336400U + n;
  k.local_port = 80;
  k.remote_port = static_cast<std::uint16_t>(1024 + n);
  k.proto = ip_proto::tcp;
  return k;
}

struct event {
  flow_event what;
  std::uint16_t remote_port;
  std::uint32_t packets;
  std::uint64_t bytes;
  std::uint32_t now;
};

struct recorder {
  std::vector<event> events;
  static void on(void* self, flow_event what, const flow_entry& e, const flow_counts& c, std::uint32_t now) {
    static_cast<recorder*>(self)->events.push_back({what, e.remote_port, c.packets, c.bytes, now});
  }
  flow_listener listener() { return {&recorder::on, this}; }
};

// A flow opened and created at `now`, in `state`, expiring `ttl` later.
flow_entry* open_flow(connection_table& t, const flow_key& k, std::uint32_t now, tcp_state state, std::uint32_t ttl,
                      std::uint16_t slot = 1, std::uint32_t share = 1000) {
  open_refusal why = open_refusal::none;
  flow_entry* e = t.open(k, t.hash(k), slot, share, {}, now, why);
  if (e == nullptr) return nullptr;
  e->state = static_cast<std::uint8_t>(state);
  e->expires_at = now + ttl;
  t.opened(*e, now);
  return e;
}

class ConnectionTable : public ::testing::TestWithParam<bool> {
 protected:
  bool v6() const { return GetParam(); }
  flow_key key(std::uint32_t n) const { return key_of(n, v6()); }
};

TEST_P(ConnectionTable, AFlowPastItsTimeoutIsGoneWhenFoundAndSaysSo) {
  connection_table t({1024, true, true});
  recorder r;
  t.listen(r.listener());
  const flow_key k = key(1);
  flow_entry* e = open_flow(t, k, 100, tcp_state::established, 50);
  ASSERT_NE(e, nullptr);
  t.count(*e, 60, false);
  t.count(*e, 1500, true);
  EXPECT_NE(t.live(k, t.hash(k), flow_table::k_no_hint, 149), nullptr);
  EXPECT_EQ(t.live(k, t.hash(k), flow_table::k_no_hint, 150), nullptr);
  EXPECT_EQ(t.size(), 0U);
  EXPECT_EQ(t.resource_flows(1), 0U);
  ASSERT_EQ(r.events.size(), 2U);
  EXPECT_EQ(r.events[0].what, flow_event::created);
  EXPECT_EQ(r.events[1].what, flow_event::expired);
  EXPECT_EQ(r.events[1].packets, 2U);
  EXPECT_EQ(r.events[1].bytes, 1560U);
  EXPECT_EQ(r.events[1].now, 150U);
  const auto tally = t.take_tally();
  EXPECT_EQ(tally.created, 1U);
  EXPECT_EQ(tally.expired, 1U);
}

TEST_P(ConnectionTable, TheSweepExpiresWhatNobodyLooksFor) {
  connection_table t({1024, true, true});
  recorder r;
  t.listen(r.listener());
  for (std::uint32_t n = 0; n < 10; ++n) open_flow(t, key(n), 0, tcp_state::established, n < 5 ? 10 : 1000);
  t.age(static_cast<std::uint32_t>(t.flows().slot_count()), 500);
  EXPECT_EQ(t.size(), 5U);
  EXPECT_EQ(t.resource_flows(1), 5U);
  std::size_t expired = 0;
  for (const auto& ev : r.events) expired += ev.what == flow_event::expired ? 1 : 0;
  EXPECT_EQ(expired, 5U);
  EXPECT_EQ(t.take_tally().expired, 5U);
}

TEST_P(ConnectionTable, UndoLeavesNoTraceAndNoEvent) {
  connection_table t({1024, true, true});
  recorder r;
  t.listen(r.listener());
  const flow_key k = key(7);
  open_refusal why = open_refusal::none;
  ASSERT_NE(t.open(k, t.hash(k), 3, 10, {}, 0, why), nullptr);
  EXPECT_EQ(t.resource_flows(3), 1U);
  t.undo(k, t.hash(k));
  EXPECT_EQ(t.size(), 0U);
  EXPECT_EQ(t.resource_flows(3), 0U);
  EXPECT_TRUE(r.events.empty());
  const auto tally = t.take_tally();
  EXPECT_EQ(tally.created + tally.closed + tally.expired + tally.evicted, 0U);
}

TEST_P(ConnectionTable, AFullShareEvictsItsOwnHalfOpenFlowNeverAnEstablishedOne) {
  connection_table t({1024, true, true});
  recorder r;
  t.listen(r.listener());
  // Resource slot 1 holds two flows at most: one established, one half-open.
  ASSERT_NE(open_flow(t, key(1), 0, tcp_state::established, 1000, 1, 2), nullptr);
  ASSERT_NE(open_flow(t, key(2), 0, tcp_state::syn_recv, 1000, 1, 2), nullptr);
  // Another resource's half-open flow is not this one's to evict.
  ASSERT_NE(open_flow(t, key(3), 0, tcp_state::syn_sent, 1000, 2, 2), nullptr);
  // Early drop looks around the key's home, then at the next stretch of
  // the table, round robin: within a few tries it has seen every slot.
  flow_entry* fourth = nullptr;
  const std::size_t stretches = t.flows().slot_count() / 256 + 2;
  for (std::size_t tries = 0; fourth == nullptr && tries < stretches; ++tries) {
    fourth = open_flow(t, key(4), 5, tcp_state::syn_sent, 1000, 1, 2);
  }
  EXPECT_NE(fourth, nullptr);
  EXPECT_NE(t.find(key(1), t.hash(key(1))), nullptr);
  EXPECT_EQ(t.find(key(2), t.hash(key(2))), nullptr);
  EXPECT_NE(t.find(key(3), t.hash(key(3))), nullptr);
  EXPECT_EQ(t.resource_flows(1), 2U);
  ASSERT_FALSE(r.events.empty());
  bool evicted = false;
  for (const auto& ev : r.events) evicted = evicted || (ev.what == flow_event::evicted && ev.remote_port == 1026);
  EXPECT_TRUE(evicted);
  // Now only the established flow and the new one: nothing evictable that
  // is not the packet's own.
  const flow_key own = key(4);
  const std::uint64_t exceeded = t.resource_exceeded(1);
  for (std::size_t tries = 0; tries < stretches; ++tries) {
    open_refusal why = open_refusal::none;
    EXPECT_EQ(t.open(key(5), t.hash(key(5)), 1, 2, {&own, 1}, 6, why), nullptr);
    EXPECT_EQ(why, open_refusal::share_full);
  }
  EXPECT_EQ(t.resource_exceeded(1), exceeded + stretches);
  EXPECT_NE(t.find(own, t.hash(own)), nullptr);
}

TEST_P(ConnectionTable, WithoutEarlyDropAFullTableRefuses) {
  connection_table t({1024, false, false});
  std::uint32_t n = 0;
  while (open_flow(t, key(n), 0, tcp_state::syn_sent, 1000, 4, 1U << 20) != nullptr) ++n;
  EXPECT_EQ(n, 1024U);
  open_refusal why = open_refusal::none;
  EXPECT_EQ(t.open(key(n), t.hash(key(n)), 4, 1U << 20, {}, 0, why), nullptr);
  EXPECT_EQ(why, open_refusal::table_full);
  EXPECT_EQ(t.counts_of(*t.find(key(0), t.hash(key(0)))), nullptr);  // no counting asked for
}

TEST_P(ConnectionTable, ClosingSaysClosed) {
  connection_table t({1024, true, true});
  recorder r;
  t.listen(r.listener());
  flow_entry* e = open_flow(t, key(9), 0, tcp_state::close, 10);
  t.count(*e, 40, false);
  t.close(e, 3);
  ASSERT_EQ(r.events.size(), 2U);
  EXPECT_EQ(r.events[1].what, flow_event::closed);
  EXPECT_EQ(r.events[1].packets, 1U);
  EXPECT_EQ(t.take_tally().closed, 1U);
}

// Robin Hood insertion and backward-shift erasure move entries; each
// flow's counts must move with it.
TEST_P(ConnectionTable, CountsStayWithTheirFlowUnderChurn) {
  connection_table t({4000, false, true});
  std::map<std::uint32_t, std::array<std::uint64_t, 4>> model;  // n -> packets, bytes, reply packets, reply bytes
  std::mt19937 rnd(7);
  for (int step = 0; step < 100000; ++step) {
    const auto n = static_cast<std::uint32_t>(rnd() % 6000);
    const flow_key k = key(n);
    flow_entry* e = t.find(k, t.hash(k));
    const int op = static_cast<int>(rnd() % 10);
    if (e == nullptr) {
      if (op < 6 && (e = open_flow(t, k, 0, tcp_state::established, 1U << 30)) != nullptr) model[n] = {};
      continue;
    }
    if (op < 7) {
      const auto len = static_cast<std::uint32_t>(60 + rnd() % 1400);
      const bool reply = op < 3;
      t.count(*e, len, reply);
      auto& m = model[n];
      ++m[0];
      m[1] += len;
      m[2] += reply ? 1 : 0;
      m[3] += reply ? len : 0;
    } else {
      t.close(e, 0);
      model.erase(n);
    }
  }
  ASSERT_EQ(t.size(), model.size());
  for (const auto& [n, c] : model) {
    const flow_entry* e = t.find(key(n), t.hash(key(n)));
    ASSERT_NE(e, nullptr);
    const flow_counts* counts = t.counts_of(*e);
    ASSERT_NE(counts, nullptr);
    const flow_counts seen = *counts;
    EXPECT_EQ(seen.packets, c[0]) << n;
    EXPECT_EQ(seen.bytes, c[1]) << n;
    EXPECT_EQ(seen.reply_packets, c[2]) << n;
    EXPECT_EQ(seen.reply_bytes, c[3]) << n;
  }
}

INSTANTIATE_TEST_SUITE_P(Families, ConnectionTable, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& i) { return i.param ? "IPv6" : "IPv4"; });

}  // namespace
}  // namespace sgfw::dp
