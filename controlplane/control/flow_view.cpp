#include "control/flow_view.hpp"

#include <algorithm>
#include <set>
#include <thread>
#include <tuple>

#include "config/address_text.hpp"
#include "config/rule_text.hpp"
#include "config/timeout_keys.hpp"
#include "config/validation.hpp"
#include "conntrack/tracker.hpp"
#include "control/explain.hpp"

namespace sgfw::cp {

using json = nlohmann::json;

namespace {

json refuse(const char* code, const std::string& field, const std::string& message) {
  return {{"Error", {{"Code", code}, {"Message", message}, {"Field", field}}}};
}

auto key_order(const dp::flow_entry& e) {
  return std::tuple(e.quota_slot, e.flags & dp::flow_flag::ipv6, e.local, e.local_port, e.remote, e.remote_port,
                    e.proto);
}

}  // namespace

flow_listing gather_flows(std::span<dp::flow_dump* const> dumps, const dp::flow_query& q, std::size_t limit,
                          std::chrono::milliseconds timeout, const std::function<void()>& wait) {
  flow_listing out;
  std::vector<dp::flow_dump*> asked;
  for (dp::flow_dump* d : dumps) {
    if (d->request(q, limit)) {
      asked.push_back(d);
    } else {
      out.complete = false;  // still busy with a request given up on
    }
  }
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::any_of(asked.begin(), asked.end(), [](const dp::flow_dump* d) { return !d->done(); })) {
    if (std::chrono::steady_clock::now() >= until) {
      out.complete = false;
      break;
    }
    wait();
  }
  for (dp::flow_dump* d : asked) {
    if (!d->done()) continue;
    out.matched += d->matched();
    out.records.insert(out.records.end(), d->records().begin(), d->records().end());
    d->release();
  }
  // One record per flow (an entry moved by an insertion during the walk
  // may have been copied twice), in a stable order.
  std::sort(out.records.begin(), out.records.end(),
            [](const dp::flow_record& a, const dp::flow_record& b) { return key_order(a.entry) < key_order(b.entry); });
  const auto dup = std::unique(out.records.begin(), out.records.end(),
                               [](const auto& a, const auto& b) { return key_order(a.entry) == key_order(b.entry); });
  out.matched -= static_cast<std::uint64_t>(out.records.end() - dup);
  out.records.erase(dup, out.records.end());
  if (out.records.size() > limit) out.records.resize(limit);
  return out;
}

std::variant<flow_filter, json> flow_filter_of(const dp::compiled_policy& policy, const json& request) {
  flow_filter f;
  dp::flow_query& q = f.query;
  if (const auto it = request.find("Resource"); it != request.end() && !it->is_null()) {
    const std::string name = it->is_string() ? it->get<std::string>() : "";
    const auto r = std::find(policy.resource_names.begin(), policy.resource_names.end(), name);
    if (r == policy.resource_names.end()) {
      return refuse("InvalidResource.NotFound", "Resource", "no resource is named '" + name + "'");
    }
    q.by_slot = true;
    q.slot = policy.resource_slot[static_cast<std::size_t>(r - policy.resource_names.begin())];
  }
  if (const auto it = request.find("Address"); it != request.end() && !it->is_null()) {
    auto parsed = config::parse_address(it->is_string() ? it->get<std::string>() : "");
    if (auto* e = std::get_if<config::text_error>(&parsed)) {
      return refuse(config::code::invalid_parameter_value, "Address", e->message);
    }
    q.by_address = true;
    q.address = std::get<net::ip_address>(parsed);
  }
  if (const auto it = request.find("Port"); it != request.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<std::int64_t>() < 0 || it->get<std::int64_t>() > 65535) {
      return refuse(config::code::invalid_parameter_value, "Port", "expected a port 0-65535");
    }
    q.by_port = true;
    q.port = static_cast<std::uint16_t>(it->get<std::int64_t>());
  }
  if (const auto it = request.find("Protocol"); it != request.end() && !it->is_null()) {
    const auto p = protocol_number(*it);
    if (!p) {
      return refuse(config::code::invalid_parameter_value, "Protocol",
                    "expected tcp, udp, icmp, icmpv6 or a protocol number 0-255");
    }
    q.by_proto = true;
    q.proto = *p;
  }
  if (const auto it = request.find("State"); it != request.end() && !it->is_null()) {
    std::vector<std::string> names;
    if (it->is_string()) {
      names.push_back(it->get<std::string>());
    } else if (it->is_array()) {
      for (const auto& n : *it) names.push_back(n.is_string() ? n.get<std::string>() : "");
    }
    if (names.empty()) return refuse(config::code::invalid_parameter_value, "State", "expected a state name");
    for (const std::string& n : names) {
      const auto k = std::find_if(config::k_timeout_keys.begin(), config::k_timeout_keys.end(),
                                  [&](const config::timeout_key& t) { return t.key == n; });
      if (k == config::k_timeout_keys.end()) {
        return refuse(config::code::invalid_parameter_value, "State",
                      "unknown state '" + n +
                          "'; expected tcp_syn_sent, tcp_syn_recv, tcp_established, tcp_fin_wait, tcp_time_wait, "
                          "tcp_close, tcp_unreplied, udp, udp_stream, icmp or other");
      }
      q.classes |= 1U << static_cast<unsigned>(k - config::k_timeout_keys.begin());
    }
  }
  if (const auto it = request.find("Limit"); it != request.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<std::int64_t>() < 1 ||
        it->get<std::int64_t>() > static_cast<std::int64_t>(k_max_flow_limit)) {
      return refuse(config::code::invalid_parameter_value, "Limit", "expected 1-" + std::to_string(k_max_flow_limit));
    }
    f.limit = static_cast<std::size_t>(it->get<std::int64_t>());
  }
  return f;
}

