// The EAL command line `sgfw run` composes, and the core checks it makes
// before DPDK starts.
#include "appliance/eal_options.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace sgfw::cp {
namespace {

bool has(const std::vector<std::string>& args, const std::string& a) {
  return std::find(args.begin(), args.end(), a) != args.end();
}

machine_facts two_cpus(std::uint64_t free_hugepage_mb = 0) {
  machine_facts m;
  m.cpus = {0, 1};
  m.free_hugepage_mb = free_hugepage_mb;
  return m;
}

TEST(EalOptions, WorkersGetLcoresOnTheirCores) {
  config::boot_settings r;
  r.workers = 2;
  r.cores = {1, 0};
  r.main_core = 1;
  const auto args = eal_arguments(r, two_cpus());
  EXPECT_TRUE(has(args, "--lcores=0@1,1@1,2@0"));
  EXPECT_TRUE(has(args, "--main-lcore=0"));
  EXPECT_TRUE(has(args, "--file-prefix=sgfw"));
}

TEST(EalOptions, NoHugepagesMeansNoHugeAndTheConfiguredMemory) {
  config::boot_settings r;
  r.outside = "net_tap0,iface=a";
  r.inside = "net_tap1,iface=b";
  r.memory_mb = 256;
  auto args = eal_arguments(r, two_cpus(0));
  EXPECT_TRUE(has(args, "--no-huge"));
  EXPECT_TRUE(has(args, "256"));
  EXPECT_TRUE(has(args, "--no-pci"));      // virtual ports only
  args = eal_arguments(r, two_cpus(512));  // auto, and memory_mb of hugepages are free
  EXPECT_FALSE(has(args, "--no-huge"));
  EXPECT_TRUE(has(eal_arguments(r, two_cpus(128)), "--no-huge"));  // too few to run on
  r.hugepages = config::boot_settings::hugepages_mode::no;
  EXPECT_TRUE(has(eal_arguments(r, two_cpus(512)), "--no-huge"));
}

TEST(EalOptions, PciPortsKeepPciAndUserArgumentsComeLast) {
  config::boot_settings r;
  r.outside = "0000:03:00.0";
  r.inside = "03:00.1";
  r.eal_args = {"--file-prefix=mine", "--log-level=7"};
  const auto args = eal_arguments(r, two_cpus());
  EXPECT_FALSE(has(args, "--no-pci"));
  // EAL probes exactly the two ports, by the names DPDK gives them.
  EXPECT_EQ(std::count(args.begin(), args.end(), "-a"), 2);
  EXPECT_TRUE(has(args, "0000:03:00.0"));
  EXPECT_TRUE(has(args, "0000:03:00.1"));
  EXPECT_FALSE(has(args, "--file-prefix=sgfw"));
  EXPECT_FALSE(has(args, "--log-level=lib.eal:warning"));
  EXPECT_EQ(args.back(), "--log-level=7");
  EXPECT_TRUE(is_pci_address("0000:af:00.1,rxq=2"));
  EXPECT_EQ(with_pci_domain("af:00.1,rxq=2"), "0000:af:00.1,rxq=2");
  EXPECT_EQ(with_pci_domain("0000:af:00.1"), "0000:af:00.1");
  EXPECT_EQ(with_pci_domain("net_tap0,iface=x"), "net_tap0,iface=x");
  EXPECT_FALSE(is_pci_address("net_af_packet0,iface=eth0"));
}

TEST(EalOptions, CoresMustExistAndNotBeShared) {
  config::boot_settings r;
  r.workers = 1;
  EXPECT_EQ(check_cores(r, two_cpus()), "");  // worker on CPU 1
  r.workers = 2;                              // default cores 1, 2
  EXPECT_NE(check_cores(r, two_cpus()).find("core 2 for worker 1 does not exist"), std::string::npos);
  r.cores = {1, 1};
  EXPECT_NE(check_cores(r, two_cpus()).find("given to two workers"), std::string::npos);
  r.cores = {0, 1};
  EXPECT_EQ(check_cores(r, two_cpus()), "");
  r.main_core = 7;
  EXPECT_NE(check_cores(r, two_cpus()).find("main_core 7"), std::string::npos);
}

TEST(EalOptions, DefaultWorkerCoresLeaveOutTheMainCore) {
  config::boot_settings r;
  r.workers = 3;
  EXPECT_EQ(worker_cores(r), (std::vector<std::uint32_t>{1, 2, 3}));
  r.main_core = 1;
  EXPECT_EQ(worker_cores(r), (std::vector<std::uint32_t>{0, 2, 3}));
  r.cores = {5, 6, 7};
  EXPECT_EQ(worker_cores(r), (std::vector<std::uint32_t>{5, 6, 7}));
}

}  // namespace
}  // namespace sgfw::cp
