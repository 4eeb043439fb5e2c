// resource_slots: where each resource's flows are counted in the workers
// (S11: per-resource connection quotas).
//
// Every worker keeps a count of flows per slot, and every flow entry
// remembers the slot it was counted under, so that freeing the entry, however
// much later and under whatever policy, takes it off the right count.  A
// resource therefore keeps its slot across policies by name: inserting a
// resource before it in the file, or editing its rules, moves nothing.  The
// slot of a resource that left the policy is given to another only once no
// worker counts a flow under it any more (its flows have ended).
//
// Control thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "config/model.hpp"
#include "policy/compiled_policy.hpp"

namespace sgfw::cp {

class resource_slots {
 public:
  // in_use(slot): whether any worker still counts a flow under the slot.
  using in_use_fn = std::function<bool(std::uint16_t)>;

  // The slot of every resource of `model`, in its order.  A resource for
  // which no slot is free (more than dp::k_unlimited_slot resources
  // between them, live or still holding flows) shares dp::k_unlimited_slot,
  // which has no limit; `shared` counts those.
  std::vector<std::uint16_t> assign(const config::policy_model& model, const in_use_fn& in_use);

  std::size_t shared() const { return shared_; }

 private:
  std::map<std::string, std::uint16_t> by_name_;
  std::vector<std::uint16_t> retired_;  // left the policy; free once nothing counts under them
  std::vector<std::uint16_t> free_;
  std::uint32_t next_ = 0;  // slots below were handed out at some point
  std::size_t shared_ = 0;
};

}  // namespace sgfw::cp
