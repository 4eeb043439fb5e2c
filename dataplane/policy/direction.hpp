// Words shared by the config model, the compiler and the dataplane.
#pragma once

#include <cstdint>
#include <string_view>

#include "net/ip_proto.hpp"  // the rules name protocols too

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

}  // namespace sgfw
