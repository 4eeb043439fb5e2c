// IP addresses and CIDR blocks as plain values, shared by both planes.
//
// Addresses are kept as unsigned integers in host byte order: an IPv4 address
// in the low 32 bits of a 128-bit value, an IPv6 address in all 128.  The
// classifier compares them as integers, so a CIDR block is simply the closed
// interval [first(), last()].
#pragma once

#include <compare>
#include <cstdint>

namespace sgfw::net {

// __extension__: 128-bit integers are a GCC/Clang extension that -Wpedantic flags.
__extension__ typedef unsigned __int128 u128;

enum class family : std::uint8_t { ipv4 = 0, ipv6 = 1 };

inline constexpr int family_count = 2;

constexpr unsigned address_bits(family f) { return f == family::ipv4 ? 32U : 128U; }

struct ip_address {
  family fam = family::ipv4;
  u128 value = 0;  // host byte order; IPv4 uses the low 32 bits

  static constexpr ip_address v4(std::uint32_t host_order) { return {family::ipv4, host_order}; }
  static constexpr ip_address v6(u128 host_order) { return {family::ipv6, host_order}; }
  static constexpr ip_address v6(std::uint64_t hi, std::uint64_t lo) { return {family::ipv6, (u128{hi} << 64) | lo}; }

  constexpr std::uint32_t v4_value() const { return static_cast<std::uint32_t>(value); }

  friend constexpr bool operator==(const ip_address&, const ip_address&) = default;
  friend constexpr auto operator<=>(const ip_address& a, const ip_address& b) {
    if (a.fam != b.fam) return a.fam <=> b.fam;
    return a.value == b.value  ? std::strong_ordering::equal
           : a.value < b.value ? std::strong_ordering::less
                               : std::strong_ordering::greater;
  }
};

// Mask of the host bits of a prefix of `len` bits in a family of `bits` bits.
constexpr u128 host_mask(unsigned bits, unsigned len) {
  const unsigned host = bits - len;
  return host >= 128 ? ~u128{0} : ((u128{1} << host) - 1);
}

struct cidr {
  ip_address base;          // host bits are always zero
  std::uint8_t prefix = 0;  // 0..32 or 0..128

  constexpr family fam() const { return base.fam; }
  constexpr u128 first() const { return base.value; }
  constexpr u128 last() const { return base.value | host_mask(address_bits(base.fam), prefix); }
  constexpr bool is_any() const { return prefix == 0; }
  constexpr bool contains(const ip_address& a) const {
    return a.fam == base.fam && a.value >= first() && a.value <= last();
  }
  static constexpr cidr host(const ip_address& a) { return {a, static_cast<std::uint8_t>(address_bits(a.fam))}; }
  static constexpr cidr any(family f) { return {{f, 0}, 0}; }

  friend constexpr bool operator==(const cidr&, const cidr&) = default;
};

}  // namespace sgfw::net
