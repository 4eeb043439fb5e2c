// The timeouts a config may set (S7): the TOML key of each class, its
// range (the cloud's for TCP established 60-432000, UDP 30-60 and UDP
// stream 60-180), and whether a resource may set it (as the cloud allows
// per network interface).  Indexed by timeout_class; the defaults are the
// connection tracker's (dataplane/conntrack/timeouts.hpp).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "conntrack/timeouts.hpp"

namespace sgfw::config {

struct timeout_key {
  std::string_view key;
  std::uint32_t min_seconds;
  std::uint32_t max_seconds;
  bool per_resource;
};

inline constexpr std::array<timeout_key, timeout_class_count> k_timeout_keys{{
    {"tcp_syn_sent", 1, 432000, false},
    {"tcp_syn_recv", 1, 432000, false},
    {"tcp_established", 60, 432000, true},
    {"tcp_fin_wait", 1, 432000, false},
    {"tcp_time_wait", 1, 432000, false},
    {"tcp_close", 1, 432000, false},
    {"tcp_unreplied", 1, 432000, false},
    {"udp", 30, 60, true},
    {"udp_stream", 60, 180, true},
    {"icmp", 1, 432000, false},
    {"other", 1, 432000, false},
}};

constexpr bool keys_follow_the_classes() {
  return k_timeout_keys[static_cast<std::size_t>(timeout_class::tcp_syn_sent)].key == "tcp_syn_sent" &&
         k_timeout_keys[static_cast<std::size_t>(timeout_class::tcp_unreplied)].key == "tcp_unreplied" &&
         k_timeout_keys[static_cast<std::size_t>(timeout_class::udp_stream)].key == "udp_stream" &&
         k_timeout_keys[static_cast<std::size_t>(timeout_class::other)].key == "other";
}
constexpr bool defaults_within_ranges() {
  for (std::size_t i = 0; i < timeout_class_count; ++i) {
    if (k_default_timeout_seconds[i] < k_timeout_keys[i].min_seconds ||
        k_default_timeout_seconds[i] > k_timeout_keys[i].max_seconds) {
      return false;
    }
  }
  return true;
}
static_assert(keys_follow_the_classes(), "one key per timeout class, in the classes' order");
static_assert(defaults_within_ranges(), "every default within its range");

}  // namespace sgfw::config
