#include "policy/resource_map.hpp"

#include <bit>

namespace sgfw::dp {

namespace {

// Power of two, at least twice the entries (load factor <= 0.5), so probe
// sequences stay short and an absent address stops at an empty slot soon.
std::size_t table_size(std::size_t n) { return n == 0 ? 0 : std::bit_ceil(std::max<std::size_t>(2 * n, 8)); }

}  // namespace

resource_map resource_map::build(std::span<const entry> entries, std::span<const mac_entry> macs) {
  resource_map m;
  std::size_t n4 = 0;
  for (const entry& e : entries) n4 += e.address.fam == net::family::ipv4 ? 1 : 0;
  const std::size_t n6 = entries.size() - n4;
  m.v4_.assign(table_size(n4), slot_v4{0, k_no_resource});
  m.v6_.assign(table_size(n6), slot_v6{0, k_no_resource});
  m.v4_mask_ = m.v4_.empty() ? 0 : m.v4_.size() - 1;
  m.v6_mask_ = m.v6_.empty() ? 0 : m.v6_.size() - 1;
  for (const entry& e : entries) {
    if (e.address.fam == net::family::ipv4) {
      std::size_t i = hash_v4(e.address.v4_value()) & m.v4_mask_;
      while (m.v4_[i].resource != k_no_resource) i = (i + 1) & m.v4_mask_;
      m.v4_[i] = {e.address.v4_value(), e.resource};
    } else {
      std::size_t i = hash_v6(e.address.value) & m.v6_mask_;
      while (m.v6_[i].resource != k_no_resource) i = (i + 1) & m.v6_mask_;
      m.v6_[i] = {e.address.value, e.resource};
    }
  }
  m.mac_.assign(table_size(macs.size()), mac_slot{0, k_no_resource});
  m.mac_mask_ = m.mac_.empty() ? 0 : m.mac_.size() - 1;
  for (const mac_entry& e : macs) {
    std::size_t i = hash_v4(static_cast<std::uint32_t>(e.mac ^ (e.mac >> 24))) & m.mac_mask_;
    while (m.mac_[i].resource != k_no_resource) i = (i + 1) & m.mac_mask_;
    m.mac_[i] = {e.mac, e.resource};
  }
  return m;
}

}  // namespace sgfw::dp
