#include "policy/compiler.hpp"

#include <algorithm>
#include <bit>
#include <limits>
#include <map>

namespace sgfw::cp {

namespace {

using config::policy_model;
using config::port_range;
using config::rule;

template <class K>
struct interval {
  K first;
  K last;
};

template <class K>
struct event {
  K key;
  std::uint32_t bit;
  std::int32_t delta;
};

template <class K>
constexpr K key_max() {
  return static_cast<K>(~K{0});
}

// Interns rule bitsets: equal rows share one id, so tables hold each
// distinct row once however many intervals map to it.
class row_interner {
 public:
  explicit row_interner(std::uint32_t words) : words_(words), slots_(64, 0) {}

  std::uint32_t intern(const std::uint64_t* bits) {
    std::size_t mask = slots_.size() - 1;
    for (std::size_t i = hash(bits) & mask;; i = (i + 1) & mask) {
      const std::uint32_t s = slots_[i];
      if (s == 0) {
        const auto id = static_cast<std::uint32_t>(rows_.size() / words_);
        rows_.insert(rows_.end(), bits, bits + words_);
        slots_[i] = id + 1;
        if (2 * (std::size_t{id} + 1) > slots_.size()) grow();
        return id;
      }
      if (std::equal(bits, bits + words_, rows_.begin() + static_cast<std::ptrdiff_t>((s - 1) * words_))) {
        return s - 1;
      }
    }
  }

  std::vector<std::uint64_t> take_rows() { return std::move(rows_); }

 private:
  std::size_t hash(const std::uint64_t* bits) const {
    std::uint64_t h = 0x9E3779B97F4A7C15ULL;
    for (std::uint32_t w = 0; w < words_; ++w) {
      h = (h ^ bits[w]) * 0xBF58476D1CE4E5B9ULL;
      h ^= h >> 31;
    }
    return static_cast<std::size_t>(h);
  }

  void grow() {
    std::vector<std::uint32_t> old = std::move(slots_);
    slots_.assign(old.size() * 2, 0);
    const std::size_t mask = slots_.size() - 1;
    for (const std::uint32_t s : old) {
      if (s == 0) continue;
      std::size_t i = hash(rows_.data() + std::size_t{s - 1} * words_) & mask;
      while (slots_[i] != 0) i = (i + 1) & mask;
      slots_[i] = s;
    }
  }

  std::uint32_t words_;
  std::vector<std::uint64_t> rows_;
  std::vector<std::uint32_t> slots_;  // row id + 1; 0 = empty
};

// Cuts the key space into elementary intervals, each mapped to the interned
// bitset of the rules whose intervals cover it; neighbours with the same
// bitset are merged.  Intervals of one rule may overlap (a prefix list with
// nested entries): a per-bit count keeps that right.
template <class K>
void sweep(std::vector<event<K>>& events, std::uint32_t bits_used, std::uint32_t words, row_interner& rows,
           std::vector<K>& bounds, std::vector<std::uint32_t>& values) {
  std::sort(events.begin(), events.end(), [](const event<K>& a, const event<K>& b) { return a.key < b.key; });
  std::vector<std::uint32_t> count(bits_used, 0);
  std::vector<std::uint64_t> bits(words, 0);
  std::size_t i = 0;
  K cur = 0;
  for (;;) {
    for (; i < events.size() && events[i].key == cur; ++i) {
      const event<K>& e = events[i];
      const std::uint32_t before = count[e.bit];
      count[e.bit] = static_cast<std::uint32_t>(static_cast<std::int64_t>(before) + e.delta);
      const std::uint64_t mask = std::uint64_t{1} << (e.bit % 64);
      if (count[e.bit] != 0) {
        bits[e.bit / 64] |= mask;
      } else {
        bits[e.bit / 64] &= ~mask;
      }
    }
    const std::uint32_t row = rows.intern(bits.data());
    if (values.empty() || values.back() != row) {
      bounds.push_back(cur);
      values.push_back(row);
    }
    if (i == events.size()) break;
    cur = events[i].key;
  }
}

template <class K>
void add_interval(std::vector<event<K>>& events, std::uint32_t bit, K first, K last) {
  events.push_back({first, bit, +1});
  if (last != key_max<K>()) events.push_back({static_cast<K>(last + 1), bit, -1});
}

// Everything the compiler derives once from the model.
struct compile_context {
  const policy_model& model;
  std::vector<std::array<std::vector<net::u128>, net::family_count>> members;       // group -> family -> addresses
  std::vector<std::array<std::vector<std::uint32_t>, direction_count>> rule_index;  // group -> dir -> global

