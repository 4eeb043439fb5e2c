// How a worker is wired from the boot settings: its queues, its share of
// the connection and fragment tables, the policy handle, clock and hand-off
// rings.  One place for the appliance and the test pipeline, so the tests
// run workers built the way `sgfw run` builds them.
#pragma once

#include <rte_ring.h>

#include <cstdint>
#include <vector>

#include "config/boot_settings.hpp"
#include "worker/worker.hpp"

namespace sgfw::cp {

struct worker_ports {
  std::uint16_t outside = 0;
  std::uint16_t inside = 1;
  std::uint32_t reta_size = 128;  // the ports' RSS redirection table; 128 without RSS
};

// Worker `id` of boot.workers: RX and TX queue `id` of both ports, and
// 1/workers of boot's tables (rounded up).
dp::worker_config worker_wiring(const config::boot_settings& boot, std::uint32_t id, const worker_ports& ports,
                                dp::policy_handle* policy, dp::clock_source clock, std::vector<rte_ring*> handoff);

}  // namespace sgfw::cp
