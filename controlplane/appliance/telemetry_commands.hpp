// telemetry_commands: sgfw's commands on DPDK's telemetry socket
// (rte_telemetry; `dpdk-telemetry.py`, or any client of
// /var/run/dpdk/PREFIX/dpdk_telemetry.v2):
//
//   /sgfw/stats              the appliance's counters, drops by reason, policy
//   /sgfw/workers            each worker's counters and drops
//   /sgfw/resources[,NAME]   each resource's flows, new flows per second,
//                            conntrack_allowance_exceeded / _available
//   /sgfw/rules[,GROUP]      each rule's packets, bytes, flows, last hit
//   /sgfw/flows[,RESOURCE]   open flows (at most k_max_flows)
//
// Each answer is what the control API's describe verbs answer (the same
// request, run on the control thread through a control_bridge), in
// telemetry's shapes: dictionaries with fixed names (telemetry allows only
// letters, digits, '_' and '/' in names, so lists of resources and rules
// are arrays of dictionaries), whole numbers (a rate is rounded), and at
// most ~15 KB (telemetry's reply buffer is 16 KB): a longer list ends with
// {"Truncated": N more}.
//
// register_telemetry_commands(): once, after rte_eal_init.  serve/stop:
// control thread; the callbacks run on telemetry's threads.
#pragma once

#include <cstddef>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "appliance/control_bridge.hpp"
#include "control/control_api.hpp"

struct rte_tel_data;

namespace sgfw::cp {

inline constexpr std::size_t k_max_flows_in_telemetry = 32;
inline constexpr std::size_t k_telemetry_budget = 15000;  // bytes of JSON in one answer

// Why the telemetry socket is open to others ("" when only sgfw's user can
// reach it): DPDK makes its runtime folder 0700 but takes one that exists
// as it is, and the socket has no access check of its own.  The commands
// (live flows, the policy file's path) are then not registered.
std::string telemetry_exposed();
// Registers the commands; false when telemetry refused one (it is off:
// --no-telemetry, or a command of the name exists).
bool register_telemetry_commands();
// From now on the commands are answered by `api` through `bridge`.
void serve_telemetry(std::shared_ptr<control_bridge> bridge, control_api& api);
// The commands answer "not running" from now on; call before the bridge
// is closed and the API goes.
void stop_telemetry();

// `v` (an object or an array) as telemetry data in `d`; nested objects and
// arrays become containers up to telemetry's nesting, deeper ones their
// JSON text; arrays and objects stop once `budget` bytes of JSON are in.
// Exposed for tests.
void to_telemetry(const nlohmann::json& v, rte_tel_data* d, std::size_t budget = k_telemetry_budget);

}  // namespace sgfw::cp
