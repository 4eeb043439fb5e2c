// Shared main() for sgfw's benchmarks: starts DPDK's EAL (the peers we
// compare with, rte_acl and rte_hash, allocate from it), runs Google
// Benchmark, then prints the side-by-side ratios each benchmark program
// defines.  Every figure in a ratio comes from the same run.
#pragma once

#include <benchmark/benchmark.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace sgfw::perf {

// Results by benchmark name (the name Google Benchmark prints).
struct run_result {
  double items_per_second = 0;  // 0 when the benchmark sets no item count
  double real_ns = 0;           // per iteration
};
using results = std::map<std::string, run_result>;

// Called by each benchmark program to register its benchmarks (after EAL
// is up) and to print its summary (after they ran).
struct bench_program {
  std::function<void()> register_benchmarks;
  std::function<void(const results&)> summarise;
  std::function<void()> release;  // frees what lives in EAL memory, before EAL goes
  unsigned eal_memory_mb = 4096;  // EAL's -m (no hugepages)
};

int bench_main(int argc, char** argv, const bench_program& program);

}  // namespace sgfw::perf
