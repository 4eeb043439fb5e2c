// resource_map (address -> protected resource) against rte_hash on the same
// addresses and the same lookups, in one run.  sgfw keeps its own table
// because the lookup happens for both addresses of every packet and the
// table is rebuilt with each compiled policy; this benchmark is the reason.
//
//   build/perf/resource_map_bench
//
// Workload: N resources with one IPv4 address each (consecutive, as
// resources usually are numbered, and random), lookups of which half hit.
#include <rte_hash.h>
#include <rte_jhash.h>

#include <array>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bench_main.hpp"
#include "policy/resource_map.hpp"

namespace sgfw::perf {
namespace {

constexpr std::size_t k_lookups = 8192;
constexpr unsigned k_batch = 32;

struct workload {
  dp::resource_map map;
  rte_hash* hash = nullptr;
  std::vector<std::uint32_t> keys;  // host order for resource_map
  std::vector<std::uint32_t> net_keys;
  ~workload() {
    if (hash != nullptr) rte_hash_free(hash);
  }
};

std::unique_ptr<workload> make(std::size_t n, bool consecutive, const std::string& name) {
  auto w = std::make_unique<workload>();
  std::mt19937_64 r(n);
  std::vector<dp::resource_map::entry> entries;
  std::vector<std::uint32_t> addrs;
  for (std::size_t i = 0; i < n; ++i) {
    const auto a = consecutive ? 0x0A000000U + static_cast<std::uint32_t>(i) : static_cast<std::uint32_t>(r());
    addrs.push_back(a);
    entries.push_back({net::ip_address::v4(a), static_cast<std::uint32_t>(i)});
  }
  w->map = dp::resource_map::build(entries);

  rte_hash_parameters p{};
  p.name = name.c_str();
  p.entries = static_cast<std::uint32_t>(std::max<std::size_t>(2 * n, 64));
  p.key_len = sizeof(std::uint32_t);
  p.hash_func = rte_jhash;
  p.socket_id = 0;
  p.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF;  // lock-free readers, as workers need
  w->hash = rte_hash_create(&p);
  if (w->hash == nullptr) return w;
  for (std::size_t i = 0; i < n; ++i) {
    rte_hash_add_key_data(w->hash, &addrs[i], reinterpret_cast<void*>(static_cast<std::uintptr_t>(i)));
  }
  for (std::size_t i = 0; i < k_lookups; ++i) {
    const std::uint32_t a = (r() & 1) != 0 ? addrs[r() % n] : static_cast<std::uint32_t>(r());
    w->keys.push_back(a);
    w->net_keys.push_back(a);
  }
  return w;
}

// Everything in EAL memory is freed by release(), before EAL goes.
std::vector<std::shared_ptr<workload>>& all_workloads() {
  static std::vector<std::shared_ptr<workload>> w;
  return w;
}

void release() {
  for (auto& w : all_workloads()) {
    if (w->hash != nullptr) rte_hash_free(w->hash);
    w->hash = nullptr;
  }
}

void register_benchmarks() {
  for (const std::size_t n : {1000UL, 100000UL}) {
    for (const bool consecutive : {true, false}) {
      const std::string label = std::to_string(n) + (consecutive ? "/consecutive" : "/random");
      auto w = std::shared_ptr<workload>(make(n, consecutive, "rm" + label).release());
      all_workloads().push_back(w);
      benchmark::RegisterBenchmark(("sgfw_resource_map/" + label).c_str(), [w](benchmark::State& st) {
        for (auto _ : st) {
          for (std::size_t i = 0; i < w->keys.size(); i += k_batch) {
            for (unsigned j = 0; j < k_batch; ++j) w->map.prefetch(net::ip_address::v4(w->keys[i + j]));
            for (unsigned j = 0; j < k_batch; ++j) benchmark::DoNotOptimize(w->map.find_v4(w->keys[i + j]));
          }
        }
        st.SetItemsProcessed(st.iterations() * static_cast<std::int64_t>(w->keys.size()));
      });
      benchmark::RegisterBenchmark(("rte_hash_bulk/" + label).c_str(), [w](benchmark::State& st) {
        if (w->hash == nullptr) {
          st.SkipWithError("rte_hash_create failed");
          return;
        }
        std::array<const void*, k_batch> ptrs{};
        std::array<void*, k_batch> data{};
        for (auto _ : st) {
          for (std::size_t i = 0; i < w->net_keys.size(); i += k_batch) {
            for (unsigned j = 0; j < k_batch; ++j) ptrs[j] = &w->net_keys[i + j];
            std::uint64_t hits = 0;
            rte_hash_lookup_bulk_data(w->hash, ptrs.data(), k_batch, &hits, data.data());
            benchmark::DoNotOptimize(hits);
            benchmark::DoNotOptimize(data);
          }
        }
        st.SetItemsProcessed(st.iterations() * static_cast<std::int64_t>(w->net_keys.size()));
      });
    }
  }
}

void summarise(const results& r) {
  std::printf("\nSide by side (same run, same addresses, same lookups, half of them hits):\n");
  std::printf("%-20s %18s %18s %8s\n", "resources", "resource_map M/s", "rte_hash bulk M/s", "ratio");
  for (const std::size_t n : {1000UL, 100000UL}) {
    for (const bool consecutive : {true, false}) {
      const std::string label = std::to_string(n) + (consecutive ? "/consecutive" : "/random");
      const auto a = r.find("sgfw_resource_map/" + label);
      const auto b = r.find("rte_hash_bulk/" + label);
      if (a == r.end() || b == r.end() || b->second.items_per_second == 0) continue;
      std::printf("%-20s %18.1f %18.1f %7.2fx\n", label.c_str(), a->second.items_per_second / 1e6,
                  b->second.items_per_second / 1e6, a->second.items_per_second / b->second.items_per_second);
    }
  }
}

}  // namespace
}  // namespace sgfw::perf

int main(int argc, char** argv) {
  return sgfw::perf::bench_main(argc, argv,
                                {sgfw::perf::register_benchmarks, sgfw::perf::summarise, sgfw::perf::release});
}
