// set_cache: a compile that takes the last compile's group-set tables where
// nothing they were built from changed gives exactly the policy a compile
// from scratch gives, through rule edits, prefix-list entries, memberships
// and addresses changing (both families), with the rules of unedited
// groups shared between the models as the control API's changes share them.
#include "compiler/set_cache.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <random>

#include "compiler/compiler.hpp"
#include "compiler/rule_slots.hpp"
#include "random_policy.hpp"

namespace sgfw::cp {
namespace {

TEST(SetCache, TakenTablesAreThoseACompileFromScratchBuilds) {
  testing::random_policy_options o;
  o.resources = 20;
  o.groups = 12;
  o.rules = 300;
  o.max_groups_per_resource = 3;
  o.group_ref_share = 0.2;
  o.prefix_list_share = 0.2;
  o.seed = 5;
  config::policy_model m = testing::random_policy(o);
  std::mt19937 rng(9);
  rule_slots slots;
  set_cache cache;
  std::size_t taken = 0;
  std::size_t built = 0;
  std::size_t shared = 0;          // finished tables the last policy had
  std::size_t shapes_changed = 0;  // compiles that finished every set again
  dp::compiled_policy last;
  for (int step = 0; step < 200; ++step) {
    config::policy_model next = m;  // shares every group's rules
    auto& g = next.groups[rng() % next.groups.size()];
    auto& res = next.resources[rng() % next.resources.size()];
    const auto fam = rng() % 2 == 0 ? net::family::ipv4 : net::family::ipv6;
    switch (rng() % 8) {
      case 0:  // a rule of another group's copied in (ingress or egress)
      {
        const auto& from = next.groups[rng() % next.groups.size()];
        if (!from.ingress.empty()) g.egress.push_back(from.ingress[rng() % from.ingress.size()]);
        break;
      }
      case 1:
        if (!g.ingress.empty()) g.ingress.erase(g.ingress.cbegin() + static_cast<long>(rng() % g.ingress.size()));
        break;
      case 2: {  // an entry more in a prefix list
        auto& list = next.prefix_lists[rng() % next.prefix_lists.size()];
        const net::u128 base = list.fam == net::family::ipv4
                                   ? net::u128{0xC6336400U + (rng() % 256) * 256}
                                   : (net::u128{0x20010db8ULL} << 96) | (net::u128{rng() % 4096} << 64);
        list.entries.push_back({{list.fam, base}, static_cast<std::uint8_t>(list.fam == net::family::ipv4 ? 24 : 64)});
        break;
      }
      case 3: {  // an address more: the members of every group it holds
        const net::u128 a = fam == net::family::ipv4 ? net::u128{0x0AFE0000U + static_cast<std::uint32_t>(step)}
                                                     : (net::u128{0xfd00ULL} << 112) | static_cast<net::u128>(step);
        res.addresses.push_back({fam, a});
        break;
      }
      case 4:  // another set of groups
        res.groups = {static_cast<std::uint32_t>(rng() % next.groups.size())};
        break;
      case 5:  // a rule changed in place (same id, so the same index)
        if (!g.ingress.empty()) {
          config::rule& r = g.ingress[rng() % g.ingress.size()];
          r.remote = net::cidr{{fam, fam == net::family::ipv4 ? net::u128{0xCB007100U} : net::u128{0xfe80} << 112},
                               static_cast<std::uint8_t>(fam == net::family::ipv4 ? 24 : 16)};
        }
        break;
      case 6:  // many rules more, or far fewer: the policy-wide tree depths move
        if (g.ingress.size() > 60) {
          g.ingress.erase(g.ingress.cbegin() + 5, g.ingress.cend());
        } else if (!g.ingress.empty()) {
          for (std::uint16_t k = 0; k < 64; ++k) {
            config::rule r = g.ingress[0];
            r.id = "wide-" + std::to_string(step) + "-" + std::to_string(k);
            r.protocol = config::protocol_spec{false, 6};
            r.ports = {{static_cast<std::uint16_t>(20000 + 7 * k), static_cast<std::uint16_t>(20000 + 7 * k + 2)}};
            g.ingress.push_back(std::move(r));
          }
        }
        break;
      default:
        break;  // nothing changed: every set taken
    }
    const std::vector<std::uint32_t> indices = slots.assign(next);
    compile_options with;
    with.generation = static_cast<std::uint64_t>(step);
    // Stable indices, as the store keeps them, or (every third compile) in
    // order, which moves the indices of every rule after an edited one.
    with.rule_slots = step % 3 == 0 ? nullptr : &indices;
    with.sets = &cache;
    compile_options without = with;
    without.sets = nullptr;
    dp::compiled_policy a = compile(next, with);
    const dp::compiled_policy b = compile(next, without);
    taken += cache.taken();
    built += cache.built();
    ASSERT_EQ(a.sets.size(), b.sets.size()) << "step " << step;
    for (std::size_t s = 0; s < a.sets.size(); ++s) {
      ASSERT_TRUE(*a.sets[s] == *b.sets[s]) << "step " << step << ", set " << s;
    }
    ASSERT_EQ(a.resource_set, b.resource_set);
    ASSERT_EQ(a.row_words, b.row_words);
    ASSERT_EQ(a.matrices, b.matrices);
    ASSERT_EQ(a.matrix_entry_bytes, b.matrix_entry_bytes);
    ASSERT_EQ(a.address_depth, b.address_depth);
    ASSERT_EQ(a.service_depth, b.service_depth);
    for (const auto& t : a.sets) {
      shared += static_cast<std::size_t>(std::count(last.sets.begin(), last.sets.end(), t));
    }
    shapes_changed += a.row_words != last.row_words || a.address_depth != last.address_depth ||
                      a.service_depth != last.service_depth || a.matrix_entry_bytes != last.matrix_entry_bytes;
    last = std::move(a);
    m = std::move(next);
  }
  // Both ways were taken, many times; sets taken under the same shapes are
  // the running policy's very tables, and under other shapes finished again.
  EXPECT_GT(taken, 500U);
  EXPECT_GT(built, 50U);
  EXPECT_GT(shared, 400U);
  EXPECT_GT(shapes_changed, 1U);
  std::printf("taken %zu, built %zu, shared %zu, shapes changed %zu times\n", taken, built, shared, shapes_changed);
}

// A compile that stopped half way (it threw) leaves nothing the next one
// takes: tables asked for on a model that was never compiled to the end.
TEST(SetCache, AnUnfinishedCompileLeavesNothingToTake) {
  testing::random_policy_options o;
  o.seed = 8;
  config::policy_model m = testing::random_policy(o);
  set_cache cache;
  compile_options with;
  with.sets = &cache;
  (void)compile(m, with);
  // Another model's sets asked for, and no finish: as if that compile threw.
  config::policy_model other = m;
  for (auto& g : other.groups) g.ingress.clear();
  {
    compiling::compile_context ctx(other);
    std::uint32_t index = 1;
    for (std::size_t g = 0; g < other.groups.size(); ++g) {
      for (const direction d : {direction::ingress, direction::egress}) {
        for (std::size_t i = 0; i < other.groups[g].rules(d).size(); ++i) {
          ctx.rule_index[g][static_cast<std::size_t>(d)].push_back(index++);
        }
      }
    }
    cache.begin_compile();
    for (const auto& r : other.resources) {
      std::vector<std::uint32_t> groups = r.groups;
      std::sort(groups.begin(), groups.end());
      (void)cache.tables(ctx, groups);
    }
  }
  const dp::compiled_policy a = compile(m, with);
  const dp::compiled_policy b = compile(m);
  ASSERT_EQ(a.sets.size(), b.sets.size());
  for (std::size_t s = 0; s < a.sets.size(); ++s) EXPECT_TRUE(*a.sets[s] == *b.sets[s]) << "set " << s;
}

}  // namespace
}  // namespace sgfw::cp
