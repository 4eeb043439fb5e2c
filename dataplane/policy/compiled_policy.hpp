// compiled_policy: the one contract between the control plane and the
// worker cores.
//
// The control plane's compiler (controlplane/compiler/compiler.hpp) builds it
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
//               whether such a flow is untracked (docs/semantics.md S8).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "conntrack/connection_table.hpp"  // k_resource_slots
#include "conntrack/timeouts.hpp"
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
// Built with make(), which derives `service` (what rules match against) once,
// where the packet's fields are at hand, so lookups only index.
struct classify_key {
  net::u128 remote = 0;           // remote address, host order (IPv4: low 32 bits)
  std::uint32_t resource = 0;     // index of the protected resource
  std::uint32_t service = 0;      // service_key(protocol, value): see above
  std::uint16_t local_port = 0;   // TCP/UDP port on the resource's side
  std::uint16_t remote_port = 0;  // TCP/UDP port on the peer's side
  std::uint8_t icmp_type = 0;
  std::uint8_t icmp_code = 0;
  direction dir = direction::ingress;
  net::family fam = net::family::ipv4;

  struct fields {
    std::uint32_t resource = 0;
    direction dir = direction::ingress;
    net::ip_address remote;
    std::uint8_t proto = 0;  // IP protocol / IPv6 next header
    std::uint16_t local_port = 0;
    std::uint16_t remote_port = 0;
    std::uint8_t icmp_type = 0;
    std::uint8_t icmp_code = 0;
  };

  static constexpr classify_key make(const fields& f) {
    classify_key k;
    k.remote = f.remote.value;
    k.fam = f.remote.fam;
    k.resource = f.resource;
    k.dir = f.dir;
    k.local_port = f.local_port;
    k.remote_port = f.remote_port;
    k.icmp_type = f.icmp_type;
    k.icmp_code = f.icmp_code;
    std::uint16_t value = 0;
    if (f.proto == ip_proto::tcp || f.proto == ip_proto::udp) {
      // Rules name the destination port of the flow's first packet: the
      // resource's port for ingress, the peer's for egress.
      value = f.dir == direction::ingress ? f.local_port : f.remote_port;
    } else if ((f.proto == ip_proto::icmp && f.remote.fam == net::family::ipv4) ||
               (f.proto == ip_proto::icmpv6 && f.remote.fam == net::family::ipv6)) {
      value = static_cast<std::uint16_t>((f.icmp_type << 8) | f.icmp_code);
    }
    k.service = service_key(f.proto, value);
    return k;
  }

  constexpr std::uint8_t proto() const { return static_cast<std::uint8_t>(service >> 16); }
  constexpr net::ip_address remote_address() const { return {fam, remote}; }
};
static_assert(sizeof(classify_key) == 32, "two keys per cache line");

struct decision {
  std::uint32_t rule = k_no_rule;  // allowing rule (global index), or k_no_rule
  bool untracked = false;          // S8: the cloud would not track this flow

  bool allowed() const { return rule != k_no_rule; }
  friend bool operator==(const decision&, const decision&) = default;
};

// Rules of one (group set, family, direction), compiled.  Either
// representation of "which rules allow (address class, service class)" is
// used, the same for every table of a policy (compiled_policy::matrices):
//   rows:     bitsets over the table's rules, `words` 64-bit words each (a
//             power of two); the answer is the lowest bit of the AND;
//   matrices: the answer itself, precomputed for every pair of classes, as
//             a rule bit of one byte (when every table has fewer than 255
//             rules) or two, all ones for "none", when that is small enough.

struct rule_table {
  interval_map<std::uint32_t> services;  // service_key -> service class
  std::uint32_t words = 1;
  aligned_vector<std::uint64_t> address_rows;  // rows mode: address class x words
  aligned_vector<std::uint64_t> service_rows;  // rows mode: service class x words
  aligned_vector<std::uint8_t> matrix;         // matrices mode: address class x service classes
  // bit -> global rule index, then one k_no_rule for "no bit set".
  std::vector<std::uint32_t> rules;

