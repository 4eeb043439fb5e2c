// Idle timeouts of tracked flows (docs/semantics.md S7), by class.  Shared by the
// config model (which reads them), the compiled policy (which carries them
// per resource) and the connection tracker (which applies them).
#pragma once

#include <array>
#include <cstdint>

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

// Default idle timeouts, by class: the cloud's for TCP established
// (432000 s), UDP (30 s) and UDP stream (180 s); Linux conntrack's values
// for the short TCP states; 600 s for other protocols (S7); 30 s for ICMP
// (Linux).  A connection picked up mid-stream waits 30 s for its other
// side (as short as a half-open one, and evictable like one, S5/S11).
// What a config may set, and within which range, is the control plane's
// (controlplane/config/timeout_keys.hpp).
inline constexpr std::array<std::uint32_t, timeout_class_count> k_default_timeout_seconds{120, 60, 432000, 120, 120, 10,
                                                                                          30,  30, 180,    30,  600};

struct flow_timeouts {
  std::array<std::uint32_t, timeout_class_count> seconds{};

  static constexpr flow_timeouts defaults() {
    flow_timeouts t;
    t.seconds = k_default_timeout_seconds;
    return t;
  }
  constexpr std::uint32_t operator[](timeout_class c) const { return seconds[static_cast<std::size_t>(c)]; }
  constexpr std::uint32_t& operator[](timeout_class c) { return seconds[static_cast<std::size_t>(c)]; }
  friend constexpr bool operator==(const flow_timeouts&, const flow_timeouts&) = default;
};

}  // namespace sgfw
