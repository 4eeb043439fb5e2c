#include "conntrack/connection_table.hpp"

#include "conntrack/tracker.hpp"

namespace sgfw::dp {

connection_table::connection_table(const connection_table_config& c)
    : flows_(c.capacity, c.count),
      early_drop_(c.early_drop),
      resource_flows_(new std::atomic<std::uint32_t>[k_resource_slots]()),
      resource_exceeded_(new std::atomic<std::uint64_t>[k_resource_slots]()),
      resource_opened_(new std::atomic<std::uint64_t>[k_resource_slots]()) {}

void connection_table::expire(flow_entry* e, std::uint32_t now_ms) {
  end(e, flow_event::expired, now_ms);
  ++tally_.expired;
}

flow_entry* connection_table::open(const flow_key& k, std::uint64_t hash, std::uint16_t quota_slot, std::uint32_t share,
                                   std::span<const flow_key> keep, std::uint32_t now_ms, open_refusal& why) {
  const bool at_share =
      quota_slot != k_unlimited_slot && resource_flows_[quota_slot].load(std::memory_order_relaxed) >= share;
  flow_entry* e = at_share ? nullptr : flows_.insert(k, hash);
  if (e == nullptr && early_drop_) {
    // S11: the half-open flow nearest its timeout around the key's home
    // (of the same resource when it is the share that is full), never one
    // of this packet's own flows.
    const auto evictable = [keep, at_share, quota_slot](const flow_entry& c) {
      if (!half_open(c) || (at_share && c.quota_slot != quota_slot)) return false;
      for (const flow_key& mine : keep) {
        if (c.matches(mine)) return false;
      }
      return true;
    };
    flow_entry* victim = flows_.nearby(hash, 32, [&evictable](const flow_entry& c, const flow_entry* best) {
      return evictable(c) && (best == nullptr || static_cast<std::int32_t>(c.expires_at - best->expires_at) < 0);
    });
    // None around the key: the next stretch of the table, round robin.
    if (victim == nullptr) victim = flows_.scan_from(evict_cursor_, k_evict_scan, evictable);
    if (victim != nullptr) {
      end(victim, flow_event::evicted, now_ms);
      ++tally_.evicted;
      e = flows_.insert(k, hash);
    }
  }
  if (e == nullptr) {
    why = at_share ? open_refusal::share_full : open_refusal::table_full;
    resource_exceeded_[quota_slot].store(resource_exceeded_[quota_slot].load(std::memory_order_relaxed) + 1,
                                         std::memory_order_relaxed);
    return nullptr;
  }
  e->quota_slot = quota_slot;
  bump32(resource_flows_[quota_slot], 1);
  return e;
}

void connection_table::opened(flow_entry& e, std::uint32_t now_ms) {
  if (flows_.counts()) flows_.counts_of(&e).start_ms = now_ms;
  ++tally_.created;
  std::atomic<std::uint64_t>& opened = resource_opened_[e.quota_slot];
  opened.store(opened.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  tell(flow_event::created, e, now_ms);
}

void connection_table::undo(const flow_key& k, std::uint64_t hash) {
  if (flow_entry* e = flows_.find(k, hash)) {
    bump32(resource_flows_[e->quota_slot], -1);
    flows_.erase(e);
  }
}

void connection_table::close(flow_entry* e, std::uint32_t now_ms) {
  end(e, flow_event::closed, now_ms);
  ++tally_.closed;
}

void connection_table::end(flow_entry* e, flow_event why, std::uint32_t now_ms) {
  tell(why, *e, now_ms);
  bump32(resource_flows_[e->quota_slot], -1);
  flows_.erase(e);
}

void connection_table::age(std::uint32_t budget, std::uint32_t now_ms) {
  tally_.expired += flows_.age(budget, [this, now_ms](const flow_entry& e) {
    if (!expired(e, now_ms)) return false;
    tell(flow_event::expired, e, now_ms);
    bump32(resource_flows_[e.quota_slot], -1);
    return true;
  });
}

}  // namespace sgfw::dp
