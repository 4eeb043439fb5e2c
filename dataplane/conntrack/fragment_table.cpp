#include "conntrack/fragment_table.hpp"

#include <algorithm>
#include <random>

namespace sgfw::dp {

fragment_table::fragment_table(std::uint32_t slots) : entries_(std::max<std::uint32_t>(slots, k_probe)) {
  std::random_device rd;
  key_ = (std::uint64_t{rd()} << 32) | rd();
}

std::size_t fragment_table::home(const parsed_packet& p) const {
  std::uint64_t h = (static_cast<std::uint64_t>(p.src) ^ key_) * 0x9E3779B97F4A7C15ULL;
  h ^= static_cast<std::uint64_t>(p.src >> 64) + (h << 6);
  h ^= static_cast<std::uint64_t>(p.dst) * 0xC2B2AE3D27D4EB4FULL;
  h ^= static_cast<std::uint64_t>(p.dst >> 64) + (h >> 7);
  h ^= (std::uint64_t{p.fragment_id} << 8 | p.proto) * 0x165667B19E3779F9ULL;
  h ^= h >> 29;
  return static_cast<std::size_t>(h % entries_.size());
}

bool fragment_table::same(const entry& e, const parsed_packet& p) {
  return e.src == p.src && e.dst == p.dst && e.id == p.fragment_id && e.proto == p.proto &&
         ((e.state & 0x80) != 0) == (p.fam == net::family::ipv6);
}

bool fragment_table::remember(const parsed_packet& first, verdict v, std::uint32_t now_ms, std::uint32_t timeout_ms) {
  std::size_t i = home(first);
  entry* free_slot = nullptr;
  for (unsigned n = 0; n < k_probe; ++n, i = (i + 1) % entries_.size()) {
    entry& e = entries_[i];
    if (live(e, now_ms) && same(e, first)) {
      free_slot = &e;  // a retransmitted first fragment: judged again, remembered again
      break;
    }
    if (free_slot == nullptr && !live(e, now_ms)) free_slot = &e;
  }
  if (free_slot == nullptr) return false;
  entry& e = *free_slot;
  e.src = first.src;
  e.dst = first.dst;
  e.id = first.fragment_id;
  e.proto = first.proto;
  e.first_end = first.fragment_end;
  e.expires_at = now_ms + std::clamp<std::uint32_t>(timeout_ms, 1, k_max_timeout_ms);
  e.state = static_cast<std::uint8_t>((v == verdict::allow ? 1 : 2) | (first.fam == net::family::ipv6 ? 0x80 : 0));
  return true;
}

fragment_table::follow fragment_table::lookup(const parsed_packet& later, std::uint32_t now_ms) const {
  std::size_t i = home(later);
  for (unsigned n = 0; n < k_probe; ++n, i = (i + 1) % entries_.size()) {
    const entry& e = entries_[i];
    if (!live(e, now_ms) || !same(e, later)) continue;
    if (later.fragment_offset < e.first_end) return follow::overlap;
    return (e.state & 3) == 1 ? follow::allow : follow::deny;
  }
  return follow::orphan;
}

void fragment_table::age(std::uint32_t now_ms, std::uint32_t budget) {
  for (std::uint32_t n = 0; n < budget; ++n) {
    if (cursor_ >= entries_.size()) cursor_ = 0;
    entry& e = entries_[cursor_++];
    if ((e.state & 3) != 0 && !live(e, now_ms)) e.state = 0;
  }
}

}  // namespace sgfw::dp
