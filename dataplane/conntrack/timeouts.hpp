// Idle timeouts of tracked flows (docs/semantics.md S7), by class.  Shared by the
// config model (which reads them), the compiled policy (which carries them
// per resource) and the connection tracker (which applies them).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace sgfw {

enum class timeout_class : std::uint8_t {
  tcp_syn_sent,     // a SYN seen, no answer yet
  tcp_syn_recv,     // SYN and SYN-ACK seen
  tcp_established,  // the handshake completed (or picked up mid-stream)
  tcp_fin_wait,     // one side has sent FIN
  tcp_time_wait,    // both sides have sent FIN
  tcp_close,        // reset
  tcp_unreplied,    // picked up mid-stream (midstream = "adopt"), the other side not heard yet
  udp,              // at most one request-response exchange so far
  udp_stream,       // more than one exchange
  icmp,             // ICMP / ICMPv6 echo
  other,            // any other protocol, tracked by address pair
};
inline constexpr std::size_t timeout_class_count = 11;

struct timeout_range {
  std::string_view key;
  std::uint32_t default_seconds;
  std::uint32_t min_seconds;
  std::uint32_t max_seconds;
  bool per_resource;  // configurable per resource, as the cloud allows per interface
};

// Defaults and ranges: the cloud's for TCP established (60-432000), UDP
// (30-60) and UDP stream (60-180); Linux conntrack's values for the short
// TCP states; 600 s for other protocols (S7); 30 s for ICMP (Linux).  A
// connection picked up mid-stream waits 30 s for its other side (as short
// as a half-open one, and evictable like one, S5/S11).
inline constexpr std::array<timeout_range, timeout_class_count> k_timeout_ranges{{
    {"tcp_syn_sent", 120, 1, 432000, false},
    {"tcp_syn_recv", 60, 1, 432000, false},
    {"tcp_established", 432000, 60, 432000, true},
    {"tcp_fin_wait", 120, 1, 432000, false},
    {"tcp_time_wait", 120, 1, 432000, false},
    {"tcp_close", 10, 1, 432000, false},
    {"tcp_unreplied", 30, 1, 432000, false},
    {"udp", 30, 30, 60, true},
    {"udp_stream", 180, 60, 180, true},
    {"icmp", 30, 1, 432000, false},
    {"other", 600, 1, 432000, false},
}};

struct flow_timeouts {
  std::array<std::uint32_t, timeout_class_count> seconds{};

  static constexpr flow_timeouts defaults() {
    flow_timeouts t;
    for (std::size_t i = 0; i < timeout_class_count; ++i) t.seconds[i] = k_timeout_ranges[i].default_seconds;
    return t;
  }
  constexpr std::uint32_t operator[](timeout_class c) const { return seconds[static_cast<std::size_t>(c)]; }
  constexpr std::uint32_t& operator[](timeout_class c) { return seconds[static_cast<std::size_t>(c)]; }
  friend constexpr bool operator==(const flow_timeouts&, const flow_timeouts&) = default;
};

}  // namespace sgfw
