#include "control/request_rules.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <string_view>

#include "config/validation.hpp"

namespace sgfw::cp {

namespace {

using json = nlohmann::json;
namespace code = config::code;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

request_error bad(const char* c, std::string field, std::string message) {
  return {c, std::move(field), std::move(message)};
}

enum class port_kind { ports, icmp, none };

// What the protocol does with FromPort/ToPort.  The reader checks the
// protocol itself; an unknown one passes here and is refused there.
port_kind kind_of(const toml::node& protocol) {
  std::string p;
  if (const auto* s = protocol.as_string()) p = lower(s->get());
  if (const auto* i = protocol.as_integer()) p = std::to_string(i->get());
  if (p == "tcp" || p == "udp" || p == "6" || p == "17") return port_kind::ports;
  if (p == "icmp" || p == "icmpv6" || p == "1" || p == "58") return port_kind::icmp;
  if (p == "all" || p == "-1") return port_kind::none;
  return port_kind::ports;  // another protocol: a range given is passed on, and ignored with a warning
}

// IpProtocol / Protocol: a string or an integer, as the cloud takes it.
std::variant<toml::value<std::string>, toml::value<std::int64_t>, request_error> protocol_of(const json& v,
                                                                                             const std::string& f) {
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    if (s == "-1") return toml::value<std::string>("all");
    return toml::value<std::string>(s);
  }
  if (v.is_number_integer()) {
    const std::int64_t n = v.get<std::int64_t>();
    if (n == -1) return toml::value<std::string>("all");
    return toml::value<std::int64_t>(n);
  }
  return bad(code::invalid_parameter_value, f, "expected a protocol name or number, found " + v.dump());
}

std::optional<request_error> put_protocol(toml::table& t, const json& v, const std::string& f) {
  auto p = protocol_of(v, f);
  if (auto* e = std::get_if<request_error>(&p)) return *e;
  if (auto* s = std::get_if<toml::value<std::string>>(&p)) t.insert("protocol", s->get());
  if (auto* i = std::get_if<toml::value<std::int64_t>>(&p)) t.insert("protocol", i->get());
  return std::nullopt;
}

std::optional<std::int64_t> integer_field(const json& o, const char* key, const std::string& f,
                                          std::optional<request_error>& err) {
  const auto it = o.find(key);
  if (it == o.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_integer()) {
    err = bad(code::invalid_parameter_value, f, "expected an integer, found " + it->dump());
    return std::nullopt;
  }
  return it->get<std::int64_t>();
}

void put_ports(toml::table& t, std::int64_t from, std::int64_t to) {
  if (from == -1 && to == -1) {
    t.insert("ports", "all");
  } else if (from == to) {
    t.insert("ports", from);
  } else {
    t.insert("ports", std::to_string(from) + "-" + std::to_string(to));
  }
}

std::optional<request_error> check_keys(const json& o, const std::string& f,
                                        std::initializer_list<std::string_view> known) {
  if (!o.is_object()) return bad(code::invalid_parameter_value, f, "expected an object, found " + o.dump());
  for (const auto& [k, v] : o.items()) {
    if (std::find(known.begin(), known.end(), k) == known.end()) {
      std::string list;
      for (const auto& n : known) list += (list.empty() ? "" : ", ") + std::string(n);
      return bad(code::unknown_parameter, f.empty() ? k : f + "." + k, "unknown field; expected one of: " + list);
    }
  }
  return std::nullopt;
}

std::optional<request_error> string_field(const json& o, const char* key, const std::string& f, std::string& out) {
  const auto it = o.find(key);
  if (it == o.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) return bad(code::invalid_parameter_value, f, "expected a string, found " + it->dump());
  out = it->get<std::string>();
  return std::nullopt;
}

std::variant<std::vector<request_rule>, request_error> from_permissions(const json& perms) {
  std::vector<request_rule> out;
  if (!perms.is_array() || perms.empty()) {
    return bad(code::invalid_parameter_value, "IpPermissions", "expected a non-empty array of permissions");
  }
  struct peer_kind {
    const char* list;
    const char* field;
    const char* file_key;
  };
  static constexpr std::array<peer_kind, 4> peers{{{"IpRanges", "CidrIp", "cidr"},
                                                   {"Ipv6Ranges", "CidrIpv6", "cidr"},
                                                   {"PrefixListIds", "PrefixListId", "prefix_list"},
                                                   {"UserIdGroupPairs", "GroupId", "security_group"}}};
  for (std::size_t i = 0; i < perms.size(); ++i) {
    const json& p = perms[i];
    const std::string pf = "IpPermissions[" + std::to_string(i) + "]";
    if (auto e = check_keys(
            p, pf,
            {"IpProtocol", "FromPort", "ToPort", "IpRanges", "Ipv6Ranges", "PrefixListIds", "UserIdGroupPairs"})) {
      return *e;
    }
    if (!p.contains("IpProtocol"))
      return bad(code::missing_parameter, pf + ".IpProtocol", "a permission needs IpProtocol");
    toml::table base;
    if (auto e = put_protocol(base, p["IpProtocol"], pf + ".IpProtocol")) return *e;
    std::optional<request_error> err;
    const auto from = integer_field(p, "FromPort", pf + ".FromPort", err);
    const auto to = integer_field(p, "ToPort", pf + ".ToPort", err);
    if (err) return *err;
    std::map<std::string, std::string> keys{{"protocol", pf + ".IpProtocol"}};
    switch (kind_of(*base.get("protocol"))) {
      case port_kind::ports:
        if (from || to) {
          put_ports(base, from.value_or(to.value_or(0)), to.value_or(from.value_or(0)));
          keys["ports"] = pf + (from ? ".FromPort" : ".ToPort");
        }
        break;
      case port_kind::icmp:
        // The cloud's ICMP fields: FromPort is the type, ToPort the code; -1 all.
        if (from && *from != -1) base.insert("icmp_type", *from);
        if (to && *to != -1) base.insert("icmp_code", *to);
        keys["icmp_type"] = pf + ".FromPort";
        keys["icmp_code"] = pf + ".ToPort";
        break;
      case port_kind::none:
        break;
    }
    std::size_t peers_seen = 0;
    for (const peer_kind& pk : peers) {
      const auto it = p.find(pk.list);
      if (it == p.end()) continue;
      const std::string lf = pf + "." + pk.list;
      if (!it->is_array()) return bad(code::invalid_parameter_value, lf, "expected an array, found " + it->dump());
      for (std::size_t j = 0; j < it->size(); ++j) {
        const json& e = (*it)[j];
        const std::string ef = lf + "[" + std::to_string(j) + "]";
        if (auto ke = check_keys(e, ef, {pk.field, "Description"})) return *ke;
        std::string value;
        std::string description;
        if (auto se = string_field(e, pk.field, ef + "." + pk.field, value)) return *se;
        if (auto se = string_field(e, "Description", ef + ".Description", description)) return *se;
        if (!e.contains(pk.field)) return bad(code::missing_parameter, ef + "." + pk.field, "missing");
        request_rule r;
        r.table = base;
        r.table.insert(pk.file_key, value);
        if (!description.empty()) r.table.insert("description", description);
        r.field = ef;
        r.keys = keys;
        r.keys[pk.file_key] = ef + "." + pk.field;
        r.keys["description"] = ef + ".Description";
        out.push_back(std::move(r));
        ++peers_seen;
      }
    }
    if (peers_seen == 0) {
      return bad(code::missing_parameter, pf,
                 "a permission needs a peer: IpRanges, Ipv6Ranges, PrefixListIds or UserIdGroupPairs");
    }
  }
  return out;
}

std::variant<std::vector<request_rule>, request_error> from_shorthand(const json& req) {
  request_rule r;
  if (!req.contains("Protocol")) return bad(code::missing_parameter, "Protocol", "give --protocol or --ip-permissions");
  if (auto e = put_protocol(r.table, req["Protocol"], "Protocol")) return *e;
  r.keys = {{"protocol", "Protocol"},
            {"ports", "Port"},
            {"icmp_type", "IcmpType"},
            {"icmp_code", "IcmpCode"},
            {"cidr", "Cidr"},
            {"security_group", "SourceGroup"},
            {"prefix_list", "PrefixListId"},
            {"description", "Description"},
            {"id", "RuleId"}};
  const json& proto = req["Protocol"];
  const std::string proto_text = proto.is_string() ? proto.get<std::string>() : proto.dump();
  const bool icmp = proto_text == "icmp" || proto_text == "icmpv6" || proto_text == "1" || proto_text == "58";
  const bool all = proto_text == "all" || proto_text == "-1";
  const auto port = req.find("Port");
  const bool port_all = port != req.end() && ((port->is_number_integer() && port->get<std::int64_t>() == -1) ||
                                              (port->is_string() && port->get<std::string>() == "-1"));
  if (port != req.end() && icmp && !port_all) {
    // As the AWS CLI: for ICMP, --port is the type, or TYPE-CODE.
    if (req.contains("IcmpType") || req.contains("IcmpCode")) {
      return bad(code::invalid_parameter_combination, "Port",
                 "for ICMP give --port TYPE[-CODE] or --icmp-type/--icmp-code, not both");
    }
    std::int64_t type = -1;
    std::int64_t icmp_code = -1;
    bool ok = false;
    if (port->is_number_integer()) {
      type = port->get<std::int64_t>();
      ok = true;
    } else if (port->is_string()) {
      const std::string t = port->get<std::string>();
      const auto dash = t.find('-', 1);
      try {
        std::size_t used = 0;
        type = std::stoll(t.substr(0, dash), &used);
        ok = used == t.substr(0, dash).size();
        if (ok && dash != std::string::npos) {
          icmp_code = std::stoll(t.substr(dash + 1), &used);
          ok = used == t.size() - dash - 1;
        }
      } catch (const std::exception&) {
        ok = false;
      }
    }
    if (!ok) return bad(code::invalid_parameter_value, "Port", "for ICMP, --port is TYPE, TYPE-CODE or -1 (all)");
    r.keys["icmp_type"] = "Port";
    r.keys["icmp_code"] = "Port";
    if (type != -1) r.table.insert("icmp_type", type);
    if (icmp_code != -1) r.table.insert("icmp_code", icmp_code);
  } else if (port != req.end() && (icmp || all) && port_all) {
    // -1: every type and code, every port: nothing to match on.
  } else if (const auto it = port; it != req.end()) {
    // "22", "1000-2000", "-1" (all), or an integer.
    if (it->is_number_integer()) {
      const std::int64_t p = it->get<std::int64_t>();
      if (p == -1) {
        r.table.insert("ports", "all");
      } else {
        r.table.insert("ports", p);
      }
    } else if (it->is_string()) {
      const std::string s = it->get<std::string>();
      if (s == "-1") {
        r.table.insert("ports", "all");
      } else if (!s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); }) &&
                 s.size() <= 6) {
        r.table.insert("ports", std::stoll(s));
      } else {
        r.table.insert("ports", s);
      }
    } else {
      return bad(code::invalid_parameter_value, "Port", "expected a port, a range or -1, found " + it->dump());
    }
  }
  std::optional<request_error> err;
  const auto type = integer_field(req, "IcmpType", "IcmpType", err);
  const auto icmp_code = integer_field(req, "IcmpCode", "IcmpCode", err);
  if (err) return *err;
  if (type && *type != -1) r.table.insert("icmp_type", *type);
  if (icmp_code && *icmp_code != -1) r.table.insert("icmp_code", *icmp_code);
  std::size_t peers = 0;
  for (const auto& [field, key] : {std::pair{"Cidr", "cidr"}, std::pair{"SourceGroup", "security_group"},
                                   std::pair{"PrefixListId", "prefix_list"}}) {
    std::string v;
    if (auto e = string_field(req, field, field, v)) return *e;
    if (req.contains(field)) {
      r.table.insert(key, v);
      ++peers;
    }
  }
  if (peers != 1) {
    return bad(peers == 0 ? code::missing_parameter : code::invalid_parameter_combination, "Cidr",
               "a rule needs exactly one peer: --cidr, --source-group or --prefix-list-id");
  }
  std::string description;
  if (auto e = string_field(req, "Description", "Description", description)) return *e;
  if (!description.empty()) r.table.insert("description", description);
  std::string id;
  if (auto e = string_field(req, "RuleId", "RuleId", id)) return *e;
  if (req.contains("RuleId")) r.table.insert("id", id);
  return std::vector<request_rule>{std::move(r)};
}

}  // namespace

std::variant<std::vector<request_rule>, request_error> rules_of_request(const json& request) {
  const bool perms = request.contains("IpPermissions");
  const bool shorthand = request.contains("Protocol");
  if (perms && shorthand) {
    return bad(code::invalid_parameter_combination, "IpPermissions",
               "give either IpPermissions or the shorthand (Protocol, Port, Cidr ...), not both");
  }
  if (perms) return from_permissions(request["IpPermissions"]);
  return from_shorthand(request);
}

std::string request_field(const request_rule& r, const std::string& table_path, const std::string& key_path) {
  if (key_path.rfind(table_path, 0) != 0) return key_path;
  std::string rest = key_path.substr(table_path.size());
  if (rest.empty()) return r.field;
  if (rest.front() == '.') rest.erase(0, 1);
  const std::string key = rest.substr(0, rest.find_first_of(".["));
  const auto it = r.keys.find(key);
  if (it == r.keys.end()) return r.field.empty() ? key : r.field;
  return it->second + rest.substr(key.size());
}

}  // namespace sgfw::cp
