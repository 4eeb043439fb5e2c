#include "config/listen_address.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace sgfw::config {

std::optional<listen_address> parse_listen_address(std::string_view text, std::string& why) {
  why = "expected ADDRESS:PORT such as \"127.0.0.1:9477\" or \"[::1]:9477\"";
  const std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  std::string_view host = text.substr(0, colon);
  const std::string_view port_text = text.substr(colon + 1);
  const bool bracketed = host.front() == '[';
  if (bracketed) {
    if (host.size() < 3 || host.back() != ']') return std::nullopt;
    host = host.substr(1, host.size() - 2);
  }
  unsigned port = 0;
  const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc{} || end != port_text.data() + port_text.size() || port == 0 || port > 65535) {
    why = "the port is not 1-65535; " + why;
    return std::nullopt;
  }
  listen_address out;
  out.host = std::string(host);
  out.port = static_cast<std::uint16_t>(port);
  in_addr v4{};
  in6_addr v6{};
  if (!bracketed && ::inet_pton(AF_INET, out.host.c_str(), &v4) == 1) {
    out.loopback = (ntohl(v4.s_addr) >> 24) == 127;
  } else if (bracketed && ::inet_pton(AF_INET6, out.host.c_str(), &v6) == 1) {
    out.loopback = std::memcmp(&v6, &in6addr_loopback, sizeof v6) == 0;
  } else {
    why = "'" + out.host + "' is not an IPv4 address or a bracketed IPv6 address (no host names); " + why;
    return std::nullopt;
  }
  return out;
}

}  // namespace sgfw::config
