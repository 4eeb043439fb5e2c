#include "appliance/worker_wiring.hpp"

#include <utility>

namespace sgfw::cp {

dp::worker_config worker_wiring(const config::boot_settings& boot, std::uint32_t id, const worker_ports& ports,
                                dp::policy_handle* policy, dp::clock_source clock, std::vector<rte_ring*> handoff) {
  const std::uint32_t workers = boot.workers == 0 ? 1 : boot.workers;
  dp::worker_config c;
  c.id = id;
  c.workers = workers;
  c.reta_size = ports.reta_size;
  c.outside_port = ports.outside;
  c.inside_port = ports.inside;
  c.rx_queue = static_cast<std::uint16_t>(id);
  c.tx_queue = static_cast<std::uint16_t>(id);
  c.flow_capacity = (boot.max_flows + workers - 1) / workers;
  c.early_drop = boot.early_drop;
  c.count_flows = boot.flow_counters;
  c.fragment_timeout_ms = boot.fragment_timeout * 1000;
  c.fragment_slots = (boot.max_fragmented_datagrams + workers - 1) / workers;
  c.policy = policy;
  c.clock = std::move(clock);
  c.handoff = std::move(handoff);
  return c;
}

}  // namespace sgfw::cp
