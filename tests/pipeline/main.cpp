// The pipeline tests run DPDK: EAL with no hugepages and no PCI, ports made
// from rings (tests/support/pipeline.cpp).
#include <gtest/gtest.h>

#include "ring_ports.hpp"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (!sgfw::testing::init_test_eal(argv[0], "sgfw-pipeline", 256)) return 1;
  const int rc = RUN_ALL_TESTS();
  // Not rte_eal_cleanup(): the ring ports and mempool live for the process.
  return rc;
}
