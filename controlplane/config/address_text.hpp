// Text forms of addresses and CIDR blocks: parsing with messages a user can
// act on, and printing in the canonical form (RFC 5952 for IPv6).
#pragma once

#include <string>
#include <string_view>
#include <variant>

#include "net/ip_address.hpp"

namespace sgfw::config {

// What went wrong, in words that complete "expected ..., found ...".
struct text_error {
  std::string message;
};

std::variant<net::ip_address, text_error> parse_address(std::string_view text);

// A CIDR block: "a.b.c.d/len" or "v6::addr/len".  Host bits must be zero;
// a block such as 10.0.0.1/8 is rejected with the block the user probably
// meant, because silently widening or narrowing a firewall rule is worse than
// a clear error.
std::variant<net::cidr, text_error> parse_cidr(std::string_view text);

std::string to_string(const net::ip_address& a);
std::string to_string(const net::cidr& c);
std::string_view to_string(net::family f);

}  // namespace sgfw::config
