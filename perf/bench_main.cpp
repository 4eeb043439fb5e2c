#include "bench_main.hpp"

#include <rte_eal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace sgfw::perf {

namespace {

// Keeps the console output and remembers every run for the summary.
class capturing_reporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      // With --benchmark_repetitions the median stands for the run.
      if (r.run_type != Run::RT_Iteration && r.aggregate_name != "median") continue;
      run_result& out = results_[r.run_name.str()];
      const auto it = r.counters.find("items_per_second");
      out.items_per_second = it == r.counters.end() ? 0 : static_cast<double>(it->second);
      out.real_ns = r.GetAdjustedRealTime() * 1e9 / benchmark::GetTimeUnitMultiplier(r.time_unit);
    }
    ConsoleReporter::ReportRuns(runs);
  }
  const results& collected() const { return results_; }

 private:
  results results_;
};

// EAL for a benchmark on this kind of machine: no hugepages, no PCI, no
// files left behind, one core.  AVX-512 code paths (rte_acl's AVX512X16/X32)
// need --force-max-simd-bitwidth=512.  SGFW_EAL_ARGS replaces the defaults.
std::vector<std::string> eal_args(const char* argv0, unsigned memory_mb) {
  std::vector<std::string> args{argv0};
  if (const char* env = std::getenv("SGFW_EAL_ARGS")) {
    std::istringstream in(env);
    for (std::string a; in >> a;) args.push_back(a);
    return args;
  }
  for (const char* a : {"--no-huge", "--no-pci", "--no-shconf", "-l", "0", "--force-max-simd-bitwidth=512",
                        "--log-level=lib.eal:error", "--no-telemetry"}) {
    args.emplace_back(a);
  }
  args.push_back("-m");
  args.push_back(std::to_string(memory_mb));
  args.push_back("--file-prefix=sgfw-bench-" + std::to_string(getpid()));
  return args;
}

}  // namespace

int bench_main(int argc, char** argv, const bench_program& program) {
  std::vector<std::string> args = eal_args(argv[0], program.eal_memory_mb);
  std::vector<char*> eal_argv;
  for (auto& a : args) eal_argv.push_back(a.data());
  if (rte_eal_init(static_cast<int>(eal_argv.size()), eal_argv.data()) < 0) {
    std::fprintf(stderr, "bench: EAL initialisation failed; set SGFW_EAL_ARGS to adjust\n");
    return 1;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  program.register_benchmarks();
  capturing_reporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  std::fflush(stdout);
  program.summarise(reporter.collected());
  if (program.release) program.release();
  benchmark::Shutdown();
  rte_eal_cleanup();
  return 0;
}

}  // namespace sgfw::perf
