// The first-fragment verdicts (docs/semantics.md S10) on their own: later fragments
// follow an allowed first fragment within the timeout and from its port,
// overlaps and orphans are refused, a full table gives way to new
// datagrams (oldest first), and no verdict comes back after it expired,
// however the clock wraps.
#include "conntrack/fragment_table.hpp"

#include <gtest/gtest.h>

#include "policy/direction.hpp"  // ip_proto

namespace sgfw::dp {
namespace {

using follow = fragment_table::follow;

parsed_packet fragment(std::uint32_t id, std::uint16_t offset, std::uint16_t end, bool v6 = false) {
  parsed_packet p;
  p.kind = frame_kind::ip;
  p.fam = v6 ? net::family::ipv6 : net::family::ipv4;
  p.src = v6 ? (net::u128{0x20010db8ULL} << 96) | 1 : 0x0A000001;
  p.dst = v6 ? (net::u128{0x20010db8ULL} << 96) | 2 : 0xC0000201;
  p.proto = ip_proto::udp;
  p.fragment_proto = ip_proto::udp;
  p.fragment = true;
  p.more_fragments = true;
  p.fragment_id = id;
  p.fragment_offset = offset;
  p.fragment_end = end;
  return p;
}

constexpr std::uint32_t k_timeout = 30000;
constexpr std::uint16_t k_port = 0;
constexpr std::uint16_t k_other_port = 1;

TEST(FragmentTable, LaterFragmentsFollowAnAllowedFirstWithinTheTimeout) {
  fragment_table t(64);
  t.remember(fragment(7, 0, 1480), k_port, 1000, k_timeout);
  EXPECT_EQ(t.lookup(fragment(7, 1480, 2960), k_port, 2000), follow::allow);
  EXPECT_EQ(t.lookup(fragment(9, 1480, 2960), k_port, 2000), follow::orphan);
  EXPECT_EQ(t.lookup(fragment(7, 1480, 2960, true), k_port, 2000), follow::orphan);  // same numbers, other family
  EXPECT_EQ(t.lookup(fragment(7, 1480, 2960), k_port, 1000 + k_timeout), follow::orphan);
}

TEST(FragmentTable, AFollowerFromTheOtherPortIsAnOrphan) {
  fragment_table t(64);
  t.remember(fragment(7, 0, 1480), k_port, 0, k_timeout);
  EXPECT_EQ(t.lookup(fragment(7, 1480, 2960), k_other_port, 1), follow::orphan);
  EXPECT_EQ(t.lookup(fragment(7, 1480, 2960), k_port, 1), follow::allow);
}

TEST(FragmentTable, TheProtocolOfTheDatagramIsPartOfItsKey) {
  fragment_table t(64);
  t.remember(fragment(7, 0, 1480), k_port, 0, k_timeout);
  parsed_packet other = fragment(7, 1480, 2960);
  other.fragment_proto = ip_proto::tcp;
  EXPECT_EQ(t.lookup(other, k_port, 1), follow::orphan);
}

TEST(FragmentTable, ADeniedFirstFragmentUndoesAnEarlierAllowedOne) {
  fragment_table t(64);
  t.remember(fragment(7, 0, 1480), k_port, 0, k_timeout);
  t.forget(fragment(7, 0, 1480), 1);
  EXPECT_EQ(t.lookup(fragment(7, 1480, 2960), k_port, 2), follow::orphan);
}

TEST(FragmentTable, AFragmentReachingIntoTheJudgedBytesIsAnOverlap) {
  fragment_table t(64);
  t.remember(fragment(7, 0, 24), k_port, 0, k_timeout);
  EXPECT_EQ(t.lookup(fragment(7, 16, 1000), k_port, 1), follow::overlap);
  EXPECT_EQ(t.lookup(fragment(7, 24, 1000), k_port, 1), follow::allow);
}

TEST(FragmentTable, NoVerdictComesBackWhenTheClockWraps) {
  fragment_table t(64);
  t.remember(fragment(7, 0, 1480), k_port, 1000, k_timeout);
  // Half a clock period and more later (a signed comparison would call the
  // entry live again there).
  const std::uint32_t later[] = {1000 + (1U << 31) + 31000, 1000 + (1U << 31) + (1U << 30), 1000U + 40U * 86400000U};
  for (const std::uint32_t now : later)
    EXPECT_EQ(t.lookup(fragment(7, 1480, 2960), k_port, now), follow::orphan) << now;
  // A whole period later the expiry time comes round again; the worker's
  // ageing has long freed the entry by then.
  t.age(1000 + k_timeout + 1, 64);
  for (const std::uint32_t now : {0xFFFFFFFFU, 999U, 1001U}) {
    EXPECT_EQ(t.lookup(fragment(7, 1480, 2960), k_port, now), follow::orphan) << now;
  }
}

TEST(FragmentTable, AFullTableGivesWayOldestFirst) {
  fragment_table t(8);  // one probe window: eight datagrams at once
  for (std::uint32_t id = 0; id < 8; ++id) EXPECT_FALSE(t.remember(fragment(id, 0, 8), k_port, id, k_timeout));
  // A ninth datagram: the oldest (id 0) gives way, the rest stay.
  EXPECT_TRUE(t.remember(fragment(100, 0, 8), k_port, 10, k_timeout));
  EXPECT_EQ(t.lookup(fragment(100, 8, 16), k_port, 11), follow::allow);
  EXPECT_EQ(t.lookup(fragment(0, 8, 16), k_port, 11), follow::orphan);
  for (std::uint32_t id = 1; id < 8; ++id) EXPECT_EQ(t.lookup(fragment(id, 8, 16), k_port, 11), follow::allow) << id;
  // Expired entries are reused without evicting anything.
  t.age(k_timeout + 20, 8);
  EXPECT_FALSE(t.remember(fragment(200, 0, 8), k_port, k_timeout + 20, k_timeout));
}

}  // namespace
}  // namespace sgfw::dp
