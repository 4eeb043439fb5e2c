#include "config/rule_reader.hpp"

#include <algorithm>
#include <sstream>

#include "config/address_text.hpp"
#include "config/rule_text.hpp"

namespace sgfw::config {

std::optional<protocol_spec> rule_reader::parse_protocol(const toml::node& n, const std::string& key) {
  static constexpr std::string_view expected = "tcp, udp, icmp, icmpv6, all, -1 or a protocol number 0-255";
  std::int64_t number = 0;
  if (n.is_integer()) {
    number = n.as_integer()->get();
  } else if (n.is_string()) {
    const std::string s = lower(n.as_string()->get());
    if (s == "tcp") return protocol_spec{false, ip_proto::tcp};
    if (s == "udp") return protocol_spec{false, ip_proto::udp};
    if (s == "icmp") return protocol_spec{false, ip_proto::icmp};
    if (s == "icmpv6") return protocol_spec{false, ip_proto::icmpv6};
    if (s == "all") return protocol_spec{true, 0};
    std::istringstream in(s);
    if (s.empty() || !(in >> number) || !in.eof()) {
      in_.error(pos_of(n), key,
                "unknown protocol " + quoted(n.as_string()->get()) + "; expected " + std::string(expected));
      return std::nullopt;
    }
  } else {
    in_.wrong_type(n, key, expected);
    return std::nullopt;
  }
  if (number == -1) return protocol_spec{true, 0};
  if (number < 0 || number > 255) {
    in_.error(pos_of(n), key,
              "protocol number " + std::to_string(number) + " is out of range; expected " + std::string(expected));
    return std::nullopt;
  }
  return protocol_spec{false, static_cast<std::uint8_t>(number)};
}

std::optional<port_range> rule_reader::parse_port_item(const toml::node& n, const std::string& key) {
  static constexpr std::string_view expected = "a port 0-65535, a range such as \"1024-65535\", or \"all\"";
  auto port = [&](std::int64_t v) -> std::optional<std::uint16_t> {
    if (v < 0 || v > 65535) {
      in_.error(pos_of(n), key, "port " + std::to_string(v) + " is out of range; expected 0-65535");
      return std::nullopt;
    }
    return static_cast<std::uint16_t>(v);
  };
  if (n.is_integer()) {
    auto p = port(n.as_integer()->get());
    if (!p) return std::nullopt;
    return port_range{*p, *p};
  }
  if (!n.is_string()) {
    in_.wrong_type(n, key, expected);
    return std::nullopt;
  }
  const std::string& s = n.as_string()->get();
  if (lower(s) == "all") return port_range{0, 65535};
  std::int64_t a = 0;
  std::int64_t b = 0;
  char dash = 0;
  std::istringstream in(s);
  if (!(in >> a)) {
    in_.error(pos_of(n), key, quoted(s) + " is not a port; expected " + std::string(expected));
    return std::nullopt;
  }
  if (in.eof()) {
    b = a;
  } else if (!(in >> dash >> b) || dash != '-' || !in.eof()) {
    in_.error(pos_of(n), key, quoted(s) + " is not a port range; expected " + std::string(expected));
    return std::nullopt;
  }
  auto first = port(a);
  auto last = port(b);
  if (!first || !last) return std::nullopt;
  if (*first > *last) {
    in_.error(pos_of(n), key,
              "port range " + s + " is reversed; expected first <= last, e.g. \"" + std::to_string(*last) + "-" +
                  std::to_string(*first) + "\"");
    return std::nullopt;
  }
  return port_range{*first, *last};
}

std::optional<std::vector<port_range>> rule_reader::parse_ports(const toml::node& n, const std::string& key) {
  std::vector<port_range> out;
  bool ok = true;
  if (const toml::array* arr = n.as_array()) {
    if (arr->empty()) {
      in_.error(pos_of(n), key, "empty port list; expected at least one port or range");
      return std::nullopt;
    }
    for (std::size_t i = 0; i < arr->size(); ++i) {
      if (auto p = parse_port_item(*arr->get(i), with_index(key, i))) {
        out.push_back(*p);
      } else {
        ok = false;
      }
    }
  } else if (auto p = parse_port_item(n, key)) {
    out.push_back(*p);
  } else {
    ok = false;
  }
  if (!ok) return std::nullopt;
  std::sort(out.begin(), out.end(), [](const port_range& a, const port_range& b) {
    return std::pair(a.first, a.last) < std::pair(b.first, b.last);
  });
  for (std::size_t i = 1; i < out.size(); ++i) {
    if (out[i].first <= out[i - 1].last) {
      in_.error(pos_of(n), key, "ports overlap: " + std::to_string(out[i].first) + " is listed twice");
      return std::nullopt;
    }
  }
  return out;
}

std::optional<int> rule_reader::parse_icmp_field(const toml::node& n, const std::string& key, std::string_view name) {
  if (n.is_string() && lower(n.as_string()->get()) == "all") return k_icmp_any;
  if (!n.is_integer()) {
    in_.wrong_type(n, key, "an integer 0-255, or -1 / \"all\"");
    return std::nullopt;
  }
  const std::int64_t v = n.as_integer()->get();
  if (v == -1) return k_icmp_any;
  if (v < 0 || v > 255) {
    in_.error(pos_of(n), key,
              std::string(name) + " " + std::to_string(v) +
                  " is out of range; expected 0-255, or -1 / \"all\" for every " +
                  std::string(name == "icmp_type" ? "type" : "code"));
    return std::nullopt;
  }
  return static_cast<int>(v);
}

std::vector<std::string> rule_reader::group_ids() const {
  std::vector<std::string> ids;
  for (const auto& g : model_.groups) ids.push_back(g.id);
  if (!model_.find_group(k_default_group_id)) ids.emplace_back(k_default_group_id);
  return ids;
}

std::optional<std::uint32_t> rule_reader::resolve_group(std::string_view id) {
  if (indexed_groups_ != model_.groups.size()) {
    // Built again when a group was added (groups are only appended, and
    // their ids are read before any rule or resource names one).
    group_index_.clear();
    for (std::uint32_t g = 0; g < model_.groups.size(); ++g) {
      group_index_.emplace(std::hash<std::string_view>{}(model_.groups[g].id), g);
    }
    indexed_groups_ = model_.groups.size();
  }
  // The first group of that id, as find_group() gives.
  std::optional<std::uint32_t> first;
  const auto [from, to] = group_index_.equal_range(std::hash<std::string_view>{}(id));
  for (auto it = from; it != to; ++it) {
    if (model_.groups[it->second].id == id && (!first || it->second < *first)) first = it->second;
  }
  if (first) return first;
  if (id == k_default_group_id) return model_.default_group();
  return std::nullopt;
}

std::optional<peer> rule_reader::parse_peer(const toml::table& t, const std::string& path, const protocol_spec& proto) {
  std::vector<std::string_view> present;
  for (std::string_view k : {"cidr", "prefix_list", "security_group"}) {
    if (t.contains(k)) present.push_back(k);
  }
  if (present.empty()) {
    in_.error(pos_of(t), path, "a rule needs exactly one peer; expected one of cidr, prefix_list or security_group",
              code::missing_parameter);
    return std::nullopt;
  }
  if (present.size() > 1) {
    in_.error(pos_of(*t.get(present[1])), with_key(path, present[1]),
              "a rule has exactly one peer, found both " + std::string(present[0]) + " and " + std::string(present[1]) +
                  "; write two rules instead",
              code::invalid_parameter_combination);
    return std::nullopt;
  }
  const std::string_view kind = present[0];
  const std::string key = with_key(path, kind);
  const toml::node& n = *t.get(kind);
  if (!n.is_string()) {
    in_.wrong_type(n, key, kind == "cidr" ? "a CIDR block such as \"10.0.0.0/8\"" : "an id string");
    return std::nullopt;
  }
  const std::string& text = n.as_string()->get();

  // ICMP has one protocol number per family: a rule for icmp can only
  // match IPv4 peers, one for icmpv6 only IPv6 peers.
  auto family_fits = [&](net::family f) {
    if (proto.is(ip_proto::icmp) && f == net::family::ipv6) {
      in_.error(pos_of(n), key,
                "protocol icmp matches IPv4 only, but " + quoted(text) + " is IPv6; use protocol = \"icmpv6\"",
                code::invalid_parameter_combination);
      return false;
    }
    if (proto.is(ip_proto::icmpv6) && f == net::family::ipv4) {
      in_.error(pos_of(n), key,
                "protocol icmpv6 matches IPv6 only, but " + quoted(text) + " is IPv4; use protocol = \"icmp\"",
                code::invalid_parameter_combination);
      return false;
    }
    return true;
  };

  if (kind == "cidr") {
    auto parsed = parse_cidr(text);
    if (auto* err = std::get_if<text_error>(&parsed)) {
      in_.error(pos_of(n), key, err->message);
      return std::nullopt;
    }
    const auto c = std::get<net::cidr>(parsed);
    if (!family_fits(c.fam())) return std::nullopt;
    return peer{c};
  }
  if (kind == "prefix_list") {
    auto idx = model_.find_prefix_list(text);
    if (!idx) {
      std::vector<std::string> ids;
      for (const auto& pl : model_.prefix_lists) ids.push_back(pl.id);
      const std::string guess = closest(text, ids);
      in_.error(pos_of(n), key,
                "unknown prefix list " + quoted(text) +
                    (guess.empty() ? "; define it with [[prefix_list]]" : "; did you mean " + quoted(guess) + "?"),
                code::prefix_list_not_found);
      return std::nullopt;
    }
    if (!family_fits(model_.prefix_lists[*idx].fam)) return std::nullopt;
    return peer{prefix_list_ref{*idx}};
  }
  auto idx = resolve_group(text);
  if (!idx) {
    const std::string guess = closest(text, group_ids());
    in_.error(pos_of(n), key,
              "unknown security group " + quoted(text) +
                  (guess.empty() ? "; define it with [[security_group]]" : "; did you mean " + quoted(guess) + "?"),
              code::group_not_found);
    return std::nullopt;
  }
  return peer{group_ref{*idx}};
}

std::optional<rule> rule_reader::load_rule(const toml::table& t, const std::string& path, direction dir) {
  in_.check_keys(
      t, path,
      {"id", "protocol", "ports", "icmp_type", "icmp_code", "cidr", "prefix_list", "security_group", "description"});
  rule r;
  r.dir = dir;
  r.pos = pos_of(t);
  bool ok = true;

  if (const toml::node* n = t.get("id")) {
    if (!n->is_string()) {
      in_.wrong_type(*n, with_key(path, "id"), "a rule id string");
      ok = false;
    } else {
      r.id = n->as_string()->get();  // its form is validate()'s
      r.derived_id = false;
    }
  }
  r.description = in_.get_string(t, "description", path, false).value_or("");

  const toml::node* pn = t.get("protocol");
  if (pn == nullptr) {
    in_.error(r.pos, with_key(path, "protocol"),
              "missing required key 'protocol'; expected tcp, udp, icmp, icmpv6, all, -1 or a protocol number 0-255",
              code::missing_parameter);
    return std::nullopt;
  }
  auto proto = parse_protocol(*pn, with_key(path, "protocol"));
  if (!proto) return std::nullopt;
  r.protocol = *proto;
  const std::string proto_name = describe_protocol(r.protocol);

  const toml::node* ports = t.get("ports");
  const toml::node* type = t.get("icmp_type");
  const toml::node* code = t.get("icmp_code");
  if (r.protocol.has_ports()) {
    if (ports == nullptr) {
      in_.error(r.pos, with_key(path, "ports"),
                "missing required key 'ports' for protocol " + proto_name +
                    "; expected a port, a range such as \"1024-65535\", a list, or \"all\"",
                code::missing_parameter);
      ok = false;
    } else if (auto p = parse_ports(*ports, with_key(path, "ports"))) {
      r.ports = std::move(*p);
    } else {
      ok = false;
    }
  } else if (ports != nullptr) {
    if (r.protocol.is_icmp()) {
      in_.error(
          pos_of(*ports), with_key(path, "ports"),
          "ports are only valid for tcp and udp; protocol " + proto_name + " is matched with icmp_type and icmp_code",
          code::invalid_parameter_combination);
      ok = false;
    } else {
      // S2: for other protocols every port matches, as in the cloud, which
      // accepts and ignores a port range there.
      in_.warning(pos_of(*ports), with_key(path, "ports"),
                  "ignored: protocol " + proto_name + " has no ports, so every port matches");
    }
  }
  for (const auto& [node, name] : {std::pair{type, "icmp_type"}, std::pair{code, "icmp_code"}}) {
    if (node != nullptr && !r.protocol.is_icmp()) {
      in_.error(pos_of(*node), with_key(path, name),
                std::string(name) + " is only valid for protocol icmp or icmpv6, not " + proto_name,
                code::invalid_parameter_combination);
      ok = false;
    }
  }
  if (r.protocol.is_icmp()) {
    if (type != nullptr) {
      auto v = parse_icmp_field(*type, with_key(path, "icmp_type"), "icmp_type");
      ok = ok && v.has_value();
      r.icmp_type = v.value_or(k_icmp_any);
    }
    if (code != nullptr) {
      auto v = parse_icmp_field(*code, with_key(path, "icmp_code"), "icmp_code");
      ok = ok && v.has_value();
      r.icmp_code = v.value_or(k_icmp_any);
      if (v && *v != k_icmp_any && type == nullptr) {
        in_.error(pos_of(*code), with_key(path, "icmp_code"), "icmp_code needs an icmp_type",
                  code::invalid_parameter_combination);
        ok = false;
      } else if (v && *v != k_icmp_any && r.icmp_type == k_icmp_any && type != nullptr) {
        in_.error(pos_of(*code), with_key(path, "icmp_code"),
                  "icmp_type \"all\" needs icmp_code \"all\"; found code " + std::to_string(*v),
                  code::invalid_parameter_combination);
        ok = false;
      }
    }
  }

  auto remote = parse_peer(t, path, r.protocol);
  if (!remote) return std::nullopt;
  r.remote = *remote;
  if (!ok) return std::nullopt;
  return r;
}

}  // namespace sgfw::config
