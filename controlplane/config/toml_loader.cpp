#include "config/toml_loader.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <map>

#include "config/address_text.hpp"
#include "config/boot_reader.hpp"
#include "config/rule_reader.hpp"
#include "config/timeout_keys.hpp"
#include "config/toml_reader.hpp"
#include "config/validation.hpp"

namespace sgfw::config {

namespace {

// The policy's reader: the file's tables into the model, each part's place
// recorded so that the model's findings (validation.hpp) can be reported
// at file:line:column.
class loader : public toml_reader {
 public:
  loader(std::string file, bool model_places)
      : toml_reader(std::move(file)), model_places_(model_places), rules_(*this, model_) {
    model_.source_file = file_;
  }

  load_result run(std::string_view text) {
    toml::table root;
    try {
      root = toml::parse(text, file_);
    } catch (const toml::parse_error& e) {
      error(pos_of(e.source()), "", "TOML syntax error: " + std::string(e.description()), code::invalid_syntax);
      return finish();
    }
    return read(root);
  }

  // Where a document kept apart its groups' tables (the control API's,
  // control/policy_document.hpp), and what may be taken from the policy
  // it replaces; both outlive the read.
  void groups_from(const std::vector<const toml::table*>& tables, const group_reuse& reuse) {
    group_tables_ = &tables;
    reuse_ = &reuse;
  }

  load_result read(const toml::table& root) {
    check_keys(root, "", {"limits", "appliance", "prefix_list", "security_group", "resource"});
    if (const toml::node* r = root.get("resource")) {
      model_.explicitly_empty = r->is_array() && r->as_array()->empty();
    }
    load_limits(root);
    load_appliance(root);  // before resources: their timeouts start from the appliance's
    load_prefix_lists(root);
    const auto group_tables = collect_groups(root);
    load_group_rules(group_tables);
    load_resources(root);
    // The cloud's rules run on the model, as for every other source; the
    // reader only says where in the file each finding is.
    normalise(model_, &reused_);
    for (const finding& f : validate(model_, &reused_)) {
      located at = locate(f.where);
      std::string message = f.message;
      if (f.other) {
        if (const auto brace = message.find("{}"); brace != std::string::npos) {
          message.replace(
              brace, 2,
              model_places_ ? field_path(model_, *f.other) : "line " + std::to_string(locate(*f.other).pos.line));
        }
      }
      // A document the control API made has no lines a user wrote: the
      // model's own path names the place (security_group[web].ingress[2]).
      if (model_places_) at.key = field_path(model_, f.where);
      report(f.error ? severity::error : severity::warning, at.pos, at.key, std::move(message), f.code);
    }
    return finish();
  }

 private:
  // --- diagnostics -------------------------------------------------------

  // --- where the model's parts are in the file ------------------------------

  struct located {
    source_pos pos;
    std::string key;
  };
  struct resource_places {
    source_pos name, mac, groups;
    std::vector<located> addresses;    // one per address in the model
    std::vector<located> group_items;  // one per listed group in the model
  };
  std::vector<source_pos> group_id_pos_;        // by group index; the implicit default group has none
  std::vector<source_pos> prefix_list_id_pos_;  // by prefix-list index
  std::vector<source_pos> prefix_entries_pos_;
  std::vector<resource_places> resource_places_;  // by resource index

  static source_pos at(const std::vector<source_pos>& v, std::uint32_t i, source_pos fallback) {
    return i < v.size() && v[i].line != 0 ? v[i] : fallback;
  }

