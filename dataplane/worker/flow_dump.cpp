#include "worker/flow_dump.hpp"

#include <algorithm>

#include "conntrack/tracker.hpp"

namespace sgfw::dp {

namespace {

bool wanted(const flow_query& q, const flow_entry& e) {
  if (q.by_slot && e.quota_slot != q.slot) return false;
  if (q.by_proto && e.proto != q.proto) return false;
  if (q.by_port && e.local_port != q.port && e.remote_port != q.port) return false;
  if (q.by_address) {
    const bool v6 = (e.flags & flow_flag::ipv6) != 0;
    if (v6 != (q.address.fam == net::family::ipv6)) return false;
    if (e.local != q.address.value && e.remote != q.address.value) return false;
  }
  if (q.classes != 0 && (q.classes & (1U << static_cast<unsigned>(timeout_of(e)))) == 0) return false;
  return true;
}

}  // namespace

void flow_dump::step(const connection_table& t, std::uint32_t now_ms) {
  const flow_table& flows = t.flows();
  const std::size_t end = std::min(flows.slot_count(), cursor_ + k_slots_per_loop);
  for (; cursor_ < end; ++cursor_) {
    const flow_entry* e = flows.at(cursor_);
    if (e == nullptr || expired(*e, now_ms) || !wanted(query_, *e)) continue;
    ++matched_;
    if (records_.size() >= limit_) continue;
    flow_record& r = records_.emplace_back();  // within the reserved capacity
    r.entry = *e;
    if (const flow_counts* c = t.counts_of(*e)) {
      r.counts = *c;
      r.counted = true;
    }
    r.now_ms = now_ms;
  }
  if (cursor_ >= flows.slot_count()) state_.store(k_done, std::memory_order_release);
}

}  // namespace sgfw::dp
