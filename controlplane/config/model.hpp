// The config model: security groups, prefix lists and protected resources as
// the user described them, validated and with every reference resolved to an
// index.  Produced by load_policy_file() (toml_loader.hpp), consumed by the
// compiler and the reference evaluator.  Semantics: docs/configuration.md and
// docs/semantics.md S1-S4.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "config/shared_list.hpp"
#include "conntrack/timeouts.hpp"
#include "net/ip_address.hpp"
#include "policy/direction.hpp"

namespace sgfw::config {

// Where something was written, for messages (1-based; 0 = synthesised).
struct source_pos {
  std::uint32_t line = 0;
  std::uint32_t column = 0;
};

struct port_range {
  std::uint16_t first = 0;
  std::uint16_t last = 0;
  friend bool operator==(const port_range&, const port_range&) = default;
};

inline constexpr int k_icmp_any = -1;

struct protocol_spec {
  bool all = false;         // "all" / -1: every protocol, every port
  std::uint8_t number = 0;  // IANA protocol number when !all

  bool is(std::uint8_t p) const { return !all && number == p; }
  bool has_ports() const { return is(ip_proto::tcp) || is(ip_proto::udp); }
  bool is_icmp() const { return is(ip_proto::icmp) || is(ip_proto::icmpv6); }
  friend bool operator==(const protocol_spec&, const protocol_spec&) = default;
};

// One peer per rule (S2).
struct prefix_list_ref {
  std::uint32_t index = 0;  // into policy_model::prefix_lists
  friend bool operator==(const prefix_list_ref&, const prefix_list_ref&) = default;
};
struct group_ref {
  std::uint32_t index = 0;  // into policy_model::groups
  friend bool operator==(const group_ref&, const group_ref&) = default;
};
using peer = std::variant<net::cidr, prefix_list_ref, group_ref>;

struct rule {
  std::string id;  // stable: the source's, or derived from the rule's content
  // The source gave no id: normalise() derives it from the group and the
  // rule's content, every time, so it follows edits of the rule.  A source
  // that names the rule (even as "") clears this; validate() checks it.
  bool derived_id = true;
  direction dir = direction::ingress;
  protocol_spec protocol;
  std::vector<port_range> ports;  // tcp/udp only; never empty for them
  int icmp_type = k_icmp_any;     // icmp/icmpv6 only
  int icmp_code = k_icmp_any;
  peer remote;
  std::string description;
  source_pos pos;
};

struct security_group {
  std::string id;
  std::string description;
  // Shared with the copies of the model until changed (shared_list.hpp).
  shared_list<rule> ingress;
  shared_list<rule> egress;
  bool synthesised = false;  // the implicit `default` group (S4)
  // The source declared the group's egress rules (even as none).  One that
  // did not gets the cloud's allow-all egress from normalise() (S4), which
  // then sets this.
  bool egress_declared = false;
  source_pos pos;

  const std::vector<rule>& rules(direction d) const { return d == direction::ingress ? ingress : egress; }

