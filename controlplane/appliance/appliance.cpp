#include "appliance/appliance.hpp"

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <thread>

#include "appliance/worker_wiring.hpp"
#include "worker/clock.hpp"

namespace sgfw::cp {

namespace {

constexpr unsigned k_handoff_ring_size = 4096;

}  // namespace

appliance::appliance(const config::boot_settings& settings)
    : settings_(settings),
      handle_(std::make_unique<dp::policy_handle>(settings.workers)),
      workers_(settings.workers),
      load_(std::make_unique<worker_load[]>(settings.workers)),
      failed_(settings.workers) {}

appliance::~appliance() {
  stop();
  workers_.clear();  // before the rings they point to
  for (rte_ring* r : handoff_) rte_ring_free(r);
  if (pool_ != nullptr) rte_mempool_free(pool_);
}

bool appliance::start(std::string& error) {
  const config::boot_settings& r = settings_;
  const auto workers = static_cast<std::uint16_t>(r.workers);
  for (unsigned lcore = rte_get_next_lcore(~0U, 1, 0); lcore < RTE_MAX_LCORE; lcore = rte_get_next_lcore(lcore, 1, 0)) {
    lcores_.push_back(lcore);
  }
  if (lcores_.size() < workers) {
    error = "EAL started " + std::to_string(lcores_.size()) + " worker lcores for " + std::to_string(workers) +
            " workers (an --lcores in [appliance.eal] args?)";
    return false;
  }
  // Enough buffers to fill every RX and TX ring of both ports, the
  // hand-off rings and the per-lcore caches, with room to spare; more when
  // asked (a net_pcap port with infinite_rx=1 keeps its whole file in
  // buffers of this pool).
  const unsigned per_worker = 2 * (r.rx_descriptors + r.tx_descriptors) + k_handoff_ring_size + 2 * dp::k_burst;
  const unsigned mbufs = std::max(workers * per_worker + 4096, r.packet_buffers);
  pool_ = rte_pktmbuf_pool_create("sgfw_mbufs", mbufs, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                  static_cast<int>(rte_socket_id()));
  if (pool_ == nullptr) {
    error = "cannot allocate " + std::to_string(mbufs) + " packet buffers: " + rte_strerror(rte_errno) +
            " (raise [appliance.eal] memory_mb, or lower the descriptor counts)";
    return false;
  }
  const port_request out_req{"outside", r.outside, workers, static_cast<std::uint16_t>(r.rx_descriptors),
                             static_cast<std::uint16_t>(r.tx_descriptors)};
  const port_request in_req{"inside", r.inside, workers, static_cast<std::uint16_t>(r.rx_descriptors),
                            static_cast<std::uint16_t>(r.tx_descriptors)};
  if (!open_port(out_req, outside_, error) || !open_port(in_req, inside_, error)) return false;
  if (outside_.id == inside_.id) {
    error = "outside and inside are the same port '" + outside_.name + "'";
    return false;
  }
  if (!start_port(out_req, outside_, pool_, error) || !start_port(in_req, inside_, pool_, error)) {
    stop_port(outside_);
    stop_port(inside_);
    return false;
  }
  ports_started_ = true;
  if (workers > 1) {
    for (std::uint32_t w = 0; w < workers; ++w) {
      const std::string name = "sgfw_handoff" + std::to_string(w);
      rte_ring* ring =
          rte_ring_create(name.c_str(), k_handoff_ring_size, static_cast<int>(rte_socket_id()), RING_F_SC_DEQ);
      if (ring == nullptr) {
        error = "cannot create the hand-off ring " + name + ": " + rte_strerror(rte_errno);
        return false;
      }
      handoff_.push_back(ring);
    }
  }
  for (std::uint32_t w = 0; w < workers; ++w) launch_.push_back({this, w});
  running_ = true;
  for (std::uint32_t w = 0; w < workers; ++w) {
    if (const int rc = rte_eal_remote_launch(run_worker, &launch_[w], lcores_[w]); rc != 0) {
      error = "cannot start worker " + std::to_string(w) + " on lcore " + std::to_string(lcores_[w]);
      stop_workers();
      return false;
    }
    ++launched_;
  }
  // Each worker builds its tables on its own core (memory local to it).
  while (ready_.load(std::memory_order_acquire) < workers) std::this_thread::yield();
  for (std::uint32_t w = 0; w < workers; ++w) {
    if (!failed_[w].empty()) {
      error = failed_[w];
      stop_workers();
      return false;
    }
  }
  return true;
}

int appliance::run_worker(void* p) {
  const auto* a = static_cast<const launch_args*>(p);
  a->self->worker_loop(a->id);
  return 0;
}

void appliance::worker_loop(std::uint32_t id) {
  // The placement the ports' RSS gives (flow_owner.hpp); 128 for a port
  // without RSS, where no placement can be matched anyway.
  const std::uint16_t reta = outside_.rss ? outside_.reta_size : inside_.rss ? inside_.reta_size : 0;
  const worker_ports ports{outside_.id, inside_.id, reta != 0 && (reta & (reta - 1)) == 0 ? reta : 128U};
  try {
    workers_[id] =
        std::make_unique<dp::worker>(worker_wiring(settings_, id, ports, handle_.get(), dp::tsc_clock(), handoff_));
  } catch (const std::exception& e) {
    // On an lcore an exception would end the process; start() reports it.
    failed_[id] = std::string("cannot build worker ") + std::to_string(id) + ": " + e.what() +
                  " (lower [appliance.conntrack] max_flows?)";
    draining_.fetch_add(1, std::memory_order_acq_rel);
    ready_.fetch_add(1, std::memory_order_release);
    return;
  }
  dp::worker& w = *workers_[id];
  ready_.fetch_add(1, std::memory_order_release);
  // Busy: the cycles of loops that received something (two stores a loop,
  // to this worker's own line).
  worker_load& load = load_[id];
  std::uint64_t busy = 0;
  std::uint64_t total = 0;
  std::uint64_t last = rte_rdtsc();
  while (phase_.load(std::memory_order_relaxed) == phase::running) {
    const unsigned received = w.poll_once();
    const std::uint64_t now = rte_rdtsc();
    total += now - last;
    if (received != 0) busy += now - last;
    last = now;
    load.busy.store(busy, std::memory_order_relaxed);
    load.total.store(total, std::memory_order_relaxed);
  }
  // Stopping: the ports are no longer read, but other workers may still
  // hand over packets they had received.  Once every worker has stopped
  // reading its ports nothing more is handed over, so the inbox is emptied
  // and the last TX flushed; no packet is left in a ring.
  draining_.fetch_add(1, std::memory_order_acq_rel);
  while (phase_.load(std::memory_order_acquire) != phase::exit) w.poll_once(false);
  while (w.poll_once(false) != 0) {
  }
}

// Both are called after start() saw every worker ready.
appliance_totals appliance::totals() const {
  appliance_totals t;
  for (const auto& w : workers_) {
    if (w) t.add(w->counters());
  }
  return t;
}

bool appliance::slot_in_use(std::uint16_t slot) const {
  if (ready_.load(std::memory_order_acquire) < workers_.size()) return false;
  for (const auto& w : workers_) {
    if (w && w->resource_flows(slot) != 0) return true;
  }
  return false;
}

std::uint64_t appliance::slot_exceeded(std::uint16_t slot) const {
  std::uint64_t n = 0;
  if (ready_.load(std::memory_order_acquire) < workers_.size()) return n;
  for (const auto& w : workers_) {
    if (w) n += w->resource_exceeded(slot);
  }
  return n;
}

appliance::slot_figures appliance::slot_stats(std::uint16_t slot, std::uint32_t per_worker_limit) const {
  slot_figures f;
  if (ready_.load(std::memory_order_acquire) < workers_.size()) return f;
  for (const auto& w : workers_) {
    if (!w) continue;
    const std::uint32_t flows = w->resource_flows(slot);
    f.flows += flows;
    f.opened += w->resource_opened(slot);
    f.exceeded += w->resource_exceeded(slot);
    f.available += flows < per_worker_limit ? per_worker_limit - flows : 0;
  }
  return f;
}

std::vector<dp::flow_dump*> appliance::flow_dumps() {
  std::vector<dp::flow_dump*> out;
  if (ready_.load(std::memory_order_acquire) < workers_.size()) return out;
  for (const auto& w : workers_) {
    if (w) out.push_back(&w->dump());
  }
  return out;
}

dp::rule_totals appliance::rule_totals(std::uint32_t index) const {
  dp::rule_totals t;
  if (ready_.load(std::memory_order_acquire) < workers_.size()) return t;
  for (const auto& w : workers_) {
    if (w) t += w->rule_counts().read(index);
  }
  return t;
}

appliance::cycle_figures appliance::cycles_of(std::uint32_t worker) const {
  if (worker >= settings_.workers) return {};
  return {load_[worker].busy.load(std::memory_order_relaxed), load_[worker].total.load(std::memory_order_relaxed)};
}

appliance::port_figures appliance::port_stats(std::uint16_t port) const {
  rte_eth_stats s{};
  if (!ports_started_ || rte_eth_stats_get(port, &s) != 0) return {};
  return {s.ipackets, s.ibytes, s.opackets, s.obytes, s.imissed, s.ierrors, s.oerrors, s.rx_nombuf};
}

appliance_totals appliance::totals_of(std::uint32_t worker) const {
  appliance_totals t;
  if (worker < workers_.size() && workers_[worker]) t.add(workers_[worker]->counters());
  return t;
}

void appliance::stop_workers() {
  if (!running_) return;
  phase_.store(phase::draining, std::memory_order_release);
  while (draining_.load(std::memory_order_acquire) < launched_) std::this_thread::yield();
  phase_.store(phase::exit, std::memory_order_release);
  rte_eal_mp_wait_lcore();
  running_ = false;
}

void appliance::stop() {
  stop_workers();
  if (ports_started_) {
    stop_port(outside_);
    stop_port(inside_);
    ports_started_ = false;
  }
}

}  // namespace sgfw::cp
