// The worker-side questions asked of a compiled_policy:
//   - which resources does a packet belong to (S1), and
//   - is the first packet of a new flow allowed, by which rule, and would the
//     cloud track it (S2-S4, S8)?
// Lookups never allocate, lock or throw.
#pragma once

#include <cstddef>
#include <cstdint>

#include "policy/compiled_policy.hpp"

namespace sgfw::dp {

// Keys per batch in classify_burst; the worker's RX burst size.
inline constexpr std::size_t k_classify_burst = 32;

decision classify(const compiled_policy& policy, const classify_key& key);

// Classifies n keys (any n; processed in batches of k_classify_burst with
// the loads of a batch overlapped).  out[i] answers keys[i].
void classify_burst(const compiled_policy& policy, const classify_key* keys, decision* out, std::size_t n);

// The protected resources on either side of a packet.  A packet is inbound to
// `destination` and outbound from `source`; between two resources it must
// pass the sender's egress and the receiver's ingress (S1).
struct packet_sides {
  std::uint32_t source = k_no_resource;
  std::uint32_t destination = k_no_resource;

  bool outbound() const { return source != k_no_resource; }
  bool inbound() const { return destination != k_no_resource; }
  bool protected_traffic() const { return outbound() || inbound(); }
};

inline packet_sides locate(const compiled_policy& policy, const net::ip_address& src, const net::ip_address& dst) {
  return {policy.resources.find(src), policy.resources.find(dst)};
}

}  // namespace sgfw::dp