  located locate(const model_place& p) const {
    using kind = model_place::kind;
    const std::string dir(to_string(p.dir));
    switch (p.what) {
      case kind::group_id:
        return {at(group_id_pos_, p.index, model_.groups[p.index].pos), with_index("security_group", p.index) + ".id"};
      case kind::group_rules:
        return {model_.groups[p.index].pos, "security_group." + model_.groups[p.index].id + "." + dir};
      case kind::rule:
        return {model_.groups[p.index].rules(p.dir)[p.item].pos, with_index("security_group", p.index) + "." + dir};
      case kind::rule_id:
        return {model_.groups[p.index].rules(p.dir)[p.item].pos,
                "security_group." + model_.groups[p.index].id + "." + dir + ".id"};
      case kind::prefix_list_id:
        return {at(prefix_list_id_pos_, p.index, model_.prefix_lists[p.index].pos),
                with_index("prefix_list", p.index) + ".id"};
      case kind::prefix_list_entries:
        return {at(prefix_entries_pos_, p.index, model_.prefix_lists[p.index].pos),
                with_index("prefix_list", p.index) + ".entries"};
      default:
        break;
    }
    const resource_places& rp = resource_places_[p.index];
    const source_pos res = model_.resources[p.index].pos;
    const std::string path = with_index("resource", p.index);
    switch (p.what) {
      case kind::resource_name:
        return {rp.name.line != 0 ? rp.name : res, path + ".name"};
      case kind::resource_address:
        if (p.item < rp.addresses.size()) return rp.addresses[p.item];
        return {res, path + ".addresses"};
      case kind::resource_mac:
        return {rp.mac.line != 0 ? rp.mac : res, path + ".mac"};
      case kind::resource_groups:
        return {rp.groups.line != 0 ? rp.groups : res, path + ".security_groups"};
      case kind::resource_group:
        if (p.item < rp.group_items.size()) return rp.group_items[p.item];
        return {res, path + ".security_groups"};  // the default group, for a resource that names none
      default:
        return {res, path};
    }
  }

  load_result finish() {
    std::stable_sort(diags_.begin(), diags_.end(), [](const diagnostic& a, const diagnostic& b) {
      return std::pair(a.pos.line, a.pos.column) < std::pair(b.pos.line, b.pos.column);
    });
    load_result r;
    r.diagnostics = std::move(diags_);
    r.boot = boot_;
    if (!has_errors(r.diagnostics)) r.model = std::move(model_);
    return r;
  }

  // --- top-level tables ---------------------------------------------------

  void load_limits(const toml::table& root) {
    const toml::node* n = root.get("limits");
    if (n == nullptr) return;
    if (!n->is_table()) return wrong_type(*n, "limits", "a table");
    const toml::table& t = *n->as_table();
    check_keys(t, "limits", {"groups_per_resource", "ingress_rules_per_group", "egress_rules_per_group"});
    limits& q = model_.quota;
    if (auto v = get_integer(t, "groups_per_resource", "limits", 1, k_max_groups_per_resource)) {
      q.groups_per_resource = static_cast<std::uint32_t>(*v);
    }
    if (auto v = get_integer(t, "ingress_rules_per_group", "limits", 1, k_max_rules_per_group)) {
      q.ingress_rules_per_group = static_cast<std::uint32_t>(*v);
    }
    if (auto v = get_integer(t, "egress_rules_per_group", "limits", 1, k_max_rules_per_group)) {
      q.egress_rules_per_group = static_cast<std::uint32_t>(*v);
    }
  }

  // Timeouts in seconds (S7), each within its range; `per_resource_only`
  // limits the keys to those the cloud lets one set per interface.
  void load_timeouts(const toml::table& t, const std::string& path, flow_timeouts& out, bool per_resource_only) {
    std::vector<std::string> keys;
    for (const auto& r : k_timeout_keys) {
      if (!per_resource_only || r.per_resource) keys.emplace_back(r.key);
    }
    for (auto&& [k, v] : t) {
      if (std::find(keys.begin(), keys.end(), k.str()) != keys.end()) continue;
      const std::string guess = closest(k.str(), keys);
      error(pos_of(k.source()), with_key(path, k.str()),
            "unknown timeout " + quoted(k.str()) +
                (guess.empty() ? "; expected one of: " + join(keys) : "; did you mean " + quoted(guess) + "?"));
    }
    for (std::size_t i = 0; i < timeout_class_count; ++i) {
      const timeout_key& r = k_timeout_keys[i];
      if (per_resource_only && !r.per_resource) continue;
      if (auto v = get_integer(t, r.key, path, r.min_seconds, r.max_seconds)) {
        out.seconds[i] = static_cast<std::uint32_t>(*v);
      }
    }
  }