std::vector<std::string_view> names_by_slot(const dp::compiled_policy& policy) {
  std::vector<std::string_view> out;
  for (std::size_t i = 0; i < policy.resource_slot.size(); ++i) {
    const std::uint16_t slot = policy.resource_slot[i];
    if (slot >= out.size()) out.resize(std::size_t{slot} + 1);
    out[slot] = policy.resource_names[i];
  }
  return out;
}

json flow_json(const dp::compiled_policy& policy, const std::vector<std::string_view>& names,
               const dp::flow_record& r) {
  const dp::flow_entry& e = r.entry;
  const net::family fam = (e.flags & dp::flow_flag::ipv6) != 0 ? net::family::ipv6 : net::family::ipv4;
  json out;
  out["Resource"] = nullptr;
  if (e.quota_slot < names.size() && !names[e.quota_slot].empty()) out["Resource"] = std::string(names[e.quota_slot]);
  out["Protocol"] = config::describe_protocol({false, e.proto});
  out["LocalAddress"] = config::to_string(net::ip_address{fam, e.local});
  out["RemoteAddress"] = config::to_string(net::ip_address{fam, e.remote});
  const bool icmp = (e.proto == ip_proto::icmp && fam == net::family::ipv4) ||
                    (e.proto == ip_proto::icmpv6 && fam == net::family::ipv6);
  if (icmp) {
    out["IcmpId"] = e.local_port;
    out["IcmpType"] = e.remote_port & 0xFF;  // the request's
  } else if (e.proto == ip_proto::tcp || e.proto == ip_proto::udp) {
    out["LocalPort"] = e.local_port;
    out["RemotePort"] = e.remote_port;
  }
  // Who opened it: the remote peer (ingress) or the resource (egress).
  out["Direction"] = (e.flags & dp::flow_flag::initiated_inbound) != 0 ? "ingress" : "egress";
  out["State"] = std::string(config::k_timeout_keys[static_cast<std::size_t>(dp::timeout_of(e))].key);
  out["Tracked"] = (e.flags & dp::flow_flag::untracked) == 0;
  const auto left = static_cast<std::int32_t>(e.expires_at - r.now_ms);
  out["TimeLeftSeconds"] = std::max(0, left) / 1000.0;
  if (e.rule != dp::k_no_rule && e.rule < policy.rules.size() && policy.rules[e.rule].used) {
    out["SecurityGroupRuleId"] = std::string(policy.rule_id(e.rule));
    out["GroupId"] = policy.group_ids[policy.rules[e.rule].group];
  } else if (e.rule == dp::k_no_rule) {
    out["SecurityGroupRuleId"] = nullptr;
    out["Audit"] = "would-deny";  // passed in audit mode: no rule allowed it
  } else {
    out["SecurityGroupRuleId"] = nullptr;
    out["RuleRemoved"] = true;  // the rule that opened it is gone (keep mode)
  }
  out["JudgedInGeneration"] = e.generation;
  if (r.counted) {
    const dp::flow_counts& c = r.counts;
    out["PacketsOriginal"] = c.packets - c.reply_packets;  // from the flow's initiator
    out["BytesOriginal"] = c.bytes - c.reply_bytes;
    out["PacketsReply"] = c.reply_packets;  // back to it
    out["BytesReply"] = c.reply_bytes;
    out["AgeSeconds"] = static_cast<std::int32_t>(r.now_ms - c.start_ms) / 1000.0;
  }
  return out;
}

}  // namespace sgfw::cp
