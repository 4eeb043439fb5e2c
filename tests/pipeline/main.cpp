// The pipeline tests run DPDK: EAL with no hugepages and no PCI, ports made
// from rings (tests/support/pipeline.cpp).
#include <gtest/gtest.h>
#include <rte_eal.h>
#include <unistd.h>

#include <string>
#include <vector>

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  std::string prefix = "--file-prefix=sgfw-pipeline-" + std::to_string(getpid());
  std::vector<std::string> args{
      argv[0],          "--no-huge", "-m", "256", "--no-pci", "--no-shconf", "-l", "0", "--log-level=lib.eal:error",
      "--no-telemetry", prefix};
  std::vector<char*> eal;
  for (auto& a : args) eal.push_back(a.data());
  if (rte_eal_init(static_cast<int>(eal.size()), eal.data()) < 0) {
    fprintf(stderr, "EAL initialisation failed\n");
    return 1;
  }
  const int rc = RUN_ALL_TESTS();
  // Not rte_eal_cleanup(): the ring ports and mempool live for the process.
  return rc;
}
