// The security-group semantics the compiler applies (docs/semantics.md
// S2, S8): what a rule's peer covers (a CIDR, a prefix list, a group's
// current members), what its service covers, and which flows are
// untracked because their rules allow the whole address family both ways.
// Internal to controlplane/compiler/.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "compiler/compiler.hpp"
#include "compiler/interval_sweep.hpp"
#include "config/model.hpp"

namespace sgfw::cp::compiling {

using config::policy_model;
using config::port_range;
using config::rule;

// Everything the compiler derives once from the model.
struct compile_context {
  const policy_model& model;
  std::vector<std::array<std::vector<net::u128>, net::family_count>> members;       // group -> family -> addresses
  std::vector<std::array<std::vector<std::uint32_t>, direction_count>> rule_index;  // group -> dir -> global
  compile_scratch scratch;

  explicit compile_context(const policy_model& m) : model(m), members(m.groups.size()), rule_index(m.groups.size()) {
    for (const auto& r : m.resources) {
      for (const std::uint32_t g : r.groups) {
        for (const net::ip_address& a : r.addresses) members[g][static_cast<std::size_t>(a.fam)].push_back(a.value);
      }
    }
    for (auto& per_family : members) {
      for (auto& v : per_family) {
        std::sort(v.begin(), v.end());
        v.erase(std::unique(v.begin(), v.end()), v.end());
      }
    }
  }
};

bool peer_is_whole_family(const policy_model& m, const config::peer& p, net::family f);

template <class K>
void peer_intervals(const compile_context& ctx, const config::peer& p, net::family f, std::vector<interval<K>>& out) {
  if (const auto* c = std::get_if<net::cidr>(&p)) {
    if (c->fam() == f) out.push_back({static_cast<K>(c->first()), static_cast<K>(c->last())});
  } else if (const auto* pl = std::get_if<config::prefix_list_ref>(&p)) {
    const auto& list = ctx.model.prefix_lists[pl->index];
    if (list.fam != f) return;
    for (const net::cidr& e : list.entries) out.push_back({static_cast<K>(e.first()), static_cast<K>(e.last())});
  } else {
    const auto g = std::get<config::group_ref>(p).index;
    for (const net::u128 a : ctx.members[g][static_cast<std::size_t>(f)]) {
      out.push_back({static_cast<K>(a), static_cast<K>(a)});
    }
  }
}

void service_intervals(const rule& r, net::family f, std::vector<interval<std::uint32_t>>& out);

// TCP and UDP ports that the groups' rules allow to or from the whole
// family (0.0.0.0/0 or ::/0), per direction and family, in one pass over
// the rules: [direction][family][0 = tcp, 1 = udp].
using family_port_sets =
    std::array<std::array<std::array<std::vector<port_range>, 2>, net::family_count>, direction_count>;

family_port_sets whole_family_ports(const policy_model& m, const std::vector<std::uint32_t>& groups);

std::vector<service_range> untracked_from(const family_port_sets& ports, direction initiated, net::family fam);

}  // namespace sgfw::cp::compiling
