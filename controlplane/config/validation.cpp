#include "config/validation.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include "config/address_text.hpp"
#include "config/rule_text.hpp"

namespace sgfw::config {

namespace {

std::string quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

bool valid_id(std::string_view id) {
  if (id.empty() || id.size() > 255) return false;
  return std::all_of(id.begin(), id.end(), [](unsigned char c) { return std::isgraph(c) != 0; });
}

bool valid_rule_id(std::string_view id) {
  return !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](unsigned char c) {
    return std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == ':';
  });
}

std::string mac_text(std::uint64_t mac) {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02X:%02X:%02X:%02X:%02X:%02X", static_cast<unsigned>((mac >> 40) & 0xFF),
                static_cast<unsigned>((mac >> 32) & 0xFF), static_cast<unsigned>((mac >> 24) & 0xFF),
                static_cast<unsigned>((mac >> 16) & 0xFF), static_cast<unsigned>((mac >> 8) & 0xFF),
                static_cast<unsigned>(mac & 0xFF));
  return buf;
}

rule allow_all_egress(net::family f, source_pos pos) {
  rule r;
  r.dir = direction::egress;
  r.protocol.all = true;
  r.remote = net::cidr::any(f);
  r.description = "default: all outbound traffic";
  r.pos = pos;
  return r;
}

bool names_what_exists(const policy_model& m, const peer& p) {
  if (const auto* g = std::get_if<group_ref>(&p)) return g->index < m.groups.size();
  if (const auto* pl = std::get_if<prefix_list_ref>(&p)) return pl->index < m.prefix_lists.size();
  return true;
}

using place = model_place;
using kind = model_place::kind;

class validator {
 public:
  validator(const policy_model& m, const unchanged_groups* unchanged) : m_(m), unchanged_(unchanged) {}

  std::vector<finding> run() {
    // A model built in code (an edit) may name what is not there; nothing
    // else can be checked on it.
    if (!check_references()) return std::move(out_);
    check_prefix_lists();
    check_groups();
    check_resources();
    check_rule_quotas();
    check_rule_ids();
    return std::move(out_);
  }

 private:
  void error(const char* code, place where, std::string message, std::optional<place> other = std::nullopt) {
    out_.push_back({true, code, where, std::move(message), other});
  }

  // An id (or name) of the right form, not used before in `seen`.
  void check_unique(std::map<std::string, std::uint32_t>& seen, const std::string& id, place where,
                    const char* malformed, const char* duplicate, std::string_view what) {
    if (!valid_id(id)) {
      error(malformed, where, "expected 1-255 printable characters without spaces");
    } else if (auto [it, fresh] = seen.emplace(id, where.index); !fresh) {
      place first = where;
      first.index = it->second;
      error(duplicate, where, "duplicate " + std::string(what) + " " + quoted(id) + "; first defined at {}", first);
    }
  }

  bool check_references() {
    const std::size_t before = out_.size();
    for (std::uint32_t g = 0; g < m_.groups.size(); ++g) {
      if (unchanged(g)) continue;
      for (const direction d : {direction::ingress, direction::egress}) {
        const auto& rules = m_.groups[g].rules(d);
        for (std::uint32_t i = 0; i < rules.size(); ++i) {
          const peer& p = rules[i].remote;
          if (names_what_exists(m_, p)) continue;
          if (std::holds_alternative<group_ref>(p)) {
            error(code::group_not_found, {kind::rule, g, d, i}, "the rule's peer group does not exist");
          } else {
            error(code::prefix_list_not_found, {kind::rule, g, d, i}, "the rule's prefix list does not exist");
          }
        }
      }
    }
    for (std::uint32_t r = 0; r < m_.resources.size(); ++r) {
      const auto& groups = m_.resources[r].groups;
      for (std::uint32_t i = 0; i < groups.size(); ++i) {
        if (groups[i] >= m_.groups.size()) {
          error(code::group_not_found, {kind::resource_group, r, direction::ingress, i}, "the group does not exist");
        }
      }
    }
    return out_.size() == before;
  }

