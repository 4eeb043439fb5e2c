// rule_slots: each rule's global index (compiled_policy::rules), stable
// across policies.
//
// A flow entry remembers the rule that allowed it (flow_entry::rule) for as
// long as it lives, through any number of later policies; describe-flows,
// explain and the per-rule counts name the rule from that index.  So a rule
// keeps its index by identity (its group, direction and id) whatever is
// added or removed around it, and the index of a rule that left is given
// to another as late as the index space allows: freed indices are reused
// oldest first, and only once there are as many free as live ones (the
// space stays within twice the rules, plus a floor), so that a flow idle
// across that many changes is the only one that could be named wrongly.
//
// A change touches a group or two of thousands: a group whose rule ids
// are what they were (in order) keeps its indices without a lookup, so
// assigning is a compare of ids, not a map operation per rule.  Each
// group's ids and indices are shared, never written once made, so a copy
// (the policy store places a change on one) copies a pointer per group.
//
// Control thread only.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "config/model.hpp"
#include "policy/compiled_policy.hpp"

namespace sgfw::cp {

class rule_slots {
 public:
  // The index of every rule of `model`, in the compiler's order (groups in
  // order, each group's ingress rules then its egress rules); 1-based, as
  // 0 is dp::k_no_rule.
  std::vector<std::uint32_t> assign(const config::policy_model& model);

  std::uint32_t limit() const { return next_; }  // every index is below
  // The indices the last assign() gave again, to a rule other than the
  // one that last had them: what was counted under them (the per-rule
  // counts, rule_counters.hpp) is another rule's.
  const std::vector<std::uint32_t>& reused() const { return reused_; }

  // Each group's rule ids as of the last assign(), in the model's order
  // (compile_options::rule_ids): the same object while a group's ids are.
  const std::vector<std::shared_ptr<const dp::group_rule_ids>>& rule_ids() const { return rule_ids_; }

 private:
  static constexpr std::size_t k_floor = 4096;  // free indices kept back before any is reused
  // One group's rules of one direction, in order, and their indices; and
  // the rules themselves: a model that shares them has these ids without
  // a compare (config::shared_list).
  struct rules_of {
    std::vector<std::string> ids;
    std::vector<std::uint32_t> slots;
    config::shared_list<config::rule> rules;
  };
  struct group_rules {
    std::array<rules_of, direction_count> dirs;
    std::shared_ptr<const dp::group_rule_ids> ids;  // both directions' ids, ingress first
  };
  std::vector<std::pair<std::string, std::shared_ptr<const group_rules>>> by_group_;  // in the model's order
  std::vector<std::shared_ptr<const dp::group_rule_ids>> rule_ids_;
  std::deque<std::uint32_t> free_;  // oldest first
  std::vector<std::uint32_t> reused_;
  std::uint32_t next_ = 1;
};

}  // namespace sgfw::cp