  explicit compile_context(const policy_model& m) : model(m), members(m.groups.size()), rule_index(m.groups.size()) {
    for (const auto& r : m.resources) {
      for (const std::uint32_t g : r.groups) {
        for (const net::ip_address& a : r.addresses) members[g][static_cast<std::size_t>(a.fam)].push_back(a.value);
      }
    }
    for (auto& per_family : members) {
      for (auto& v : per_family) {
        std::sort(v.begin(), v.end());
        v.erase(std::unique(v.begin(), v.end()), v.end());
      }
    }
  }
};

bool peer_is_whole_family(const policy_model& m, const config::peer& p, net::family f) {
  if (const auto* c = std::get_if<net::cidr>(&p)) return c->fam() == f && c->is_any();
  if (const auto* pl = std::get_if<config::prefix_list_ref>(&p)) {
    const auto& list = m.prefix_lists[pl->index];
    return list.fam == f &&
           std::any_of(list.entries.begin(), list.entries.end(), [](const net::cidr& c) { return c.is_any(); });
  }
  return false;  // a group's members are never the whole address space
}

template <class K>
void peer_intervals(const compile_context& ctx, const config::peer& p, net::family f, std::vector<interval<K>>& out) {
  if (const auto* c = std::get_if<net::cidr>(&p)) {
    if (c->fam() == f) out.push_back({static_cast<K>(c->first()), static_cast<K>(c->last())});
  } else if (const auto* pl = std::get_if<config::prefix_list_ref>(&p)) {
    const auto& list = ctx.model.prefix_lists[pl->index];
    if (list.fam != f) return;
    for (const net::cidr& e : list.entries) out.push_back({static_cast<K>(e.first()), static_cast<K>(e.last())});
  } else {
    const auto g = std::get<config::group_ref>(p).index;
    for (const net::u128 a : ctx.members[g][static_cast<std::size_t>(f)]) {
      out.push_back({static_cast<K>(a), static_cast<K>(a)});
    }
  }
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

// Ports of protocol `proto` that rules of `dir` allow to or from the whole
// family (0.0.0.0/0 or ::/0).
std::vector<port_range> whole_family_ports(const policy_model& m, const std::vector<std::uint32_t>& groups,
                                           direction dir, net::family f, std::uint8_t proto) {
  std::vector<port_range> ranges;
  for (const std::uint32_t g : groups) {
    for (const rule& r : m.groups[g].rules(dir)) {
      if (!peer_is_whole_family(m, r.remote, f)) continue;
      if (r.protocol.all) {
        ranges.push_back({0, 65535});
      } else if (r.protocol.is(proto)) {
        ranges.insert(ranges.end(), r.ports.begin(), r.ports.end());
      }
    }
  }
  return merge_ranges(std::move(ranges));
}

template <class K>
struct pending_map {
  std::vector<K> bounds{0};
  std::vector<std::uint32_t> values{0};
};

// A table before the policy-wide shapes (row width, tree depths) are known.
struct pending_table {
  pending_map<std::uint32_t> services;
  std::uint32_t words = 1;
  std::vector<std::uint64_t> address_rows = std::vector<std::uint64_t>(1, 0);  // row 0: nothing allowed
  std::vector<std::uint64_t> service_rows = std::vector<std::uint64_t>(1, 0);
  std::vector<std::uint32_t> rules;
  std::uint32_t untracked_bit = 0;
};

template <class K>
void build_table(const compile_context& ctx, const std::vector<std::uint32_t>& groups, direction dir, net::family f,
                 pending_table& t, pending_map<K>& addresses) {
  std::vector<event<K>> address_events;
  std::vector<event<std::uint32_t>> service_events;
  std::vector<interval<K>> addrs;
  std::vector<interval<std::uint32_t>> services;

  for (const std::uint32_t g : groups) {
    const auto& rules = ctx.model.groups[g].rules(dir);
    for (std::size_t i = 0; i < rules.size(); ++i) {
      addrs.clear();
      services.clear();
      peer_intervals<K>(ctx, rules[i].remote, f, addrs);
      service_intervals(rules[i], f, services);
      if (addrs.empty() || services.empty()) continue;  // cannot match in this family
      const auto bit = static_cast<std::uint32_t>(t.rules.size());
      t.rules.push_back(ctx.rule_index[g][static_cast<std::size_t>(dir)][i]);
      for (const auto& a : addrs) add_interval(address_events, bit, a.first, a.last);
      for (const auto& sv : services) add_interval(service_events, bit, sv.first, sv.last);
    }
  }
  if (t.rules.empty()) return;  // the defaults: one interval each way, nothing allowed

  // One more bit in service rows flags the services whose flows would be
  // untracked (S8); address rows never set it, so it cannot allow anything.
  t.untracked_bit = static_cast<std::uint32_t>(t.rules.size());
  for (const service_range& sr : untracked_services(ctx.model, groups, dir, f)) {
    add_interval(service_events, t.untracked_bit, dp::service_key(sr.proto, sr.ports.first),
                 dp::service_key(sr.proto, sr.ports.last));
  }
  const std::uint32_t bits_used = t.untracked_bit + 1;
  t.words = (bits_used + 63) / 64;

  addresses = {{}, {}};
  row_interner address_rows(t.words);
  sweep(address_events, bits_used, t.words, address_rows, addresses.bounds, addresses.values);
  t.address_rows = address_rows.take_rows();

  t.services = {{}, {}};
  row_interner service_rows(t.words);
  sweep(service_events, bits_used, t.words, service_rows, t.services.bounds, t.services.values);
  t.service_rows = service_rows.take_rows();
}

// Widens rows from `from` to `to` words (the new words are zero).
dp::aligned_vector<std::uint64_t> widen_rows(const std::vector<std::uint64_t>& rows, std::uint32_t from,
                                             std::uint32_t to) {
  dp::aligned_vector<std::uint64_t> out(rows.size() / from * to, 0);
  for (std::size_t r = 0; r < rows.size() / from; ++r) {
    std::copy_n(rows.begin() + static_cast<std::ptrdiff_t>(r * from), from,
                out.begin() + static_cast<std::ptrdiff_t>(r * to));
  }
  return out;
}

struct pending_set {
  std::vector<std::uint32_t> groups;
  std::array<std::array<pending_table, direction_count>, net::family_count> tables;
  std::array<pending_map<std::uint32_t>, direction_count> v4_addresses;
  std::array<pending_map<net::u128>, direction_count> v6_addresses;
};

pending_set build_set(const compile_context& ctx, std::vector<std::uint32_t> groups) {
  pending_set s;
  s.groups = std::move(groups);
  for (const direction d : {direction::ingress, direction::egress}) {
    const auto di = static_cast<std::size_t>(d);
    build_table<std::uint32_t>(ctx, s.groups, d, net::family::ipv4, s.tables[0][di], s.v4_addresses[di]);
    build_table<net::u128>(ctx, s.groups, d, net::family::ipv6, s.tables[1][di], s.v6_addresses[di]);
  }
  return s;
}

// Fixes the policy-wide shapes and builds the search trees.
void finish(std::vector<pending_set>& pending, dp::compiled_policy& p) {
  using dp::interval_map;
  p.row_words = 1;
  p.address_depth = {1, 1};
  p.service_depth = 1;
  for (const auto& s : pending) {
    for (const auto& per_family : s.tables) {
      for (const auto& t : per_family) {
        p.row_words = std::max(p.row_words, std::bit_ceil(t.words));
        p.service_depth =
            std::max(p.service_depth, interval_map<std::uint32_t>::natural_depth(t.services.bounds.size()));
      }
    }
    for (const auto& m : s.v4_addresses) {
      p.address_depth[0] = std::max(p.address_depth[0], interval_map<std::uint32_t>::natural_depth(m.bounds.size()));
    }
    for (const auto& m : s.v6_addresses) {
      p.address_depth[1] = std::max(p.address_depth[1], interval_map<net::u128>::natural_depth(m.bounds.size()));
    }
  }
  p.sets.reserve(pending.size());
  for (auto& s : pending) {
    dp::group_set_tables out;
    out.groups = std::move(s.groups);
    for (std::size_t f = 0; f < net::family_count; ++f) {
      for (std::size_t d = 0; d < direction_count; ++d) {
        pending_table& t = s.tables[f][d];
        dp::rule_table& o = out.tables[f][d];
        // Rows are widened to a power of two so that they never straddle a
        // cache line; leaves hold offsets in words.
        o.words = std::bit_ceil(t.words);
        for (auto& row : t.services.values) {
          // Bit 31 of a service leaf value says whether the service's flows
          // are untracked (S8), so lookups need not read it from the row.
          const std::uint64_t flag_word = t.service_rows[std::size_t{row} * t.words + t.untracked_bit / 64];
          const bool untracked = !t.rules.empty() && ((flag_word >> (t.untracked_bit % 64)) & 1U) != 0;
          row = row * o.words | (untracked ? dp::k_untracked_service : 0U);
        }
        o.services = interval_map<std::uint32_t>::build(t.services.bounds, t.services.values, p.service_depth);
        o.address_rows = widen_rows(t.address_rows, t.words, o.words);
        o.service_rows = widen_rows(t.service_rows, t.words, o.words);
        o.rules = std::move(t.rules);
        o.rules.push_back(dp::k_no_rule);
      }
    }
    for (std::size_t d = 0; d < direction_count; ++d) {
      for (auto& row : s.v4_addresses[d].values) row *= out.tables[0][d].words;
      for (auto& row : s.v6_addresses[d].values) row *= out.tables[1][d].words;
      out.v4_addresses[d] =
          interval_map<std::uint32_t>::build(s.v4_addresses[d].bounds, s.v4_addresses[d].values, p.address_depth[0]);
      out.v6_addresses[d] =
          interval_map<net::u128>::build(s.v6_addresses[d].bounds, s.v6_addresses[d].values, p.address_depth[1]);
    }
    p.sets.push_back(std::move(out));
  }
  // The views, once every vector is in its final place.
  p.views.resize(p.sets.size() * 4);
  for (std::size_t i = 0; i < p.sets.size(); ++i) {
    const dp::group_set_tables& s = p.sets[i];
    for (std::size_t f = 0; f < net::family_count; ++f) {
      for (std::size_t d = 0; d < direction_count; ++d) {
        const dp::rule_table& t = s.tables[f][d];
        dp::table_view& v = p.views[i * 4 + f * 2 + d];
        v.service_inner = t.services.inner_nodes();
        v.service_leaves = t.services.leaves();
        v.address_inner =
            f == 0 ? static_cast<const void*>(s.v4_addresses[d].inner_nodes()) : s.v6_addresses[d].inner_nodes();
        v.address_leaves = f == 0 ? static_cast<const void*>(s.v4_addresses[d].leaves()) : s.v6_addresses[d].leaves();
        v.address_rows = t.address_rows.data();
        v.service_rows = t.service_rows.data();
        v.rules = t.rules.data();
        v.rule_count = static_cast<std::uint32_t>(t.rules.size() - 1);
        v.words = t.words;
      }
    }
  }
}

}  // namespace

std::vector<service_range> untracked_services(const policy_model& model, const std::vector<std::uint32_t>& groups,
                                              direction initiated, net::family fam) {
  std::vector<service_range> out;
  for (const std::uint8_t proto : {ip_proto::tcp, ip_proto::udp}) {
    const auto back = whole_family_ports(model, groups, opposite(initiated), fam, proto);
    if (back.size() != 1 || back[0].first != 0 || back[0].last != 65535) continue;
    for (const port_range& r : whole_family_ports(model, groups, initiated, fam, proto)) out.push_back({proto, r});
  }
  return out;
}

dp::compiled_policy compile(const policy_model& model, std::uint64_t generation) {
  compile_context ctx(model);
  dp::compiled_policy p;
  p.generation = generation;

  // Global rule indices, 1-based: 0 is dp::k_no_rule.
  p.rules.push_back({"", 0, direction::ingress});
  for (std::size_t g = 0; g < model.groups.size(); ++g) {
    p.group_ids.push_back(model.groups[g].id);
    for (const direction d : {direction::ingress, direction::egress}) {
      for (const rule& r : model.groups[g].rules(d)) {
        ctx.rule_index[g][static_cast<std::size_t>(d)].push_back(static_cast<std::uint32_t>(p.rules.size()));
        p.rules.push_back({r.id, static_cast<std::uint32_t>(g), d});
      }
    }
  }

  // Resources with the same groups share one set of tables.
  std::map<std::vector<std::uint32_t>, std::uint32_t> set_of_groups;
  std::vector<pending_set> pending;
  std::vector<dp::resource_map::entry> addresses;
  for (std::size_t r = 0; r < model.resources.size(); ++r) {
    const auto& res = model.resources[r];
    p.resource_names.push_back(res.name);
    std::vector<std::uint32_t> groups = res.groups;
    std::sort(groups.begin(), groups.end());
    auto [it, fresh] = set_of_groups.emplace(groups, static_cast<std::uint32_t>(pending.size()));
    if (fresh) pending.push_back(build_set(ctx, groups));
    p.resource_set.push_back(it->second);
    for (const net::ip_address& a : res.addresses) addresses.push_back({a, static_cast<std::uint32_t>(r)});
  }
  // The deny-all set, for resource indices past the end.
  p.resource_set.push_back(static_cast<std::uint32_t>(pending.size()));
  pending.push_back(build_set(ctx, {}));
  finish(pending, p);
  p.resources = dp::resource_map::build(addresses);
  return p;
}

}  // namespace sgfw::cp
