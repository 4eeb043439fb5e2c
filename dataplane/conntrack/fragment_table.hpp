// fragment_table: which datagrams' first fragments were allowed, for the
// fragments that follow them (docs/semantics.md S10).
//
// sgfw does not reassemble.  The first fragment (offset 0) carries the L4
// header; it is judged like any packet, and when it is allowed that is
// remembered here for `timeout` under (source, destination, protocol,
// identification) together with the port it came in on.  Later fragments
// follow it: a later fragment is forwarded only when its datagram's first
// fragment was allowed, from the same port, within the timeout, and it
// does not reach back into the first fragment's bytes (RFC 1858, RFC 3128:
// an overlap could rewrite the judged header).  Anything else is dropped:
// an orphan (its first fragment was denied, never seen, came from the other
// port, or is too long ago) or an overlap.
//
// Denied first fragments are not stored: their followers are orphans
// anyway, so a flood of denied fragments takes no slot.  When the probe
// window of a new datagram is full, the entry nearest its expiry (the
// oldest) gives way, so a flood of allowed fragments delays nothing but
// datagrams older than the flood's own.  One table per worker; fixed size;
// no allocation after construction.
#pragma once

#include <cstdint>
#include <vector>

#include "net/ip_address.hpp"
#include "net/parsed_packet.hpp"

namespace sgfw::dp {

class fragment_table {
 public:
  enum class follow : std::uint8_t { allow, orphan, overlap };

  explicit fragment_table(std::uint32_t slots);

  // Records that `first` (a first fragment received on `port`) was allowed.
  // Returns true when an older datagram's entry had to give way.
  bool remember(const parsed_packet& first, std::uint16_t port, std::uint32_t now_ms, std::uint32_t timeout_ms);
  // A first fragment that was denied: an earlier allowed one of the same
  // datagram no longer speaks for its followers.
  void forget(const parsed_packet& first, std::uint32_t now_ms);
  // What a later fragment received on `port` must do.
  follow lookup(const parsed_packet& later, std::uint16_t port, std::uint32_t now_ms) const;

  // Frees the expired entries among the next `budget` slots (a slice per
  // worker loop), so that no entry outlives its timeout by long and a
  // stale verdict can never come back when the millisecond clock wraps.
  void age(std::uint32_t now_ms, std::uint32_t budget);

  std::size_t slot_count() const { return entries_.size(); }

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
    std::uint16_t port = 0;
    std::uint8_t proto = 0;
    std::uint8_t state = 0;  // 0 free, 1 allowed; bit 7: IPv6
  };
  static constexpr unsigned k_probe = 8;

  std::size_t home(const parsed_packet& p) const;
  static bool same(const entry& e, const parsed_packet& p);
  entry* find(const parsed_packet& p, std::uint32_t now_ms);
  // Live: in use and due to expire within the longest timeout from now
  // (unsigned distance, so an expired entry is not live again half a clock
  // period later, as a signed comparison would make it).
  static bool live(const entry& e, std::uint32_t now_ms) {
    return (e.state & 1) != 0 && e.expires_at - now_ms - 1 < k_max_timeout_ms;
  }

  std::vector<entry> entries_;
  std::uint64_t key_;  // per-table secret: senders cannot aim datagrams at one probe window
  std::size_t cursor_ = 0;
};

}  // namespace sgfw::dp
