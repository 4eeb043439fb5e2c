#include "compiler/resource_slots.hpp"

#include <algorithm>
#include <set>

namespace sgfw::cp {

std::vector<std::uint16_t> resource_slots::assign(const config::policy_model& model, const in_use_fn& in_use) {
  std::set<std::string> names;
  for (const auto& r : model.resources) names.insert(r.name);
  // Resources that left: their slots retire until their flows are gone.
  for (auto it = by_name_.begin(); it != by_name_.end();) {
    if (names.count(it->first) == 0) {
      if (it->second != dp::k_unlimited_slot) retired_.push_back(it->second);
      it = by_name_.erase(it);
    } else {
      ++it;
    }
  }
  std::erase_if(retired_, [&](std::uint16_t s) {
    if (in_use(s)) return false;
    free_.push_back(s);
    return true;
  });
  shared_ = 0;
  std::vector<std::uint16_t> out;
  out.reserve(model.resources.size());
  for (const auto& r : model.resources) {
    auto it = by_name_.find(r.name);
    if (it == by_name_.end() || it->second == dp::k_unlimited_slot) {
      std::uint16_t slot = dp::k_unlimited_slot;
      if (!free_.empty()) {
        slot = free_.back();
        free_.pop_back();
      } else if (next_ < dp::k_unlimited_slot) {
        slot = static_cast<std::uint16_t>(next_++);
      }
      it = by_name_.insert_or_assign(r.name, slot).first;
    }
    if (it->second == dp::k_unlimited_slot) ++shared_;
    out.push_back(it->second);
  }
  return out;
}

}  // namespace sgfw::cp
