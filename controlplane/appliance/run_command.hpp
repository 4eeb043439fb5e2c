// `sgfw run`: the appliance's main job (docs/deployment.md).
//
//   sgfw run --config FILE [--outside DEVARGS] [--inside DEVARGS]
//            [--workers N] [--cores LIST] [--eal "ARGS"] [--status-interval S]
//
// Loads and checks the policy, starts DPDK and the ports, runs the workers,
// reloads on SIGHUP (and on file change with watch = true), and on SIGINT
// or SIGTERM stops the workers, flushes, prints the counters and exits 0.
// Anything that prevents a start is one clear line and a non-zero exit
// before any packet is forwarded.
#pragma once

#include <string_view>
#include <vector>

namespace sgfw::cp {

int run_command(const std::vector<std::string_view>& args);

}  // namespace sgfw::cp
