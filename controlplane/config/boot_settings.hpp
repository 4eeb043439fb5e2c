// How `sgfw run` starts: ports, cores, EAL and the sizes of the tables it
// allocates once ([appliance] workers, cores, main_core, watch,
// status_interval, [appliance.ports], [appliance.eal], [appliance.control],
// [appliance.metrics]
// and the sizing keys of [appliance.conntrack]).  Read from the same file as the policy, but
// not part of it: the policy store never sees these, and a reload that
// asks for other values keeps the running ones and says so.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/listen_address.hpp"

namespace sgfw::config {

inline constexpr std::uint32_t k_max_workers = 64;
inline constexpr std::uint32_t k_default_max_flows = 1U << 20;
inline constexpr const char* k_default_control_socket = "/run/sgfw/sgfw.sock";

struct boot_settings {
  enum class hugepages_mode : std::uint8_t { automatic, yes, no };

  std::uint32_t workers = 1;          // 1..k_max_workers
  std::vector<std::uint32_t> cores;   // CPU of each worker; empty: 1, 2, .. workers
  std::uint32_t main_core = 0;        // CPU of the control thread
  bool watch = false;                 // reload when the file changes, not only on SIGHUP
  std::uint32_t status_interval = 1;  // seconds between status lines; 0: none
  std::string outside;                // port devargs: PCI address or vdev string
  std::string inside;
  std::uint32_t rx_descriptors = 1024;
  std::uint32_t tx_descriptors = 1024;
  std::uint32_t packet_buffers = 0;  // mbufs in the pool; 0: enough for every ring (computed)
  hugepages_mode hugepages = hugepages_mode::automatic;
  std::uint32_t memory_mb = 1024;  // EAL memory without hugepages
  std::string file_prefix = "sgfw";
  std::vector<std::string> eal_args;  // more EAL arguments, as given

  // The tables, sized at start (S10, S11).
  std::uint32_t max_flows = k_default_max_flows;   // connection-table capacity
  bool early_drop = true;                          // evict the oldest half-open flow when full
  std::uint32_t fragment_timeout = 30;             // seconds a first fragment's verdict waits for the rest
  std::uint32_t max_fragmented_datagrams = 16384;  // first-fragment verdicts kept, all workers together
  bool flow_counters = false;                      // packets and bytes per flow (16 bytes per slot)

  // The control socket ([appliance.control]; docs/operations.md).
  std::string control_socket = k_default_control_socket;  // Unix stream socket sgfwctl talks to
  std::string control_socket_group;                       // "": mode 0600, root only; a group: 0660 for it
  bool control_persist = true;                            // accepted changes rewrite the policy file

  // The Prometheus endpoint ([appliance.metrics] listen); none: off.
  std::optional<listen_address> metrics_listen;

  friend bool operator==(const boot_settings&, const boot_settings&) = default;
};

}  // namespace sgfw::config
