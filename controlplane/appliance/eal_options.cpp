#include "appliance/eal_options.hpp"

#include <sched.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>

namespace sgfw::cp {

machine_facts machine_facts::read() {
  machine_facts m;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    for (std::uint32_t c = 0; c < CPU_SETSIZE; ++c) {
      if (CPU_ISSET(c, &set)) m.cpus.insert(c);
    }
  }
  std::error_code ec;
  for (const auto& dir : std::filesystem::directory_iterator("/sys/kernel/mm/hugepages", ec)) {
    // hugepages-2048kB/free_hugepages
    const std::string name = dir.path().filename().string();
    std::uint64_t kb = 0;
    if (std::sscanf(name.c_str(), "hugepages-%lukB", &kb) != 1) continue;
    std::ifstream in(dir.path() / "free_hugepages");
    std::uint64_t n = 0;
    if (in >> n) m.free_hugepage_mb += n * kb / 1024;
  }
  return m;
}

std::vector<std::uint32_t> worker_cores(const config::boot_settings& r) {
  if (!r.cores.empty()) return r.cores;
  // CPUs 0, 1, 2, ... in order, leaving out the main thread's.
  std::vector<std::uint32_t> cores;
  for (std::uint32_t c = 0; cores.size() < r.workers; ++c) {
    if (c != r.main_core) cores.push_back(c);
  }
  return cores;
}

namespace {

std::string cpu_list(const std::set<std::uint32_t>& cpus) {
  std::string out;
  for (auto it = cpus.begin(); it != cpus.end();) {
    auto last = it;
    while (std::next(last) != cpus.end() && *std::next(last) == *last + 1) ++last;
    if (!out.empty()) out += ",";
    out += std::to_string(*it);
    if (last != it) out += "-" + std::to_string(*last);
    it = std::next(last);
  }
  return out;
}

}  // namespace

std::string check_cores(const config::boot_settings& r, const machine_facts& m) {
  const auto missing = [&](std::uint32_t c) { return m.cpus.count(c) == 0; };
  const std::string available = " (this machine offers CPUs " + cpu_list(m.cpus) + ")";
  if (missing(r.main_core)) {
    return "main_core " + std::to_string(r.main_core) + " does not exist or is not available" + available;
  }
  const std::vector<std::uint32_t> cores = worker_cores(r);
  std::set<std::uint32_t> seen;
  for (std::size_t w = 0; w < cores.size(); ++w) {
    if (missing(cores[w])) {
      return "core " + std::to_string(cores[w]) + " for worker " + std::to_string(w) +
             " does not exist or is not available" + available + "; set [appliance] cores, or fewer workers";
    }
    if (!seen.insert(cores[w]).second) {
      return "core " + std::to_string(cores[w]) + " is given to two workers; a worker polls its core all the time";
    }
  }
  return {};
}

bool is_pci_address(const std::string& devargs) {
  // [domain:]bus:device.function, hex, then optional ",args".
  const std::string id = devargs.substr(0, devargs.find(','));
  const auto hex = [&](std::size_t at, std::size_t n) {
    if (at + n > id.size()) return false;
    return std::all_of(id.begin() + static_cast<std::ptrdiff_t>(at), id.begin() + static_cast<std::ptrdiff_t>(at + n),
                       [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; });
  };
  const std::size_t bdf = id.size() == 12 ? 5 : 0;  // after "dddd:"
  if (id.size() != 7 && id.size() != 12) return false;
  if (bdf == 5 && (!hex(0, 4) || id[4] != ':')) return false;
  return hex(bdf, 2) && id[bdf + 2] == ':' && hex(bdf + 3, 2) && id[bdf + 5] == '.' && id[bdf + 6] >= '0' &&
         id[bdf + 6] <= '7';
}

std::string with_pci_domain(const std::string& devargs) {
  if (!is_pci_address(devargs) || devargs.find(',') == 12 || devargs.size() == 12) return devargs;
  return "0000:" + devargs;
}

std::vector<std::string> eal_arguments(const config::boot_settings& r, const machine_facts& m) {
  std::vector<std::string> args{"sgfw"};
  const auto given = [&](std::string_view prefix) {
    return std::any_of(r.eal_args.begin(), r.eal_args.end(),
                       [&](const std::string& a) { return a.rfind(prefix, 0) == 0; });
  };
  std::string lcores = "0@" + std::to_string(r.main_core);
  const std::vector<std::uint32_t> cores = worker_cores(r);
  for (std::size_t w = 0; w < cores.size(); ++w) {
    lcores += "," + std::to_string(w + 1) + "@" + std::to_string(cores[w]);
  }
  args.push_back("--lcores=" + lcores);
  args.push_back("--main-lcore=0");
  if (!given("--file-prefix")) args.push_back("--file-prefix=" + r.file_prefix);
  const bool huge =
      r.hugepages == config::boot_settings::hugepages_mode::yes ||
      (r.hugepages == config::boot_settings::hugepages_mode::automatic && m.free_hugepage_mb >= r.memory_mb);
  if (!huge && !given("--no-huge")) {
    args.push_back("--no-huge");
    args.push_back("-m");
    args.push_back(std::to_string(r.memory_mb));
  }
  // EAL probes the PCI ports (with their devargs) and no other device of
  // the machine, unless the user keeps a device list of their own.
  if (!given("-a") && !given("--allow") && !given("-b") && !given("--block") && !given("--no-pci")) {
    const bool pci_port = is_pci_address(r.outside) || is_pci_address(r.inside);
    for (const std::string* port : {&r.outside, &r.inside}) {
      if (is_pci_address(*port)) {
        args.push_back("-a");
        args.push_back(with_pci_domain(*port));
      }
    }
    if (!pci_port) args.push_back("--no-pci");
  }
  if (!given("--log-level")) {
    args.push_back("--log-level=lib.eal:warning");
    args.push_back("--log-level=lib.telemetry:warning");
  }
  for (const std::string& a : r.eal_args) args.push_back(a);
  return args;
}

}  // namespace sgfw::cp
