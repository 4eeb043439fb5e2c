// Flow events through the worker, where flow logs will hook in: every
// flow a passing packet opens is created once per resource side, ends once
// (closed, expired or evicted) with the packets and bytes it carried, and a
// packet that did not pass leaves no event at all.  Both address families.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "pipeline.hpp"

namespace sgfw::testing {
namespace {

using dp::flow_event;
namespace flag = dp::tcp_flag;

struct seen {
  flow_event what;
  std::uint16_t local_port, remote_port;
  std::uint32_t packets;
  std::uint64_t bytes;
  std::uint32_t reply_packets;
};

struct recorder {
  std::vector<seen> events;
  static void on(void* self, flow_event what, const dp::flow_entry& e, const dp::flow_counts& c, std::uint32_t) {
    static_cast<recorder*>(self)->events.push_back(
        {what, e.local_port, e.remote_port, c.packets, c.bytes, c.reply_packets});
  }
  std::size_t count(flow_event what) const {
    std::size_t n = 0;
    for (const auto& e : events) n += e.what == what ? 1 : 0;
    return n;
  }
};

struct family_case {
  const char* name;
  const char* server;
  const char* client;
  const char* peer_any;
};

const family_case k_families[] = {{"IPv4", "10.0.1.10", "198.51.100.7", "0.0.0.0/0"},
                                  {"IPv6", "fd00::10", "2001:db8::7", "::/0"}};

class FlowEvents : public ::testing::TestWithParam<family_case> {
 protected:
  const family_case& f() const { return GetParam(); }
  std::string policy(const char* extra = "") const {
    return std::string(extra) + R"(
[[security_group]]
id = "web"
  [[security_group.ingress]]
  protocol = "tcp"
  ports = 80
  cidr = ")" +
           f().peer_any +
           R"("
[[resource]]
name = "web-1"
addresses = [")" +
           f().server +
           R"("]
security_groups = ["web"]
)";
  }
  // A handshake from client port `cport`, the client behind `client_side`;
  // the frames' bytes added to `bytes`.
  void connect(pipeline& p, std::uint16_t cport, side client_side = side::outside, std::uint64_t* bytes = nullptr) {
    const side server_side = side::inside;
    const frame_spec steps[] = {tcp(f().client, cport, f().server, 80, flag::syn, 100),
                                tcp(f().server, 80, f().client, cport, flag::syn | flag::ack, 900, 101),
                                tcp(f().client, cport, f().server, 80, flag::ack, 101, 901)};
    for (std::size_t i = 0; i < 3; ++i) {
      ASSERT_EQ(p.pass(i == 1 ? server_side : client_side, steps[i]), 1U) << i;
      if (bytes != nullptr) *bytes += frame(steps[i]).size();
    }
  }
};

TEST_P(FlowEvents, CreatedOnceEndedOnceWithWhatTheFlowCarried) {
  pipeline p(policy(), {.flow_counters = true});
  recorder r;
  p.worker_at(0).listen({&recorder::on, &r});
  std::uint64_t bytes = 0;
  connect(p, 40000, side::outside, &bytes);
  ASSERT_EQ(r.events.size(), 1U);
  EXPECT_EQ(r.events[0].what, flow_event::created);
  EXPECT_EQ(r.events[0].local_port, 80);
  EXPECT_EQ(r.events[0].remote_port, 40000);
  // Denied and invalid packets leave no event and no count.
  EXPECT_EQ(p.pass(side::outside, tcp(f().client, 40001, f().server, 22, flag::syn)), 0U);
  EXPECT_EQ(p.pass(side::outside, tcp(f().client, 40002, f().server, 80, flag::ack)), 0U);
  EXPECT_EQ(r.events.size(), 1U);
  // Established: the sweep or the next packet after the timeout ends it.
  p.advance_ms(5ULL * 24 * 3600 * 1000 + 1000);
  EXPECT_EQ(p.pass(side::outside, tcp(f().client, 40000, f().server, 80, flag::ack, 101, 901)), 0U);
  ASSERT_EQ(r.events.size(), 2U);
  EXPECT_EQ(r.events[1].what, flow_event::expired);
  EXPECT_EQ(r.events[1].packets, 3U);        // SYN, SYN-ACK, ACK
  EXPECT_EQ(r.events[1].reply_packets, 1U);  // the SYN-ACK
  EXPECT_EQ(r.events[1].bytes, bytes);
}

TEST_P(FlowEvents, ANewConnectionOnTheSamePortsClosesTheOldOne) {
  pipeline p(policy(), {.flow_counters = true});
  recorder r;
  p.worker_at(0).listen({&recorder::on, &r});
  connect(p, 40000);
  ASSERT_EQ(p.pass(side::outside, tcp(f().client, 40000, f().server, 80, flag::rst, 101)), 1U);
  ASSERT_EQ(p.pass(side::outside, tcp(f().client, 40000, f().server, 80, flag::syn, 5000)), 1U);
  ASSERT_EQ(r.events.size(), 3U);
  EXPECT_EQ(r.events[1].what, flow_event::closed);
  EXPECT_EQ(r.events[1].packets, 4U);  // the handshake and the RST
  EXPECT_EQ(r.events[2].what, flow_event::created);
  EXPECT_EQ(p.total(&dp::worker_counters::flows_closed), 1U);
}

// Without flow_counters (the default) the events come all the same, with
// zero counts.
TEST_P(FlowEvents, WithoutCountersTheEventsCarryZeros) {
  pipeline p(policy());
  recorder r;
  p.worker_at(0).listen({&recorder::on, &r});
  connect(p, 40000);
  p.advance_ms(5ULL * 24 * 3600 * 1000 + 1000);
  EXPECT_EQ(p.pass(side::outside, tcp(f().client, 40000, f().server, 80, flag::ack, 101, 901)), 0U);
  ASSERT_EQ(r.events.size(), 2U);
  EXPECT_EQ(r.events[1].what, flow_event::expired);
  EXPECT_EQ(r.events[1].packets, 0U);
  EXPECT_EQ(r.events[1].bytes, 0U);
}

TEST_P(FlowEvents, AFullTableEvictsAHalfOpenFlowAndSaysSo) {
  pipeline p(policy(), {.flow_capacity = 8});
  recorder r;
  p.worker_at(0).listen({&recorder::on, &r});
  for (std::uint16_t port = 1000; port < 1040; ++port) {
    p.pass(side::outside, tcp(f().client, port, f().server, 80, flag::syn));
  }
  EXPECT_EQ(r.count(flow_event::created), 40U);
  EXPECT_EQ(r.count(flow_event::evicted), 40U - p.flows());
  EXPECT_EQ(p.total(&dp::worker_counters::flows_early_dropped), r.count(flow_event::evicted));
}

// A packet whose second side finds no room passes on neither: the flow its
// first side (the sender's) opened is undone, and nobody hears of it.
TEST_P(FlowEvents, AnUndoneCommitIsNoEvent) {
  const std::string two = std::string(R"(
[[security_group]]
id = "all"
  [[security_group.ingress]]
  protocol = "tcp"
  ports = 80
  cidr = ")") + f().peer_any +
                          R"("
[[resource]]
name = "client"
addresses = [")" + f().client +
                          R"("]
security_groups = ["all"]
[[resource]]
name = "server"
addresses = [")" + f().server +
                          R"("]
security_groups = ["all"]
max_flows = 1
)";
  pipeline p(two);
  recorder r;
  p.worker_at(0).listen({&recorder::on, &r});
  // client -> server:80 opens the client's egress flow and the server's
  // ingress flow, which the handshake establishes.
  connect(p, 1, side::inside);
  EXPECT_EQ(r.count(flow_event::created), 2U);
  // The server holds its one flow (an established one is never evicted):
  // the next connection opens the client's side, then fails on the server's.
  const std::size_t before = r.events.size();
  EXPECT_EQ(p.pass(side::inside, tcp(f().client, 2, f().server, 80, flag::syn)), 0U);
  EXPECT_EQ(p.dropped(dp::drop_reason::resource_allowance_exceeded), 1U);
  EXPECT_EQ(r.events.size(), before);
  EXPECT_EQ(p.flows(), 2U);
}

INSTANTIATE_TEST_SUITE_P(Families, FlowEvents, ::testing::ValuesIn(k_families),
                         [](const ::testing::TestParamInfo<family_case>& i) { return std::string(i.param.name); });

}  // namespace
}  // namespace sgfw::testing