  friend bool operator==(const rule_table&, const rule_table&) = default;
  std::size_t memory_bytes() const {
    return services.memory_bytes() + (address_rows.size() + service_rows.size()) * sizeof(std::uint64_t) +
           matrix.size() + rules.size() * sizeof(std::uint32_t);
  }
};

// The merged rules of one set of security groups (S3: allow-only union).
struct group_set_tables {
  std::array<std::array<rule_table, direction_count>, net::family_count> tables;  // [family][direction]
  std::array<interval_map<std::uint32_t>, direction_count> v4_addresses;          // remote -> address row
  std::array<interval_map<net::u128>, direction_count> v6_addresses;
  std::vector<std::uint32_t> groups;  // group indices, ascending

  friend bool operator==(const group_set_tables&, const group_set_tables&) = default;

  const rule_table& table(net::family f, direction d) const {
    return tables[static_cast<std::size_t>(f)][static_cast<std::size_t>(d)];
  }
  std::size_t memory_bytes() const {
    std::size_t b = 0;
    for (const auto& per_family : tables) {
      for (const auto& t : per_family) b += t.memory_bytes();
    }
    for (const auto& m : v4_addresses) b += m.memory_bytes();
    for (const auto& m : v6_addresses) b += m.memory_bytes();
    return b;
  }
};

// Names that counters, flow logs and the CLI use; workers only see indices.
// A group's rule ids live in one text buffer, in the compiler's order
// (ingress then egress), so that a policy of 100k rules is not 100k small
// allocations; the buffer is shared by every policy in which the group's
// rules are unchanged, so a change does not copy the ids of the groups it
// did not edit.
struct group_rule_ids {
  std::string text;
  std::vector<std::uint32_t> starts{0};  // rule i's id is [starts[i], starts[i + 1])

  void add(std::string_view id) {
    text += id;
    starts.push_back(static_cast<std::uint32_t>(text.size()));
  }
  std::string_view id(std::uint32_t position) const {
    return std::string_view(text).substr(starts[position], starts[position + 1] - starts[position]);
  }
};

struct rule_info {
  std::uint32_t group = 0;     // index into group_ids and group_rules
  std::uint32_t position = 0;  // in the group's rules, ingress then egress
  direction dir = direction::ingress;
  bool used = false;  // false: no rule has this index in this policy
};

// Tree leaves hold offsets: in rows mode the row's offset in words (class
// * words) for both trees; in matrices mode the address class times the
// number of service classes, and the service class.  Service leaves also
// carry k_untracked_service for services whose flows are untracked (S8).
inline constexpr std::uint32_t k_untracked_service = 0x80000000U;

// Everything a lookup in one (group set, family, direction) needs, in one
// cache line: workers find it with one index and follow no other pointer
// chain.  The pointers point into the tables of the policy's sets.
struct alignas(64) table_view {
  const std::uint32_t* service_inner = nullptr;
  const std::uint32_t* service_leaves = nullptr;
  const void* address_inner = nullptr;  // interval_map<uint32_t> or <u128> nodes
  const void* address_leaves = nullptr;
  union {
    const std::uint64_t* address_rows = nullptr;  // rows mode
    const void* matrix;                           // matrices mode: uint8_t or uint16_t entries
  };
  const std::uint64_t* service_rows = nullptr;  // rows mode
  const std::uint32_t* rules = nullptr;
  std::uint32_t rule_count = 0;  // rules[rule_count] is k_no_rule
  std::uint32_t words = 1;       // rows mode: per row
};
static_assert(sizeof(table_view) == 64);

struct compiled_policy {
  compiled_policy() = default;
  // Move-only: views point into the tables of `sets`, which a copy would
  // share (they are immutable: policies that have a set under the same
  // shapes share its tables, docs/classifier.md).
  compiled_policy(const compiled_policy&) = delete;
  compiled_policy& operator=(const compiled_policy&) = delete;
  compiled_policy(compiled_policy&&) = default;
  compiled_policy& operator=(compiled_policy&&) = default;

