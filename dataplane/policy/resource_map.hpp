// resource_map: which protected resource owns an address (docs/semantics.md S1).
//
// Open addressing with linear probing over flat arrays, one per family, at
// most half full, keyed by the address itself.  A lookup is one multiply, one
// cache line and (almost always) one compare; perf/resource_map_bench.cpp
// compares it with rte_hash on the same addresses.  Immutable once built: it
// lives inside a compiled_policy and is replaced with it.
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "net/ip_address.hpp"

namespace sgfw::dp {

inline constexpr std::uint32_t k_no_resource = UINT32_MAX;

class resource_map {
 public:
  struct entry {
    net::ip_address address;
    std::uint32_t resource;
  };

  // A MAC address (48 bits, as on the wire, in the low bits) a resource
  // uses: frames to or from it belong to the resource even when their IP
  // address is not one it listed (its link-local and SLAAC addresses).
  struct mac_entry {
    std::uint64_t mac;
    std::uint32_t resource;
  };

  // Addresses and MACs must be distinct (the config validator guarantees it).
  static resource_map build(std::span<const entry> entries, std::span<const mac_entry> macs = {});

  bool has_macs() const { return !mac_.empty(); }
  std::uint32_t find_mac(std::uint64_t mac) const {
    if (mac_.empty()) return k_no_resource;
    for (std::size_t i = hash_v4(static_cast<std::uint32_t>(mac ^ (mac >> 24))) & mac_mask_;; i = (i + 1) & mac_mask_) {
      const mac_slot& s = mac_[i];
      if (s.resource == k_no_resource || s.mac == mac) return s.resource;
    }
  }

  std::uint32_t find_v4(std::uint32_t a) const {
    if (v4_.empty()) return k_no_resource;
    for (std::size_t i = hash_v4(a) & v4_mask_;; i = (i + 1) & v4_mask_) {
      const slot_v4& s = v4_[i];
      if (s.resource == k_no_resource || s.address == a) return s.resource;
    }
  }
  std::uint32_t find_v6(net::u128 a) const {
    if (v6_.empty()) return k_no_resource;
    for (std::size_t i = hash_v6(a) & v6_mask_;; i = (i + 1) & v6_mask_) {
      const slot_v6& s = v6_[i];
      if (s.resource == k_no_resource || s.address == a) return s.resource;
    }
  }
  std::uint32_t find(const net::ip_address& a) const {
    return a.fam == net::family::ipv4 ? find_v4(a.v4_value()) : find_v6(a.value);
  }
  void prefetch(const net::ip_address& a) const {
    if (a.fam == net::family::ipv4) {
      if (!v4_.empty()) __builtin_prefetch(&v4_[hash_v4(a.v4_value()) & v4_mask_]);
    } else if (!v6_.empty()) {
      __builtin_prefetch(&v6_[hash_v6(a.value) & v6_mask_]);
    }
  }

  std::size_t memory_bytes() const {
    return v4_.size() * sizeof(slot_v4) + v6_.size() * sizeof(slot_v6) + mac_.size() * sizeof(mac_slot);
  }

 private:
  struct slot_v4 {
    std::uint32_t address;
    std::uint32_t resource;
  };
  struct alignas(16) slot_v6 {
    net::u128 address;
    std::uint32_t resource;
  };

  // Fibonacci hashing: the multiply spreads nearby addresses (resources are
  // often numbered consecutively) over the whole table.
  static std::size_t hash_v4(std::uint32_t a) {
    return static_cast<std::size_t>((std::uint64_t{a} * 0x9E3779B97F4A7C15ULL) >> 32);
  }
  static std::size_t hash_v6(net::u128 a) {
    const auto h = (static_cast<std::uint64_t>(a >> 64) * 0x9E3779B97F4A7C15ULL) ^
                   (static_cast<std::uint64_t>(a) * 0xC2B2AE3D27D4EB4FULL);
    return static_cast<std::size_t>(h ^ (h >> 29));
  }

  struct mac_slot {
    std::uint64_t mac;
    std::uint32_t resource;
  };

  std::vector<slot_v4> v4_;
  std::vector<slot_v6> v6_;
  std::vector<mac_slot> mac_;
  std::size_t v4_mask_ = 0;
  std::size_t v6_mask_ = 0;
  std::size_t mac_mask_ = 0;
};

}  // namespace sgfw::dp