  void check_prefix_lists() {
    std::map<std::string, std::uint32_t> seen;
    for (std::uint32_t i = 0; i < m_.prefix_lists.size(); ++i) {
      const prefix_list& pl = m_.prefix_lists[i];
      check_unique(seen, pl.id, {kind::prefix_list_id, i}, code::prefix_list_malformed, code::prefix_list_duplicate,
                   "prefix-list id");
      if (pl.entries.size() > pl.max_entries) {
        error(code::prefix_list_entries_exceeded, {kind::prefix_list_entries, i},
              std::to_string(pl.entries.size()) + " entries exceed max_entries = " + std::to_string(pl.max_entries));
      }
    }
  }

  void check_groups() {
    std::map<std::string, std::uint32_t> seen;
    for (std::uint32_t g = 0; g < m_.groups.size(); ++g) {
      const security_group& sg = m_.groups[g];
      check_unique(seen, sg.id, {kind::group_id, g}, code::group_malformed, code::group_duplicate, "security group id");
      if (unchanged(g)) continue;
      for (const direction d : {direction::ingress, direction::egress}) check_duplicate_rules(g, d);
    }
  }

  // Two rules of one group and direction that match the same traffic: the
  // cloud rejects the second (InvalidPermission.Duplicate), and so do we.
  void check_duplicate_rules(std::uint32_t g, direction d) {
    std::map<std::string, std::uint32_t> seen;
    const auto& rules = m_.groups[g].rules(d);
    for (std::uint32_t i = 0; i < rules.size(); ++i) {
      const rule& r = rules[i];
      const std::string key =
          describe_protocol(r.protocol) + '|' + describe_ports(r) + '|' + describe_peer(m_, r.remote);
      if (auto [it, fresh] = seen.emplace(key, i); !fresh) {
        error(code::permission_duplicate, {kind::rule, g, d, i},
              "duplicate rule: same protocol, ports and peer as the rule at {}", place{kind::rule, g, d, it->second});
      }
    }
  }

  void check_resources() {
    std::map<std::string, std::uint32_t> names;
    std::map<std::uint64_t, std::uint32_t> macs;
    // An address's first holder: resource and position in its list.
    std::map<net::ip_address, std::pair<std::uint32_t, std::uint32_t>> owners;
    for (std::uint32_t r = 0; r < m_.resources.size(); ++r) {
      const resource& res = m_.resources[r];
      if (r == k_max_resources) {
        error(code::resources_limit, {kind::resource, r},
              "more than " + std::to_string(k_max_resources) + " resources");
      }
      check_unique(names, res.name, {kind::resource_name, r}, code::resource_malformed, code::resource_duplicate,
                   "resource name");
      if (res.mac) {
        if (auto [it, fresh] = macs.emplace(*res.mac, r); !fresh) {
          error(code::mac_in_use, {kind::resource_mac, r},
                "MAC " + mac_text(*res.mac) + " already belongs to resource " + quoted(m_.resources[it->second].name) +
                    " ({})",
                place{kind::resource_mac, it->second});
        }
      }
      for (std::uint32_t a = 0; a < res.addresses.size(); ++a) {
        const auto& addr = res.addresses[a];
        auto [it, fresh] = owners.emplace(addr, std::pair{r, a});
        if (fresh) continue;
        const auto [owner, at] = it->second;
        error(code::address_in_use, {kind::resource_address, r, direction::ingress, a},
              "address " + to_string(addr) + " already belongs to resource " + quoted(m_.resources[owner].name) +
                  " ({}); an address has one owner",
              place{kind::resource_address, owner, direction::ingress, at});
      }
      if (res.groups.size() > m_.quota.groups_per_resource) {
        error(code::groups_per_resource_limit, {kind::resource_groups, r},
              std::to_string(res.groups.size()) + " security groups exceed the limit of " +
                  std::to_string(m_.quota.groups_per_resource) +
                  " per resource ([limits] groups_per_resource, at most " + std::to_string(k_max_groups_per_resource) +
                  ")");
      }
      for (std::uint32_t i = 0; i < res.groups.size(); ++i) {
        if (std::find(res.groups.begin(), res.groups.begin() + i, res.groups[i]) != res.groups.begin() + i) {
          error(code::group_listed_twice, {kind::resource_group, r, direction::ingress, i},
                "security group " + quoted(m_.groups[res.groups[i]].id) + " is listed twice");
        }
      }
    }
  }

