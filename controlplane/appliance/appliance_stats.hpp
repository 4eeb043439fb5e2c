// appliance_stats: the running appliance's live figures as describe-stats
// shows them (and, through it, DPDK telemetry and the metrics endpoint):
// the workers' counters added up and one by one, drops by reason, and per
// resource its flows, new flows per second and the cloud's
// conntrack_allowance_exceeded / conntrack_allowance_available.
//
// Each worker's busy ratio is the share of its cycles spent in loops that
// received packets, and each port's counters are the port's own.
//
// New flows per second, like the busy ratio, are over the last
// sampling period (sample(), every second from the event loop), not a
// moving average: what `sgfwctl top` and an operator reading twice expect.
//
// Control thread only (it reads the store's running policy).
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <vector>

#include "appliance/appliance.hpp"
#include "appliance/policy_store.hpp"

namespace sgfw::cp {

// What describe-stats shows of a counter snapshot: {"Counters": {name:
// value}, "Drops": {reason: count}} (reasons that dropped nothing left out).
nlohmann::json counters_json(const appliance_totals& t);

class appliance_stats {
 public:
  using clock = std::chrono::steady_clock;
  appliance_stats(const appliance& app, const policy_store& store, clock::time_point started);

  // Takes the per-resource flow counts the rates are measured against.
  void sample(clock::time_point now = clock::now());
  // Counters, Drops, UptimeSeconds, Ports[], Workers[] and ResourceStats[].
  nlohmann::json describe(clock::time_point now = clock::now()) const;

 private:
  struct rate {
    std::uint64_t opened = 0;  // at the last sample
    std::uint64_t before = 0;  // at the one before
    double seconds = 0;        // between the two
    bool measured = false;     // two samples taken
  };
  struct load {
    appliance::cycle_figures last, before;
    bool measured = false;
  };
  const appliance& app_;
  std::vector<load> loads_;  // per worker
  const policy_store& store_;
  clock::time_point started_;
  clock::time_point last_sample_;
  std::unordered_map<std::string, rate> rates_;  // by resource name (its slot follows the name)
};

}  // namespace sgfw::cp
