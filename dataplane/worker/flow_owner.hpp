// Which worker owns a flow (docs/architecture.md): a symmetric function of
// the flow's two addresses, so that both directions of a flow, all
// fragments of a datagram (which carry no ports) and ICMP errors about the
// flow (judged by the addresses they quote) meet on one worker.  A packet
// that arrives on another worker is handed to its owner through a ring.
#pragma once

#include <algorithm>
#include <cstdint>

#include "net/ip_address.hpp"

namespace sgfw::dp {

inline std::uint32_t flow_owner(net::u128 a, net::u128 b, std::uint32_t workers) {
  if (workers <= 1) return 0;
  const net::u128 lo = std::min(a, b);
  const net::u128 hi = std::max(a, b);
  std::uint64_t h = (static_cast<std::uint64_t>(lo) ^ static_cast<std::uint64_t>(lo >> 64)) * 0x9E3779B97F4A7C15ULL;
  h ^= (static_cast<std::uint64_t>(hi) ^ static_cast<std::uint64_t>(hi >> 64)) + 0x632BE59BD9B4E019ULL + (h >> 17);
  h *= 0xBF58476D1CE4E5B9ULL;
  return static_cast<std::uint32_t>(((h >> 32) * workers) >> 32);
}

}  // namespace sgfw::dp
