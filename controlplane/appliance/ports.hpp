// The appliance's two ports: opened from their devargs after EAL starts,
// configured with one RX and one TX queue per worker, RSS with a
// symmetric key where the device has it, and started.  Every failure is a
// sentence naming the port, before any traffic.
#pragma once

#include <rte_mempool.h>

#include <cstdint>
#include <string>

namespace sgfw::cp {

struct port_request {
  std::string role;     // "outside" or "inside", for messages
  std::string devargs;  // PCI address or vdev string
  std::uint16_t queues = 1;
  std::uint16_t rx_descriptors = 1024;
  std::uint16_t tx_descriptors = 1024;
};

struct opened_port {
  std::uint16_t id = 0;
  std::string name;
  bool rss = false;             // the device spreads flows over the queues with our symmetric key
  std::uint16_t reta_size = 0;  // entries of its redirection table, when rss
};

// Probes the device if EAL has not, returns its port id; on failure `error`
// says why and the result is empty.
bool open_port(const port_request& request, opened_port& out, std::string& error);

// Queues, RSS and start.  `pool` feeds the RX queues.
bool start_port(const port_request& request, opened_port& port, rte_mempool* pool, std::string& error);

void stop_port(const opened_port& port);

}  // namespace sgfw::cp
