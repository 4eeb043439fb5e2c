// fragment_table: the verdicts of first fragments, for the fragments that
// follow them (mission S10).
//
// sgfw does not reassemble.  The first fragment (offset 0) carries the L4
// header; it is judged like any packet and its verdict is remembered here
// for `timeout` under (source, destination, protocol, identification).
// Later fragments follow that verdict.  A later fragment with no remembered
// verdict (it came first, or after the timeout) is dropped as an orphan; a
// later fragment reaching back into the first fragment's bytes is dropped
// as an overlap (RFC 1858, RFC 3128: it could rewrite the judged header);
// a first fragment too short for its L4 header never gets here (the parser
// calls it tiny).  One table per worker; fixed size; no allocation.
#pragma once

#include <cstdint>
#include <vector>

#include "net/ip_address.hpp"
#include "net/parsed_packet.hpp"

namespace sgfw::dp {

class fragment_table {
 public:
  enum class verdict : std::uint8_t { allow, deny };
  enum class follow : std::uint8_t { allow, deny, orphan, overlap };

  explicit fragment_table(std::uint32_t slots);

  // Records the verdict of a first fragment; false when the table is full.
  bool remember(const parsed_packet& first, verdict v, std::uint32_t now_ms, std::uint32_t timeout_ms);
  // What a later fragment must do.
  follow lookup(const parsed_packet& later, std::uint32_t now_ms) const;

  // Frees the expired entries among the next `budget` slots (a slice per
  // worker loop), so that no entry outlives its timeout by long and a
  // stale verdict can never come back when the millisecond clock wraps.
  void age(std::uint32_t now_ms, std::uint32_t budget);

  // The longest timeout remember() accepts ([appliance.conntrack]
  // fragment_timeout is at most 120 s).
  static constexpr std::uint32_t k_max_timeout_ms = 120 * 1000;

 private:
  struct entry {
    net::u128 src = 0;
    net::u128 dst = 0;
    std::uint32_t id = 0;
    std::uint32_t expires_at = 0;
    std::uint16_t first_end = 0;
    std::uint8_t proto = 0;
    std::uint8_t state = 0;  // 0 free, 1 allow, 2 deny; bit 7: IPv6
  };
  static constexpr unsigned k_probe = 8;

  std::size_t home(const parsed_packet& p) const;
  static bool same(const entry& e, const parsed_packet& p);
  // Live: in use and due to expire within the longest timeout from now
  // (unsigned distance, so an expired entry is not live again half a clock
  // period later, as a signed comparison would make it).
  static bool live(const entry& e, std::uint32_t now_ms) {
    return (e.state & 3) != 0 && e.expires_at - now_ms - 1 < k_max_timeout_ms;
  }

  std::vector<entry> entries_;
  std::uint64_t key_;  // per-table secret: senders cannot aim datagrams at one probe window
  std::size_t cursor_ = 0;
};

}  // namespace sgfw::dp
