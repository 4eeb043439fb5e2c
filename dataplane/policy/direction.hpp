// Words shared by the config model, the compiler and the dataplane.
#pragma once

#include <cstdint>
#include <string_view>

namespace sgfw {

// Which way a packet crosses a protected resource's boundary (docs/semantics.md S1):
// ingress = towards the resource, egress = away from it.
enum class direction : std::uint8_t { ingress = 0, egress = 1 };

inline constexpr int direction_count = 2;

constexpr direction opposite(direction d) { return d == direction::ingress ? direction::egress : direction::ingress; }

constexpr std::string_view to_string(direction d) { return d == direction::ingress ? "ingress" : "egress"; }

// Which of the appliance's two ports a resource sits behind (S1).
enum class port_side : std::uint8_t { outside = 0, inside = 1 };

constexpr std::string_view to_string(port_side s) { return s == port_side::inside ? "inside" : "outside"; }

// IANA protocol numbers that security-group rules treat specially (S2).
namespace ip_proto {
inline constexpr std::uint8_t icmp = 1;
inline constexpr std::uint8_t tcp = 6;
inline constexpr std::uint8_t udp = 17;
inline constexpr std::uint8_t icmpv6 = 58;
}  // namespace ip_proto

}  // namespace sgfw