  // S4: the cloud counts rules per group, direction and address family; a
  // prefix-list reference counts as its max_entries, a group reference as
  // one rule of each family, and each port range as a rule of its own.
  void check_rule_quotas() {
    for (std::uint32_t g = 0; g < m_.groups.size(); ++g) {
      if (unchanged(g)) continue;
      const security_group& sg = m_.groups[g];
      for (const direction d : {direction::ingress, direction::egress}) {
        std::array<std::uint64_t, net::family_count> count{};
        for (const rule& r : sg.rules(d)) {
          const std::uint64_t ranges = r.protocol.has_ports() ? std::max<std::size_t>(1, r.ports.size()) : 1;
          if (const auto* c = std::get_if<net::cidr>(&r.remote)) {
            count[static_cast<std::size_t>(c->fam())] += ranges;
          } else if (const auto* pl = std::get_if<prefix_list_ref>(&r.remote)) {
            const prefix_list& list = m_.prefix_lists[pl->index];
            count[static_cast<std::size_t>(list.fam)] += ranges * list.max_entries;
          } else {
            count[0] += ranges;
            count[1] += ranges;
          }
        }
        const std::uint32_t limit =
            d == direction::ingress ? m_.quota.ingress_rules_per_group : m_.quota.egress_rules_per_group;
        for (const net::family f : {net::family::ipv4, net::family::ipv6}) {
          const std::uint64_t c = count[static_cast<std::size_t>(f)];
          if (c <= limit) continue;
          error(code::rules_limit, {kind::group_rules, g, d},
                "security group " + quoted(sg.id) + " has " + std::to_string(c) + " " + std::string(to_string(f)) +
                    " " + std::string(to_string(d)) + " rules, more than the limit of " + std::to_string(limit) +
                    " ([limits] " + std::string(to_string(d)) +
                    "_rules_per_group; a prefix-list reference counts as its max_entries, each port range as "
                    "one rule)");
        }
      }
    }
  }

  // A rule's own id (not derived) of the right form; reported when not.
  bool well_formed_id(const rule& r, const place& here) {
    if (r.derived_id || valid_rule_id(r.id)) return true;
    error(code::rule_id_malformed, here,
          "invalid rule id " + quoted(r.id) + "; expected 1-64 letters, digits, '-', '_', '.' or ':'");
    return false;
  }

  // Whether a rule of an edited group has the id of another rule.  The
  // unchanged groups' ids were unique among themselves when they were
  // checked, so without such a clash no id is a duplicate.  The unchanged
  // groups' ids (thousands) meet a filter of the edited ones (a few) first:
  // a cheap hash and a bit, and only the few that pass a lookup.
  bool edited_ids_clash() const {
    std::unordered_set<std::string_view> edited;
    std::array<std::uint64_t, k_filter_words> filter{};
    for (std::uint32_t g = 0; g < m_.groups.size(); ++g) {
      if (unchanged(g)) continue;
      for (const auto* rules : {&m_.groups[g].ingress, &m_.groups[g].egress}) {
        for (const rule& r : *rules) {
          if (!edited.insert(r.id).second) return true;
        }
      }
      for (const std::uint32_t h : digest_of(m_.groups[g]).hashes) filter[h / 64 % k_filter_words] |= bit_of(h);
    }
    if (edited.empty()) return false;
    for (std::uint32_t g = 0; g < m_.groups.size(); ++g) {
      if (!unchanged(g)) continue;
      const security_group& sg = m_.groups[g];
      const std::vector<std::uint32_t>& hashes = digest_of(sg).hashes;
      std::size_t i = 0;
      for (const auto* rules : {&sg.ingress, &sg.egress}) {
        for (const rule& r : *rules) {
          const std::uint32_t h = hashes[i++];
          if ((filter[h / 64 % k_filter_words] & bit_of(h)) != 0 && edited.count(r.id) != 0) return true;
        }
      }
    }
    return false;
  }

