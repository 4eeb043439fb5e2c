// parse_listen_address: literal addresses only, ports 1-65535, IPv6 in
// brackets; what is loopback.
#include "config/listen_address.hpp"

#include <gtest/gtest.h>

namespace sgfw::config {
namespace {

TEST(ListenAddress, IPv4AndBracketedIPv6) {
  std::string why;
  auto a = parse_listen_address("127.0.0.1:9477", why);
  ASSERT_TRUE(a) << why;
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 9477);
  EXPECT_TRUE(a->loopback);
  a = parse_listen_address("[::1]:1", why);
  ASSERT_TRUE(a) << why;
  EXPECT_EQ(a->host, "::1");
  EXPECT_TRUE(a->loopback);
  a = parse_listen_address("0.0.0.0:65535", why);
  ASSERT_TRUE(a) << why;
  EXPECT_FALSE(a->loopback);
  a = parse_listen_address("[::]:80", why);
  ASSERT_TRUE(a) << why;
  EXPECT_FALSE(a->loopback);
  a = parse_listen_address("127.1.2.3:80", why);
  ASSERT_TRUE(a) << why;
  EXPECT_TRUE(a->loopback);
}

TEST(ListenAddress, RefusesNamesBadPortsAndUnbracketedIPv6) {
  std::string why;
  for (const char* bad :
       {"localhost:9477", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:9477x", "::1:9477",
        "[::1]9477", "[127.0.0.1]:80", "[]:80", ":80", "127.0.0.1:-1", "127.0.0.1: 80", "", "[::1:80"}) {
    EXPECT_FALSE(parse_listen_address(bad, why)) << bad;
    EXPECT_FALSE(why.empty()) << bad;
  }
}

}  // namespace
}  // namespace sgfw::config
