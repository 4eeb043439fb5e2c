// The running appliance: its ports, its workers on their lcores, the
// hand-off rings between them and the policy handle they read.
//
// Ownership: `phase_` ctlplane rw, dataplane ro; `draining_` counted up by
// the workers; each worker (and its counters, and its failed_ entry) is
// built and run by its own lcore, the control thread reads them only after
// the worker counted itself in ready_.
#pragma once

#include <rte_mempool.h>
#include <rte_ring.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "appliance/ports.hpp"
#include "config/boot_settings.hpp"
#include "worker/counters.hpp"
#include "worker/policy_handle.hpp"
#include "worker/worker.hpp"

namespace sgfw::cp {

// Counters of all workers, added up (control thread): the snapshot of
// dataplane/worker/counters.hpp.
using appliance_totals = dp::counter_snapshot;

class appliance {
 public:
  explicit appliance(const config::boot_settings& settings);
  ~appliance();
  appliance(const appliance&) = delete;
  appliance& operator=(const appliance&) = delete;

  // After EAL init: opens and starts both ports, creates the rings, and
  // starts one worker per worker lcore.  False with `error` set on failure
  // (nothing is left running).
  bool start(std::string& error);
  // Stops the workers (each finishes its loop: TX flushed, hand-off
  // drained) and the ports.
  void stop();

  dp::policy_handle& policy() { return *handle_; }
  appliance_totals totals() const;
  appliance_totals totals_of(std::uint32_t worker) const;
  const opened_port& outside() const { return outside_; }
  const opened_port& inside() const { return inside_; }
  std::uint32_t workers() const { return settings_.workers; }
  // Whether any worker counts flows under a resource slot; safe to call
  // once start() has succeeded (before, no worker holds any).
  bool slot_in_use(std::uint16_t slot) const;
  // New flows refused a resource slot for want of room, all workers (the
  // cloud's conntrack_allowance_exceeded, per resource).
  std::uint64_t slot_exceeded(std::uint16_t slot) const;
  // One resource slot on all workers: flows open, flows created since the
  // start, new flows refused for want of room, and the room left
  // (`per_worker_limit` each: compiled_policy::resource_flow_limit).
  struct slot_figures {
    std::uint64_t flows = 0, opened = 0, exceeded = 0, available = 0;
  };
  slot_figures slot_stats(std::uint16_t slot, std::uint32_t per_worker_limit) const;
  // Every running worker's window on its flows (describe-flows); none
  // before start() has succeeded.
  std::vector<dp::flow_dump*> flow_dumps();
  // What the rule of a global index admitted, all workers (rule_stats.hpp);
  // nothing before start() has succeeded.
  dp::rule_totals rule_totals(std::uint32_t index) const;
  // A worker's TSC cycles since it started looping, and those spent in
  // loops that received packets (its busy ratio is the share of the two).
  struct cycle_figures {
    std::uint64_t busy = 0, total = 0;
  };
  cycle_figures cycles_of(std::uint32_t worker) const;
  // A port's own counters (rte_eth_stats): what it received, sent and
  // could not take.  Zeros before start().
  struct port_figures {
    std::uint64_t rx_packets = 0, rx_bytes = 0, tx_packets = 0, tx_bytes = 0;
    std::uint64_t rx_missed = 0, rx_errors = 0, tx_errors = 0, rx_no_buffer = 0;
  };
  port_figures port_stats(std::uint16_t port) const;

 private:
  // Written by its worker once per loop (relaxed stores), read by anyone.
  struct alignas(64) worker_load {
    std::atomic<std::uint64_t> busy{0}, total{0};
  };
  struct launch_args {
    appliance* self;
    std::uint32_t id;
  };
  static int run_worker(void* launch);
  void worker_loop(std::uint32_t id);
  void stop_workers();

  config::boot_settings settings_;
  std::unique_ptr<dp::policy_handle> handle_;
  rte_mempool* pool_ = nullptr;
  std::vector<rte_ring*> handoff_;
  opened_port outside_;
  opened_port inside_;
  bool ports_started_ = false;
  std::vector<unsigned> lcores_;
  std::vector<launch_args> launch_;
  // workers_[id]: built by worker id on its lcore, before it counts itself
  // in ready_; read by the control thread after that.
  std::vector<std::unique_ptr<dp::worker>> workers_;
  std::unique_ptr<worker_load[]> load_;
  std::vector<std::string> failed_;  // failed_[id]: why worker id could not be built
  std::atomic<std::uint32_t> ready_{0};
  enum class phase : std::uint8_t { running, draining, exit };
  std::atomic<phase> phase_{phase::running};
  std::atomic<std::uint32_t> draining_{0};  // workers that stopped reading their ports
  std::uint32_t launched_ = 0;
  bool running_ = false;
};

}  // namespace sgfw::cp