  static std::uint64_t bit_of(std::uint32_t h) { return std::uint64_t{1} << (h % 64); }

  // The group's id hashes, made once for its lists (security_group::id_digest).
  static const security_group::id_digest& digest_of(const security_group& g) {
    const auto& d = g.ids_digest;
    if (d == nullptr || !d->ingress.same_as(g.ingress) || !d->egress.same_as(g.egress)) {
      auto made = std::make_shared<security_group::id_digest>();
      made->ingress = g.ingress;
      made->egress = g.egress;
      for (const auto* rules : {&g.ingress, &g.egress}) {
        for (const rule& r : *rules) made->hashes.push_back(filter_hash(r.id));
      }
      g.ids_digest = std::move(made);
    }
    return *g.ids_digest;
  }

  static constexpr std::size_t k_filter_words = 64;  // 4096 bits
  // Length and the first and last eight bytes, mixed: ids differ there.
  static std::uint32_t filter_hash(std::string_view id) {
    std::uint64_t head = 0;
    std::uint64_t tail = 0;
    const std::size_t n = std::min<std::size_t>(id.size(), 8);
    std::memcpy(&head, id.data(), n);
    std::memcpy(&tail, id.data() + id.size() - n, n);
    std::uint64_t h = (head * 0x9E3779B97F4A7C15ULL) ^ (tail + id.size()) * 0xC2B2AE3D27D4EB4FULL;
    h ^= h >> 29;
    return static_cast<std::uint32_t>(h);
  }

  void check_rule_ids() {
    if (unchanged_ != nullptr && !edited_ids_clash()) {
      // No duplicate can be there: the edited groups' ids' form is all that is left.
      for (std::uint32_t g = 0; g < m_.groups.size(); ++g) {
        if (unchanged(g)) continue;
        for (const direction d : {direction::ingress, direction::egress}) {
          const auto& rules = m_.groups[g].rules(d);
          for (std::uint32_t i = 0; i < rules.size(); ++i) {
            well_formed_id(rules[i], {kind::rule_id, g, d, i});
          }
        }
      }
      return;
    }
    std::unordered_map<std::string_view, place> seen;
    std::size_t rule_count = 0;
    for (const auto& sg : m_.groups) rule_count += sg.ingress.size() + sg.egress.size();
    seen.reserve(rule_count);
    for (std::uint32_t g = 0; g < m_.groups.size(); ++g) {
      for (const direction d : {direction::ingress, direction::egress}) {
        const auto& rules = m_.groups[g].rules(d);
        for (std::uint32_t i = 0; i < rules.size(); ++i) {
          const rule& r = rules[i];
          const place here{kind::rule_id, g, d, i};
          if (!unchanged(g) && !well_formed_id(r, here)) continue;
          // Two derived ids only collide for duplicate rules, which are
          // reported already.  An explicit id may not be one derived for
          // another rule either, before or after it: a revoke by that id
          // would remove the other rule, and flow logs would name the
          // wrong one.
          const auto [it, fresh] = seen.emplace(r.id, here);
          if (fresh) continue;
          const place first = it->second;
          if (!r.derived_id) {
            error(code::rule_id_duplicate, here, "duplicate rule id " + quoted(r.id) + "; also used at {}", first);
          } else if (!m_.groups[first.index].rules(first.dir)[first.item].derived_id) {
            error(code::rule_id_duplicate, first,
                  "rule id " + quoted(r.id) + " is the id of the rule at {} (derived from its content); choose another",
                  here);
          }
        }
      }
    }
  }