  std::uint64_t generation = 0;

  std::vector<std::shared_ptr<const group_set_tables>> sets;  // the last one has no groups: deny all
  // resource index -> set index; one extra entry past the last resource
  // names the deny-all set, so an out-of-range index needs no branch.
  std::vector<std::uint32_t> resource_set;
  resource_map resources;  // address -> resource index
  // [set * 4 + family * 2 + direction]
  std::vector<table_view> views;

  const table_view& view(std::uint32_t set, net::family f, direction d) const {
    return views[std::size_t{set} * 4 + static_cast<std::size_t>(f) * 2 + static_cast<std::size_t>(d)];
  }

  // Uniform shapes, so a burst's loops have fixed trip counts: every
  // address map of a family has address_depth levels and every service map
  // service_depth levels; row_words is the widest table's row (which picks
  // the code path for the whole policy).
  std::uint32_t row_words = 1;
  bool matrices = false;                 // the combine representation of every table
  std::uint32_t matrix_entry_bytes = 2;  // matrices mode: 1 or 2
  std::array<std::uint32_t, net::family_count> address_depth{1, 1};
  std::uint32_t service_depth = 1;

  std::size_t resource_count() const { return resource_names.size(); }
  std::string_view rule_id(std::uint32_t rule) const {
    const rule_info& r = rules[rule];
    return r.used ? group_rules[r.group]->id(r.position) : std::string_view();
  }

  // Per resource, what the tracker applies: idle timeouts (S7), and the
  // appliance-wide choices that a reload may change too.  Index
  // resource_count() holds the appliance's own timeouts.
  std::vector<flow_timeouts> resource_timeouts;
  // Per resource: the port it sits behind (S1: only packets from there may
  // open its egress flows), its slot in every worker's per-resource flow
  // counts (stable across policies, so counts follow the resource), and
  // how many flows it may hold in one worker's table (S11).
  std::vector<port_side> resource_side;
  std::vector<std::uint16_t> resource_slot;
  std::vector<std::uint32_t> resource_flow_limit;
  // Per resource (one extra entry past the last: the appliance's own, 0
  // and false), what a change means for its established flows (S8):
  // a tracked flow last judged before generation `revalidate_from` (0:
  // none) is judged again, lazily on its next packet, and ends unless the
  // rules still allow its original direction; the policy store carries
  // the marks from generation to generation until every flow has met them.
  std::vector<std::uint32_t> resource_revalidate_from;
  // Audit mode: what the resource's groups would deny is passed and
  // tracked, and counted (audit_would_deny), instead of dropped.
  std::vector<std::uint8_t> resource_audit;
  bool icmp_errors_related = true;        // S6
  bool unprotected_forward = false;       // S9: traffic to and from no resource
  bool other_ethertypes_forward = false;  // S9: frames neither IP nor ARP
  bool arp_nd_pass = true;                // S9
  bool ra_guard = true;                   // S9: RAs and redirects from the outside are not let in
  bool adopt_midstream = false;           // S5: a plain TCP ACK may open a flow (unreplied)
  // S9: broadcast and multicast destinations forwarded as they are
  // ([appliance] forward_multicast); every other one is dropped.
  std::vector<net::cidr> forward_multicast;

  std::vector<rule_info> rules;  // [k_no_rule] is a placeholder
  std::vector<std::string> group_ids;
  std::vector<std::shared_ptr<const group_rule_ids>> group_rules;  // per group
  std::vector<std::string> resource_names;

  std::size_t memory_bytes() const {
    std::size_t b = resources.memory_bytes() + resource_set.size() * sizeof(std::uint32_t);
    for (const auto& s : sets) b += s->memory_bytes();
    return b;
  }
};

}  // namespace sgfw::dp
