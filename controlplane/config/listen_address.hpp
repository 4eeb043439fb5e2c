// An address a server of sgfw's listens on ([appliance.metrics] listen,
// --metrics-listen): "IPv4:PORT" or "[IPv6]:PORT", a literal address only
// (a host name would need the resolver at start and could change meaning).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sgfw::config {

struct listen_address {
  std::string host;  // the address as given, without brackets
  std::uint16_t port = 0;
  bool loopback = false;  // 127.0.0.0/8 or ::1

  friend bool operator==(const listen_address&, const listen_address&) = default;
};

// The address, or none with `why` saying what is wrong.
std::optional<listen_address> parse_listen_address(std::string_view text, std::string& why);

}  // namespace sgfw::config