  // The appliance's own settings (docs/configuration.md).
  void load_appliance(const toml::table& root) {
    const toml::node* n = root.get("appliance");
    if (n == nullptr) return;
    if (!n->is_table()) return wrong_type(*n, "appliance", "a table");
    const toml::table& t = *n->as_table();
    const std::string path = "appliance";
    check_keys(t, path,
               {"icmp_errors", "unprotected_traffic", "other_ethertypes", "arp_nd", "ra_guard", "midstream",
                "forward_multicast", "conntrack", "timeouts", "workers", "cores", "main_core", "watch",
                "status_interval", "ports", "eal", "control", "metrics", "established_flows"});
    appliance_settings& a = model_.appliance;
    read_boot(*this, t, path, boot_);
    if (auto v = get_choice(t, "icmp_errors", path, "related", "rules-only")) a.icmp_errors_related = *v;
    if (auto v = get_choice(t, "unprotected_traffic", path, "forward", "drop")) a.unprotected_forward = *v;
    if (auto v = get_choice(t, "other_ethertypes", path, "forward", "drop")) a.other_ethertypes_forward = *v;
    if (auto v = get_choice(t, "arp_nd", path, "pass", "drop")) a.arp_nd_pass = *v;
    if (auto v = get_bool(t, "ra_guard", path)) a.ra_guard = *v;
    if (auto v = get_choice(t, "midstream", path, "adopt", "drop")) a.adopt_midstream = *v;
    if (auto v = get_choice(t, "established_flows", path, "revalidate", "keep")) {
      a.established_flows = *v ? established_flows_mode::revalidate : established_flows_mode::keep;
    }
    load_forward_multicast(t, path, a);
    if (const toml::table* ct = sub_table(t, "conntrack", path)) {
      const std::string cpath = with_key(path, "conntrack");
      check_keys(*ct, cpath,
                 {"max_flows", "max_flows_per_resource", "early_drop", "flow_counters", "fragment_timeout",
                  "max_fragmented_datagrams"});
      read_boot_conntrack(*this, *ct, cpath, boot_);
      if (auto v = get_integer(*ct, "max_flows_per_resource", cpath, 1, std::int64_t{1} << 28)) {
        a.max_flows_per_resource = static_cast<std::uint32_t>(*v);
      }
    }
    if (const toml::table* tt = sub_table(t, "timeouts", path))
      load_timeouts(*tt, with_key(path, "timeouts"), a.timeouts, false);
  }

  // S9: broadcast and multicast destinations that are forwarded as they
  // are (CIDR blocks within 224.0.0.0/4 or ff00::/8, or the IPv4 limited
  // broadcast 255.255.255.255/32).
  void load_forward_multicast(const toml::table& t, const std::string& path, appliance_settings& a) {
    const toml::node* n = t.get("forward_multicast");
    if (n == nullptr) return;
    const std::string k = with_key(path, "forward_multicast");
    const toml::array* arr = n->as_array();
    if (arr == nullptr)
      return wrong_type(*n, k, "an array of CIDR blocks such as [\"224.0.0.251/32\", \"ff02::fb/128\"]");
    for (std::size_t i = 0; i < arr->size(); ++i) {
      const toml::node& e = *arr->get(i);
      const std::string ek = with_index(k, i);
      if (!e.is_string()) {
        wrong_type(e, ek, "a CIDR block string");
        continue;
      }
      auto parsed = parse_cidr(e.as_string()->get());
      if (auto* err = std::get_if<text_error>(&parsed)) {
        error(pos_of(e), ek, err->message);
        continue;
      }
      const net::cidr c = std::get<net::cidr>(parsed);
      const bool v4 = c.fam() == net::family::ipv4;
      const bool multicast =
          v4 ? (c.prefix >= 4 && (c.first() >> 28) == 0xE) : (c.prefix >= 8 && (c.first() >> 120) == 0xFF);
      const bool broadcast = v4 && c.prefix == 32 && c.first() == 0xFFFFFFFFU;
      if (!multicast && !broadcast) {
        error(pos_of(e), ek,
              quoted(e.as_string()->get()) +
                  " is not a multicast block; expected one within 224.0.0.0/4 or ff00::/8, or 255.255.255.255/32");
        continue;
      }
      a.forward_multicast.push_back(c);
    }
  }

