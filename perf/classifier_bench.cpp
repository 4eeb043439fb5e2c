// The compiled classifier against DPDK's rte_acl on the same rules and the
// same keys, in one run: lookup rates (single and batched), and compile time
// against rte_acl's build time.
//
//   build/perf/classifier_bench                       # everything
//   build/perf/classifier_bench --benchmark_filter=1k  # one size
//
// Rule sets: N rules (100 .. 100k) in groups of 50, five groups per
// resource, every group attached to one resource (so a resource's rules are
// its own, and rte_acl gets exactly the same rules), CIDR peers drawn over
// the whole address space, ports from a realistic mix (well-known ports,
// random ports, ranges), half the groups with the default egress rules.
// "v4": IPv4 only; "mixed": 30% of peers and half the keys IPv6.
//
// rte_acl gets each (resource, direction) as one exact-match field, the
// protocol, the remote address (one 32-bit field, or four for IPv6) and the
// service value (destination port, or ICMP type << 8 | code) as a range;
// a rule with several port ranges becomes several ACL rules.  Its priority
// order equals sgfw's rule order, so both name the same allowing rule, and
// the program checks that they agree on every key before timing anything.
#include <arpa/inet.h>
#include <rte_acl.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "bench_main.hpp"
#include "compiler/compiler.hpp"
#include "policy/classifier.hpp"
#include "random_policy.hpp"

