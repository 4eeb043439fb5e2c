// The EAL command line `sgfw run` starts DPDK with, composed from the
// [appliance] settings (docs/configuration.md, docs/deployment.md), and
// the checks that can fail before DPDK starts.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "config/boot_settings.hpp"

namespace sgfw::cp {

// What the machine offers, read once (tests pass their own).
struct machine_facts {
  std::set<std::uint32_t> cpus;        // CPUs this process may run on
  std::uint64_t free_hugepage_mb = 0;  // free hugepages of every size, in MiB
  static machine_facts read();
};

// The worker CPUs: the configured ones, or 0, 1, 2, .. leaving out main_core
// (1, 2, .. with the default main_core 0).
std::vector<std::uint32_t> worker_cores(const config::boot_settings& r);

// Empty when the cores exist and do not collide, else what is wrong.
std::string check_cores(const config::boot_settings& r, const machine_facts& m);

// True for a PCI address ("0000:03:00.0" or "03:00.0"), as opposed to a
// virtual device.
bool is_pci_address(const std::string& devargs);
// A PCI port's devargs with the domain spelled out ("03:00.1,x=1" ->
// "0000:03:00.1,x=1"): the name DPDK gives the device; others unchanged.
std::string with_pci_domain(const std::string& devargs);

// argv for rte_eal_init (argv[0] = "sgfw").  Lcore 0 is the control
// thread on main_core; lcores 1..workers are the workers on their cores.
std::vector<std::string> eal_arguments(const config::boot_settings& r, const machine_facts& m);

}  // namespace sgfw::cp
