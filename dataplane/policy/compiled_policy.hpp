// compiled_policy: the one contract between the control plane and the
// worker cores.
//
// The control plane's compiler (controlplane/policy/compiler.hpp) builds it
// from the config model; workers only read it.  It is immutable once built
// and self-contained (no pointer into the config model), so the control plane
// can publish a new one with a single release store of a pointer and free the
// old one after an RCU grace period (docs/classifier.md).
//
// Ownership: dataplane ro, ctlplane writes it once before publishing.
//
// Shape (docs/classifier.md has the full story):
//   resource index -> group set (resources with the same groups share tables)
//   group set x direction x family -> rule_table
//   rule_table: remote address -> address row (interval_map)
//               service key    -> service row (interval_map)
//               address row AND service row = bitset of allowing rules;
//               the first set bit names the rule, one extra service bit says
//               whether such a flow is untracked (mission S8).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "net/ip_address.hpp"
#include "policy/direction.hpp"
#include "policy/interval_map.hpp"
#include "policy/resource_map.hpp"

namespace sgfw::dp {

// Global rule index 0 means "no rule": the packet is denied.
inline constexpr std::uint32_t k_no_rule = 0;

// What a rule's protocol and port/ICMP fields are matched against: the IP
// protocol in bits 16..23 and a 16-bit value below it: the destination port
// of the flow's first packet for TCP and UDP (the local port for ingress,
// the remote port for egress), type << 8 | code for ICMP over IPv4 and
// ICMPv6 over IPv6, and 0 for every other protocol (any port matches, S2).
constexpr std::uint32_t service_key(std::uint8_t proto, std::uint16_t value) {
  return (std::uint32_t{proto} << 16) | value;
}
inline constexpr std::uint32_t k_service_key_max = 0xFFFFFF;

// The question the classifier answers for the first packet of a new flow.
struct classify_key {
  net::u128 remote = 0;           // remote address, host order (IPv4: low 32 bits)
  std::uint32_t resource = 0;     // index of the protected resource
  std::uint16_t local_port = 0;   // TCP/UDP port on the resource's side
  std::uint16_t remote_port = 0;  // TCP/UDP port on the peer's side
  std::uint8_t proto = 0;         // IP protocol / IPv6 next header
  direction dir = direction::ingress;
  net::family fam = net::family::ipv4;
  std::uint8_t icmp_type = 0;
  std::uint8_t icmp_code = 0;
};

struct decision {
  std::uint32_t rule = k_no_rule;  // allowing rule (global index), or k_no_rule
  bool untracked = false;          // S8: the cloud would not track this flow

  bool allowed() const { return rule != k_no_rule; }
  friend bool operator==(const decision&, const decision&) = default;
};

// Rules of one (group set, direction, family), compiled.
template <class AddressKey>
struct rule_table {
  interval_map<AddressKey> addresses;       // remote address -> address row
  interval_map<std::uint32_t> services;     // service_key -> service row
  std::uint32_t words = 0;                  // 64-bit words per row; 0 = no rule at all
  std::uint32_t untracked_bit = 0;          // bit of the untracked flag in service rows
  std::vector<std::uint64_t> address_rows;  // rows x words
  std::vector<std::uint64_t> service_rows;  // rows x words
  std::vector<std::uint32_t> rules;         // bit -> global rule index

  bool empty() const { return words == 0; }
  std::size_t memory_bytes() const {
    return addresses.memory_bytes() + services.memory_bytes() +
           (address_rows.size() + service_rows.size()) * sizeof(std::uint64_t) + rules.size() * sizeof(std::uint32_t);
  }
};

// The merged rules of one set of security groups (S3: allow-only union).
struct group_set_tables {
  std::array<rule_table<std::uint32_t>, direction_count> v4;  // by direction
  std::array<rule_table<net::u128>, direction_count> v6;
  std::vector<std::uint32_t> groups;  // group indices, ascending

  std::size_t memory_bytes() const {
    std::size_t b = 0;
    for (const auto& t : v4) b += t.memory_bytes();
    for (const auto& t : v6) b += t.memory_bytes();
    return b;
  }
};

// Names that counters, flow logs and the CLI use; workers only see indices.
struct rule_info {
  std::string id;           // stable rule id (configured or derived)
  std::uint32_t group = 0;  // index into group_ids
  direction dir = direction::ingress;
};

struct compiled_policy {
  std::uint64_t generation = 0;

  std::vector<group_set_tables> sets;
  std::vector<std::uint32_t> resource_set;  // resource index -> set index
  resource_map resources;                   // address -> resource index

  std::vector<rule_info> rules;  // [k_no_rule] is a placeholder
  std::vector<std::string> group_ids;
  std::vector<std::string> resource_names;

  std::size_t memory_bytes() const {
    std::size_t b = resources.memory_bytes() + resource_set.size() * sizeof(std::uint32_t);
    for (const auto& s : sets) b += s.memory_bytes();
    return b;
  }
};

}  // namespace sgfw::dp
