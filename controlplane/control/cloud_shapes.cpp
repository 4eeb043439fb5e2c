#include "control/cloud_shapes.hpp"

#include <cstdio>
#include <ctime>

#include "config/address_text.hpp"
#include "config/rule_text.hpp"

namespace sgfw::cp {

using nlohmann::json;

namespace {

// FromPort/ToPort of one range (the cloud's: ICMP type and code, -1 all;
// -1 for protocols without ports).
std::pair<int, int> port_fields(const config::rule& r, std::size_t range) {
  if (r.protocol.has_ports() && range < r.ports.size()) return {r.ports[range].first, r.ports[range].last};
  if (r.protocol.is_icmp()) return {r.icmp_type, r.icmp_type == config::k_icmp_any ? config::k_icmp_any : r.icmp_code};
  return {-1, -1};
}

std::string mac_text(std::uint64_t mac) {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", static_cast<unsigned>((mac >> 40) & 0xFF),
                static_cast<unsigned>((mac >> 32) & 0xFF), static_cast<unsigned>((mac >> 24) & 0xFF),
                static_cast<unsigned>((mac >> 16) & 0xFF), static_cast<unsigned>((mac >> 8) & 0xFF),
                static_cast<unsigned>(mac & 0xFF));
  return buf;
}

// One IpPermission per port range, its one peer in the list the cloud keeps it in.
void add_permissions(const config::policy_model& m, const config::rule& r, json& out) {
  const std::size_t ranges = r.protocol.has_ports() ? r.ports.size() : 1;
  for (std::size_t i = 0; i < ranges; ++i) {
    json p;
    p["IpProtocol"] = ip_protocol(r.protocol);
    if (!r.protocol.all) {
      const auto [from, to] = port_fields(r, i);
      p["FromPort"] = from;
      p["ToPort"] = to;
    }
    json peer;
    if (!r.description.empty()) peer["Description"] = r.description;
    peer["SecurityGroupRuleId"] = r.id;
    for (const char* list : {"IpRanges", "Ipv6Ranges", "PrefixListIds", "UserIdGroupPairs"}) p[list] = json::array();
    if (const auto* c = std::get_if<net::cidr>(&r.remote)) {
      const bool v4 = c->fam() == net::family::ipv4;
      peer[v4 ? "CidrIp" : "CidrIpv6"] = config::to_string(*c);
      p[v4 ? "IpRanges" : "Ipv6Ranges"].push_back(peer);
    } else if (const auto* pl = std::get_if<config::prefix_list_ref>(&r.remote)) {
      peer["PrefixListId"] = m.prefix_lists[pl->index].id;
      p["PrefixListIds"].push_back(peer);
    } else {
      peer["GroupId"] = m.groups[std::get<config::group_ref>(r.remote).index].id;
      p["UserIdGroupPairs"].push_back(peer);
    }
    out.push_back(std::move(p));
  }
}

}  // namespace

std::string ip_protocol(const config::protocol_spec& p) { return p.all ? "-1" : config::describe_protocol(p); }

json security_group_json(const config::policy_model& m, std::uint32_t group) {
  const config::security_group& g = m.groups[group];
  json out;
  out["GroupId"] = g.id;
  out["GroupName"] = g.id;
  out["Description"] = g.description;
  out["IpPermissions"] = json::array();
  out["IpPermissionsEgress"] = json::array();
  for (const config::rule& r : g.ingress) add_permissions(m, r, out["IpPermissions"]);
  for (const config::rule& r : g.egress) add_permissions(m, r, out["IpPermissionsEgress"]);
  if (g.synthesised) out["Implicit"] = true;  // the appliance's own default group (S4)
  return out;
}

json security_group_rule_json(const config::policy_model& m, std::uint32_t group, const config::rule& r) {
  json out;
  out["SecurityGroupRuleId"] = r.id;
  out["GroupId"] = m.groups[group].id;
  out["IsEgress"] = r.dir == direction::egress;
  out["IpProtocol"] = ip_protocol(r.protocol);
  const auto [from, to] = port_fields(r, 0);
  out["FromPort"] = from;
  out["ToPort"] = to;
  if (r.protocol.has_ports() && r.ports.size() > 1) {
    // sgfw's rules may hold several ranges (the cloud's hold one).
    json ranges = json::array();
    for (const config::port_range& pr : r.ports) ranges.push_back({{"FromPort", pr.first}, {"ToPort", pr.last}});
    out["PortRanges"] = std::move(ranges);
  }
  if (const auto* c = std::get_if<net::cidr>(&r.remote)) {
    out[c->fam() == net::family::ipv4 ? "CidrIpv4" : "CidrIpv6"] = config::to_string(*c);
  } else if (const auto* pl = std::get_if<config::prefix_list_ref>(&r.remote)) {
    out["PrefixListId"] = m.prefix_lists[pl->index].id;
  } else {
    out["ReferencedGroupInfo"] = {{"GroupId", m.groups[std::get<config::group_ref>(r.remote).index].id}};
  }
  out["Description"] = r.description;
  return out;
}

json resource_json(const config::policy_model& m, const config::resource& r) {
  json out;
  out["Name"] = r.name;
  out["Description"] = r.description;
  out["Addresses"] = json::array();
  for (const auto& a : r.addresses) out["Addresses"].push_back(config::to_string(a));
  out["Groups"] = json::array();
  for (const std::uint32_t g : r.groups) out["Groups"].push_back(m.groups[g].id);
  out["Side"] = r.side == port_side::inside ? "inside" : "outside";
  if (r.mac) out["MacAddress"] = mac_text(*r.mac);
  if (r.max_flows != 0) out["MaxFlows"] = r.max_flows;
  out["Mode"] = r.audit ? "audit" : "enforce";
  const auto established = m.appliance.established_flows_of(r);
  out["EstablishedFlows"] = established == config::established_flows_mode::revalidate ? "revalidate" : "keep";
  return out;
}

json prefix_list_json(const config::prefix_list& pl) {
  json out;
  out["PrefixListId"] = pl.id;
  out["PrefixListName"] = pl.id;
  out["Description"] = pl.description;
  out["AddressFamily"] = pl.fam == net::family::ipv4 ? "IPv4" : "IPv6";
  out["MaxEntries"] = pl.max_entries;
  out["EntryCount"] = pl.entries.size();
  return out;
}

void add_rule_counts(json& rule, const dp::rule_totals& t) {
  rule["Packets"] = t.packets;
  rule["Bytes"] = t.bytes;
  rule["FlowsOpened"] = t.flows;
  rule["LastHit"] = t.last_ms == 0 ? json(nullptr) : json(iso8601_utc(t.last_ms));
}

std::string iso8601_utc(std::uint64_t unix_ms) {
  const auto seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  ::gmtime_r(&seconds, &tm);
  char text[40];
  const std::size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm);
  char ms[8];
  std::snprintf(ms, sizeof ms, ".%03uZ", static_cast<unsigned>(unix_ms % 1000));
  return std::string(text, n) + ms;
}

}  // namespace sgfw::cp