  void load_prefix_lists(const toml::table& root) {
    for (const auto& [t, path] : tables_in(root, "prefix_list", "")) {
      check_keys(*t, path, {"id", "description", "address_family", "max_entries", "entries"});
      prefix_list pl;
      pl.pos = pos_of(*t);
      prefix_list_id_pos_.push_back(t->get("id") != nullptr ? pos_of(*t->get("id")) : pl.pos);
      prefix_entries_pos_.push_back(t->get("entries") != nullptr ? pos_of(*t->get("entries")) : pl.pos);
      if (auto id = get_string(*t, "id", path, true, "a prefix-list id such as \"pl-office\"")) pl.id = *id;
      pl.description = get_string(*t, "description", path, false).value_or("");

      std::optional<net::family> declared;
      if (auto fam = get_string(*t, "address_family", path, false, "\"IPv4\" or \"IPv6\"")) {
        const std::string f = lower(*fam);
        if (f == "ipv4") {
          declared = net::family::ipv4;
        } else if (f == "ipv6") {
          declared = net::family::ipv6;
        } else {
          error(pos_of(*t->get("address_family")), with_key(path, "address_family"),
                "unknown address family " + quoted(*fam) + "; expected \"IPv4\" or \"IPv6\"");
        }
      }

      load_prefix_list_entries(*t, path, pl, declared);

      const auto max = get_integer(*t, "max_entries", path, 1, k_max_prefix_list_entries);
      pl.max_entries = max ? static_cast<std::uint32_t>(*max)
                           : std::max<std::uint32_t>(1, static_cast<std::uint32_t>(pl.entries.size()));
      model_.prefix_lists.push_back(std::move(pl));
    }
  }

  void load_prefix_list_entries(const toml::table& t, const std::string& path, prefix_list& pl,
                                std::optional<net::family> declared) {
    const toml::node* n = t.get("entries");
    const std::string k = with_key(path, "entries");
    if (n == nullptr) {
      error(pos_of(t), k, "missing required key 'entries'; expected an array of CIDR blocks", code::missing_parameter);
      return;
    }
    const toml::array* arr = n->as_array();
    if (arr == nullptr) return wrong_type(*n, k, "an array of CIDR blocks");
    std::optional<std::pair<net::family, source_pos>> first;
    if (declared) first = {*declared, pos_of(*t.get("address_family"))};
    for (std::size_t i = 0; i < arr->size(); ++i) {
      const toml::node* e = arr->get(i);
      const std::string ek = with_index(k, i);
      const toml::node* value = e;
      std::string ekey = ek;
      if (const toml::table* et = e->as_table()) {  // { cidr = "...", description = "..." }
        check_keys(*et, ek, {"cidr", "description"});
        get_string(*et, "description", ek, false);
        value = et->get("cidr");
        ekey = with_key(ek, "cidr");
        if (value == nullptr) {
          error(pos_of(*et), ekey, "missing required key 'cidr'; expected a CIDR block", code::missing_parameter);
          continue;
        }
      }
      if (!value->is_string()) {
        wrong_type(*value, ekey, "a CIDR block such as \"192.0.2.0/24\"");
        continue;
      }
      auto parsed = parse_cidr(value->as_string()->get());
      if (auto* err = std::get_if<text_error>(&parsed)) {
        error(pos_of(*value), ekey, err->message);
        continue;
      }
      const net::cidr c = std::get<net::cidr>(parsed);
      if (!first) {
        first = {c.fam(), pos_of(*value)};
      } else if (c.fam() != first->first) {
        error(pos_of(*value), ekey,
              to_string(c) + " is " + std::string(to_string(c.fam())) + " but the list is " +
                  std::string(to_string(first->first)) + " (line " + std::to_string(first->second.line) +
                  "); a prefix list holds one address family",
              code::invalid_parameter_combination);
        continue;
      }
      if (std::find(pl.entries.begin(), pl.entries.end(), c) != pl.entries.end()) {
        error(pos_of(*value), ekey, "duplicate entry " + to_string(c));
        continue;
      }
      pl.entries.push_back(c);
    }
    if (first) {
      pl.fam = first->first;
    } else {
      error(pos_of(*n), k, "an empty prefix list needs address_family = \"IPv4\" or \"IPv6\"");
    }
  }

