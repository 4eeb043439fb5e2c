// rule_stats: what each rule admitted, all workers added up, since the
// rule got its index (the per-worker counts: rule_counters.hpp).
//
// A rule keeps its index for as long as it lives (rule_slots.hpp), so its
// counts go on through any number of changes and reloads.  An index given
// to another rule once freed still holds what its old rule admitted: the
// store says which indices a policy gives again before publishing it
// (policy_store::on_rule_reuse), and their counts then are the new rule's
// zero.  A flow of the old rule still open then counts on for the new one:
// rule_slots reuses an index only after thousands of others were freed, so
// such a flow has been idle through all those changes.
//
// Control thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <unordered_map>
#include <vector>

#include "worker/clock.hpp"
#include "worker/rule_counters.hpp"

namespace sgfw::cp {

class rule_stats {
 public:
  // All workers' counts of an index added up; last hits in `clock`'s time.
  using raw_fn = std::function<dp::rule_totals(std::uint32_t index)>;
  // `unix_now_ms`: the wall clock, in milliseconds since 1970.
  rule_stats(raw_fn raw, dp::clock_source clock, std::function<std::uint64_t()> unix_now_ms);

  // Before a policy that gives these indices to other rules is published.
  void reused(const std::vector<std::uint32_t>& indices);
  // The index's rule's counts; last_ms in milliseconds since 1970, 0 if it
  // admitted nothing yet.
  dp::rule_totals read(std::uint32_t index) const;

 private:
  raw_fn raw_;
  dp::clock_source clock_;
  std::function<std::uint64_t()> unix_now_ms_;
  std::unordered_map<std::uint32_t, dp::rule_totals> baseline_;  // what an index held when it was given again
};

}  // namespace sgfw::cp
