#include "control/explain.hpp"

#include <algorithm>
#include <cctype>

#include "compiler/reference_evaluator.hpp"
#include "config/address_text.hpp"
#include "config/validation.hpp"
#include "policy/classifier.hpp"

namespace sgfw::cp {

using nlohmann::json;

namespace {

json refuse(const char* code, const std::string& field, const std::string& message) {
  return {{"Error", {{"Code", code}, {"Message", message}, {"Field", field}}}};
}

bool multicast_or_broadcast(const net::ip_address& a) {
  if (a.fam == net::family::ipv4) {
    const std::uint32_t v = a.v4_value();
    return (v >> 28) == 0xE || v == 0xFFFFFFFFU;
  }
  return static_cast<std::uint8_t>(a.value >> 120) == 0xFF;
}

struct packet {
  net::ip_address source;
  net::ip_address destination;
  std::uint8_t proto = 0;
  std::uint16_t source_port = 0;
  std::uint16_t destination_port = 0;
  std::uint8_t icmp_type = 0;
  std::uint8_t icmp_code = 0;
};

// One side's judgement: the resource's groups in one direction.
json judge(const config::policy_model& model, const dp::compiled_policy& policy, const reference_evaluator& ref,
           std::uint32_t resource, direction d, const packet& p) {
  dp::classify_key::fields f;
  f.resource = resource;
  f.dir = d;
  f.remote = d == direction::ingress ? p.source : p.destination;
  f.proto = p.proto;
  f.local_port = d == direction::ingress ? p.destination_port : p.source_port;
  f.remote_port = d == direction::ingress ? p.source_port : p.destination_port;
  f.icmp_type = p.icmp_type;
  f.icmp_code = p.icmp_code;
  const dp::classify_key key = dp::classify_key::make(f);
  const dp::decision dec = dp::classify(policy, key);
  json out;
  out["Resource"] = model.resources[resource].name;
  out["Direction"] = std::string(to_string(d));
  out["Verdict"] = dec.allowed() ? "allow" : "deny";
  if (dec.allowed()) {
    out["Tracked"] = !dec.untracked;
    out["FirstRule"] = std::string(policy.rule_id(dec.rule));
  } else {
    out["Reason"] = "policy_denied: no rule of the resource's groups allows it";
  }
  json rules = json::array();
  for (const auto& [g, i] : ref.allowing_rules(key)) {
    const config::rule& r = model.groups[g].rules(d)[i];
    rules.push_back({{"GroupId", model.groups[g].id}, {"SecurityGroupRuleId", r.id}, {"Description", r.description}});
  }
  out["AllowedBy"] = std::move(rules);
  json groups = json::array();
  for (const std::uint32_t g : model.resources[resource].groups) groups.push_back(model.groups[g].id);
  out["Groups"] = std::move(groups);
  return out;
}

}  // namespace

std::optional<std::uint8_t> protocol_number(const json& v) {
  if (v.is_number_integer()) {
    const auto n = v.get<std::int64_t>();
    if (n >= 0 && n <= 255) return static_cast<std::uint8_t>(n);
    return std::nullopt;
  }
  if (!v.is_string()) return std::nullopt;
  std::string s = v.get<std::string>();
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (s == "tcp") return ip_proto::tcp;
  if (s == "udp") return ip_proto::udp;
  if (s == "icmp") return ip_proto::icmp;
  if (s == "icmpv6") return ip_proto::icmpv6;
  if (!s.empty() && s.size() <= 3 && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); })) {
    const int n = std::stoi(s);
    if (n <= 255) return static_cast<std::uint8_t>(n);
  }
  return std::nullopt;
}