  // A group taken from a policy that passed these checks in this context.
  bool unchanged(std::uint32_t g) const { return unchanged_ != nullptr && g < unchanged_->size() && (*unchanged_)[g]; }

  const policy_model& m_;
  const unchanged_groups* unchanged_;
  std::vector<finding> out_;
};

}  // namespace

std::string field_path(const policy_model& m, const model_place& p) {
  auto group = [&] { return "security_group[" + m.groups.at(p.index).id + "]"; };
  auto resource = [&] { return "resource[" + m.resources.at(p.index).name + "]"; };
  auto list = [&] { return group() + "." + std::string(to_string(p.dir)); };
  switch (p.what) {
    case kind::group_id:
      return group() + ".id";
    case kind::group_rules:
      return list();
    case kind::rule:
      return list() + "[" + std::to_string(p.item) + "]";
    case kind::rule_id:
      return list() + "[" + std::to_string(p.item) + "].id";
    case kind::prefix_list_id:
      return "prefix_list[" + m.prefix_lists.at(p.index).id + "].id";
    case kind::prefix_list_entries:
      return "prefix_list[" + m.prefix_lists.at(p.index).id + "].entries";
    case kind::resource:
      return resource();
    case kind::resource_name:
      return resource() + ".name";
    case kind::resource_address:
      return resource() + ".addresses[" + std::to_string(p.item) + "]";
    case kind::resource_mac:
      return resource() + ".mac";
    case kind::resource_groups:
      return resource() + ".security_groups";
    case kind::resource_group:
      return resource() + ".security_groups[" + std::to_string(p.item) + "]";
  }
  return {};
}

void normalise(policy_model& m, const unchanged_groups* unchanged) {
  // S4: the default group is always there, so that resources without
  // groups and references to "default" find it; a source's own group of
  // that id takes its place.
  const std::uint32_t def = m.default_group();
  for (std::uint32_t g = 0; g < m.groups.size(); ++g) {
    security_group& sg = m.groups[g];
    if (sg.egress_declared) continue;
    if (sg.synthesised && sg.ingress.empty()) {
      rule self;
      self.dir = direction::ingress;
      self.protocol.all = true;
      self.remote = group_ref{g};
      self.description = "default: all traffic from members of this group";
      self.pos = sg.pos;
      sg.ingress.push_back(std::move(self));
    }
    // S4: a group that declares no egress rules allows all outbound
    // traffic; one that declares none (`egress = []`) allows none.
    for (const net::family f : {net::family::ipv4, net::family::ipv6}) sg.egress.push_back(allow_all_egress(f, sg.pos));
    sg.egress_declared = true;
  }
  for (resource& r : m.resources) {
    if (r.groups.empty()) r.groups.push_back(def);  // S4: a resource listed without groups
  }
  for (std::size_t g = 0; g < m.groups.size(); ++g) {
    if (unchanged != nullptr && g < unchanged->size() && (*unchanged)[g]) continue;  // derived then, in this context
    security_group& sg = m.groups[g];
    for (auto* rules : {&sg.ingress, &sg.egress}) {
      for (rule& r : *rules) {
        // (A peer that is not there is validate()'s to report.)
        if (r.derived_id && names_what_exists(m, r.remote)) r.id = derive_rule_id(m, sg.id, r);
      }
    }
  }
}

std::vector<finding> validate(const policy_model& m, const unchanged_groups* unchanged) {
  return validator(m, unchanged).run();
}

}  // namespace sgfw::config