  // Groups are read in two passes so that rules can reference groups defined
  // further down the file (or themselves).
  std::vector<std::pair<const toml::table*, std::string>> collect_groups(const toml::table& root) {
    std::vector<std::pair<const toml::table*, std::string>> tables;
    if (group_tables_ != nullptr) {
      for (std::size_t i = 0; i < group_tables_->size(); ++i) {
        tables.emplace_back((*group_tables_)[i], with_index("security_group", i));
      }
    } else {
      tables = tables_in(root, "security_group", "");
    }
    for (const auto& [t, path] : tables) {
      security_group g;
      g.pos = pos_of(*t);
      group_id_pos_.push_back(t->get("id") != nullptr ? pos_of(*t->get("id")) : g.pos);
      if (auto id = get_string(*t, "id", path, true, "a group id such as \"web\"")) g.id = *id;
      model_.groups.push_back(std::move(g));
    }
    return tables;
  }

  // Whether groups may be taken from reuse_->previous: everything a
  // group's reading and checks depend on besides its own table is as it
  // was then (group_reuse).  Groups and prefix lists are read by now.
  bool may_reuse(std::size_t tables) const {
    if (reuse_ == nullptr || reuse_->previous == nullptr || reuse_->tables.size() != tables) return false;
    const policy_model& was = *reuse_->previous;
    if (was.groups.size() < tables || model_.groups.size() < tables) return false;
    for (std::size_t g = 0; g < tables; ++g) {
      if (was.groups[g].id != model_.groups[g].id) return false;
    }
    if (was.prefix_lists.size() != model_.prefix_lists.size()) return false;
    for (std::size_t i = 0; i < was.prefix_lists.size(); ++i) {
      const prefix_list& a = was.prefix_lists[i];
      const prefix_list& b = model_.prefix_lists[i];
      if (a.id != b.id || a.fam != b.fam || a.max_entries != b.max_entries) return false;
    }
    const limits& q = was.quota;
    return q.groups_per_resource == model_.quota.groups_per_resource &&
           q.ingress_rules_per_group == model_.quota.ingress_rules_per_group &&
           q.egress_rules_per_group == model_.quota.egress_rules_per_group;
  }

  void load_group_rules(const std::vector<std::pair<const toml::table*, std::string>>& tables) {
    const bool reusing = may_reuse(tables.size());
    reusing_ = reusing;
    reused_.assign(tables.size(), false);
    for (std::size_t gi = 0; gi < tables.size(); ++gi) {
      const auto& [t, path] = tables[gi];
      if (reusing && t == reuse_->tables[gi]) {
        // The very table read last time: the group as read, normalised and checked then.
        model_.groups[gi] = reuse_->previous->groups[gi];
        reused_[gi] = true;
        continue;
      }
      check_keys(*t, path, {"id", "description", "ingress", "egress"});
      model_.groups[gi].description = get_string(*t, "description", path, false).value_or("");
      for (const direction d : {direction::ingress, direction::egress}) {
        const std::string_view key = to_string(d);
        for (const auto& [rt, rpath] : tables_in(*t, key, path)) {
          // Found again after each rule: a rule naming the implicit
          // `default` group adds it to model_.groups, which may move them.
          if (auto r = rules_.load_rule(*rt, rpath, d)) {
            security_group& g = model_.groups[gi];
            (d == direction::ingress ? g.ingress : g.egress).push_back(std::move(*r));
          }
        }
      }
      // `egress = []` declares that the group allows no outbound traffic;
      // no `egress` at all gets the cloud's allow-all (normalise()).
      model_.groups[gi].egress_declared = t->get("egress") != nullptr;
    }
  }

  // --- resources ------------------------------------------------------------

