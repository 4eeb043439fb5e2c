#include "appliance/appliance_stats.hpp"

#include <algorithm>
#include <unordered_set>
#include <utility>

namespace sgfw::cp {

nlohmann::json counters_json(const appliance_totals& t) {
  nlohmann::json counters = nlohmann::json::object();
  for (std::size_t i = 0; i < dp::counter_count; ++i) {
    counters[std::string(dp::k_counters[i].name)] = t.value(static_cast<dp::counter_id>(i));
  }
  nlohmann::json drops = nlohmann::json::object();
  for (std::size_t r = 1; r < dp::drop_reason_count; ++r) {
    if (t.drops[r] != 0) drops[std::string(dp::k_drop_reasons[r].name)] = t.drops[r];
  }
  return {{"Counters", counters}, {"Drops", drops}};
}

appliance_stats::appliance_stats(const appliance& app, const policy_store& store, clock::time_point started)
    : app_(app), loads_(app.workers()), store_(store), started_(started), last_sample_(started) {}

void appliance_stats::sample(clock::time_point now) {
  for (std::uint32_t w = 0; w < loads_.size(); ++w) {
    load& l = loads_[w];
    l.before = l.last;
    l.last = app_.cycles_of(w);
    l.measured = l.last.total > l.before.total;
  }
  const dp::compiled_policy& p = store_.current();
  const double seconds = std::chrono::duration<double>(now - last_sample_).count();
  std::unordered_set<std::string> seen;
  for (std::size_t r = 0; r < p.resource_count(); ++r) {
    const std::uint64_t opened = app_.slot_stats(p.resource_slot[r], p.resource_flow_limit[r]).opened;
    auto [it, fresh] = rates_.try_emplace(p.resource_names[r]);
    rate& x = it->second;
    if (!fresh) {
      x.before = x.opened;
      x.seconds = seconds;
      x.measured = true;
    }
    x.opened = opened;
    seen.insert(p.resource_names[r]);
  }
  // Resources deleted since: forgotten (a new one of the name starts over).
  std::erase_if(rates_, [&seen](const auto& kv) { return !seen.contains(kv.first); });
  last_sample_ = now;
}

nlohmann::json appliance_stats::describe(clock::time_point now) const {
  nlohmann::json out = counters_json(app_.totals());
  out["UptimeSeconds"] = std::chrono::duration<double>(now - started_).count();
  nlohmann::json workers = nlohmann::json::array();
  for (std::uint32_t w = 0; w < app_.workers(); ++w) {
    nlohmann::json one = counters_json(app_.totals_of(w));
    one["Worker"] = w;
    const appliance::cycle_figures c = app_.cycles_of(w);
    one["BusyCycles"] = c.busy;
    one["Cycles"] = c.total;
    // Over the last sampling period; none before two samples.
    if (w < loads_.size() && loads_[w].measured) {
      const load& l = loads_[w];
      const double busy = static_cast<double>(l.last.busy - l.before.busy);
      one["BusyRatio"] = std::min(1.0, busy / static_cast<double>(l.last.total - l.before.total));
    }
    workers.push_back(std::move(one));
  }
  out["Workers"] = std::move(workers);
  nlohmann::json ports = nlohmann::json::array();
  for (const auto& [name, port] : {std::pair{"outside", &app_.outside()}, std::pair{"inside", &app_.inside()}}) {
    const appliance::port_figures f = app_.port_stats(port->id);
    ports.push_back({{"Name", name},
                     {"RxPackets", f.rx_packets},
                     {"RxBytes", f.rx_bytes},
                     {"TxPackets", f.tx_packets},
                     {"TxBytes", f.tx_bytes},
                     {"RxMissed", f.rx_missed},
                     {"RxErrors", f.rx_errors},
                     {"TxErrors", f.tx_errors},
                     {"RxNoBuffer", f.rx_no_buffer}});
  }
  out["Ports"] = std::move(ports);
  const dp::compiled_policy& p = store_.current();
  nlohmann::json resources = nlohmann::json::array();
  for (std::size_t r = 0; r < p.resource_count(); ++r) {
    const std::uint32_t limit = p.resource_flow_limit[r];
    const appliance::slot_figures f = app_.slot_stats(p.resource_slot[r], limit);
    nlohmann::json one{{"Name", p.resource_names[r]},
                       {"FlowsOpen", f.flows},
                       {"FlowsCreated", f.opened},
                       {"ConntrackAllowanceExceeded", f.exceeded},
                       {"ConntrackAllowanceAvailable", f.available},
                       {"ConntrackAllowance", static_cast<std::uint64_t>(limit) * app_.workers()}};
    // Over the last sampling period; none before two samples.
    if (const auto it = rates_.find(p.resource_names[r]); it != rates_.end() && it->second.measured) {
      const rate& x = it->second;
      // A name given to a new resource meanwhile may count from less.
      one["NewFlowsPerSecond"] =
          x.seconds > 0 && x.opened >= x.before ? static_cast<double>(x.opened - x.before) / x.seconds : 0.0;
    }
    resources.push_back(std::move(one));
  }
  out["ResourceStats"] = std::move(resources);
  return out;
}

}  // namespace sgfw::cp
