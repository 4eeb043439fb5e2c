#include "conntrack/flow_table.hpp"

#include <algorithm>
#include <cstring>
#include <random>
#include <utility>

namespace sgfw::dp {

namespace {

// 64x64 -> 128-bit multiply, folded: the non-linear core of the hash.
std::uint64_t fold_multiply(std::uint64_t a, std::uint64_t b) {
  const net::u128 p = net::u128{a} * b;
  return static_cast<std::uint64_t>(p) ^ static_cast<std::uint64_t>(p >> 64);
}

}  // namespace

flow_table::flow_table(std::uint32_t capacity) : slots_(std::size_t{capacity} + capacity / 8 + 1), capacity_(capacity) {
  std::memset(static_cast<void*>(slots_.data()), 0, slots_.size() * sizeof(flow_entry));
  // A secret per table: flows are chosen by whoever sends packets, and a
  // hash they could predict would let them pile flows onto one probe run.
  std::random_device rd;
  for (auto& k : key_) k = (std::uint64_t{rd()} << 32) | rd();
}

std::uint32_t flow_table::hash(const flow_key& k) const {
  const std::uint64_t tail = (std::uint64_t{k.local_port} << 32) | (std::uint64_t{k.remote_port} << 16) |
                             (std::uint64_t{k.proto} << 8) | static_cast<std::uint64_t>(k.fam);
  const std::uint64_t h = fold_multiply(static_cast<std::uint64_t>(k.local) ^ key_[0],
                                        static_cast<std::uint64_t>(k.local >> 64) ^ key_[1]) ^
                          fold_multiply(static_cast<std::uint64_t>(k.remote) ^ key_[2],
                                        static_cast<std::uint64_t>(k.remote >> 64) ^ key_[3]) ^
                          fold_multiply(tail ^ key_[4], key_[5]);
  return static_cast<std::uint32_t>(fold_multiply(h, 0x9E3779B97F4A7C15ULL));
}

flow_entry* flow_table::find(const flow_key& k, std::uint32_t hash) {
  std::size_t i = home(hash);
  // Robin Hood order: once the probe distance passes the entry's own, the
  // key cannot be further on.
  for (unsigned d = 1; d <= k_max_probe; ++d, i = next(i)) {
    flow_entry& e = slots_[i];
    if (e.probe < d) return nullptr;  // empty (0) or an entry closer to its home
    if (e.probe == d && e.matches(k)) return &e;
  }
  return nullptr;
}

flow_entry* flow_table::insert(const flow_key& k, std::uint32_t hash) {
  if (size_ >= capacity_) return nullptr;
  // Dry run of the Robin Hood walk below: refuse (as full) if any entry it
  // carries would end up further from home than find() looks.  With a ninth
  // of the slots free and a keyed hash this does not happen outside tests.
  {
    std::size_t i = home(hash);
    unsigned carried = 1;
    for (; slots_[i].probe != 0; i = next(i)) {
      carried = std::min<unsigned>(carried, slots_[i].probe) + 1;
      if (carried > k_max_probe) return nullptr;
    }
  }
  flow_entry carried{};
  carried.local = k.local;
  carried.remote = k.remote;
  carried.local_port = k.local_port;
  carried.remote_port = k.remote_port;
  carried.proto = k.proto;
  carried.flags = k.fam == net::family::ipv6 ? flow_flag::ipv6 : 0;
  carried.probe = 1;
  flow_entry* placed = nullptr;
  std::size_t i = home(hash);
  for (;;) {
    flow_entry& e = slots_[i];
    if (e.probe == 0) {
      e = carried;
      ++size_;
      return placed != nullptr ? placed : &e;
    }
    if (e.probe < carried.probe) {  // take from the richer entry
      std::swap(e, carried);
      if (placed == nullptr) placed = &e;
    }
    ++carried.probe;
    i = next(i);
  }
}

void flow_table::erase(flow_entry* e) {
  std::size_t i = static_cast<std::size_t>(e - slots_.data());
  // Backward shift: pull following entries that are away from home one
  // slot closer, until an empty slot or an entry at home.
  for (;;) {
    const std::size_t j = next(i);
    flow_entry& n = slots_[j];
    if (n.probe <= 1) break;
    slots_[i] = n;
    --slots_[i].probe;
    i = j;
  }
  slots_[i].probe = 0;
  --size_;
}

}  // namespace sgfw::dp
