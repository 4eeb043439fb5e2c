// Which worker owns a flow (docs/architecture.md): the queue a NIC with
// sgfw's RSS settings puts the flow's packets on, computed in software, so
// that a packet received from such a NIC is already on its owner.
//
// The NIC hashes the two IP addresses (RTE_ETH_RSS_IP) with Toeplitz under
// the symmetric key below, and its redirection table sends entry
// `hash % reta_size` to queue `entry % workers` (sgfw programs it so);
// worker w polls queue w.  The same function of the addresses alone holds
// for both directions of a flow, all fragments of a datagram (which carry
// no ports) and ICMP errors about the flow (judged by the addresses they
// quote).  Where a device does not place packets so (no RSS, tap's own
// hash, a NIC that hashes TCP/UDP by ports too), the packet arrives on
// another worker and is handed to its owner through a ring: slower, never
// wrong.
#pragma once

#include <array>
#include <cstdint>

#include "net/ip_address.hpp"

namespace sgfw::dp {

// 0x6d5a repeated: a Toeplitz key whose 32-bit windows repeat every 16
// bits, so swapping source and destination (each a whole number of 16-bit
// words) gives the same hash (Woo and Park, "Scalable TCP Session
// Monitoring with Symmetric Receive-side Scaling", 2012).  52 bytes: the
// longest key a NIC takes; a shorter one is its prefix.
inline constexpr std::size_t k_rss_key_size = 52;
inline constexpr std::array<std::uint8_t, k_rss_key_size> k_symmetric_rss_key = [] {
  std::array<std::uint8_t, k_rss_key_size> k{};
  for (std::size_t i = 0; i < k.size(); i += 2) {
    k[i] = 0x6d;
    k[i + 1] = 0x5a;
  }
  return k;
}();

// The NIC's hash of an address pair under k_symmetric_rss_key.  Toeplitz
// XORs, for every set input bit i, the key's 32-bit window at bit i; with
// this key the window at bit i equals the one at bit i + 16, and Toeplitz
// is linear in its input, so the hash is that of the input XOR-folded to
// 16 bits: two table lookups.
class symmetric_toeplitz {
 public:
  constexpr symmetric_toeplitz() {
    for (unsigned v = 0; v < 256; ++v) {
      std::uint32_t high = 0;
      std::uint32_t low = 0;
      for (unsigned bit = 0; bit < 8; ++bit) {
        if ((v & (0x80U >> bit)) == 0) continue;
        high ^= window(bit);     // the first byte of a 16-bit word
        low ^= window(8 + bit);  // the second
      }
      high_[v] = high;
      low_[v] = low;
    }
  }

  // Addresses in host byte order (IPv4: the low 32 bits), as the parser
  // keeps them; hashed as the NIC sees them, in network order.
  std::uint32_t hash(net::family fam, net::u128 a, net::u128 b) const {
    const net::u128 x = a ^ b;
    std::uint64_t folded = static_cast<std::uint64_t>(x);
    if (fam == net::family::ipv6) folded ^= static_cast<std::uint64_t>(x >> 64);
    folded ^= folded >> 32;
    folded ^= folded >> 16;
    const auto word = static_cast<std::uint16_t>(folded);
    return high_[word >> 8] ^ low_[word & 0xFF];
  }

 private:
  static constexpr std::uint32_t window(unsigned bit) {
    std::uint32_t w = 0;
    for (unsigned i = 0; i < 32; ++i) {
      const unsigned b = bit + i;
      const unsigned set = (static_cast<unsigned>(k_symmetric_rss_key[b / 8]) >> (7 - b % 8)) & 1U;
      w = (w << 1) | set;
    }
    return w;
  }

  std::array<std::uint32_t, 256> high_{};
  std::array<std::uint32_t, 256> low_{};
};

class flow_owner {
 public:
  // reta_size: entries in the ports' redirection table (a power of two;
  // 128 when a port has none).
  flow_owner(std::uint32_t workers, std::uint32_t reta_size) : workers_(workers), reta_mask_(reta_size - 1) {}

  std::uint32_t operator()(net::family fam, net::u128 a, net::u128 b) const {
    if (workers_ <= 1) return 0;
    return (hash_.hash(fam, a, b) & reta_mask_) % workers_;
  }

 private:
  static constexpr symmetric_toeplitz hash_{};
  std::uint32_t workers_;
  std::uint32_t reta_mask_;
};

}  // namespace sgfw::dp
