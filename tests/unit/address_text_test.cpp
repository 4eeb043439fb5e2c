#include "config/address_text.hpp"

#include <gtest/gtest.h>

namespace sgfw::config {
namespace {

std::string error_of(std::string_view text) {
  auto r = parse_cidr(text);
  auto* e = std::get_if<text_error>(&r);
  return e == nullptr ? "" : e->message;
}

TEST(AddressText, ParsesAndPrintsCanonically) {
  EXPECT_EQ(to_string(std::get<net::ip_address>(parse_address("10.0.0.1"))), "10.0.0.1");
  EXPECT_EQ(std::get<net::ip_address>(parse_address("10.0.0.1")).value, 0x0A000001U);
  EXPECT_EQ(to_string(std::get<net::ip_address>(parse_address("2001:DB8:0:0::1"))), "2001:db8::1");
  EXPECT_EQ(to_string(std::get<net::cidr>(parse_cidr("0.0.0.0/0"))), "0.0.0.0/0");
  EXPECT_EQ(to_string(std::get<net::cidr>(parse_cidr("::/0"))), "::/0");
  const auto c = std::get<net::cidr>(parse_cidr("192.168.0.0/16"));
  EXPECT_EQ(c.first(), 0xC0A80000U);
  EXPECT_EQ(c.last(), 0xC0A8FFFFU);
  const auto all6 = std::get<net::cidr>(parse_cidr("::/0"));
  EXPECT_EQ(all6.last(), ~net::u128{0});
  EXPECT_EQ(std::get<net::cidr>(parse_cidr("fd00::1/128")).prefix, 128);
}

TEST(AddressText, RejectsWithAUsefulMessage) {
  EXPECT_EQ(error_of("10.0.0.300/8"), "'10.0.0.300' is not a valid IPv4 address");
  EXPECT_EQ(error_of("10.0.0.1/33"), "prefix length 33 is out of range for IPv4; expected 0-32");
  EXPECT_EQ(error_of("fd00::/129"), "prefix length 129 is out of range for IPv6; expected 0-128");
  EXPECT_EQ(error_of("10.0.0.1/8"), "'10.0.0.1/8' has host bits set; did you mean 10.0.0.0/8?");
  EXPECT_EQ(error_of("fd00::1/64"), "'fd00::1/64' has host bits set; did you mean fd00::/64?");
  EXPECT_EQ(error_of("10.0.0.0/x"), "'x' is not a prefix length; expected 0-32");
  EXPECT_EQ(error_of("10.0.0.0/"), "'' is not a prefix length; expected 0-32");
  EXPECT_EQ(error_of("010.0.0.0/8"), "'010.0.0.0' is not a valid IPv4 address");
  EXPECT_EQ(error_of("fd00:::1/64"), "'fd00:::1' is not a valid IPv6 address");
  EXPECT_NE(error_of("10.0.0.1"), "");
  EXPECT_NE(error_of(std::string(100, '1') + "/8"), "");
  EXPECT_TRUE(std::holds_alternative<text_error>(parse_address("")));
}

}  // namespace
}  // namespace sgfw::config
