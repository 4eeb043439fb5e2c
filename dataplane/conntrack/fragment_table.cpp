#include "conntrack/fragment_table.hpp"

#include <algorithm>
#include <random>

namespace sgfw::dp {

fragment_table::fragment_table(std::uint32_t slots) : entries_(std::max<std::uint32_t>(slots, k_probe)) {
  std::random_device rd;
  key_ = (std::uint64_t{rd()} << 32) | rd();
}

namespace {

// The reassembly key: source, destination, identification, and for IPv4
// the protocol (RFC 791); IPv6 takes the next header from the offset-0
// fragment only (RFC 8200), so it is no part of the key.
std::uint8_t key_proto(const parsed_packet& p) { return p.fam == net::family::ipv6 ? 0 : p.fragment_proto; }

}  // namespace

std::size_t fragment_table::home(const parsed_packet& p) const {
  std::uint64_t h = (static_cast<std::uint64_t>(p.src) ^ key_) * 0x9E3779B97F4A7C15ULL;
  h ^= static_cast<std::uint64_t>(p.src >> 64) + (h << 6);
  h ^= static_cast<std::uint64_t>(p.dst) * 0xC2B2AE3D27D4EB4FULL;
  h ^= static_cast<std::uint64_t>(p.dst >> 64) + (h >> 7);
  h ^= (std::uint64_t{p.fragment_id} << 8 | key_proto(p)) * 0x165667B19E3779F9ULL;
  h ^= h >> 29;
  return static_cast<std::size_t>(h % entries_.size());
}

bool fragment_table::same(const entry& e, const parsed_packet& p) {
  return e.src == p.src && e.dst == p.dst && e.id == p.fragment_id && e.proto == key_proto(p) &&
         ((e.state & 0x80) != 0) == (p.fam == net::family::ipv6);
}

fragment_table::entry* fragment_table::find(const parsed_packet& p, std::uint32_t now_ms) {
  std::size_t i = home(p);
  for (unsigned n = 0; n < k_probe; ++n, i = (i + 1) % entries_.size()) {
    entry& e = entries_[i];
    if (live(e, now_ms) && same(e, p)) return &e;
  }
  return nullptr;
}

bool fragment_table::remember(const parsed_packet& first, std::uint16_t port, std::uint32_t now_ms,
                              std::uint32_t timeout_ms) {
  entry* slot = find(first, now_ms);
  if (slot != nullptr) {
    // A first fragment again (a retransmission, or someone's copy): the
    // datagram keeps its port, and its judged header keeps the longest
    // extent any copy had, so a shorter copy cannot open the bytes a
    // longer one covered to a follower.
    slot->first_end = std::max(slot->first_end, first.fragment_end);
    slot->expires_at = now_ms + std::clamp<std::uint32_t>(timeout_ms, 1, k_max_timeout_ms);
    return false;
  }
  bool evicted = false;
  {
    std::size_t i = home(first);
    for (unsigned n = 0; n < k_probe; ++n, i = (i + 1) % entries_.size()) {
      entry& e = entries_[i];
      if (!live(e, now_ms)) {
        slot = &e;
        break;
      }
      // All taken so far: the one that expires first (the oldest) gives way.
      if (slot == nullptr || static_cast<std::int32_t>(e.expires_at - slot->expires_at) < 0) slot = &e;
      evicted = n + 1 == k_probe;
    }
  }
  entry& e = *slot;
  e.src = first.src;
  e.dst = first.dst;
  e.id = first.fragment_id;
  e.proto = key_proto(first);
  e.first_end = first.fragment_end;
  e.port = port;
  e.expires_at = now_ms + std::clamp<std::uint32_t>(timeout_ms, 1, k_max_timeout_ms);
  e.state = static_cast<std::uint8_t>(1 | (first.fam == net::family::ipv6 ? 0x80 : 0));
  return evicted;
}

void fragment_table::forget(const parsed_packet& first, std::uint32_t now_ms) {
  if (entry* e = find(first, now_ms)) e->state = 0;
}

fragment_table::follow fragment_table::lookup(const parsed_packet& later, std::uint16_t port,
                                              std::uint32_t now_ms) const {
  std::size_t i = home(later);
  for (unsigned n = 0; n < k_probe; ++n, i = (i + 1) % entries_.size()) {
    const entry& e = entries_[i];
    if (!live(e, now_ms) || !same(e, later)) continue;
    // A datagram's fragments take one path; one from the other port is
    // someone else's, injected into a datagram that was judged.
    if (e.port != port) return follow::orphan;
    if (later.fragment_offset < e.first_end) return follow::overlap;
    return follow::allow;
  }
  return follow::orphan;
}

void fragment_table::age(std::uint32_t now_ms, std::uint32_t budget) {
  for (std::uint32_t n = 0; n < budget; ++n) {
    if (cursor_ >= entries_.size()) cursor_ = 0;
    entry& e = entries_[cursor_++];
    if ((e.state & 1) != 0 && !live(e, now_ms)) e.state = 0;
  }
}

}  // namespace sgfw::dp
