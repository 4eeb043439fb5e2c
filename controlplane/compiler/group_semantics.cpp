#include "compiler/group_semantics.hpp"

#include <algorithm>

namespace sgfw::cp {

namespace compiling {

namespace {

std::vector<port_range> merge_ranges(std::vector<port_range> v) {
  std::sort(v.begin(), v.end(), [](const port_range& a, const port_range& b) { return a.first < b.first; });
  std::vector<port_range> out;
  for (const port_range& r : v) {
    if (!out.empty() && std::uint32_t{r.first} <= std::uint32_t{out.back().last} + 1) {
      out.back().last = std::max(out.back().last, r.last);
    } else {
      out.push_back(r);
    }
  }
  return out;
}

}  // namespace

bool peer_is_whole_family(const policy_model& m, const config::peer& p, net::family f) {
  if (const auto* c = std::get_if<net::cidr>(&p)) return c->fam() == f && c->is_any();
  if (const auto* pl = std::get_if<config::prefix_list_ref>(&p)) {
    const auto& list = m.prefix_lists[pl->index];
    return list.fam == f &&
           std::any_of(list.entries.begin(), list.entries.end(), [](const net::cidr& c) { return c.is_any(); });
  }
  return false;  // a group's members are never the whole address space
}

void service_intervals(const rule& r, net::family f, std::vector<interval<std::uint32_t>>& out) {
  const auto& p = r.protocol;
  if (p.all) {
    out.push_back({0, dp::k_service_key_max});
    return;
  }
  if (p.has_ports()) {
    for (const port_range& pr : r.ports) {
      out.push_back({dp::service_key(p.number, pr.first), dp::service_key(p.number, pr.last)});
    }
    return;
  }
  if (p.is_icmp()) {
    // icmp matches ICMP over IPv4 only, icmpv6 ICMPv6 over IPv6 only.
    const bool fits = p.number == ip_proto::icmp ? f == net::family::ipv4 : f == net::family::ipv6;
    if (!fits) return;
    if (r.icmp_type == config::k_icmp_any) {
      out.push_back({dp::service_key(p.number, 0), dp::service_key(p.number, 0xFFFF)});
    } else {
      const auto t = static_cast<std::uint16_t>(r.icmp_type << 8);
      if (r.icmp_code == config::k_icmp_any) {
        out.push_back({dp::service_key(p.number, t), dp::service_key(p.number, static_cast<std::uint16_t>(t | 0xFF))});
      } else {
        const auto v = static_cast<std::uint16_t>(t | r.icmp_code);
        out.push_back({dp::service_key(p.number, v), dp::service_key(p.number, v)});
      }
    }
    return;
  }
  // Any other protocol: every port matches (S2); its key's value is 0.
  out.push_back({dp::service_key(p.number, 0), dp::service_key(p.number, 0xFFFF)});
}

family_port_sets whole_family_ports(const policy_model& m, const std::vector<std::uint32_t>& groups) {
  family_port_sets out;
  for (const std::uint32_t g : groups) {
    for (const direction d : {direction::ingress, direction::egress}) {
      for (const rule& r : m.groups[g].rules(d)) {
        for (const net::family f : {net::family::ipv4, net::family::ipv6}) {
          if (!peer_is_whole_family(m, r.remote, f)) continue;
          auto& per_proto = out[static_cast<std::size_t>(d)][static_cast<std::size_t>(f)];
          for (std::size_t p = 0; p < 2; ++p) {
            const std::uint8_t proto = p == 0 ? ip_proto::tcp : ip_proto::udp;
            if (r.protocol.all) {
              per_proto[p].push_back({0, 65535});
            } else if (r.protocol.is(proto)) {
              per_proto[p].insert(per_proto[p].end(), r.ports.begin(), r.ports.end());
            }
          }
        }
      }
    }
  }
  for (auto& per_dir : out) {
    for (auto& per_family : per_dir) {
      for (auto& ranges : per_family) ranges = merge_ranges(std::move(ranges));
    }
  }
  return out;
}

std::vector<service_range> untracked_from(const family_port_sets& ports, direction initiated, net::family fam) {
  std::vector<service_range> out;
  const auto f = static_cast<std::size_t>(fam);
  for (std::size_t p = 0; p < 2; ++p) {
    const auto& back = ports[static_cast<std::size_t>(opposite(initiated))][f][p];
    if (back.size() != 1 || back[0].first != 0 || back[0].last != 65535) continue;
    for (const port_range& r : ports[static_cast<std::size_t>(initiated)][f][p]) {
      out.push_back({p == 0 ? ip_proto::tcp : ip_proto::udp, r});
    }
  }
  return out;
}

}  // namespace compiling

std::vector<service_range> untracked_services(const config::policy_model& model,
                                              const std::vector<std::uint32_t>& groups, direction initiated,
                                              net::family fam) {
  return compiling::untracked_from(compiling::whole_family_ports(model, groups), initiated, fam);
}

}  // namespace sgfw::cp
