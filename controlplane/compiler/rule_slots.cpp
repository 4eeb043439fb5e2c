#include "compiler/rule_slots.hpp"

namespace sgfw::cp {

namespace {

std::string key_of(const config::security_group& g, direction d, const config::rule& r) {
  std::string k = g.id;
  k += d == direction::ingress ? "\ni\n" : "\ne\n";
  k += r.id;
  return k;
}

}  // namespace

std::vector<std::uint32_t> rule_slots::assign(const config::policy_model& model) {
  std::map<std::string, std::uint32_t> next_keys;
  std::vector<std::uint32_t> out;
  std::vector<std::size_t> fresh;  // positions in `out` of rules new to this policy
  for (const auto& g : model.groups) {
    for (const direction d : {direction::ingress, direction::egress}) {
      for (const config::rule& r : g.rules(d)) {
        std::string k = key_of(g, d, r);
        const auto it = by_key_.find(k);
        if (it != by_key_.end() && next_keys.count(k) == 0) {
          out.push_back(it->second);
          next_keys.emplace(std::move(k), it->second);
        } else {
          fresh.push_back(out.size());
          out.push_back(0);
          next_keys.emplace(std::move(k), 0);
        }
      }
    }
  }
  // The rules that left free their indices (after those freed before).
  for (const auto& [k, slot] : by_key_) {
    if (next_keys.count(k) == 0) free_.push_back(slot);
  }
  for (const std::size_t i : fresh) {
    std::uint32_t slot = 0;
    if (free_.size() > std::max(k_floor, out.size())) {
      slot = free_.front();
      free_.pop_front();
    } else {
      slot = next_++;
    }
    out[i] = slot;
  }
  // Keyed again in order (a duplicate key, which validation refuses, would
  // share nothing).
  by_key_.clear();
  std::size_t i = 0;
  for (const auto& g : model.groups) {
    for (const direction d : {direction::ingress, direction::egress}) {
      for (const config::rule& r : g.rules(d)) by_key_.insert_or_assign(key_of(g, d, r), out[i++]);
    }
  }
  return out;
}

}  // namespace sgfw::cp