  // A resource's MAC address: "02:00:5e:10:00:01" (or with '-'), unicast,
  // not all zeros (one resource's only: validate()).
  void load_mac(const toml::table& t, const std::string& path, resource& res) {
    auto text = get_string(t, "mac", path, false, "a MAC address such as \"02:00:5e:10:00:01\"");
    if (!text) return;
    const std::string k = with_key(path, "mac");
    const source_pos p = pos_of(*t.get("mac"));
    std::uint64_t mac = 0;
    bool ok = text->size() == 17;
    for (std::size_t i = 0; ok && i < 17; ++i) {
      const char c = (*text)[i];
      if (i % 3 == 2) {
        ok = c == ':' || c == '-';
        continue;
      }
      const int v = std::isdigit(static_cast<unsigned char>(c)) != 0 ? c - '0'
                    : std::isxdigit(static_cast<unsigned char>(c)) != 0
                        ? std::tolower(static_cast<unsigned char>(c)) - 'a' + 10
                        : -1;
      ok = v >= 0;
      mac = (mac << 4) | static_cast<std::uint64_t>(v < 0 ? 0 : v);
    }
    if (!ok)
      return error(p, k, quoted(*text) + " is not a MAC address; expected six hex pairs such as 02:00:5e:10:00:01");
    if ((mac >> 40) & 1) return error(p, k, quoted(*text) + " is a group (multicast) address; expected a unicast MAC");
    if (mac == 0) return error(p, k, "00:00:00:00:00:00 is not an interface's address");
    res.mac = mac;
  }

  void load_resources(const toml::table& root) {
    if (reusing_ && reuse_->root == &root) {
      // The very tables read last time, and every group where it was (the
      // groups' ids in order; an implicit default group comes after them
      // either way): the resources as read, normalised and checked then.
      model_.resources = reuse_->previous->resources;
      resource_places_.resize(model_.resources.size());
      return;
    }
    for (const auto& [t, path] : tables_in(root, "resource", "")) {
      check_keys(*t, path,
                 {"name", "description", "addresses", "security_groups", "timeouts", "side", "mac", "max_flows",
                  "established_flows", "mode"});
      resource res;
      res.pos = pos_of(*t);
      resource_places& places = resource_places_.emplace_back();
      for (auto [key, at] : {std::pair{"name", &places.name}, std::pair{"mac", &places.mac},
                             std::pair{"security_groups", &places.groups}}) {
        if (const toml::node* n = t->get(key)) *at = pos_of(*n);
      }
      if (auto v = get_choice(*t, "side", path, "inside", "outside")) {
        res.side = *v ? port_side::inside : port_side::outside;
      }
      if (auto v = get_integer(*t, "max_flows", path, 1, std::int64_t{1} << 28)) {
        res.max_flows = static_cast<std::uint32_t>(*v);
      }
      if (auto v = get_choice(*t, "established_flows", path, "revalidate", "keep")) {
        res.established_flows = *v ? established_flows_mode::revalidate : established_flows_mode::keep;
      }
      if (auto v = get_choice(*t, "mode", path, "audit", "enforce")) res.audit = *v;
      res.timeouts = model_.appliance.timeouts;
      if (const toml::table* tt = sub_table(*t, "timeouts", path)) {
        load_timeouts(*tt, with_key(path, "timeouts"), res.timeouts, true);
      }
      if (auto name = get_string(*t, "name", path, true, "a resource name such as \"web-1\"")) res.name = *name;
      res.description = get_string(*t, "description", path, false).value_or("");
      load_mac(*t, path, res);
      load_addresses(*t, path, res, places);
      load_resource_groups(*t, path, res, places);
      model_.resources.push_back(std::move(res));
    }
  }

  void load_addresses(const toml::table& t, const std::string& path, resource& res, resource_places& places) {
    const std::string k = with_key(path, "addresses");
    const toml::node* n = t.get("addresses");
    if (n == nullptr) {
      error(pos_of(t), k, "missing required key 'addresses'; expected an array of IPv4/IPv6 addresses",
            code::missing_parameter);
      return;
    }
    std::vector<std::pair<const toml::node*, std::string>> items;
    if (const toml::array* arr = n->as_array()) {
      for (std::size_t i = 0; i < arr->size(); ++i) items.emplace_back(arr->get(i), with_index(k, i));
      if (arr->empty()) error(pos_of(*n), k, "a resource needs at least one address");
    } else {
      items.emplace_back(n, k);
    }
    for (const auto& [item, key] : items) {
      if (!item->is_string()) {
        wrong_type(*item, key, "an IP address string such as \"10.0.1.10\"");
        continue;
      }
      auto parsed = parse_address(item->as_string()->get());
      if (auto* err = std::get_if<text_error>(&parsed)) {
        error(pos_of(*item), key, err->message);
        continue;
      }
      res.addresses.push_back(std::get<net::ip_address>(parsed));  // one owner each: validate()
      places.addresses.push_back({pos_of(*item), key});
    }
  }

