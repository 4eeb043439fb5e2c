// io_forward: the ceiling for sgfw's whole-appliance benchmark, doing what
// `dpdk-testpmd --forward-mode=io` does with two ports and one forwarding
// core: receive a burst on one port, send it unchanged on the other, both
// ways, nothing else.  Debian 12 packages DPDK's libraries and PMDs but not
// dpdk-testpmd, so the benchmark brings this instead (perf/appliance_bench.py
// runs it and sgfw on the same vdevs, in the same run).
//
//   io_forward [EAL arguments] -- [--seconds S] [--warmup S] [--packet-buffers N]
//
// The two ports are the first two ethdev ports (e.g. --vdev net_pcap0,...
// --vdev net_null0,...); the forwarding runs on the first worker lcore.
// After the warm-up it counts S seconds and prints one line:
//
//   io_forward: packets=N seconds=S mpps=M cycles_per_packet=C tsc_hz=H
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <string_view>

namespace {

constexpr std::uint16_t k_burst = 32;
constexpr std::uint16_t k_descriptors = 1024;

struct forward_state {
  std::uint16_t ports[2] = {0, 1};
  std::atomic<bool> stop{false};
  std::atomic<bool> counting{false};
  std::atomic<std::uint64_t> forwarded{0};  // written by the forwarding core only
};

// One direction: a burst from `from` goes out on `to`; what the TX ring
// does not take is freed, as testpmd does.
std::uint16_t forward_burst(std::uint16_t from, std::uint16_t to) {
  rte_mbuf* burst[k_burst];
  const std::uint16_t n = rte_eth_rx_burst(from, 0, burst, k_burst);
  if (n == 0) return 0;
  const std::uint16_t sent = rte_eth_tx_burst(to, 0, burst, n);
  if (sent < n) rte_pktmbuf_free_bulk(burst + sent, n - sent);
  return sent;
}

int forward_loop(void* arg) {
  auto* s = static_cast<forward_state*>(arg);
  std::uint64_t counted = 0;
  while (!s->stop.load(std::memory_order_relaxed)) {
    const std::uint64_t n = forward_burst(s->ports[0], s->ports[1]) + forward_burst(s->ports[1], s->ports[0]);
    if (s->counting.load(std::memory_order_relaxed)) {
      counted += n;
      s->forwarded.store(counted, std::memory_order_relaxed);
    }
  }
  return 0;
}

bool start_port(std::uint16_t port, rte_mempool* pool) {
  rte_eth_conf conf{};
  if (rte_eth_dev_configure(port, 1, 1, &conf) != 0) return false;
  std::uint16_t rxd = k_descriptors, txd = k_descriptors;
  if (rte_eth_dev_adjust_nb_rx_tx_desc(port, &rxd, &txd) != 0) return false;
  const auto socket = static_cast<unsigned>(rte_eth_dev_socket_id(port));
  if (rte_eth_rx_queue_setup(port, 0, rxd, socket, nullptr, pool) != 0) return false;
  if (rte_eth_tx_queue_setup(port, 0, txd, socket, nullptr) != 0) return false;
  if (rte_eth_dev_start(port) != 0) return false;
  rte_eth_promiscuous_enable(port);
  return true;
}

bool parse(std::string_view text, double& out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size() && out >= 0;
}

}  // namespace

int main(int argc, char** argv) {
  const int used = rte_eal_init(argc, argv);
  if (used < 0) {
    std::fprintf(stderr, "io_forward: cannot start DPDK: %s\n", rte_strerror(rte_errno));
    return 1;
  }
  double seconds = 5, warmup = 2, buffers = 0;
  for (int i = used + 1; i + 1 < argc; i += 2) {
    const std::string_view key = argv[i];
    double* value = key == "--seconds"          ? &seconds
                    : key == "--warmup"         ? &warmup
                    : key == "--packet-buffers" ? &buffers
                                                : nullptr;
    if (value == nullptr || !parse(argv[i + 1], *value)) {
      std::fprintf(stderr, "io_forward: bad option %s %s\n", argv[i], argv[i + 1]);
      return 2;
    }
  }
  if (rte_eth_dev_count_avail() < 2) {
    std::fprintf(stderr, "io_forward: needs two ports (--vdev ... --vdev ...)\n");
    return 1;
  }
  const unsigned lcore = rte_get_next_lcore(~0U, 1, 0);
  if (lcore >= RTE_MAX_LCORE) {
    std::fprintf(stderr, "io_forward: needs a worker lcore (e.g. --lcores 0@0,1@1)\n");
    return 1;
  }
  // As many buffers as sgfw's pool for one worker (rings of both ports, a
  // hand-off ring, caches, spare), or what was asked.
  const unsigned mbufs =
      std::max(2U * (k_descriptors + k_descriptors) + 4096 + 2 * k_burst + 4096, static_cast<unsigned>(buffers));
  rte_mempool* pool = rte_pktmbuf_pool_create("io_forward", mbufs, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                              static_cast<int>(rte_socket_id()));
  if (pool == nullptr) {
    std::fprintf(stderr, "io_forward: cannot allocate %u packet buffers: %s\n", mbufs, rte_strerror(rte_errno));
    return 1;
  }
  forward_state state;
  for (std::uint16_t p : state.ports) {
    if (!start_port(p, pool)) {
      std::fprintf(stderr, "io_forward: cannot start port %u\n", p);
      return 1;
    }
  }
  rte_eal_remote_launch(forward_loop, &state, lcore);
  rte_delay_us_sleep(static_cast<unsigned>(warmup * 1e6));
  state.counting.store(true);
  const std::uint64_t t0 = rte_get_tsc_cycles();
  rte_delay_us_sleep(static_cast<unsigned>(seconds * 1e6));
  const std::uint64_t packets = state.forwarded.load();
  const std::uint64_t t1 = rte_get_tsc_cycles();
  state.stop.store(true);
  rte_eal_mp_wait_lcore();
  const double hz = static_cast<double>(rte_get_tsc_hz());
  const double took = static_cast<double>(t1 - t0) / hz;
  std::printf("io_forward: packets=%llu seconds=%.3f mpps=%.3f cycles_per_packet=%.1f tsc_hz=%.0f\n",
              static_cast<unsigned long long>(packets), took, static_cast<double>(packets) / took / 1e6,
              packets != 0 ? static_cast<double>(t1 - t0) / static_cast<double>(packets) : 0.0, hz);
  for (std::uint16_t p : state.ports) {
    rte_eth_dev_stop(p);
    rte_eth_dev_close(p);
  }
  rte_mempool_free(pool);
  rte_eal_cleanup();
  return 0;
}
