// What `sgfw run` tells its operator: a status line every few seconds and
// the counters when it stops.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "appliance/appliance.hpp"

namespace sgfw::cp {

// "gen 3 | in 1.20 kpps out 1.19 kpps | flows 12 | dropped 5 (policy_denied 4, tcp_invalid 1)"
std::string status_line(const appliance_totals& now, const appliance_totals& before, double seconds,
                        std::uint64_t generation);

// Totals, each drop reason that occurred, and each worker's share.
void print_final_counters(std::ostream& out, const appliance_totals& total,
                          const std::vector<appliance_totals>& per_worker, double seconds, std::uint64_t generation);

}  // namespace sgfw::cp