  // A digest of the rules' ids that validation makes (validation.cpp: a
  // cheap hash of each), with the lists it was made from: it holds for a
  // copy of the group while the copy shares them (shared_list), so a check
  // of the ids of thousands of unedited groups reads one array per group.
  // Control thread only.
  struct id_digest {
    shared_list<rule> ingress;
    shared_list<rule> egress;
    std::vector<std::uint32_t> hashes;
  };
  mutable std::shared_ptr<const id_digest> ids_digest;
};

struct prefix_list {
  std::string id;
  std::string description;
  net::family fam = net::family::ipv4;
  std::uint32_t max_entries = 0;
  std::vector<net::cidr> entries;
  source_pos pos;
};

// What a policy change does to established flows (S8): "keep" (the
// cloud's: tracked flows go on, untracked ones are judged again at once)
// or "revalidate" (tracked flows are judged again too, on their next
// packet, and end unless their original direction is still allowed).
enum class established_flows_mode : std::uint8_t { keep, revalidate };

struct resource {
  std::string name;
  std::string description;
  std::vector<net::ip_address> addresses;
  std::vector<std::uint32_t> groups;  // indices into policy_model::groups, as listed; none: the default group
  flow_timeouts timeouts;             // the appliance's, with this resource's overrides
  // The port it sits behind: only packets from there may open its egress
  // flows (S1, the cloud's source check).
  port_side side = port_side::inside;
  std::optional<std::uint64_t> mac;  // 48 bits: every address it uses behind this MAC is its own
  std::uint32_t max_flows = 0;       // its share of the connection table; 0: the appliance's default
  std::optional<established_flows_mode> established_flows;  // none: the appliance's
  bool audit = false;  // mode = "audit": what its groups would deny is passed, tracked and counted
  source_pos pos;
};

// Quotas (S4), defaults as the cloud's.
struct limits {
  std::uint32_t groups_per_resource = 5;  // 1..16
  std::uint32_t ingress_rules_per_group = 60;
  std::uint32_t egress_rules_per_group = 60;
};

inline constexpr std::uint32_t k_max_resources = 65000;  // within the workers' per-resource flow counts

// The appliance's policy-wide behaviours ([appliance]); docs/configuration.md.
// How it starts (ports, cores, table sizes) is boot_settings.hpp, apart.
struct appliance_settings {
  bool icmp_errors_related = true;           // S6: "related" (true) or "rules-only"
  bool unprotected_forward = false;          // S9: traffic of no resource: "forward" or "drop" (default)
  bool other_ethertypes_forward = false;     // S9: frames neither IP nor ARP: "forward" or "drop" (default)
  bool arp_nd_pass = true;                   // S9: ARP and IPv6 neighbour discovery: "pass" or "drop"
  bool ra_guard = true;                      // S9: router advertisements and redirects from the outside dropped
  bool adopt_midstream = false;              // S5: midstream = "adopt": a plain TCP ACK may open a flow
  std::vector<net::cidr> forward_multicast;  // S9: broadcast/multicast destinations forwarded as they are
  std::uint32_t max_flows_per_resource = 0;  // S11: one resource's share; 0: half of the table
  established_flows_mode established_flows = established_flows_mode::keep;  // S8, unless a resource says
  flow_timeouts timeouts = flow_timeouts::defaults();                       // S7

  established_flows_mode established_flows_of(const resource& r) const {
    return r.established_flows.value_or(established_flows);
  }

  // The flows one resource may hold (S11), all workers together, in a
  // table of `max_flows` (boot_settings.hpp).
  std::uint32_t resource_share(const resource& r, std::uint32_t max_flows) const {
    if (r.max_flows != 0) return r.max_flows;
    return max_flows_per_resource != 0 ? max_flows_per_resource : std::max<std::uint32_t>(1, max_flows / 2);
  }
};

inline constexpr std::uint32_t k_max_groups_per_resource = 16;
inline constexpr std::uint32_t k_max_rules_per_group = 1000;
inline constexpr std::uint32_t k_max_prefix_list_entries = 1000;
inline constexpr const char* k_default_group_id = "default";

struct policy_model {
  std::string source_file;
  // The file says `resource = []`: no resources, on purpose.  A policy
  // with no resources and without this is refused by `sgfw run` and
  // `sgfw check` (an empty or cut-off file must not replace a policy).
  bool explicitly_empty = false;
  limits quota;
  appliance_settings appliance;
  std::vector<prefix_list> prefix_lists;
  std::vector<security_group> groups;
  std::vector<resource> resources;

  // Addresses of every resource the group is attached to (S2: a group
  // reference means the group's current members).
  std::vector<net::ip_address> members(std::uint32_t group) const;

  // The index of the group named `default`: a source's own, or the
  // appliance's implicit one, added (empty, synthesised) the first time it
  // is asked for; normalise() gives it its rules (S4).
  std::uint32_t default_group();
  std::optional<std::uint32_t> find_group(std::string_view id) const;
  std::optional<std::uint32_t> find_prefix_list(std::string_view id) const;
};

}  // namespace sgfw::config
