#include "compiler/reference_evaluator.hpp"

#include <algorithm>

namespace sgfw::cp {

using config::rule;

reference_evaluator::reference_evaluator(const config::policy_model& model)
    : model_(model), global_index_(model.groups.size()) {
  std::uint32_t next = 1;  // 0 is dp::k_no_rule
  for (std::size_t g = 0; g < model.groups.size(); ++g) {
    for (const direction d : {direction::ingress, direction::egress}) {
      for (std::size_t i = 0; i < model.groups[g].rules(d).size(); ++i) {
        global_index_[g][static_cast<std::size_t>(d)].push_back(next++);
      }
    }
  }
}

std::uint32_t reference_evaluator::resource_of(const net::ip_address& a) const {
  for (std::size_t r = 0; r < model_.resources.size(); ++r) {
    const auto& addrs = model_.resources[r].addresses;
    if (std::find(addrs.begin(), addrs.end(), a) != addrs.end()) return static_cast<std::uint32_t>(r);
  }
  return dp::k_no_resource;
}

bool reference_evaluator::peer_contains(const config::peer& p, const net::ip_address& a) const {
  if (const auto* c = std::get_if<net::cidr>(&p)) return c->contains(a);
  if (const auto* pl = std::get_if<config::prefix_list_ref>(&p)) {
    for (const net::cidr& e : model_.prefix_lists[pl->index].entries) {
      if (e.contains(a)) return true;
    }
    return false;
  }
  const std::uint32_t g = std::get<config::group_ref>(p).index;
  for (const auto& res : model_.resources) {
    const bool member = std::find(res.groups.begin(), res.groups.end(), g) != res.groups.end();
    if (member && std::find(res.addresses.begin(), res.addresses.end(), a) != res.addresses.end()) return true;
  }
  return false;
}

bool reference_evaluator::matches(const rule& r, const dp::classify_key& k) const {
  if (!r.protocol.all) {
    if (r.protocol.number != k.proto()) return false;
    if (r.protocol.has_ports()) {
      const std::uint16_t port = k.dir == direction::ingress ? k.local_port : k.remote_port;
      const bool in_range = std::any_of(r.ports.begin(), r.ports.end(), [&](const config::port_range& pr) {
        return port >= pr.first && port <= pr.last;
      });
      if (!in_range) return false;
    } else if (r.protocol.is_icmp()) {
      const net::family icmp_family = r.protocol.number == ip_proto::icmp ? net::family::ipv4 : net::family::ipv6;
      if (k.fam != icmp_family) return false;
      if (r.icmp_type != config::k_icmp_any && r.icmp_type != k.icmp_type) return false;
      if (r.icmp_code != config::k_icmp_any && r.icmp_code != k.icmp_code) return false;
    }
  }
  return peer_contains(r.remote, {k.fam, k.remote});
}

const std::bitset<65536>& reference_evaluator::whole_family_ports(std::uint32_t resource, direction d, net::family f,
                                                                  std::uint8_t proto) const {
  auto& slot = ports_cache_[{resource, d, f, proto}];
  if (slot) return *slot;
  slot = std::make_unique<std::bitset<65536>>();
  for (const std::uint32_t g : model_.resources[resource].groups) {
    for (const rule& r : model_.groups[g].rules(d)) {
      bool whole = false;
      if (const auto* c = std::get_if<net::cidr>(&r.remote)) whole = c->fam() == f && c->prefix == 0;
      if (const auto* pl = std::get_if<config::prefix_list_ref>(&r.remote)) {
        for (const net::cidr& e : model_.prefix_lists[pl->index].entries)
          whole = whole || (e.fam() == f && e.prefix == 0);
      }
      if (!whole) continue;
      for (unsigned port = 0; port < 65536; ++port) {
        const bool proto_ok = r.protocol.all || r.protocol.is(proto);
        if (!proto_ok) break;
        bool in = r.protocol.all;
        for (const auto& pr : r.ports) in = in || (port >= pr.first && port <= pr.last);
        if (in) slot->set(port);
      }
    }
  }
  return *slot;
}

// S8: a TCP/UDP flow is untracked when its port is open to the whole family
// in the direction it started, and every port of its protocol is open to the
// whole family in the other direction.
bool reference_evaluator::untracked(const dp::classify_key& k) const {
  if (k.proto() != ip_proto::tcp && k.proto() != ip_proto::udp) return false;
  const std::uint16_t port = k.dir == direction::ingress ? k.local_port : k.remote_port;
  if (!whole_family_ports(k.resource, k.dir, k.fam, k.proto()).test(port)) return false;
  return whole_family_ports(k.resource, opposite(k.dir), k.fam, k.proto()).all();
}

dp::decision reference_evaluator::classify(const dp::classify_key& k) const {
  if (k.resource >= model_.resources.size()) return {};
  std::vector<std::uint32_t> groups = model_.resources[k.resource].groups;
  std::sort(groups.begin(), groups.end());
  for (const std::uint32_t g : groups) {
    const auto& rules = model_.groups[g].rules(k.dir);
    for (std::size_t i = 0; i < rules.size(); ++i) {
      if (matches(rules[i], k)) return {global_index_[g][static_cast<std::size_t>(k.dir)][i], untracked(k)};
    }
  }
  return {};
}

std::vector<std::pair<std::uint32_t, std::uint32_t>> reference_evaluator::allowing_rules(
    const dp::classify_key& k) const {
  std::vector<std::pair<std::uint32_t, std::uint32_t>> out;
  if (k.resource >= model_.resources.size()) return out;
  std::vector<std::uint32_t> groups = model_.resources[k.resource].groups;
  std::sort(groups.begin(), groups.end());
  for (const std::uint32_t g : groups) {
    const auto& rules = model_.groups[g].rules(k.dir);
    for (std::size_t i = 0; i < rules.size(); ++i) {
      if (matches(rules[i], k)) out.emplace_back(g, static_cast<std::uint32_t>(i));
    }
  }
  return out;
}

}  // namespace sgfw::cp
