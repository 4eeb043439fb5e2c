#include "compiler/rule_slots.hpp"

#include <algorithm>
#include <unordered_map>

namespace sgfw::cp {

namespace {

bool same_ids(const config::shared_list<config::rule>& rules, const std::vector<std::string>& ids,
              const config::shared_list<config::rule>& seen) {
  if (rules.same_as(seen)) return true;
  return std::equal(rules.begin(), rules.end(), ids.begin(), ids.end(),
                    [](const config::rule& r, const std::string& id) { return r.id == id; });
}

}  // namespace

std::vector<std::uint32_t> rule_slots::assign(const config::policy_model& model) {
  std::vector<std::pair<std::string, std::shared_ptr<const group_rules>>> next_groups;
  next_groups.reserve(model.groups.size());
  std::vector<std::uint32_t> out;
  std::vector<std::size_t> fresh;  // positions in `out` of rules new to this policy
  std::vector<std::uint32_t> freed;
  // Changed entries (made here, so still writable) and where their rules
  // start in `out`.
  std::vector<std::pair<rules_of*, std::size_t>> changed;
  rule_ids_.clear();
  rule_ids_.reserve(model.groups.size());
  // Each group's entry as it was: at its position when the groups are
  // those of the last model in its order (most changes), else by id (a
  // second group of an id, which validation refuses, finds none).
  const bool in_order = std::equal(by_group_.begin(), by_group_.end(), model.groups.begin(), model.groups.end(),
                                   [](const auto& e, const config::security_group& g) { return e.first == g.id; });
  std::unordered_map<std::string_view, std::size_t> where;
  if (!in_order) {
    for (std::size_t i = 0; i < by_group_.size(); ++i) where.emplace(by_group_[i].first, i);
  }
  std::vector<bool> taken(by_group_.size(), false);
  for (std::size_t gi = 0; gi < model.groups.size(); ++gi) {
    const config::security_group& g = model.groups[gi];
    std::size_t at = in_order ? gi : by_group_.size();
    if (const auto it = where.find(g.id); it != where.end()) at = it->second;
    std::shared_ptr<const group_rules> old;
    if (at < by_group_.size() && !taken[at]) {
      taken[at] = true;
      old = by_group_[at].second;
    }
    auto& entry = next_groups.emplace_back(g.id, nullptr);
    const bool same = old != nullptr && same_ids(g.ingress, old->dirs[0].ids, old->dirs[0].rules) &&
                      same_ids(g.egress, old->dirs[1].ids, old->dirs[1].rules);
    if (same) {
      for (const rules_of& r : old->dirs) out.insert(out.end(), r.slots.begin(), r.slots.end());
      if (!g.ingress.shares_with(old->dirs[0].rules) || !g.egress.shares_with(old->dirs[1].rules)) {
        // The same ids in other lists (the file read again): kept with
        // these, so that the next model that shares them needs no compare.
        auto now = std::make_shared<group_rules>(*old);
        now->dirs[0].rules = g.ingress;
        now->dirs[1].rules = g.egress;
        old = std::move(now);
      }
      rule_ids_.push_back(old->ids);
      entry.second = std::move(old);
      continue;
    }
    auto now = std::make_shared<group_rules>();
    for (const direction d : {direction::ingress, direction::egress}) {
      const auto di = static_cast<std::size_t>(d);
      const config::shared_list<config::rule>& rules = d == direction::ingress ? g.ingress : g.egress;
      const rules_of* was = old == nullptr ? nullptr : &old->dirs[di];
      rules_of& cur = now->dirs[di];
      cur.rules = rules;
      if (was != nullptr && same_ids(rules, was->ids, was->rules)) {
        out.insert(out.end(), was->slots.begin(), was->slots.end());
        cur.ids = was->ids;
        cur.slots = was->slots;
        continue;
      }
      // Changed: each rule keeps its index by id, once.
      std::unordered_map<std::string_view, std::uint32_t> by_id;
      if (was != nullptr) {
        for (std::size_t i = 0; i < was->ids.size(); ++i) by_id.emplace(was->ids[i], was->slots[i]);
      }
      changed.emplace_back(&cur, out.size());
      for (const config::rule& r : rules.get()) {
        cur.ids.push_back(r.id);
        std::uint32_t slot = 0;
        if (const auto it = by_id.find(r.id); it != by_id.end() && it->second != 0) {
          slot = it->second;
          it->second = 0;  // a second rule with this id gets its own
        } else {
          fresh.push_back(out.size());
        }
        out.push_back(slot);
      }
      for (const auto& [id, slot] : by_id) {
        if (slot != 0) freed.push_back(slot);
      }
    }
    auto ids = std::make_shared<dp::group_rule_ids>();
    for (const rules_of& r : now->dirs) {
      for (const std::string& id : r.ids) ids->add(id);
    }
    now->ids = ids;
    rule_ids_.push_back(std::move(ids));
    entry.second = std::move(now);
  }
  // The groups that left free their rules' indices.
  for (std::size_t i = 0; i < by_group_.size(); ++i) {
    if (taken[i]) continue;
    for (const rules_of& r : by_group_[i].second->dirs) freed.insert(freed.end(), r.slots.begin(), r.slots.end());
  }
  // Freed oldest first; those freed by one change in index order.
  std::sort(freed.begin(), freed.end());
  free_.insert(free_.end(), freed.begin(), freed.end());
  reused_.clear();
  for (const std::size_t i : fresh) {
    std::uint32_t slot = 0;
    if (free_.size() > std::max(k_floor, out.size())) {
      slot = free_.front();
      free_.pop_front();
      reused_.push_back(slot);
    } else {
      slot = next_++;
    }
    out[i] = slot;
  }
  for (auto& [rules, at] : changed) {
    rules->slots.assign(out.begin() + static_cast<std::ptrdiff_t>(at),
                        out.begin() + static_cast<std::ptrdiff_t>(at + rules->ids.size()));
  }
  by_group_ = std::move(next_groups);
  return out;
}

}  // namespace sgfw::cp
