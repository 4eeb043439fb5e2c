#include "compiler/compiler.hpp"

#include <algorithm>
#include <deque>
#include <map>

#include "compiler/group_semantics.hpp"
#include "compiler/set_cache.hpp"
#include "compiler/table_layout.hpp"

namespace sgfw::cp {

using compiling::compile_context;
using config::policy_model;
using config::rule;

std::shared_ptr<const dp::group_rule_ids> rule_ids_of(const config::security_group& g) {
  auto out = std::make_shared<dp::group_rule_ids>();
  for (const auto* rules : {&g.ingress, &g.egress}) {
    for (const rule& r : *rules) out->add(r.id);
  }
  return out;
}

dp::compiled_policy compile(const policy_model& model, const compile_options& options) {
  compile_context ctx(model);
  if (options.sets != nullptr) options.sets->begin_compile();
  dp::compiled_policy p;
  p.generation = options.generation;

  // Global rule indices, 1-based: 0 is dp::k_no_rule.
  std::size_t rule_count = 1;
  for (const auto& g : model.groups) rule_count += g.ingress.size() + g.egress.size();
  // Each rule at its stable index where the caller keeps them
  // (rule_slots.hpp), else in order; an index no rule holds names none.
  const std::vector<std::uint32_t>* slots = options.rule_slots;
  if (slots != nullptr) {
    std::uint32_t top = 0;
    for (const std::uint32_t s : *slots) top = std::max(top, s);
    rule_count = std::size_t{top} + 1;
  }
  p.rules.assign(rule_count, dp::rule_info{});
  p.group_ids.reserve(model.groups.size());
  p.group_rules.reserve(model.groups.size());
  std::uint32_t next = 1;
  for (std::size_t g = 0; g < model.groups.size(); ++g) {
    p.group_ids.push_back(model.groups[g].id);
    p.group_rules.push_back(options.rule_ids != nullptr ? (*options.rule_ids)[g] : rule_ids_of(model.groups[g]));
    std::uint32_t position = 0;
    for (const direction d : {direction::ingress, direction::egress}) {
      const std::size_t n = model.groups[g].rules(d).size();
      auto& indices = ctx.rule_index[g][static_cast<std::size_t>(d)];
      indices.reserve(n);
      for (std::size_t i = 0; i < n; ++i) {
        const std::uint32_t index = slots != nullptr ? (*slots)[next - 1] : next;
        ++next;
        indices.push_back(index);
        p.rules[index] = {static_cast<std::uint32_t>(g), position++, d, true};
      }
    }
  }

  // Resources with the same groups share one set of tables.
  std::map<std::vector<std::uint32_t>, std::uint32_t> set_of_groups;
  std::vector<compiling::built_set*> pending;
  std::deque<compiling::built_set> built;  // without a cache
  auto tables = [&](const std::vector<std::uint32_t>& groups) -> compiling::built_set* {
    if (options.sets != nullptr) return &options.sets->tables(ctx, groups);
    return &built.emplace_back(compiling::built_set{build_set(ctx, groups), nullptr, {}});
  };
  std::vector<dp::resource_map::entry> addresses;
  std::vector<dp::resource_map::mac_entry> macs;
  const std::uint32_t workers = std::max<std::uint32_t>(options.workers, 1);
  for (std::size_t r = 0; r < model.resources.size(); ++r) {
    const auto& res = model.resources[r];
    p.resource_names.push_back(res.name);
    p.resource_timeouts.push_back(res.timeouts);
    p.resource_side.push_back(res.side);
    p.resource_slot.push_back(options.resource_slots != nullptr ? (*options.resource_slots)[r]
                                                                : static_cast<std::uint16_t>(r));
    // Each worker holds its share of the resource's flows, as of the table.
    p.resource_flow_limit.push_back((model.appliance.resource_share(res, options.max_flows) + workers - 1) / workers);
    p.resource_audit.push_back(res.audit ? 1 : 0);
    if (res.mac) macs.push_back({*res.mac, static_cast<std::uint32_t>(r)});
    std::vector<std::uint32_t> groups = res.groups;
    std::sort(groups.begin(), groups.end());
    auto [it, fresh] = set_of_groups.emplace(groups, static_cast<std::uint32_t>(pending.size()));
    if (fresh) pending.push_back(tables(groups));
    p.resource_set.push_back(it->second);
    for (const net::ip_address& a : res.addresses) addresses.push_back({a, static_cast<std::uint32_t>(r)});
  }
  p.resource_timeouts.push_back(model.appliance.timeouts);
  p.resource_audit.push_back(0);
  // No revalidation marks: the policy store sets them (policy_store.hpp).
  p.resource_revalidate_from.assign(model.resources.size() + 1, 0);
  p.icmp_errors_related = model.appliance.icmp_errors_related;
  p.unprotected_forward = model.appliance.unprotected_forward;
  p.other_ethertypes_forward = model.appliance.other_ethertypes_forward;
  p.arp_nd_pass = model.appliance.arp_nd_pass;
  p.ra_guard = model.appliance.ra_guard;
  p.adopt_midstream = model.appliance.adopt_midstream;
  p.forward_multicast = model.appliance.forward_multicast;
  // The deny-all set, for resource indices past the end.
  p.resource_set.push_back(static_cast<std::uint32_t>(pending.size()));
  pending.push_back(tables({}));
  finish(pending, options.combine, p);
  if (options.sets != nullptr) options.sets->finish_compile();
  p.resources = dp::resource_map::build(addresses, macs);
  return p;
}

}  // namespace sgfw::cp