json explain(const config::policy_model& model, const dp::compiled_policy& policy, const json& request) {
  packet p;
  for (const auto& [field, at] : {std::pair{"Source", &p.source}, std::pair{"Destination", &p.destination}}) {
    const auto it = request.find(field);
    if (it == request.end() || !it->is_string()) {
      return refuse(config::code::missing_parameter, field, "an IP address is needed");
    }
    auto parsed = config::parse_address(it->get<std::string>());
    if (auto* e = std::get_if<config::text_error>(&parsed)) {
      return refuse(config::code::invalid_parameter_value, field, e->message);
    }
    *at = std::get<net::ip_address>(parsed);
  }
  if (p.source.fam != p.destination.fam) {
    return refuse(config::code::invalid_parameter_combination, "Destination",
                  "source and destination are of different address families");
  }
  const auto proto_it = request.find("Protocol");
  if (proto_it == request.end()) return refuse(config::code::missing_parameter, "Protocol", "a protocol is needed");
  const auto proto = protocol_number(*proto_it);
  if (!proto) {
    return refuse(config::code::invalid_parameter_value, "Protocol",
                  "expected tcp, udp, icmp, icmpv6 or a protocol number 0-255");
  }
  p.proto = *proto;
  struct number_field {
    const char* name;
    int max;
    bool ports;
  };
  for (const number_field nf : {number_field{"SourcePort", 65535, true}, number_field{"DestinationPort", 65535, true},
                                number_field{"IcmpType", 255, false}, number_field{"IcmpCode", 255, false}}) {
    const auto it = request.find(nf.name);
    if (it == request.end() || it->is_null()) continue;
    if (!it->is_number_integer() || it->get<std::int64_t>() < 0 || it->get<std::int64_t>() > nf.max) {
      return refuse(config::code::invalid_parameter_value, nf.name, "expected an integer 0-" + std::to_string(nf.max));
    }
    const auto v = it->get<std::int64_t>();
    if (std::string_view(nf.name) == "SourcePort") p.source_port = static_cast<std::uint16_t>(v);
    if (std::string_view(nf.name) == "DestinationPort") p.destination_port = static_cast<std::uint16_t>(v);
    if (std::string_view(nf.name) == "IcmpType") p.icmp_type = static_cast<std::uint8_t>(v);
    if (std::string_view(nf.name) == "IcmpCode") p.icmp_code = static_cast<std::uint8_t>(v);
  }
  if ((p.proto == ip_proto::tcp || p.proto == ip_proto::udp) && !request.contains("DestinationPort")) {
    return refuse(config::code::missing_parameter, "DestinationPort", "TCP and UDP need a destination port");
  }
  std::optional<direction> dir;
  if (const auto it = request.find("Direction"); it != request.end() && !it->is_null()) {
    const std::string d = it->is_string() ? it->get<std::string>() : "";
    if (d == "ingress") {
      dir = direction::ingress;
    } else if (d == "egress") {
      dir = direction::egress;
    } else {
      return refuse(config::code::invalid_parameter_value, "Direction", "expected ingress or egress");
    }
  }
  // The side a caller named: a resource by name or by an address of its.
  std::optional<std::uint32_t> named;
  if (const auto it = request.find("Resource"); it != request.end() && !it->is_null()) {
    const std::string name = it->is_string() ? it->get<std::string>() : "";
    for (std::uint32_t r = 0; r < model.resources.size(); ++r) {
      if (model.resources[r].name == name) named = r;
    }
    if (!named) return refuse("InvalidResource.NotFound", "Resource", "no resource is named '" + name + "'");
  }
  if (const auto it = request.find("Address"); it != request.end() && !it->is_null()) {
    auto parsed = config::parse_address(it->is_string() ? it->get<std::string>() : "");
    if (auto* e = std::get_if<config::text_error>(&parsed)) {
      return refuse(config::code::invalid_parameter_value, "Address", e->message);
    }
    const std::uint32_t r = policy.resources.find(std::get<net::ip_address>(parsed));
    if (r == dp::k_no_resource) {
      return refuse("InvalidResource.NotFound", "Address", "the address belongs to no resource");
    }
    named = r;
  }

  const std::uint32_t src = policy.resources.find(p.source);
  const std::uint32_t dst = policy.resources.find(p.destination);
  json out;
  out["Checks"] = json::array();
  if (multicast_or_broadcast(p.destination)) {
    // S9: judged by no group; forwarded only when listed.
    const bool listed = std::any_of(model.appliance.forward_multicast.begin(), model.appliance.forward_multicast.end(),
                                    [&](const net::cidr& c) { return c.contains(p.destination); });
    out["Verdict"] = listed ? "allow" : "deny";
    out["Reason"] = listed ? "broadcast or multicast destination listed in forward_multicast (S9)"
                           : "broadcast_multicast: the cloud delivers no broadcast or multicast (S9)";
    return out;
  }
  const reference_evaluator ref(model);
  std::vector<std::pair<std::uint32_t, direction>> sides;
  if (named) {
    direction d = dir.value_or(*named == dst ? direction::ingress : direction::egress);
    const std::uint32_t owner = d == direction::ingress ? dst : src;
    if (owner != *named) {
      return refuse(config::code::invalid_parameter_combination, "Direction",
                    "the resource is not the packet's " +
                        std::string(d == direction::ingress ? "destination" : "source") + " for " +
                        std::string(to_string(d)));
    }
    sides.emplace_back(*named, d);
  } else {
    if (src != dp::k_no_resource && dir.value_or(direction::egress) == direction::egress) {
      sides.emplace_back(src, direction::egress);
    }
    if (dst != dp::k_no_resource && dir.value_or(direction::ingress) == direction::ingress) {
      sides.emplace_back(dst, direction::ingress);
    }
  }
  if (sides.empty()) {
    // S9: traffic of no resource.
    out["Verdict"] = model.appliance.unprotected_forward ? "allow" : "deny";
    out["Reason"] = model.appliance.unprotected_forward
                        ? "neither address belongs to a resource; unprotected_traffic = \"forward\" (S9)"
                        : "unprotected_traffic: neither address belongs to a resource (S9, fail closed)";
    return out;
  }
  bool allowed = true;
  bool tracked = false;
  for (const auto& [res, d] : sides) {
    json check = judge(model, policy, ref, res, d, p);
    allowed = allowed && check["Verdict"] == "allow";
    tracked = tracked || (check.contains("Tracked") && check["Tracked"].get<bool>());
    out["Checks"].push_back(std::move(check));
  }
  out["Verdict"] = allowed ? "allow" : "deny";
  if (allowed) out["Tracked"] = tracked;
  return out;
}

}  // namespace sgfw::cp
