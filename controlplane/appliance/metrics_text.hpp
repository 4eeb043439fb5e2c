// metrics_text: the appliance's figures in Prometheus' text exposition
// format (version 0.0.4), what the metrics endpoint answers on /metrics.
//
// Families, each with its HELP and TYPE once:
//   sgfw_packets_total / sgfw_bytes_total{port, direction}   the ports' own counts
//   sgfw_port_rx_missed_total, _rx_errors_total, _tx_errors_total,
//     _rx_no_buffer_total{port}
//   sgfw_drops_total{reason}                  every reason, zeros included
//   sgfw_worker_<counter>_total{worker}, sgfw_worker_flows{worker}
//   sgfw_worker_busy_ratio{worker}            over the last second
//   sgfw_worker_busy_cycles_total / sgfw_worker_cycles_total{worker}
//   sgfw_flows{resource}, sgfw_flows_created_total{resource},
//   sgfw_new_flows_per_second{resource},
//   sgfw_conntrack_allowance_exceeded_total / _available / sgfw_conntrack_allowance{resource}
//   sgfw_rule_packets_total / _bytes_total / _flows_opened_total{group, rule, direction}
//   sgfw_rule_last_hit_timestamp_seconds{group, rule, direction}   rules that admitted something
//   sgfw_policy_generation, sgfw_uptime_seconds
//
// Label values are escaped as the format says (\\, \", \n), so no name
// from the policy can end a label or start a line of its own.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "policy/compiled_policy.hpp"
#include "worker/rule_counters.hpp"

namespace sgfw::cp {

inline constexpr const char* k_metrics_content_type = "text/plain; version=0.0.4; charset=utf-8";

struct rule_row {
  std::string_view group;
  std::string_view rule;
  bool ingress = true;
  dp::rule_totals counts;  // last_ms since 1970, 0: never
};

// Every rule of `policy` with its counts (`counts` by global index).
std::vector<rule_row> rule_rows(const dp::compiled_policy& policy,
                                const std::function<dp::rule_totals(std::uint32_t)>& counts);

// `stats`: what appliance_stats::describe() answers.
std::string metrics_text(const nlohmann::json& stats, const std::vector<rule_row>& rules, std::uint64_t generation);

// A label value as the format writes it between quotes.
std::string escape_label(std::string_view v);

}  // namespace sgfw::cp
