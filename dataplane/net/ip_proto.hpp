// IANA protocol numbers the parser, the tracker and security-group rules
// treat specially (docs/semantics.md S2).
#pragma once

#include <cstdint>

namespace sgfw::ip_proto {

inline constexpr std::uint8_t icmp = 1;
inline constexpr std::uint8_t tcp = 6;
inline constexpr std::uint8_t udp = 17;
inline constexpr std::uint8_t icmpv6 = 58;

}  // namespace sgfw::ip_proto
