// Two DPDK ports made from rings (the ring PMD, net_ring), with two queues
// each, and an mbuf pool: what tests and fuzz targets run workers over.
// EAL must be up.  Created once per process (a process has 32 ports at
// most); users drain the rings between uses.
#pragma once

#include <rte_mbuf.h>
#include <rte_ring.h>

#include <array>
#include <cstdint>
#include <vector>

namespace sgfw::testing {

struct ring_ports {
  static constexpr unsigned k_queues = 2;
  std::array<std::uint16_t, 2> port{};                  // [0] outside, [1] inside
  std::array<std::array<rte_ring*, k_queues>, 2> rx{};  // what the port receives
  std::array<std::array<rte_ring*, k_queues>, 2> tx{};  // what the port sends
  rte_mempool* pool = nullptr;

  static ring_ports& get();
};

// EAL as the tests, fuzz targets and their drivers run it on this kind of
// machine: no hugepages, no PCI, no shared files, one core, a file prefix
// of `name` and the process id.  False (said on stderr) when it fails.
bool init_test_eal(const char* argv0, const char* name, unsigned memory_mb);

// Empties a ring of mbufs, keeping copies of their bytes when `out` is set.
void drain(rte_ring* r, std::vector<std::vector<std::uint8_t>>* out);

// One frame into a ring, as a port would receive it; false when out of mbufs.
bool inject(rte_ring* r, rte_mempool* pool, const std::uint8_t* data, std::size_t len);

}  // namespace sgfw::testing
