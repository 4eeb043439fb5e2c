#include "config/toml_loader.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>
#include <sstream>

#include "config/address_text.hpp"
#include "config/rule_text.hpp"
#include "config/timeout_keys.hpp"
#include "config/validation.hpp"

namespace sgfw::config {

namespace {

using severity = diagnostic::severity;

source_pos pos_of(const toml::source_region& r) { return {r.begin.line, r.begin.column}; }
source_pos pos_of(const toml::node& n) { return pos_of(n.source()); }

std::string_view type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a floating-point number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    default:
      return "nothing";
  }
}

std::string quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string join(const std::vector<std::string>& items, std::string_view sep = ", ") {
  std::string s;
  for (const auto& i : items) {
    if (!s.empty()) s += sep;
    s += i;
  }
  return s;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// A name from `known` that `word` is probably a typo of, or "".
std::string closest(std::string_view word, const std::vector<std::string>& known) {
  std::string best;
  std::size_t best_d = 3;  // suggest only for one or two edits
  for (const auto& k : known) {
    const std::size_t d = edit_distance(lower(word), lower(k));
    if (d < best_d) {
      best_d = d;
      best = k;
    }
  }
  return best;
}

std::string with_index(const std::string& path, std::size_t i) { return path + "[" + std::to_string(i) + "]"; }
std::string with_key(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

class loader {
 public:
  explicit loader(std::string file) : file_(std::move(file)) { model_.source_file = file_; }

  load_result run(std::string_view text) {
    toml::table root;
    try {
      root = toml::parse(text, file_);
    } catch (const toml::parse_error& e) {
      error(pos_of(e.source()), "", "TOML syntax error: " + std::string(e.description()), code::invalid_syntax);
      return finish();
    }
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
    normalise(model_);
    for (const finding& f : validate(model_)) {
      const located at = locate(f.where);
      std::string message = f.message;
      if (f.other) {
        if (const auto brace = message.find("{}"); brace != std::string::npos) {
          message.replace(brace, 2, "line " + std::to_string(locate(*f.other).pos.line));
        }
      }
      report(f.error ? severity::error : severity::warning, at.pos, at.key, std::move(message), f.code);
    }
    return finish();
  }

 private:
  // --- diagnostics -------------------------------------------------------

  void report(severity level, source_pos pos, std::string key, std::string message, const char* why) {
    diags_.push_back({level, file_, pos, std::move(key), std::move(message), why});
  }
  void error(source_pos pos, std::string key, std::string message, const char* why = code::invalid_parameter_value) {
    report(severity::error, pos, std::move(key), std::move(message), why);
  }
  void warning(source_pos pos, std::string key, std::string message) {
    report(severity::warning, pos, std::move(key), std::move(message), code::invalid_parameter_value);
  }

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
        return rp.addresses[p.item];
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

  // --- typed access -------------------------------------------------------

  void check_keys(const toml::table& t, const std::string& path, std::initializer_list<std::string_view> allowed) {
    std::vector<std::string> known(allowed.begin(), allowed.end());
    for (auto&& [k, v] : t) {
      if (std::find(known.begin(), known.end(), k.str()) != known.end()) continue;
      std::string msg = "unknown key " + quoted(k.str());
      const std::string guess = closest(k.str(), known);
      msg += guess.empty() ? "; expected one of: " + join(known) : "; did you mean " + quoted(guess) + "?";
      error(pos_of(k.source()), with_key(path, k.str()), msg, code::unknown_parameter);
    }
  }

  void wrong_type(const toml::node& n, const std::string& key, std::string_view expected) {
    error(pos_of(n), key, "expected " + std::string(expected) + ", found " + std::string(type_name(n)));
  }

  std::optional<std::string> get_string(const toml::table& t, std::string_view key, const std::string& path,
                                        bool required, std::string_view what = "a string") {
    const toml::node* n = t.get(key);
    const std::string k = with_key(path, key);
    if (n == nullptr) {
      if (required) {
        error(pos_of(t), k, "missing required key " + quoted(key) + "; expected " + std::string(what),
              code::missing_parameter);
      }
      return std::nullopt;
    }
    if (!n->is_string()) {
      wrong_type(*n, k, what);
      return std::nullopt;
    }
    return n->as_string()->get();
  }

  // An integer in [lo, hi]; `present` tells a missing key from a bad one.
  std::optional<std::int64_t> get_integer(const toml::table& t, std::string_view key, const std::string& path,
                                          std::int64_t lo, std::int64_t hi) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return std::nullopt;
    const std::string k = with_key(path, key);
    if (!n->is_integer()) {
      wrong_type(*n, k, "an integer");
      return std::nullopt;
    }
    const std::int64_t v = n->as_integer()->get();
    if (v < lo || v > hi) {
      error(pos_of(*n), k,
            std::to_string(v) + " is out of range; expected " + std::to_string(lo) + "-" + std::to_string(hi));
      return std::nullopt;
    }
    return v;
  }

  // Elements of an array of tables ([[name]] or name = [{...}]).
  std::vector<std::pair<const toml::table*, std::string>> tables_in(const toml::table& parent, std::string_view key,
                                                                    const std::string& path) {
    std::vector<std::pair<const toml::table*, std::string>> out;
    const toml::node* n = parent.get(key);
    if (n == nullptr) return out;
    const std::string k = with_key(path, key);
    const toml::array* arr = n->as_array();
    if (arr == nullptr) {
      wrong_type(*n, k, "an array of tables ([[" + k + "]])");
      return out;
    }
    for (std::size_t i = 0; i < arr->size(); ++i) {
      const toml::node& e = *arr->get(i);
      if (!e.is_table()) {
        wrong_type(e, with_index(k, i), "a table");
        continue;
      }
      out.emplace_back(e.as_table(), with_index(k, i));
    }
    return out;
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

  std::optional<bool> get_bool(const toml::table& t, std::string_view key, const std::string& path) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return std::nullopt;
    if (!n->is_boolean()) {
      wrong_type(*n, with_key(path, key), "true or false");
      return std::nullopt;
    }
    return n->as_boolean()->get();
  }

  // One of two words, as a bool (true = the first).
  std::optional<bool> get_choice(const toml::table& t, std::string_view key, const std::string& path,
                                 std::string_view yes, std::string_view no) {
    const std::string what = "\"" + std::string(yes) + "\" or \"" + std::string(no) + "\"";
    auto v = get_string(t, key, path, false, what);
    if (!v) return std::nullopt;
    if (*v == yes) return true;
    if (*v == no) return false;
    error(pos_of(*t.get(key)), with_key(path, key), "unknown value " + quoted(*v) + "; expected " + what);
    return std::nullopt;
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

  const toml::table* sub_table(const toml::table& t, std::string_view key, const std::string& path) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return nullptr;
    if (!n->is_table()) {
      wrong_type(*n, with_key(path, key), "a table");
      return nullptr;
    }
    return n->as_table();
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
                "status_interval", "ports", "eal"});
    appliance_settings& a = model_.appliance;
    load_boot(t, path, boot_);
    if (auto v = get_choice(t, "icmp_errors", path, "related", "rules-only")) a.icmp_errors_related = *v;
    if (auto v = get_choice(t, "unprotected_traffic", path, "forward", "drop")) a.unprotected_forward = *v;
    if (auto v = get_choice(t, "other_ethertypes", path, "forward", "drop")) a.other_ethertypes_forward = *v;
    if (auto v = get_choice(t, "arp_nd", path, "pass", "drop")) a.arp_nd_pass = *v;
    if (auto v = get_bool(t, "ra_guard", path)) a.ra_guard = *v;
    if (auto v = get_choice(t, "midstream", path, "adopt", "drop")) a.adopt_midstream = *v;
    load_forward_multicast(t, path, a);
    if (const toml::table* ct = sub_table(t, "conntrack", path)) {
      const std::string cpath = with_key(path, "conntrack");
      check_keys(*ct, cpath,
                 {"max_flows", "max_flows_per_resource", "early_drop", "fragment_timeout", "max_fragmented_datagrams"});
      if (auto v = get_integer(*ct, "max_flows", cpath, 1024, std::int64_t{1} << 28)) {
        boot_.max_flows = static_cast<std::uint32_t>(*v);
      }
      if (auto v = get_integer(*ct, "max_flows_per_resource", cpath, 1, std::int64_t{1} << 28)) {
        a.max_flows_per_resource = static_cast<std::uint32_t>(*v);
      }
      if (auto v = get_bool(*ct, "early_drop", cpath)) boot_.early_drop = *v;
      if (auto v = get_integer(*ct, "fragment_timeout", cpath, 1, 120))
        boot_.fragment_timeout = static_cast<std::uint32_t>(*v);
      if (auto v = get_integer(*ct, "max_fragmented_datagrams", cpath, 64, std::int64_t{1} << 24))
        boot_.max_fragmented_datagrams = static_cast<std::uint32_t>(*v);
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

  // Ports, cores and EAL options for `sgfw run`.
  void load_boot(const toml::table& t, const std::string& path, boot_settings& r) {
    if (auto v = get_integer(t, "workers", path, 1, k_max_workers)) r.workers = static_cast<std::uint32_t>(*v);
    if (const toml::node* n = t.get("cores")) {
      const std::string k = with_key(path, "cores");
      if (const toml::array* arr = n->as_array()) {
        for (std::size_t i = 0; i < arr->size(); ++i) {
          const toml::node& e = *arr->get(i);
          if (!e.is_integer() || e.as_integer()->get() < 0 || e.as_integer()->get() > 1023) {
            error(pos_of(e), with_index(k, i), "expected a CPU number 0-1023");
            continue;
          }
          r.cores.push_back(static_cast<std::uint32_t>(e.as_integer()->get()));
        }
        if (r.cores.size() != r.workers) {
          error(pos_of(*n), k,
                std::to_string(r.cores.size()) + " cores for " + std::to_string(r.workers) +
                    " workers; expected one CPU per worker",
                code::invalid_parameter_combination);
        }
      } else {
        wrong_type(*n, k, "an array of CPU numbers");
      }
    }
    if (auto v = get_integer(t, "main_core", path, 0, 1023)) r.main_core = static_cast<std::uint32_t>(*v);
    if (auto v = get_bool(t, "watch", path)) r.watch = *v;
    if (auto v = get_integer(t, "status_interval", path, 0, 3600)) r.status_interval = static_cast<std::uint32_t>(*v);
    if (const toml::table* pt = sub_table(t, "ports", path)) {
      const std::string ppath = with_key(path, "ports");
      check_keys(*pt, ppath, {"outside", "inside", "rx_descriptors", "tx_descriptors", "packet_buffers"});
      const std::string_view what = "DPDK devargs: a PCI address or a vdev such as \"net_tap0,iface=sgfw0\"";
      if (auto v = get_string(*pt, "outside", ppath, false, what)) r.outside = *v;
      if (auto v = get_string(*pt, "inside", ppath, false, what)) r.inside = *v;
      if (auto v = get_integer(*pt, "rx_descriptors", ppath, 64, 16384))
        r.rx_descriptors = static_cast<std::uint32_t>(*v);
      if (auto v = get_integer(*pt, "tx_descriptors", ppath, 64, 16384))
        r.tx_descriptors = static_cast<std::uint32_t>(*v);
      if (auto v = get_integer(*pt, "packet_buffers", ppath, 0, 16 << 20))
        r.packet_buffers = static_cast<std::uint32_t>(*v);
      if (!r.outside.empty() && r.outside == r.inside) {
        error(pos_of(*pt->get("inside")), with_key(ppath, "inside"),
              "the same device as outside; expected another port", code::invalid_parameter_combination);
      }
    }
    if (const toml::table* et = sub_table(t, "eal", path)) {
      const std::string epath = with_key(path, "eal");
      check_keys(*et, epath, {"hugepages", "memory_mb", "file_prefix", "args"});
      if (auto v = get_string(*et, "hugepages", epath, false, "\"auto\", \"yes\" or \"no\"")) {
        if (*v == "auto") {
          r.hugepages = boot_settings::hugepages_mode::automatic;
        } else if (*v == "yes") {
          r.hugepages = boot_settings::hugepages_mode::yes;
        } else if (*v == "no") {
          r.hugepages = boot_settings::hugepages_mode::no;
        } else {
          error(pos_of(*et->get("hugepages")), with_key(epath, "hugepages"),
                "unknown value " + quoted(*v) + "; expected \"auto\", \"yes\" or \"no\"");
        }
      }
      if (auto v = get_integer(*et, "memory_mb", epath, 64, 1 << 20)) r.memory_mb = static_cast<std::uint32_t>(*v);
      if (auto v = get_string(*et, "file_prefix", epath, false)) {
        const bool ok = !v->empty() && v->size() <= 64 && std::all_of(v->begin(), v->end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_';
        });
        if (ok) {
          r.file_prefix = *v;
        } else {
          error(pos_of(*et->get("file_prefix")), with_key(epath, "file_prefix"),
                quoted(*v) + " is not a file prefix; expected 1-64 letters, digits, '-' or '_'");
        }
      }
      if (const toml::node* n = et->get("args")) {
        const std::string k = with_key(epath, "args");
        if (const toml::array* arr = n->as_array()) {
          for (std::size_t i = 0; i < arr->size(); ++i) {
            const toml::node& e = *arr->get(i);
            if (!e.is_string()) {
              wrong_type(e, with_index(k, i), "a string (one EAL argument)");
              continue;
            }
            r.eal_args.push_back(e.as_string()->get());
          }
        } else {
          wrong_type(*n, k, "an array of strings, e.g. [\"--no-pci\", \"--log-level=7\"]");
        }
      }
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
    auto tables = tables_in(root, "security_group", "");
    for (const auto& [t, path] : tables) {
      security_group g;
      g.pos = pos_of(*t);
      group_id_pos_.push_back(t->get("id") != nullptr ? pos_of(*t->get("id")) : g.pos);
      if (auto id = get_string(*t, "id", path, true, "a group id such as \"web\"")) g.id = *id;
      model_.groups.push_back(std::move(g));
    }
    return tables;
  }

  void load_group_rules(const std::vector<std::pair<const toml::table*, std::string>>& tables) {
    for (std::size_t gi = 0; gi < tables.size(); ++gi) {
      const auto& [t, path] = tables[gi];
      check_keys(*t, path, {"id", "description", "ingress", "egress"});
      security_group& g = model_.groups[gi];
      g.description = get_string(*t, "description", path, false).value_or("");
      for (const direction d : {direction::ingress, direction::egress}) {
        const std::string_view key = to_string(d);
        std::vector<rule>& out = d == direction::ingress ? g.ingress : g.egress;
        for (const auto& [rt, rpath] : tables_in(*t, key, path)) {
          if (auto r = load_rule(*rt, rpath, d)) out.push_back(std::move(*r));
        }
      }
      // `egress = []` declares that the group allows no outbound traffic;
      // no `egress` at all gets the cloud's allow-all (normalise()).
      g.egress_declared = t->get("egress") != nullptr;
    }
  }

  std::optional<protocol_spec> parse_protocol(const toml::node& n, const std::string& key) {
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
        error(pos_of(n), key,
              "unknown protocol " + quoted(n.as_string()->get()) + "; expected " + std::string(expected));
        return std::nullopt;
      }
    } else {
      wrong_type(n, key, expected);
      return std::nullopt;
    }
    if (number == -1) return protocol_spec{true, 0};
    if (number < 0 || number > 255) {
      error(pos_of(n), key,
            "protocol number " + std::to_string(number) + " is out of range; expected " + std::string(expected));
      return std::nullopt;
    }
    return protocol_spec{false, static_cast<std::uint8_t>(number)};
  }

  std::optional<port_range> parse_port_item(const toml::node& n, const std::string& key) {
    static constexpr std::string_view expected = "a port 0-65535, a range such as \"1024-65535\", or \"all\"";
    auto port = [&](std::int64_t v) -> std::optional<std::uint16_t> {
      if (v < 0 || v > 65535) {
        error(pos_of(n), key, "port " + std::to_string(v) + " is out of range; expected 0-65535");
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
      wrong_type(n, key, expected);
      return std::nullopt;
    }
    const std::string& s = n.as_string()->get();
    if (lower(s) == "all") return port_range{0, 65535};
    std::int64_t a = 0;
    std::int64_t b = 0;
    char dash = 0;
    std::istringstream in(s);
    if (!(in >> a)) {
      error(pos_of(n), key, quoted(s) + " is not a port; expected " + std::string(expected));
      return std::nullopt;
    }
    if (in.eof()) {
      b = a;
    } else if (!(in >> dash >> b) || dash != '-' || !in.eof()) {
      error(pos_of(n), key, quoted(s) + " is not a port range; expected " + std::string(expected));
      return std::nullopt;
    }
    auto first = port(a);
    auto last = port(b);
    if (!first || !last) return std::nullopt;
    if (*first > *last) {
      error(pos_of(n), key,
            "port range " + s + " is reversed; expected first <= last, e.g. \"" + std::to_string(*last) + "-" +
                std::to_string(*first) + "\"");
      return std::nullopt;
    }
    return port_range{*first, *last};
  }

  std::optional<std::vector<port_range>> parse_ports(const toml::node& n, const std::string& key) {
    std::vector<port_range> out;
    bool ok = true;
    if (const toml::array* arr = n.as_array()) {
      if (arr->empty()) {
        error(pos_of(n), key, "empty port list; expected at least one port or range");
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
        error(pos_of(n), key, "ports overlap: " + std::to_string(out[i].first) + " is listed twice");
        return std::nullopt;
      }
    }
    return out;
  }

  std::optional<int> parse_icmp_field(const toml::node& n, const std::string& key, std::string_view name) {
    if (n.is_string() && lower(n.as_string()->get()) == "all") return k_icmp_any;
    if (!n.is_integer()) {
      wrong_type(n, key, "an integer 0-255, or -1 / \"all\"");
      return std::nullopt;
    }
    const std::int64_t v = n.as_integer()->get();
    if (v == -1) return k_icmp_any;
    if (v < 0 || v > 255) {
      error(pos_of(n), key,
            std::string(name) + " " + std::to_string(v) +
                " is out of range; expected 0-255, or -1 / \"all\" for every " +
                std::string(name == "icmp_type" ? "type" : "code"));
      return std::nullopt;
    }
    return static_cast<int>(v);
  }

  std::vector<std::string> group_ids() const {
    std::vector<std::string> ids;
    for (const auto& g : model_.groups) ids.push_back(g.id);
    if (!model_.find_group(k_default_group_id)) ids.emplace_back(k_default_group_id);
    return ids;
  }

  // A reference to a group by id; "default" is the appliance's implicit
  // group unless the file defines one.
  std::optional<std::uint32_t> resolve_group(std::string_view id) {
    if (auto i = model_.find_group(id)) return i;
    if (id == k_default_group_id) return model_.default_group();
    return std::nullopt;
  }

  std::optional<peer> parse_peer(const toml::table& t, const std::string& path, const protocol_spec& proto) {
    std::vector<std::string_view> present;
    for (std::string_view k : {"cidr", "prefix_list", "security_group"}) {
      if (t.contains(k)) present.push_back(k);
    }
    if (present.empty()) {
      error(pos_of(t), path, "a rule needs exactly one peer; expected one of cidr, prefix_list or security_group",
            code::missing_parameter);
      return std::nullopt;
    }
    if (present.size() > 1) {
      error(pos_of(*t.get(present[1])), with_key(path, present[1]),
            "a rule has exactly one peer, found both " + std::string(present[0]) + " and " + std::string(present[1]) +
                "; write two rules instead",
            code::invalid_parameter_combination);
      return std::nullopt;
    }
    const std::string_view kind = present[0];
    const std::string key = with_key(path, kind);
    const toml::node& n = *t.get(kind);
    if (!n.is_string()) {
      wrong_type(n, key, kind == "cidr" ? "a CIDR block such as \"10.0.0.0/8\"" : "an id string");
      return std::nullopt;
    }
    const std::string& text = n.as_string()->get();

    // ICMP has one protocol number per family: a rule for icmp can only
    // match IPv4 peers, one for icmpv6 only IPv6 peers.
    auto family_fits = [&](net::family f) {
      if (proto.is(ip_proto::icmp) && f == net::family::ipv6) {
        error(pos_of(n), key,
              "protocol icmp matches IPv4 only, but " + quoted(text) + " is IPv6; use protocol = \"icmpv6\"",
              code::invalid_parameter_combination);
        return false;
      }
      if (proto.is(ip_proto::icmpv6) && f == net::family::ipv4) {
        error(pos_of(n), key,
              "protocol icmpv6 matches IPv6 only, but " + quoted(text) + " is IPv4; use protocol = \"icmp\"",
              code::invalid_parameter_combination);
        return false;
      }
      return true;
    };

    if (kind == "cidr") {
      auto parsed = parse_cidr(text);
      if (auto* err = std::get_if<text_error>(&parsed)) {
        error(pos_of(n), key, err->message);
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
        error(pos_of(n), key,
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
      error(pos_of(n), key,
            "unknown security group " + quoted(text) +
                (guess.empty() ? "; define it with [[security_group]]" : "; did you mean " + quoted(guess) + "?"),
            code::group_not_found);
      return std::nullopt;
    }
    return peer{group_ref{*idx}};
  }

  std::optional<rule> load_rule(const toml::table& t, const std::string& path, direction dir) {
    check_keys(
        t, path,
        {"id", "protocol", "ports", "icmp_type", "icmp_code", "cidr", "prefix_list", "security_group", "description"});
    rule r;
    r.dir = dir;
    r.pos = pos_of(t);
    bool ok = true;

    if (const toml::node* n = t.get("id")) {
      if (!n->is_string()) {
        wrong_type(*n, with_key(path, "id"), "a rule id string");
        ok = false;
      } else {
        r.id = n->as_string()->get();  // its form is validate()'s
      }
    }
    r.description = get_string(t, "description", path, false).value_or("");

    const toml::node* pn = t.get("protocol");
    if (pn == nullptr) {
      error(r.pos, with_key(path, "protocol"),
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
        error(r.pos, with_key(path, "ports"),
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
        error(
            pos_of(*ports), with_key(path, "ports"),
            "ports are only valid for tcp and udp; protocol " + proto_name + " is matched with icmp_type and icmp_code",
            code::invalid_parameter_combination);
        ok = false;
      } else {
        // S2: for other protocols every port matches, as in the cloud, which
        // accepts and ignores a port range there.
        warning(pos_of(*ports), with_key(path, "ports"),
                "ignored: protocol " + proto_name + " has no ports, so every port matches");
      }
    }
    for (const auto& [node, name] : {std::pair{type, "icmp_type"}, std::pair{code, "icmp_code"}}) {
      if (node != nullptr && !r.protocol.is_icmp()) {
        error(pos_of(*node), with_key(path, name),
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
          error(pos_of(*code), with_key(path, "icmp_code"), "icmp_code needs an icmp_type",
                code::invalid_parameter_combination);
          ok = false;
        } else if (v && *v != k_icmp_any && r.icmp_type == k_icmp_any && type != nullptr) {
          error(pos_of(*code), with_key(path, "icmp_code"),
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
    for (const auto& [t, path] : tables_in(root, "resource", "")) {
      check_keys(*t, path,
                 {"name", "description", "addresses", "security_groups", "timeouts", "side", "mac", "max_flows"});
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
      auto idx = resolve_group(id);
      if (!idx) {
        const std::string guess = closest(id, group_ids());
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

  std::string file_;
  std::vector<diagnostic> diags_;
  policy_model model_;
  boot_settings boot_;
};

}  // namespace

load_result load_policy_text(std::string_view text, const std::string& path) { return loader(path).run(text); }

namespace {

bool same_version(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino && a.st_size == b.st_size &&
         a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec;
}

}  // namespace

load_result load_policy_file(const std::string& path) {
  load_result r;
  auto fail = [&](std::string message, const char* why = code::unreadable) {
    r.diagnostics.push_back({severity::error, path, {}, "", std::move(message), why});
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
  return diagnostic{severity::error,
                    model.source_file,
                    {1, 1},
                    "resource",
                    "the policy protects no resource, which is what an empty or cut-off file looks like; "
                    "nothing was applied (to run with no resources on purpose, write resource = [])",
                    code::empty_policy};
}

}  // namespace sgfw::config