  void load_resource_groups(const toml::table& t, const std::string& path, resource& res, resource_places& places) {
    const std::string k = with_key(path, "security_groups");
    const toml::node* n = t.get("security_groups");
    const toml::array* arr = n != nullptr ? n->as_array() : nullptr;
    if (n != nullptr && arr == nullptr) return wrong_type(*n, k, "an array of security group ids");
    if (arr == nullptr) return;  // S4: none listed: the default group (normalise())
    for (std::size_t i = 0; i < arr->size(); ++i) {
      const toml::node& e = *arr->get(i);
      const std::string ek = with_index(k, i);
      if (!e.is_string()) {
        wrong_type(e, ek, "a security group id");
        continue;
      }
      const std::string& id = e.as_string()->get();
      auto idx = rules_.resolve_group(id);
      if (!idx) {
        const std::string guess = closest(id, rules_.group_ids());
        error(pos_of(e), ek,
              "unknown security group " + quoted(id) +
                  (guess.empty() ? "; define it with [[security_group]]" : "; did you mean " + quoted(guess) + "?"),
              code::group_not_found);
        continue;
      }
      res.groups.push_back(*idx);  // listed once, within the quota: validate()
      places.group_items.push_back({pos_of(e), ek});
    }
  }

  bool model_places_ = false;
  const std::vector<const toml::table*>* group_tables_ = nullptr;
  const group_reuse* reuse_ = nullptr;
  unchanged_groups reused_;  // by group: taken from reuse_->previous
  bool reusing_ = false;     // may_reuse() held
  policy_model model_;
  boot_settings boot_;
  rule_reader rules_;
};

}  // namespace

load_result load_policy_text(std::string_view text, const std::string& path, places where) {
  load_result r = loader(path, where == places::model).run(text);
  r.text = text;
  return r;
}

load_result load_policy_document(const toml::table& root, const std::vector<const toml::table*>& groups,
                                 const std::string& path, const group_reuse& reuse) {
  loader l(path, true);
  l.groups_from(groups, reuse);
  return l.read(root);
}

namespace {

bool same_version(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino && a.st_size == b.st_size &&
         a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec;
}

}  // namespace

load_result load_policy_file(const std::string& path) {
  load_result r;
  auto fail = [&](std::string message, const char* why = code::unreadable) {
    r.diagnostics.push_back({diagnostic::severity::error, path, {}, "", std::move(message), why});
    return r;
  };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail("cannot open the file: " + std::string(std::strerror(errno)));
  struct stat before {};
  std::string text;
  bool read_ok = ::fstat(fd, &before) == 0;
  while (read_ok) {
    char buf[65536];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) read_ok = false;
    if (n <= 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  const int read_errno = errno;
  struct stat after {};
  struct stat named {};
  const bool stable = read_ok && ::fstat(fd, &after) == 0 && ::stat(path.c_str(), &named) == 0 &&
                      same_version(before, after) && same_version(before, named) &&
                      static_cast<off_t>(text.size()) == before.st_size;
  ::close(fd);
  if (!read_ok) return fail("cannot read the file: " + std::string(std::strerror(read_errno)));
  if (!stable) {
    return fail(
        "the file changed while it was read (is a writer still at it?); nothing was applied. Write the new "
        "file elsewhere and rename it into place",
        code::changed_while_read);
  }
  return load_policy_text(text, path);
}

std::optional<diagnostic> refuse_unintended_empty(const policy_model& model) {
  if (!model.resources.empty() || model.explicitly_empty) return std::nullopt;
  return diagnostic{diagnostic::severity::error,
                    model.source_file,
                    {1, 1},
                    "resource",
                    "the policy protects no resource, which is what an empty or cut-off file looks like; "
                    "nothing was applied (to run with no resources on purpose, write resource = [])",
                    code::empty_policy};
}

}  // namespace sgfw::config
