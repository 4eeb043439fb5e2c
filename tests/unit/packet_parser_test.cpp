// The parser on frames built byte by byte: every field it reports, and
// every class of malformed frame it must recognise (S10).
#include "net/packet_parser.hpp"

#include <gtest/gtest.h>

#include "packet_builder.hpp"
#include "worker/drop_reason.hpp"

namespace sgfw::testing {
namespace {

using dp::drop_reason;
using dp::frame_kind;
using dp::parsed_packet;

parsed_packet parse(const bytes& b) {
  parsed_packet p;
  dp::parse_frame(b.data(), static_cast<std::uint32_t>(b.size()), p);
  return p;
}

drop_reason why(const bytes& b) {
  const parsed_packet p = parse(b);
  EXPECT_EQ(p.kind, frame_kind::malformed);
  return dp::to_drop_reason(p.malformed);
}

TEST(Parser, Ipv4TcpWithOptionsAndVlans) {
  frame_spec s;
  s.src = "192.0.2.1";
  s.dst = "198.51.100.2";
  s.src_port = 1234;
  s.dst_port = 443;
  s.tcp_flags = dp::tcp_flag::syn | dp::tcp_flag::ack;
  s.tcp_seq = 0xDEADBEEF;
  s.tcp_ack = 42;
  s.ipv4_options = 8;
  s.payload = bytes(100, 0xAB);
  for (const auto& vlans : {std::vector<std::uint16_t>{}, {10}, {100, 200}}) {
    s.vlans = vlans;
    const parsed_packet p = parse(frame(s));
    ASSERT_EQ(p.kind, frame_kind::ip) << vlans.size();
    EXPECT_EQ(p.fam, net::family::ipv4);
    EXPECT_EQ(p.src, 0xC0000201U);
    EXPECT_EQ(p.dst, 0xC6336402U);
    EXPECT_EQ(p.proto, 6);
    EXPECT_TRUE(p.has_l4);
    EXPECT_EQ(p.src_port, 1234);
    EXPECT_EQ(p.dst_port, 443);
    EXPECT_EQ(p.tcp_flags, 0x12);
    EXPECT_EQ(p.tcp_seq, 0xDEADBEEFU);
    EXPECT_EQ(p.tcp_ack, 42U);
    EXPECT_EQ(p.l4_payload, 100U);
    EXPECT_FALSE(p.fragment);
  }
  s.vlans = {1, 2};
  s.vlan_ethertype = 0x88A8;
  EXPECT_EQ(parse(frame(s)).kind, frame_kind::ip);
}

TEST(Parser, EthernetPaddingIsIgnored) {
  frame_spec s;
  s.proto = 17;
  bytes f = frame(s);
  f.resize(f.size() + 18, 0);  // padded to the minimum frame size
  const parsed_packet p = parse(f);
  ASSERT_EQ(p.kind, frame_kind::ip);
  EXPECT_EQ(p.dst_port, 80);
}

TEST(Parser, Ipv6WithExtensionHeaders) {
  frame_spec s;
  s.src = "2001:db8::1";
  s.dst = "2001:db8::2";
  s.proto = 17;
  s.src_port = 53;
  s.dst_port = 5353;
  s.ipv6_extensions = {0, 60, 43};  // hop-by-hop, destination options, routing
  const parsed_packet p = parse(frame(s));
  ASSERT_EQ(p.kind, frame_kind::ip);
  EXPECT_EQ(p.fam, net::family::ipv6);
  EXPECT_EQ(p.src, (net::u128{0x20010db800000000ULL} << 64) | 1);
  EXPECT_EQ(p.proto, 17);
  EXPECT_EQ(p.src_port, 53);
  EXPECT_EQ(p.dst_port, 5353);
}

TEST(Parser, IcmpQueriesErrorsAndNeighbourDiscovery) {
  frame_spec echo;
  echo.proto = 1;
  echo.icmp_type = 8;
  echo.icmp_id = 777;
  parsed_packet p = parse(frame(echo));
  EXPECT_TRUE(p.icmp_query);
  EXPECT_EQ(p.src_port, 777);
  EXPECT_EQ(p.dst_port, 777);

  frame_spec tcp;
  tcp.src = "10.0.0.5";
  tcp.dst = "203.0.113.9";
  tcp.src_port = 5555;
  tcp.dst_port = 443;
  p = parse(frame(icmp_error("192.0.2.254", "10.0.0.5", tcp, 3, 4)));
  ASSERT_EQ(p.kind, frame_kind::ip);
  EXPECT_TRUE(p.icmp_error);
  EXPECT_EQ(p.icmp_type, 3);
  EXPECT_EQ(p.icmp_code, 4);
  EXPECT_TRUE(p.quote_has_ports);
  EXPECT_EQ(p.quote.src, 0x0A000005U);
  EXPECT_EQ(p.quote.dst, 0xCB007109U);
  EXPECT_EQ(p.quote.proto, 6);
  EXPECT_EQ(p.quote.src_port, 5555);
  EXPECT_EQ(p.quote.dst_port, 443);

  frame_spec tcp6 = tcp;
  tcp6.src = "2001:db8::5";
  tcp6.dst = "2001:db8:9::9";
  p = parse(frame(icmp_error("2001:db8::fe", "2001:db8::5", tcp6, 2, 0)));  // packet too big
  EXPECT_TRUE(p.icmp_error);
  EXPECT_EQ(p.quote.src_port, 5555);

  frame_spec ns;
  ns.src = "fe80::1";
  ns.dst = "ff02::1:ff00:2";
  ns.proto = 58;
  ns.icmp_type = 135;
  ns.hop_limit = 255;
  p = parse(frame(ns));
  EXPECT_TRUE(p.neighbour_discovery);
  EXPECT_FALSE(p.icmp_query);
}

TEST(Parser, ArpAndOtherEthertypes) {
  EXPECT_EQ(parse(arp_frame()).kind, frame_kind::arp);
  bytes lldp = {1, 0x80, 0xC2, 0, 0, 0x0E, 2, 0, 0, 0, 0, 1, 0x88, 0xCC, 0, 0};
  EXPECT_EQ(parse(lldp).kind, frame_kind::non_ip);
}

TEST(Parser, Fragments) {
  frame_spec first;
  first.proto = 17;
  first.payload = bytes(64, 1);
  first.fragment = true;
  first.more_fragments = true;
  first.fragment_id = 0x1234;
  parsed_packet p = parse(frame(first));
  ASSERT_EQ(p.kind, frame_kind::ip);
  EXPECT_TRUE(p.fragment);
  EXPECT_TRUE(p.more_fragments);
  EXPECT_TRUE(p.has_l4);
  EXPECT_EQ(p.fragment_offset, 0);
  EXPECT_EQ(p.fragment_id, 0x1234U);
  EXPECT_EQ(p.fragment_end, 72);

  frame_spec later = first;
  later.fragment_offset = 72;
  later.more_fragments = false;
  later.use_override = true;
  later.l3_payload_override = bytes(40, 2);
  p = parse(frame(later));
  ASSERT_EQ(p.kind, frame_kind::ip);
  EXPECT_FALSE(p.has_l4);
  EXPECT_EQ(p.fragment_offset, 72);
  EXPECT_EQ(p.fragment_end, 112);

  frame_spec v6 = first;
  v6.src = "2001:db8::1";
  v6.dst = "2001:db8::2";
  v6.fragment_id = 0xABCDEF01;
  p = parse(frame(v6));
  ASSERT_EQ(p.kind, frame_kind::ip);
  EXPECT_TRUE(p.fragment);
  EXPECT_EQ(p.fragment_id, 0xABCDEF01U);
  EXPECT_EQ(p.proto, 17);

  // A first fragment that splits the TCP header is "tiny" (RFC 1858).
  frame_spec tiny;
  tiny.fragment = true;
  tiny.more_fragments = true;
  tiny.use_override = true;
  tiny.l3_payload_override = bytes(12, 0);
  EXPECT_EQ(why(frame(tiny)), drop_reason::fragment_tiny);
}

TEST(Parser, MalformedClasses) {
  EXPECT_EQ(why(bytes(13, 0)), drop_reason::truncated_ethernet);

  frame_spec s;
  s.vlans = {1, 2, 3};
  EXPECT_EQ(why(frame(s)), drop_reason::vlan_too_deep);
  s.vlans = {};

  bytes f = frame(s);
  f[14] = 0x55;  // version 5
  EXPECT_EQ(why(f), drop_reason::ipv4_bad_header);
  f = frame(s);
  f[14] = 0x44;  // IHL 4
  EXPECT_EQ(why(f), drop_reason::ipv4_bad_header);
  f = frame(s);
  f[16] = 0;
  f[17] = 10;  // total length below the header
  EXPECT_EQ(why(f), drop_reason::ipv4_bad_header);
  f = frame(s);
  f.resize(14 + 30);  // cut inside the TCP header, total length still claims 40
  EXPECT_EQ(why(f), drop_reason::ipv4_truncated);
  f = frame(s);
  f.resize(14 + 10);
  EXPECT_EQ(why(f), drop_reason::ipv4_truncated);

  f = frame(s);
  f[14 + 20 + 12] = 0x40;  // TCP data offset 4
  EXPECT_EQ(why(f), drop_reason::tcp_bad_header);
  f = frame(s);
  f[14 + 20 + 12] = 0xF0;  // data offset 60 > 20 bytes present
  EXPECT_EQ(why(f), drop_reason::tcp_bad_header);

  frame_spec u;
  u.proto = 17;
  f = frame(u);
  f[14 + 20 + 5] = 200;  // UDP length beyond the datagram
  EXPECT_EQ(why(f), drop_reason::udp_bad_header);
  f[14 + 20 + 4] = 0;
  f[14 + 20 + 5] = 4;  // below 8
  EXPECT_EQ(why(f), drop_reason::udp_bad_header);

  frame_spec icmp;
  icmp.proto = 1;
  icmp.use_override = true;
  icmp.l3_payload_override = {8, 0, 0, 0};
  EXPECT_EQ(why(frame(icmp)), drop_reason::icmp_bad_header);
  frame_spec err = icmp_error("192.0.2.1", "10.0.0.1", s, 3, 1);
  err.payload.resize(10);  // not even the quoted IP header
  EXPECT_EQ(why(frame(err)), drop_reason::icmp_bad_header);

  frame_spec v6;
  v6.src = "2001:db8::1";
  v6.dst = "2001:db8::2";
  f = frame(v6);
  f[14] = 0x40;
  EXPECT_EQ(why(f), drop_reason::ipv6_bad_header);
  f = frame(v6);
  f[14 + 4] = 0;
  f[14 + 5] = 0;  // payload length 0: a jumbogram
  EXPECT_EQ(why(f), drop_reason::ipv6_bad_header);
  f = frame(v6);
  f.resize(f.size() - 1);
  EXPECT_EQ(why(f), drop_reason::ipv6_bad_header);
  v6.ipv6_extensions = {60, 0};  // hop-by-hop not first
  EXPECT_EQ(why(frame(v6)), drop_reason::ipv6_bad_extensions);
  v6.ipv6_extensions = bytes(9, 60);  // too many
  EXPECT_EQ(why(frame(v6)), drop_reason::ipv6_bad_extensions);
  v6.ipv6_extensions = {60};
  f = frame(v6);
  f[14 + 40 + 1] = 200;  // extension longer than the packet
  EXPECT_EQ(why(f), drop_reason::ipv6_bad_extensions);
}

TEST(Parser, NeverReadsPastTheEnd) {
  // Every prefix of a rich frame: no crash, and a verdict every time
  // (ASan/UBSan builds check the reads).
  frame_spec s;
  s.src = "2001:db8::1";
  s.dst = "2001:db8::2";
  s.proto = 58;
  s.vlans = {5};
  s.ipv6_extensions = {0, 60};
  frame_spec quoted;
  quoted.src = "2001:db8::2";
  quoted.dst = "2001:db8::1";
  quoted.ipv6_extensions = {60};
  const bytes f = frame(icmp_error("2001:db8::1", "2001:db8::2", quoted, 1, 3));
  for (std::size_t n = 0; n <= f.size(); ++n) {
    const bytes prefix(f.begin(), f.begin() + static_cast<std::ptrdiff_t>(n));
    const parsed_packet p = parse(prefix);
    EXPECT_TRUE(p.kind == frame_kind::malformed || n == f.size()) << n;
  }
}

}  // namespace
}  // namespace sgfw::testing
