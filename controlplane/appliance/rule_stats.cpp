#include "appliance/rule_stats.hpp"

#include <utility>

namespace sgfw::cp {

rule_stats::rule_stats(raw_fn raw, dp::clock_source clock, std::function<std::uint64_t()> unix_now_ms)
    : raw_(std::move(raw)), clock_(clock), unix_now_ms_(std::move(unix_now_ms)) {}

void rule_stats::reused(const std::vector<std::uint32_t>& indices) {
  for (const std::uint32_t i : indices) baseline_[i] = raw_(i);
}

dp::rule_totals rule_stats::read(std::uint32_t index) const {
  dp::rule_totals t = raw_(index);
  if (const auto it = baseline_.find(index); it != baseline_.end()) {
    const std::uint64_t old_last = it->second.last_ms;
    t -= it->second;
    // The last hit is the old rule's unless a packet came since.
    if (t.last_ms <= old_last) t.last_ms = 0;
  }
  if (t.last_ms != 0) {
    const std::uint64_t now = clock_.now_ms();
    const std::uint64_t at = t.last_ms - 1;  // rule_count::last_ms
    const std::uint64_t ago = now > at ? now - at : 0;
    const std::uint64_t wall = unix_now_ms_();
    t.last_ms = wall > ago ? wall - ago : 1;
  }
  return t;
}

}  // namespace sgfw::cp