namespace sgfw::perf {
namespace {

// Keys per iteration; SGFW_BENCH_KEYS overrides.
std::size_t pool_size() {
  const char* env = std::getenv("SGFW_BENCH_KEYS");
  return env != nullptr ? std::strtoul(env, nullptr, 10) : 8192;
}
constexpr std::size_t k_batch = dp::k_classify_burst;

struct size_spec {
  const char* label;
  std::uint32_t rules;
};
constexpr size_spec k_sizes[] = {{"100", 100}, {"1k", 1000}, {"10k", 10000}, {"100k", 100000}};
constexpr const char* k_mixes[] = {"v4", "mixed"};

struct acl_alg {
  enum rte_acl_classify_alg alg;  // `enum`: a function of the same name hides the type
  const char* name;
};
constexpr acl_alg k_algs[] = {{RTE_ACL_CLASSIFY_SCALAR, "scalar"},
                              {RTE_ACL_CLASSIFY_SSE, "sse"},
                              {RTE_ACL_CLASSIFY_AVX2, "avx2"},
                              {RTE_ACL_CLASSIFY_AVX512X16, "avx512x16"},
                              {RTE_ACL_CLASSIFY_AVX512X32, "avx512x32"}};

// --- rte_acl layouts ----------------------------------------------------------
// Input data is in network byte order, as rte_acl expects of packet fields.

enum v4_field { v4_proto, v4_res_dir, v4_addr, v4_service, v4_pad, v4_fields };
enum v6_field { v6_proto, v6_res_dir, v6_addr0, v6_addr1, v6_addr2, v6_addr3, v6_service, v6_pad, v6_fields };
constexpr std::size_t k_v4_key_bytes = 16;
constexpr std::size_t k_v6_key_bytes = 32;

RTE_ACL_RULE_DEF(acl_rule_v4, v4_fields);
RTE_ACL_RULE_DEF(acl_rule_v6, v6_fields);

rte_acl_config acl_config(net::family f) {
  rte_acl_config c{};
  c.num_categories = 1;
  auto def = [&](std::uint8_t type, std::uint8_t size, std::uint8_t field, std::uint8_t input, std::uint32_t offset) {
    c.defs[c.num_fields++] = {type, size, field, input, offset};
  };
  def(RTE_ACL_FIELD_TYPE_BITMASK, 1, 0, 0, 0);  // protocol
  def(RTE_ACL_FIELD_TYPE_BITMASK, 4, 1, 1, 4);  // resource * 2 + direction
  if (f == net::family::ipv4) {
    def(RTE_ACL_FIELD_TYPE_MASK, 4, v4_addr, 2, 8);
    def(RTE_ACL_FIELD_TYPE_RANGE, 2, v4_service, 3, 12);
    def(RTE_ACL_FIELD_TYPE_RANGE, 2, v4_pad, 3, 14);
  } else {
    for (std::uint8_t i = 0; i < 4; ++i) {
      def(RTE_ACL_FIELD_TYPE_MASK, 4, static_cast<std::uint8_t>(v6_addr0 + i), static_cast<std::uint8_t>(2 + i),
          8U + 4U * i);
    }
    def(RTE_ACL_FIELD_TYPE_RANGE, 2, v6_service, 6, 24);
    def(RTE_ACL_FIELD_TYPE_RANGE, 2, v6_pad, 6, 26);
  }
  return c;
}

struct service_span {
  bool any_proto;
  std::uint8_t proto;
  std::uint16_t first;
  std::uint16_t last;
};

// The (protocol, value range) pairs a rule matches in one family, exactly
// as the compiler encodes them.
std::vector<service_span> spans_of(const config::rule& r, net::family f) {
  const auto& p = r.protocol;
  if (p.all) return {{true, 0, 0, 65535}};
  if (p.has_ports()) {
    std::vector<service_span> out;
    for (const auto& pr : r.ports) out.push_back({false, p.number, pr.first, pr.last});
    return out;
  }
  if (p.is_icmp()) {
    const bool fits = p.number == ip_proto::icmp ? f == net::family::ipv4 : f == net::family::ipv6;
    if (!fits) return {};
    if (r.icmp_type == config::k_icmp_any) return {{false, p.number, 0, 65535}};
    const auto t = static_cast<std::uint16_t>(r.icmp_type << 8);
    if (r.icmp_code == config::k_icmp_any) return {{false, p.number, t, static_cast<std::uint16_t>(t | 0xFF)}};
    const auto v = static_cast<std::uint16_t>(t | r.icmp_code);
    return {{false, p.number, v, v}};
  }
  return {{false, p.number, 0, 65535}};
}

struct acl_context {
  rte_acl_ctx* ctx = nullptr;
  std::size_t rules = 0;
  ~acl_context() {
    if (ctx != nullptr) rte_acl_free(ctx);
  }
};

// Loads the model's rules into a fresh rte_acl context for one family and
// builds it.  Returns the build time in milliseconds, or a negative value
// when rte_acl fails (with the reason printed).
double build_acl(const config::policy_model& m, net::family f, acl_context& out, const std::string& name) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<acl_rule_v6> v6_rules;
  std::vector<acl_rule_v4> v4_rules;
  std::uint32_t global = 1;  // the compiler's numbering: group, ingress then egress
  std::vector<std::array<std::vector<std::uint32_t>, 2>> index(m.groups.size());
  for (std::size_t g = 0; g < m.groups.size(); ++g) {
    for (const direction d : {direction::ingress, direction::egress}) {
      for (std::size_t i = 0; i < m.groups[g].rules(d).size(); ++i)
        index[g][static_cast<std::size_t>(d)].push_back(global++);
    }
  }
  for (std::size_t res = 0; res < m.resources.size(); ++res) {
    for (const std::uint32_t g : m.resources[res].groups) {
      for (const direction d : {direction::ingress, direction::egress}) {
        const auto& rules = m.groups[g].rules(d);
        for (std::size_t i = 0; i < rules.size(); ++i) {
          const auto* c = std::get_if<net::cidr>(&rules[i].remote);
          if (c == nullptr || c->fam() != f) continue;  // benchmark policies use CIDR peers only
          const std::uint32_t id = index[g][static_cast<std::size_t>(d)][i];
          const auto res_dir = static_cast<std::uint32_t>(res * 2 + static_cast<std::size_t>(d));
          for (const service_span& s : spans_of(rules[i], f)) {
            rte_acl_rule_data data{1, static_cast<std::int32_t>(RTE_ACL_MAX_PRIORITY - id), id};
            auto fill = [&](rte_acl_field* fld, int service, int pad) {
              fld[0].value.u8 = s.proto;
              fld[0].mask_range.u8 = s.any_proto ? 0 : 0xFF;
              fld[1].value.u32 = res_dir;
              fld[1].mask_range.u32 = 0xFFFFFFFFU;
              fld[service].value.u16 = s.first;
              fld[service].mask_range.u16 = s.last;
              fld[pad].value.u16 = 0;
              fld[pad].mask_range.u16 = 0xFFFF;
            };
            if (f == net::family::ipv4) {
              acl_rule_v4 r{};
              r.data = data;
              fill(r.field, v4_service, v4_pad);
              r.field[v4_addr].value.u32 = static_cast<std::uint32_t>(c->first());
              r.field[v4_addr].mask_range.u32 = c->prefix;
              v4_rules.push_back(r);
            } else {
              acl_rule_v6 r{};
              r.data = data;
              fill(r.field, v6_service, v6_pad);
              for (int w = 0; w < 4; ++w) {
                r.field[v6_addr0 + w].value.u32 = static_cast<std::uint32_t>(c->first() >> (96 - 32 * w));
                r.field[v6_addr0 + w].mask_range.u32 =
                    static_cast<std::uint32_t>(std::clamp(static_cast<int>(c->prefix) - 32 * w, 0, 32));
              }
              v6_rules.push_back(r);
            }
          }
        }
      }
    }
  }
  const std::size_t n = f == net::family::ipv4 ? v4_rules.size() : v6_rules.size();
  out.rules = n;
  if (n == 0) return 0;
  rte_acl_param param{};
  param.name = name.c_str();
  param.socket_id = 0;
  param.rule_size = f == net::family::ipv4 ? RTE_ACL_RULE_SZ(v4_fields) : RTE_ACL_RULE_SZ(v6_fields);
  param.max_rule_num = static_cast<std::uint32_t>(n);
  out.ctx = rte_acl_create(&param);
  if (out.ctx == nullptr) {
    std::fprintf(stderr, "rte_acl_create(%s) failed: %s\n", name.c_str(), rte_strerror(rte_errno));
    return -1;
  }
  const int added = f == net::family::ipv4
                        ? rte_acl_add_rules(out.ctx, reinterpret_cast<const rte_acl_rule*>(v4_rules.data()),
                                            static_cast<std::uint32_t>(n))
                        : rte_acl_add_rules(out.ctx, reinterpret_cast<const rte_acl_rule*>(v6_rules.data()),
                                            static_cast<std::uint32_t>(n));
  const rte_acl_config cfg = acl_config(f);
  if (added != 0 || rte_acl_build(out.ctx, &cfg) != 0) {
    std::fprintf(stderr, "rte_acl build (%s, %zu rules) failed\n", name.c_str(), n);
    return -1;
  }
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

struct workload {
  std::string label;
  config::policy_model model;
  dp::compiled_policy compiled;
  std::vector<dp::classify_key> keys;
  std::size_t model_rules = 0;
  acl_context acl4, acl6;
  std::vector<std::array<std::uint8_t, k_v4_key_bytes>> data4;
  std::vector<std::array<std::uint8_t, k_v6_key_bytes>> data6;
  std::vector<const std::uint8_t*> ptr4, ptr6;
  std::vector<std::uint32_t> expected4, expected6;  // sgfw's answers, for checking rte_acl
  bool acl_ok = true;
};

std::unique_ptr<workload> make_workload(const size_spec& size, const std::string& mix) {
  auto w = std::make_unique<workload>();
  w->label = std::string(size.label) + "/" + mix;
  testing::random_policy_options o;
  o.rules = size.rules;
  o.groups = std::max<std::uint32_t>(1, size.rules / 50);
  o.resources = std::max<std::uint32_t>(1, o.groups / 5);
  o.partitioned = true;
  o.dense = false;
  o.prefix_lists = 0;
  o.prefix_list_share = 0;
  o.group_ref_share = 0;
  o.ipv6_share = mix == "v4" ? 0.0 : 0.3;
  o.seed = size.rules + (mix == "v4" ? 0 : 7);
  w->model = testing::random_policy(o);
  for (const auto& g : w->model.groups) w->model_rules += g.ingress.size() + g.egress.size();
  w->compiled = cp::compile(w->model, 1);
  w->keys = testing::random_keys(w->model, pool_size(), o.seed + 1);
  for (auto& k : w->keys) {
    if (mix == "v4" && k.fam != net::family::ipv4) {
      const std::uint8_t proto = k.proto() == ip_proto::icmpv6 ? ip_proto::icmp : k.proto();
      k = dp::classify_key::make({k.resource, k.dir, net::ip_address::v4(static_cast<std::uint32_t>(k.remote)), proto,
                                  k.local_port, k.remote_port, k.icmp_type, k.icmp_code});
    }
  }

  if (build_acl(w->model, net::family::ipv4, w->acl4, "bench4-" + w->label) < 0 ||
      build_acl(w->model, net::family::ipv6, w->acl6, "bench6-" + w->label) < 0) {
    w->acl_ok = false;
  }
  for (const auto& k : w->keys) {
    const std::uint32_t expect = dp::classify(w->compiled, k).rule;
    const auto res_dir = htonl(k.resource * 2 + static_cast<std::uint32_t>(k.dir));
    const auto service = htons(static_cast<std::uint16_t>(k.service & 0xFFFF));
    if (k.fam == net::family::ipv4) {
      std::array<std::uint8_t, k_v4_key_bytes> d{};
      d[0] = k.proto();
      const auto addr = htonl(static_cast<std::uint32_t>(k.remote));
      std::memcpy(&d[4], &res_dir, 4);
      std::memcpy(&d[8], &addr, 4);
      std::memcpy(&d[12], &service, 2);
      w->data4.push_back(d);
      w->expected4.push_back(expect);
    } else {
      std::array<std::uint8_t, k_v6_key_bytes> d{};
      d[0] = k.proto();
      std::memcpy(&d[4], &res_dir, 4);
      for (int b = 0; b < 16; ++b)
        d[8 + static_cast<std::size_t>(b)] = static_cast<std::uint8_t>(k.remote >> (120 - 8 * b));
      std::memcpy(&d[24], &service, 2);
      w->data6.push_back(d);
      w->expected6.push_back(expect);
    }
  }
  for (auto& d : w->data4) w->ptr4.push_back(d.data());
  for (auto& d : w->data6) w->ptr6.push_back(d.data());
  return w;
}

// Both classifiers must name the same rule for every key, or the
// comparison is meaningless.
bool check_acl_agrees(workload& w) {
  if (!w.acl_ok) return false;
  std::vector<std::uint32_t> got;
  auto check = [&](acl_context& acl, const std::vector<const std::uint8_t*>& ptrs,
                   const std::vector<std::uint32_t>& expected, const char* fam) {
    if (ptrs.empty()) return true;
    got.assign(ptrs.size(), 0);
    if (acl.ctx == nullptr) {
      // No rules of this family: rte_acl would deny everything.
      got.assign(ptrs.size(), 0);
    } else if (rte_acl_classify(acl.ctx, const_cast<const std::uint8_t**>(ptrs.data()), got.data(),
                                static_cast<std::uint32_t>(ptrs.size()), 1) != 0) {
      return false;
    }
    std::size_t bad = 0;
    for (std::size_t i = 0; i < ptrs.size(); ++i) bad += got[i] != expected[i] ? 1U : 0U;
    if (bad != 0) std::fprintf(stderr, "%s %s: rte_acl and sgfw disagree on %zu keys\n", w.label.c_str(), fam, bad);
    return bad == 0;
  };
  const bool ok = check(w.acl4, w.ptr4, w.expected4, "ipv4") && check(w.acl6, w.ptr6, w.expected6, "ipv6");
  std::size_t allowed = 0;
  for (const auto e : w.expected4) allowed += e != 0 ? 1U : 0U;
  for (const auto e : w.expected6) allowed += e != 0 ? 1U : 0U;
  std::printf(
      "# %s: %zu config rules, %zu+%zu rte_acl rules (v4+v6), %zu resources, %zu keys (%zu allowed), "
      "compiled policy %.1f KiB, rte_acl %s\n",
      w.label.c_str(), w.model_rules, w.acl4.rules, w.acl6.rules, w.model.resources.size(), w.keys.size(), allowed,
      static_cast<double>(w.compiled.memory_bytes()) / 1024.0, ok ? "agrees on every key" : "DISAGREES");
  return ok;
}

}  // namespace

std::map<std::string, std::unique_ptr<workload>>& workloads() {
  static std::map<std::string, std::unique_ptr<workload>> w;
  return w;
}

namespace {

void register_benchmarks() {
  for (const size_spec& size : k_sizes) {
    for (const std::string mix : k_mixes) {
      const std::string label = std::string(size.label) + "/" + mix;
      // Built on first use, so that --benchmark_filter skips the cost.
      auto get = [size, mix, label]() -> workload& {
        auto& slot = workloads()[label];
        if (!slot) {
          slot = make_workload(size, mix);
          if (!check_acl_agrees(*slot)) slot->acl_ok = false;
        }
        return *slot;
      };

      benchmark::RegisterBenchmark(("compile/" + label).c_str(), [get](benchmark::State& st) {
        workload& w = get();
        for (auto _ : st) {
          dp::compiled_policy p = cp::compile(w.model, 2);
          benchmark::DoNotOptimize(p);
          // Freeing the old policy happens after an RCU grace period, off
          // the compile path: not timed.
          st.PauseTiming();
          p = {};
          st.ResumeTiming();
        }
        st.SetItemsProcessed(st.iterations() * static_cast<std::int64_t>(w.model_rules));
      })->Unit(benchmark::kMillisecond);

      benchmark::RegisterBenchmark(("acl_build/" + label).c_str(),
                                   [get, label](benchmark::State& st) {
                                     workload& w = get();
                                     for (auto _ : st) {
                                       acl_context a4, a6;
                                       if (build_acl(w.model, net::family::ipv4, a4, "b4-" + label) < 0 ||
                                           build_acl(w.model, net::family::ipv6, a6, "b6-" + label) < 0) {
                                         st.SkipWithError("rte_acl build failed");
                                         break;
                                       }
                                     }
                                     st.SetItemsProcessed(st.iterations() * static_cast<std::int64_t>(w.model_rules));
                                   })
          ->Unit(benchmark::kMillisecond)
          ->Iterations(size.rules >= 10000 ? 1 : 5);

      benchmark::RegisterBenchmark(("sgfw_single/" + label).c_str(), [get](benchmark::State& st) {
        workload& w = get();
        for (auto _ : st) {
          for (const auto& k : w.keys) benchmark::DoNotOptimize(dp::classify(w.compiled, k));
        }
        st.SetItemsProcessed(st.iterations() * static_cast<std::int64_t>(w.keys.size()));
      });

      benchmark::RegisterBenchmark(("sgfw_burst/" + label).c_str(), [get](benchmark::State& st) {
        workload& w = get();
        std::array<dp::decision, k_batch> out{};
        for (auto _ : st) {
          for (std::size_t i = 0; i < w.keys.size(); i += k_batch) {
            dp::classify_burst(w.compiled, &w.keys[i], out.data(), std::min(k_batch, w.keys.size() - i));
            benchmark::DoNotOptimize(out);
          }
        }
        st.SetItemsProcessed(st.iterations() * static_cast<std::int64_t>(w.keys.size()));
      });

      for (const acl_alg& alg : k_algs) {
        benchmark::RegisterBenchmark(
            ("acl_" + std::string(alg.name) + "/" + label).c_str(), [get, alg](benchmark::State& st) {
              workload& w = get();
              if (!w.acl_ok) {
                st.SkipWithError("rte_acl unavailable or disagrees with sgfw");
                return;
              }
              for (rte_acl_ctx* ctx : {w.acl4.ctx, w.acl6.ctx}) {
                if (ctx != nullptr && rte_acl_set_ctx_classify(ctx, alg.alg) != 0) {
                  st.SkipWithError("algorithm not supported on this CPU");
                  return;
                }
              }
              std::array<std::uint32_t, k_batch> res{};
              auto run = [&](rte_acl_ctx* ctx, std::vector<const std::uint8_t*>& ptrs) {
                if (ctx == nullptr) return;
                for (std::size_t i = 0; i < ptrs.size(); i += k_batch) {
                  rte_acl_classify_alg(ctx, &ptrs[i], res.data(),
                                       static_cast<std::uint32_t>(std::min(k_batch, ptrs.size() - i)), 1, alg.alg);
                  benchmark::DoNotOptimize(res);
                }
              };
              for (auto _ : st) {
                run(w.acl4.ctx, w.ptr4);
                run(w.acl6.ctx, w.ptr6);
              }
              st.SetItemsProcessed(st.iterations() * static_cast<std::int64_t>(w.keys.size()));
            });
      }
    }
  }
}

void summarise(const results& r) {
  std::printf("\nSide by side (same run, same rules, same keys, batches of %zu):\n", k_batch);
  std::printf("%-12s %14s %14s %16s %8s   %12s %12s %8s\n", "rules/mix", "sgfw Mlook/s", "sgfw single", "best rte_acl",
              "ratio", "compile ms", "acl build ms", "ratio");
  for (const size_spec& size : k_sizes) {
    for (const std::string mix : k_mixes) {
      const std::string label = std::string(size.label) + "/" + mix;
      // Names may carry suffixes such as /iterations:1.
      const auto find = [&](const std::string& name) -> const run_result* {
        const std::string prefix = name + "/" + label;
        const auto it = r.lower_bound(prefix);
        return it == r.end() || it->first.compare(0, prefix.size(), prefix) != 0 ? nullptr : &it->second;
      };
      const run_result* burst = find("sgfw_burst");
      if (burst == nullptr) continue;
      const run_result* single = find("sgfw_single");
      double best = 0;
      std::string best_name = "-";
      for (const acl_alg& alg : k_algs) {
        const run_result* a = find("acl_" + std::string(alg.name));
        if (a != nullptr && a->items_per_second > best) {
          best = a->items_per_second;
          best_name = alg.name;
        }
      }
      const run_result* compile = find("compile");
      const run_result* build = find("acl_build");
      const double compile_ms = compile ? compile->real_ns / 1e6 : 0;
      const double build_ms = build ? build->real_ns / 1e6 : 0;
      char acl_text[64];
      std::snprintf(acl_text, sizeof acl_text, "%.1f (%s)", best / 1e6, best_name.c_str());
      std::printf("%-12s %14.1f %14.1f %16s %7.2fx   %12.3f %12.1f %7.0fx\n", label.c_str(),
                  burst->items_per_second / 1e6, single ? single->items_per_second / 1e6 : 0.0, acl_text,
                  best > 0 ? burst->items_per_second / best : 0.0, compile_ms, build_ms,
                  compile_ms > 0 ? build_ms / compile_ms : 0.0);
    }
  }
}

}  // namespace
}  // namespace sgfw::perf

int main(int argc, char** argv) {
  return sgfw::perf::bench_main(
      argc, argv, {sgfw::perf::register_benchmarks, sgfw::perf::summarise, [] { sgfw::perf::workloads().clear(); }});
}
