#include "compiler/set_cache.hpp"

#include <algorithm>

namespace sgfw::cp {

namespace {

bool same_list(const config::prefix_list& a, const config::prefix_list& b) {
  return a.fam == b.fam && a.entries == b.entries;
}

}  // namespace

set_cache::inputs set_cache::inputs_of(const compiling::compile_context& ctx,
                                       const std::vector<std::uint32_t>& groups) {
  inputs in;
  std::vector<std::uint32_t> named_groups, named_lists;
  for (const std::uint32_t g : groups) {
    const config::security_group& sg = ctx.model.groups[g];
    for (const auto* rules : {&sg.ingress, &sg.egress}) {
      in.rules.push_back(*rules);
      for (const config::rule& r : *rules) {
        if (const auto* ref = std::get_if<config::group_ref>(&r.remote)) named_groups.push_back(ref->index);
        if (const auto* pl = std::get_if<config::prefix_list_ref>(&r.remote)) named_lists.push_back(pl->index);
      }
    }
    for (const auto& per_dir : ctx.rule_index[g]) in.indices.push_back(per_dir);
  }
  for (auto* v : {&named_groups, &named_lists}) {
    std::sort(v->begin(), v->end());
    v->erase(std::unique(v->begin(), v->end()), v->end());
  }
  for (const std::uint32_t g : named_groups) in.members.emplace_back(g, ctx.members[g]);
  for (const std::uint32_t l : named_lists) in.lists.emplace_back(l, ctx.model.prefix_lists[l]);
  return in;
}

bool set_cache::unchanged(const inputs& was, const compiling::compile_context& ctx,
                          const std::vector<std::uint32_t>& groups) {
  if (was.rules.size() != groups.size() * 2 || was.indices.size() != groups.size() * 2) return false;
  for (std::size_t k = 0; k < groups.size(); ++k) {
    const std::uint32_t g = groups[k];
    if (g >= ctx.model.groups.size()) return false;
    const config::security_group& sg = ctx.model.groups[g];
    if (!sg.ingress.same_as(was.rules[2 * k]) || !sg.egress.same_as(was.rules[2 * k + 1])) return false;
    if (ctx.rule_index[g][0] != was.indices[2 * k] || ctx.rule_index[g][1] != was.indices[2 * k + 1]) return false;
  }
  // The rules are the very ones, so they name the same group and list indices.
  for (const auto& [g, members] : was.members) {
    if (g >= ctx.members.size() || ctx.members[g] != members) return false;
  }
  for (const auto& [l, list] : was.lists) {
    if (l >= ctx.model.prefix_lists.size() || !same_list(ctx.model.prefix_lists[l], list)) return false;
  }
  return true;
}

void set_cache::begin_compile() {
  taken_ = 0;
  built_ = 0;
  next_.clear();  // what an earlier compile left unfinished (it threw) is never taken
}

compiling::built_set& set_cache::tables(compiling::compile_context& ctx, const std::vector<std::uint32_t>& groups) {
  if (auto it = last_.find(groups); it != last_.end() && unchanged(it->second.from, ctx, groups)) {
    ++taken_;
    auto node = last_.extract(it);
    return next_.insert(std::move(node)).position->second.set;
  }
  ++built_;
  entry e{inputs_of(ctx, groups), {compiling::build_set(ctx, groups), nullptr, {}}};
  return next_.insert_or_assign(groups, std::move(e)).first->second.set;
}

void set_cache::finish_compile() {
  last_ = std::move(next_);
  next_.clear();
}

}  // namespace sgfw::cp
