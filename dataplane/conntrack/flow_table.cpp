#include "conntrack/flow_table.hpp"

#include <algorithm>
#include <cstring>
#include <random>
#include <utility>

namespace sgfw::dp {

flow_table::flow_table(std::uint32_t capacity, bool counts)
    : slot_count_(std::size_t{capacity} + capacity / 16 + 2 + k_tail),
      slot_memory_(slot_count_ * sizeof(flow_entry)),
      ctrl_memory_(slot_count_ * sizeof(std::uint16_t)),
      counts_memory_(counts ? slot_count_ * sizeof(flow_counts) : 0),
      slots_(static_cast<flow_entry*>(slot_memory_.data())),
      ctrl_(static_cast<std::uint16_t*>(ctrl_memory_.data())),
      counts_(counts ? static_cast<flow_counts*>(counts_memory_.data()) : nullptr),
      homes_(slot_count_ - k_tail),
      capacity_(capacity) {
  // A secret per table: flows are chosen by whoever sends packets, and a
  // hash they could predict would let them pile flows onto one probe run.
  std::random_device rd;
  for (auto& k : key_) k = (std::uint64_t{rd()} << 32) | rd();
}

flow_entry* flow_table::insert(const flow_key& k, std::uint64_t hash) {
  if (size_ >= capacity_) return nullptr;
  // Dry run of the Robin Hood walk below: refuse (as full) if any entry it
  // carries would end up further from home than find() looks.  With a
  // sixteenth of the slots free and a keyed hash this practically never
  // happens (docs/architecture.md).
  {
    std::size_t i = home(hash);
    unsigned carried = 1;
    for (; ctrl_[i] != 0; i = next(i)) {
      carried = std::min(carried, probe_of(ctrl_[i])) + 1;
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
  std::uint16_t carried_ctrl = control(1, hash);
  flow_counts carried_counts{};
  flow_entry* placed = nullptr;
  std::size_t i = home(hash);
  for (;;) {
    if (ctrl_[i] == 0) {
      slots_[i] = carried;
      ctrl_[i] = carried_ctrl;
      if (counts_ != nullptr) counts_[i] = carried_counts;
      ++size_;
      ++changes_;
      return placed != nullptr ? placed : &slots_[i];
    }
    if (probe_of(ctrl_[i]) < probe_of(carried_ctrl)) {  // take from the richer entry
      std::swap(slots_[i], carried);
      std::swap(ctrl_[i], carried_ctrl);
      if (counts_ != nullptr) std::swap(counts_[i], carried_counts);
      if (placed == nullptr) placed = &slots_[i];
    }
    carried_ctrl = static_cast<std::uint16_t>(carried_ctrl + 0x100);
    i = next(i);
  }
}

void flow_table::erase(flow_entry* e) {
  std::size_t i = static_cast<std::size_t>(e - slots_);
  // Backward shift: pull following entries that are away from home one
  // slot closer, until an empty slot or an entry at home.
  for (;;) {
    const std::size_t j = next(i);
    if (probe_of(ctrl_[j]) <= 1) break;
    slots_[i] = slots_[j];
    ctrl_[i] = static_cast<std::uint16_t>(ctrl_[j] - 0x100);
    if (counts_ != nullptr) counts_[i] = counts_[j];
    i = j;
  }
  ctrl_[i] = 0;
  --size_;
  ++changes_;
}

}  // namespace sgfw::dp
