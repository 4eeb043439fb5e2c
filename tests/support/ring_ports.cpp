#include "ring_ports.hpp"

#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace sgfw::testing {

namespace {

constexpr unsigned k_ring_size = 1024;
constexpr unsigned k_socket = 0;  // these ports live on socket 0

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "ring ports: %s failed\n", what);
  std::abort();
}

}  // namespace

bool init_test_eal(const char* argv0, const char* name, unsigned memory_mb) {
  std::vector<std::string> args{argv0,
                                "--no-huge",
                                "-m",
                                std::to_string(memory_mb),
                                "--no-pci",
                                "--no-shconf",
                                "-l",
                                "0",
                                "--log-level=lib.eal:error",
                                "--no-telemetry",
                                "--file-prefix=" + std::string(name) + "-" + std::to_string(getpid())};
  std::vector<char*> eal;
  for (auto& a : args) eal.push_back(a.data());
  if (rte_eal_init(static_cast<int>(eal.size()), eal.data()) < 0) {
    std::fprintf(stderr, "EAL initialisation failed\n");
    return false;
  }
  return true;
}

ring_ports& ring_ports::get() {
  static ring_ports* ports = [] {
    auto* p = new ring_ports;
    p->pool = rte_pktmbuf_pool_create("test_mbufs", 8191, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
    if (p->pool == nullptr) fail("mbuf pool");
    for (unsigned s = 0; s < 2; ++s) {
      for (unsigned q = 0; q < k_queues; ++q) {
        const std::string base = std::string(s == 0 ? "out" : "in") + std::to_string(q);
        p->rx[s][q] =
            rte_ring_create(("rx_" + base).c_str(), k_ring_size, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
        p->tx[s][q] =
            rte_ring_create(("tx_" + base).c_str(), k_ring_size, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
      }
      const int id = rte_eth_from_rings(s == 0 ? "net_ring_outside" : "net_ring_inside", p->rx[s].data(), k_queues,
                                        p->tx[s].data(), k_queues, k_socket);
      if (id < 0) fail("rte_eth_from_rings");
      p->port[s] = static_cast<std::uint16_t>(id);
      rte_eth_conf conf{};
      if (rte_eth_dev_configure(p->port[s], k_queues, k_queues, &conf) != 0) fail("configure");
      for (std::uint16_t q = 0; q < k_queues; ++q) {
        if (rte_eth_rx_queue_setup(p->port[s], q, k_ring_size, k_socket, nullptr, p->pool) != 0 ||
            rte_eth_tx_queue_setup(p->port[s], q, k_ring_size, k_socket, nullptr) != 0) {
          fail("queue setup");
        }
      }
      if (rte_eth_dev_start(p->port[s]) != 0) fail("start");
    }
    return p;
  }();
  return *ports;
}

void drain(rte_ring* r, std::vector<std::vector<std::uint8_t>>* out) {
  std::array<rte_mbuf*, 64> m;
  for (;;) {
    const unsigned n = rte_ring_dequeue_burst(r, reinterpret_cast<void**>(m.data()), m.size(), nullptr);
    if (n == 0) return;
    for (unsigned i = 0; i < n; ++i) {
      if (out != nullptr) {
        const auto* data = rte_pktmbuf_mtod(m[i], const std::uint8_t*);
        out->emplace_back(data, data + m[i]->data_len);
      }
      rte_pktmbuf_free(m[i]);
    }
  }
}

bool inject(rte_ring* r, rte_mempool* pool, const std::uint8_t* data, std::size_t len) {
  rte_mbuf* m = rte_pktmbuf_alloc(pool);
  if (m == nullptr) return false;
  char* dst = rte_pktmbuf_append(m, static_cast<std::uint16_t>(len));
  if (dst == nullptr || rte_ring_enqueue(r, m) != 0) {
    rte_pktmbuf_free(m);
    return false;
  }
  std::memcpy(dst, data, len);
  return true;
}

}  // namespace sgfw::testing
