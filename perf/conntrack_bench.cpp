// The connection table against rte_hash (lock-free readers, bulk lookups)
// on the same flow keys, in one run: lookup rate of established flows and
// insert rate, from 1k to 10M flows, one and two threads.
//
//   build/perf/conntrack_bench
//   build/perf/conntrack_bench --benchmark_filter=1M
//
// Keys are sgfw's flow keys (local and remote address, ports, protocol,
// family; 48 bytes with padding, zeroed), 30% IPv6.  Lookups take random
// stored flows in bursts of 32, both sides hashing, prefetching and then
// comparing the whole burst, as a worker does.  With two threads, sgfw's
// design gives each worker its own table with half the flows; rte_hash is
// one table read by both threads, which is how it would be shared.
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "bench_main.hpp"
#include "conntrack/flow_table.hpp"

namespace sgfw::perf {
namespace {

constexpr unsigned k_batch = 32;
constexpr std::size_t k_lookup_pool = 1 << 16;  // keys per iteration pass

struct size_spec {
  const char* label;
  std::uint32_t flows;
};
constexpr size_spec k_sizes[] = {{"1k", 1000}, {"100k", 100000}, {"1M", 1000000}, {"10M", 10000000}};

dp::flow_key make_key(std::mt19937_64& r) {
  dp::flow_key k{};  // padding zeroed: rte_hash compares bytes
  std::memset(static_cast<void*>(&k), 0, sizeof k);
  const bool v6 = r() % 10 < 3;
  k.fam = v6 ? net::family::ipv6 : net::family::ipv4;
  k.local = v6 ? (net::u128{r()} << 64) | r() : net::u128{static_cast<std::uint32_t>(r())};
  k.remote = v6 ? (net::u128{r()} << 64) | r() : net::u128{static_cast<std::uint32_t>(r())};
  k.local_port = static_cast<std::uint16_t>(r());
  k.remote_port = static_cast<std::uint16_t>(r());
  k.proto = r() % 4 == 0 ? 17 : 6;
  return k;
}

struct workload {
  std::vector<dp::flow_key> keys;  // stored flows
  // What is looked up: copies of random stored flows, in order, as a worker
  // has them (built from the packet, in cache); per thread for two threads,
  // each its own flows (sgfw: the flows its table owns).
  std::vector<dp::flow_key> stream;
  std::array<std::vector<dp::flow_key>, 2> stream_of;
  std::array<std::unique_ptr<dp::flow_table>, 2> halves;  // sgfw, two threads: one table each
  std::unique_ptr<dp::flow_table> whole;                  // sgfw, one thread
  rte_hash* hash = nullptr;
  ~workload() {
    if (hash != nullptr) rte_hash_free(hash);
  }
};

// Bytes allocated from the EAL heap (where rte_hash keeps its tables).
std::size_t heap_allocated() {
  rte_malloc_socket_stats stats{};
  std::size_t total = 0;
  for (int socket = 0; socket < RTE_MAX_NUMA_NODES; ++socket) {
    if (rte_malloc_get_socket_stats(socket, &stats) == 0) total += stats.heap_allocsz_bytes;
  }
  return total;
}

rte_hash* make_rte_hash(const std::string& name, std::uint32_t entries) {
  rte_hash_parameters p{};
  p.name = name.c_str();
  p.entries = entries;
  p.key_len = sizeof(dp::flow_key);
  p.hash_func = rte_hash_crc;
  p.socket_id = 0;
  p.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF;  // lock-free readers, as workers would need
  return rte_hash_create(&p);
}

std::unique_ptr<workload> make(const size_spec& s) {
  auto w = std::make_unique<workload>();
  std::mt19937_64 r(s.flows);
  w->keys.reserve(s.flows);
  for (std::uint32_t i = 0; i < s.flows; ++i) w->keys.push_back(make_key(r));
  for (std::size_t i = 0; i < k_lookup_pool; ++i) w->stream.push_back(w->keys[r() % s.flows]);
  for (std::size_t t = 0; t < 2; ++t) {
    while (w->stream_of[t].size() < k_lookup_pool) {
      const std::uint64_t i = r() % s.flows;
      if (i % 2 == t) w->stream_of[t].push_back(w->keys[i]);
    }
  }
  w->whole = std::make_unique<dp::flow_table>(s.flows);
  w->halves[0] = std::make_unique<dp::flow_table>(s.flows / 2 + 1);
  w->halves[1] = std::make_unique<dp::flow_table>(s.flows / 2 + 1);
  for (std::uint32_t i = 0; i < s.flows; ++i) {
    const dp::flow_key& k = w->keys[i];
    w->whole->insert(k, w->whole->hash(k))->rule = i;
    auto& half = *w->halves[i % 2];
    half.insert(k, half.hash(k))->rule = i;
  }
  const std::size_t heap_before = heap_allocated();
  w->hash = make_rte_hash(std::string("ct") + s.label, s.flows);
  const std::size_t rte_bytes = heap_allocated() - heap_before;
  if (w->hash != nullptr) {
    for (std::uint32_t i = 0; i < s.flows; ++i) {
      rte_hash_add_key_data(w->hash, &w->keys[i], reinterpret_cast<void*>(static_cast<std::uintptr_t>(i) + 1));
    }
  }
  std::printf(
      "# %s flows: sgfw %.1f MiB, %.1f bytes per flow with its state (%zu-byte entries); "
      "rte_hash %.1f MiB, %.1f bytes per flow for key and data pointer only\n",
      s.label, static_cast<double>(w->whole->memory_bytes()) / (1 << 20),
      static_cast<double>(w->whole->memory_bytes()) / s.flows, sizeof(dp::flow_entry),
      static_cast<double>(rte_bytes) / (1 << 20), static_cast<double>(rte_bytes) / s.flows);
  return w;
}

std::array<std::unique_ptr<workload>, std::size(k_sizes)>& workloads() {
  static std::array<std::unique_ptr<workload>, std::size(k_sizes)> w;
  return w;
}

// Benchmarks with two threads call this from both: the first builds.
workload& get(std::size_t i) {
  static std::mutex building;
  const std::lock_guard<std::mutex> lock(building);
  auto& slot = workloads()[i];
  if (!slot) slot = make(k_sizes[i]);
  return *slot;
}

// Lookups of stored flows, a burst at a time: hash all, prefetch all, find all.
void sgfw_lookup(benchmark::State& st, std::size_t size_index) {
  workload& w = get(size_index);
  const int thread = st.threads() == 1 ? -1 : st.thread_index();
  dp::flow_table& t = thread < 0 ? *w.whole : *w.halves[static_cast<std::size_t>(thread)];
  const std::vector<dp::flow_key>& stream = thread < 0 ? w.stream : w.stream_of[static_cast<std::size_t>(thread)];
  std::array<std::uint64_t, k_batch> hashes{};
  std::array<std::size_t, k_batch> hints{};
  std::uint64_t found = 0;
  for (auto _ : st) {
    for (std::size_t at = 0; at < k_lookup_pool; at += k_batch) {
      const dp::flow_key* keys = &stream[at];
      for (unsigned j = 0; j < k_batch; ++j) {
        hashes[j] = t.hash(keys[j]);
        t.prefetch_control(hashes[j]);
      }
      for (unsigned j = 0; j < k_batch; ++j) hints[j] = t.prefetch_entry(hashes[j]);
      for (unsigned j = 0; j < k_batch; ++j) found += t.find(keys[j], hashes[j], hints[j]) != nullptr ? 1U : 0U;
    }
  }
  benchmark::DoNotOptimize(found);
  if (found != static_cast<std::uint64_t>(st.iterations()) * k_lookup_pool) st.SkipWithError("lost a flow");
  st.SetItemsProcessed(st.iterations() * static_cast<std::int64_t>(k_lookup_pool));
}

void rte_hash_lookup(benchmark::State& st, std::size_t size_index) {
  workload& w = get(size_index);
  if (w.hash == nullptr) {
    st.SkipWithError("rte_hash_create failed");
    return;
  }
  const std::vector<dp::flow_key>& stream =
      st.threads() == 1 ? w.stream : w.stream_of[static_cast<std::size_t>(st.thread_index())];
  std::array<const void*, k_batch> keys{};
  std::array<void*, k_batch> data{};
  std::uint64_t found = 0;
  for (auto _ : st) {
    for (std::size_t at = 0; at < k_lookup_pool; at += k_batch) {
      for (unsigned j = 0; j < k_batch; ++j) keys[j] = &stream[at + j];
      std::uint64_t hits = 0;
      rte_hash_lookup_bulk_data(w.hash, keys.data(), k_batch, &hits, data.data());
      found += static_cast<std::uint64_t>(__builtin_popcountll(hits));
    }
  }
  benchmark::DoNotOptimize(found);
  if (found != static_cast<std::uint64_t>(st.iterations()) * k_lookup_pool) st.SkipWithError("lost a flow");
  st.SetItemsProcessed(st.iterations() * static_cast<std::int64_t>(k_lookup_pool));
}

// Inserting every flow into an empty table (timed per table filled; making
// and freeing the tables is not timed).
void sgfw_insert(benchmark::State& st, std::size_t size_index) {
  workload& w = get(size_index);
  const auto n = static_cast<std::uint32_t>(w.keys.size());
  for (auto _ : st) {
    st.PauseTiming();
    auto t = std::make_unique<dp::flow_table>(n);
    st.ResumeTiming();
    for (const auto& k : w.keys) benchmark::DoNotOptimize(t->insert(k, t->hash(k)));
    st.PauseTiming();
    t.reset();
    st.ResumeTiming();
  }
  st.SetItemsProcessed(st.iterations() * static_cast<std::int64_t>(n));
}

void rte_hash_insert(benchmark::State& st, std::size_t size_index) {
  workload& w = get(size_index);
  const auto n = static_cast<std::uint32_t>(w.keys.size());
  for (auto _ : st) {
    st.PauseTiming();
    rte_hash* h = make_rte_hash("ins" + std::to_string(size_index), n);
    st.ResumeTiming();
    if (h == nullptr) {
      st.SkipWithError("rte_hash_create failed");
      return;
    }
    for (std::uint32_t i = 0; i < n; ++i) rte_hash_add_key_data(h, &w.keys[i], reinterpret_cast<void*>(1));
    st.PauseTiming();
    rte_hash_free(h);
    st.ResumeTiming();
  }
  st.SetItemsProcessed(st.iterations() * static_cast<std::int64_t>(n));
}

void register_benchmarks() {
  for (std::size_t i = 0; i < std::size(k_sizes); ++i) {
    const std::string label = k_sizes[i].label;
    for (const int threads : {1, 2}) {
      benchmark::RegisterBenchmark(("sgfw_lookup/" + label).c_str(), sgfw_lookup, i)->Threads(threads)->UseRealTime();
      benchmark::RegisterBenchmark(("rte_hash_lookup_bulk/" + label).c_str(), rte_hash_lookup, i)
          ->Threads(threads)
          ->UseRealTime();
    }
    const int iterations = k_sizes[i].flows >= 1000000 ? 1 : 0;
    auto* a =
        benchmark::RegisterBenchmark(("sgfw_insert/" + label).c_str(), sgfw_insert, i)->Unit(benchmark::kMillisecond);
    auto* b = benchmark::RegisterBenchmark(("rte_hash_insert/" + label).c_str(), rte_hash_insert, i)
                  ->Unit(benchmark::kMillisecond);
    if (iterations != 0) {
      a->Iterations(iterations);
      b->Iterations(iterations);
    }
  }
}

void summarise(const results& r) {
  const auto rate = [&](const std::string& prefix) {
    const auto it = r.lower_bound(prefix);
    return it == r.end() || it->first.compare(0, prefix.size(), prefix) != 0 ? 0.0 : it->second.items_per_second;
  };
  std::printf("\nSide by side (same run, same keys; M operations/s):\n");
  std::printf("%-6s %12s %12s %7s   %12s %12s %7s   %12s %12s %7s\n", "flows", "sgfw 1T", "rte_hash 1T", "ratio",
              "sgfw 2T", "rte_hash 2T", "ratio", "sgfw insert", "rte insert", "ratio");
  for (const size_spec& s : k_sizes) {
    const std::string l = s.label;
    const double a1 = rate("sgfw_lookup/" + l + "/real_time/threads:1");
    const double b1 = rate("rte_hash_lookup_bulk/" + l + "/real_time/threads:1");
    const double a2 = rate("sgfw_lookup/" + l + "/real_time/threads:2");
    const double b2 = rate("rte_hash_lookup_bulk/" + l + "/real_time/threads:2");
    const double ai = rate("sgfw_insert/" + l);
    const double bi = rate("rte_hash_insert/" + l);
    if (a1 == 0 && ai == 0) continue;
    const auto ratio = [](double x, double y) { return y > 0 ? x / y : 0.0; };
    std::printf("%-6s %12.1f %12.1f %6.2fx   %12.1f %12.1f %6.2fx   %12.1f %12.1f %6.2fx\n", s.label, a1 / 1e6,
                b1 / 1e6, ratio(a1, b1), a2 / 1e6, b2 / 1e6, ratio(a2, b2), ai / 1e6, bi / 1e6, ratio(ai, bi));
  }
}

}  // namespace
}  // namespace sgfw::perf

int main(int argc, char** argv) {
  return sgfw::perf::bench_main(argc, argv,
                                {sgfw::perf::register_benchmarks, sgfw::perf::summarise,
                                 [] {
                                   for (auto& w : sgfw::perf::workloads()) w.reset();
                                 },
                                 8192});
}
