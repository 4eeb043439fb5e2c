#include "random_policy.hpp"

#include <algorithm>
#include <set>

#include "config/rule_text.hpp"
#include "config/validation.hpp"

namespace sgfw::testing {

namespace {

using config::port_range;
using rng = std::mt19937_64;

std::uint64_t uniform(rng& r, std::uint64_t lo, std::uint64_t hi) {
  return std::uniform_int_distribution<std::uint64_t>(lo, hi)(r);
}
bool chance(rng& r, double p) { return std::bernoulli_distribution(p)(r); }

net::u128 random_bits(rng& r, unsigned bits) {
  const net::u128 v = (net::u128{r()} << 64) | r();
  return bits >= 128 ? v : v & ((net::u128{1} << bits) - 1);
}

net::cidr make_cidr(net::family f, net::u128 base, unsigned len) {
  const unsigned bits = net::address_bits(f);
  return {{f, base & ~net::host_mask(bits, len)}, static_cast<std::uint8_t>(len)};
}

class generator {
 public:
  explicit generator(const random_policy_options& o) : o_(o), r_(o.seed) {
    // Pools of networks that rules and resources draw from; with `dense`
    // they are few and nested, otherwise spread over the address space.
    const std::size_t pool = o.dense ? 24 : 4096;
    for (std::size_t i = 0; i < pool; ++i) {
      v4_nets_.push_back(static_cast<std::uint32_t>(0x0A000000U | (uniform(r_, 0, o.dense ? 7 : 0xFFFF) << 8)));
      v6_nets_.push_back((net::u128{0x20010db8ULL} << 96) | (net::u128{uniform(r_, 0, o.dense ? 7 : 0xFFFF)} << 64));
    }
  }

  config::policy_model run() {
    config::policy_model m;
    m.source_file = "random";
    m.quota.groups_per_resource = config::k_max_groups_per_resource;
    m.quota.ingress_rules_per_group = config::k_max_rules_per_group;
    m.quota.egress_rules_per_group = config::k_max_rules_per_group;

    for (std::uint32_t i = 0; i < o_.prefix_lists; ++i) m.prefix_lists.push_back(random_prefix_list(i));
    for (std::uint32_t g = 0; g < std::max<std::uint32_t>(1, o_.groups); ++g) {
      config::security_group sg;
      sg.id = "sg-" + std::to_string(g);
      m.groups.push_back(std::move(sg));
    }
    attach_resources(m);
    for (std::uint32_t i = 0; i < o_.rules; ++i) {
      const auto g = static_cast<std::uint32_t>(uniform(r_, 0, m.groups.size() - 1));
      config::rule rule = random_rule(m);
      auto& list = rule.dir == direction::ingress ? m.groups[g].ingress : m.groups[g].egress;
      list.push_back(std::move(rule));
    }
    // Half the groups keep the default egress rules (S4), as most real
    // groups do; with ingress rules from anywhere they make flows untracked.
    // normalise() adds them, and the rule ids, as for every source.
    for (auto& g : m.groups) g.egress_declared = !chance(r_, 0.5);
    config::normalise(m);
    return m;
  }

 private:
  net::family pick_family() { return chance(r_, o_.ipv6_share) ? net::family::ipv6 : net::family::ipv4; }

  net::cidr random_cidr(net::family f) {
    if (chance(r_, o_.dense ? 0.08 : 0.03)) return net::cidr::any(f);
    if (f == net::family::ipv4) {
      static constexpr unsigned lens[] = {8, 16, 20, 24, 24, 28, 32, 32};
      const unsigned len = lens[uniform(r_, 0, std::size(lens) - 1)];
      const std::uint32_t base =
          v4_nets_[uniform(r_, 0, v4_nets_.size() - 1)] | static_cast<std::uint32_t>(uniform(r_, 0, 255));
      return make_cidr(f, base, len);
    }
    static constexpr unsigned lens[] = {32, 48, 56, 64, 64, 96, 120, 128};
    const unsigned len = lens[uniform(r_, 0, std::size(lens) - 1)];
    const net::u128 base = v6_nets_[uniform(r_, 0, v6_nets_.size() - 1)] | random_bits(r_, o_.dense ? 8 : 64);
    return make_cidr(f, base, len);
  }

  config::prefix_list random_prefix_list(std::uint32_t i) {
    config::prefix_list pl;
    pl.id = "pl-" + std::to_string(i);
    pl.fam = pick_family();
    const auto n = uniform(r_, 1, 6);
    for (std::uint64_t k = 0; k < n; ++k) {
      const net::cidr c = random_cidr(pl.fam);
      if (std::find(pl.entries.begin(), pl.entries.end(), c) == pl.entries.end()) pl.entries.push_back(c);
    }
    pl.max_entries = static_cast<std::uint32_t>(pl.entries.size());
    return pl;
  }

  net::ip_address random_host(net::family f) {
    if (f == net::family::ipv4) {
      return net::ip_address::v4(v4_nets_[uniform(r_, 0, v4_nets_.size() - 1)] |
                                 static_cast<std::uint32_t>(uniform(r_, 0, 255)));
    }
    return net::ip_address::v6(v6_nets_[uniform(r_, 0, v6_nets_.size() - 1)] | random_bits(r_, o_.dense ? 8 : 64));
  }

  void attach_resources(config::policy_model& m) {
    std::set<net::ip_address> used;
    const auto groups = static_cast<std::uint32_t>(m.groups.size());
    const std::uint32_t per = std::max<std::uint32_t>(1, groups / std::max<std::uint32_t>(1, o_.resources));
    for (std::uint32_t i = 0; i < o_.resources; ++i) {
      config::resource res;
      res.name = "res-" + std::to_string(i);
      const auto n_addr = uniform(r_, 1, 3);
      for (std::uint64_t k = 0; k < n_addr; ++k) {
        const net::ip_address a = random_host(pick_family());
        if (used.insert(a).second) res.addresses.push_back(a);
      }
      if (res.addresses.empty()) {
        // Collisions in a dense pool: take the next free address.
        net::ip_address a = net::ip_address::v4(0xC0A80000U + i);
        while (!used.insert(a).second) a.value++;
        res.addresses.push_back(a);
      }
      if (o_.partitioned) {
        for (std::uint32_t g = i * per; g < std::min(groups, (i + 1) * per); ++g) res.groups.push_back(g);
        if (res.groups.empty()) res.groups.push_back(i % groups);
      } else {
        const auto n = uniform(r_, 1, std::min(o_.max_groups_per_resource, groups));
        while (res.groups.size() < n) {
          const auto g = static_cast<std::uint32_t>(uniform(r_, 0, groups - 1));
          if (std::find(res.groups.begin(), res.groups.end(), g) == res.groups.end()) res.groups.push_back(g);
        }
      }
      m.resources.push_back(std::move(res));
    }
  }

  std::vector<port_range> random_ports() {
    static constexpr std::uint16_t common[] = {22, 53, 80, 123, 443, 3306, 5432, 6379, 8080, 8443};
    std::vector<port_range> out;
    const auto n = chance(r_, 0.2) ? uniform(r_, 2, 4) : 1;
    for (std::uint64_t k = 0; k < n; ++k) {
      const auto kind = uniform(r_, 0, 9);
      port_range p;
      if (kind < 4) {
        const auto c = common[uniform(r_, 0, std::size(common) - 1)];
        p = {c, c};
      } else if (kind < 7) {
        const auto v = static_cast<std::uint16_t>(o_.dense ? uniform(r_, 0, 2000) : uniform(r_, 0, 65535));
        p = {v, v};
      } else if (kind < 9) {
        const auto a = static_cast<std::uint16_t>(uniform(r_, 0, o_.dense ? 2000 : 65535));
        const auto b = static_cast<std::uint16_t>(std::min<std::uint64_t>(65535, a + uniform(r_, 0, 3000)));
        p = {a, b};
      } else {
        p = {0, 65535};
      }
      // Keep ranges of one rule disjoint, as the loader requires.
      const bool overlaps = std::any_of(out.begin(), out.end(),
                                        [&](const port_range& q) { return p.first <= q.last && q.first <= p.last; });
      if (!overlaps) out.push_back(p);
    }
    std::sort(out.begin(), out.end(), [](const port_range& a, const port_range& b) { return a.first < b.first; });
    return out;
  }

  config::rule random_rule(const config::policy_model& m) {
    config::rule rule;
    rule.dir = chance(r_, 0.6) ? direction::ingress : direction::egress;
    const auto kind = uniform(r_, 0, 99);
    if (kind < 55) {
      rule.protocol = {false, ip_proto::tcp};
    } else if (kind < 75) {
      rule.protocol = {false, ip_proto::udp};
    } else if (kind < 85) {
      rule.protocol = {false, chance(r_, 0.5) ? ip_proto::icmp : ip_proto::icmpv6};
    } else if (kind < 92) {
      rule.protocol = {true, 0};
    } else {
      static constexpr std::uint8_t others[] = {47, 50, 132, 0, 255};
      rule.protocol = {false, others[uniform(r_, 0, std::size(others) - 1)]};
    }
    if (rule.protocol.has_ports()) rule.ports = random_ports();
    if (rule.protocol.is_icmp() && chance(r_, 0.7)) {
      rule.icmp_type = static_cast<int>(chance(r_, 0.5) ? uniform(r_, 0, 3) * 8 / 3 : uniform(r_, 0, 255));
      if (chance(r_, 0.5)) rule.icmp_code = static_cast<int>(uniform(r_, 0, 3));
    }
    const net::family icmp_family = rule.protocol.is(ip_proto::icmp)     ? net::family::ipv4
                                    : rule.protocol.is(ip_proto::icmpv6) ? net::family::ipv6
                                                                         : pick_family();
    const double p = std::uniform_real_distribution<double>(0, 1)(r_);
    if (p < o_.group_ref_share) {
      rule.remote = config::group_ref{static_cast<std::uint32_t>(uniform(r_, 0, m.groups.size() - 1))};
    } else if (p < o_.group_ref_share + o_.prefix_list_share && !m.prefix_lists.empty()) {
      // Only lists of a family the protocol can match, as the loader requires.
      std::vector<std::uint32_t> fits;
      for (std::uint32_t i = 0; i < m.prefix_lists.size(); ++i) {
        if (!rule.protocol.is_icmp() || m.prefix_lists[i].fam == icmp_family) fits.push_back(i);
      }
      if (fits.empty()) {
        rule.remote = random_cidr(icmp_family);
      } else {
        rule.remote = config::prefix_list_ref{fits[uniform(r_, 0, fits.size() - 1)]};
      }
    } else {
      rule.remote = random_cidr(icmp_family);
    }
    return rule;
  }

  random_policy_options o_;
  rng r_;
  std::vector<std::uint32_t> v4_nets_;
  std::vector<net::u128> v6_nets_;
};

// An address inside, at the edge of, or just outside a block.
net::u128 near(rng& r, const net::cidr& c) {
  const net::u128 max = c.fam() == net::family::ipv4 ? 0xFFFFFFFFULL : ~net::u128{0};
  switch (uniform(r, 0, 4)) {
    case 0:
      return c.first();
    case 1:
      return c.last();
    case 2:
      return c.first() == 0 ? c.first() : c.first() - 1;
    case 3:
      return c.last() == max ? c.last() : c.last() + 1;
    default:
      return c.first() + (random_bits(r, 128) & net::host_mask(net::address_bits(c.fam()), c.prefix));
  }
}

std::uint16_t near_port(rng& r, const port_range& p) {
  switch (uniform(r, 0, 4)) {
    case 0:
      return p.first;
    case 1:
      return p.last;
    case 2:
      return static_cast<std::uint16_t>(p.first == 0 ? 0 : p.first - 1);
    case 3:
      return static_cast<std::uint16_t>(p.last == 65535 ? 65535 : p.last + 1);
    default:
      return static_cast<std::uint16_t>(uniform(r, p.first, p.last));
  }
}

}  // namespace

config::policy_model random_policy(const random_policy_options& options) { return generator(options).run(); }

std::vector<dp::classify_key> random_keys(const config::policy_model& m, std::size_t count, std::uint64_t seed) {
  rng r(seed);
  std::vector<const config::rule*> rules;
  for (const auto& g : m.groups) {
    for (const auto* list : {&g.ingress, &g.egress}) {
      for (const auto& rule : *list) rules.push_back(&rule);
    }
  }
  std::vector<net::ip_address> hosts;
  for (const auto& res : m.resources) hosts.insert(hosts.end(), res.addresses.begin(), res.addresses.end());

  static constexpr std::uint8_t protos[] = {ip_proto::tcp, ip_proto::udp, ip_proto::icmp, ip_proto::icmpv6, 47, 132};
  std::vector<dp::classify_key> keys;
  keys.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    dp::classify_key::fields k;
    k.resource = static_cast<std::uint32_t>(uniform(r, 0, m.resources.size() - 1));
    k.dir = chance(r, 0.5) ? direction::ingress : direction::egress;
    k.proto = protos[uniform(r, 0, std::size(protos) - 1)];
    net::family fam = chance(r, 0.5) ? net::family::ipv4 : net::family::ipv6;
    k.local_port = static_cast<std::uint16_t>(uniform(r, 0, 65535));
    k.remote_port = static_cast<std::uint16_t>(uniform(r, 0, 65535));
    k.icmp_type = static_cast<std::uint8_t>(uniform(r, 0, 10));
    k.icmp_code = static_cast<std::uint8_t>(uniform(r, 0, 4));
    net::u128 remote = fam == net::family::ipv4 ? net::u128{static_cast<std::uint32_t>(r())} : random_bits(r, 128);

    const auto aim = uniform(r, 0, 9);
    if (aim < 6 && !rules.empty()) {
      // Aim at a rule: its direction, protocol, ports, and an address in or
      // near its peer.
      const config::rule& rule = *rules[uniform(r, 0, rules.size() - 1)];
      k.dir = rule.dir;
      if (!rule.protocol.all) k.proto = rule.protocol.number;
      if (!rule.ports.empty()) {
        const std::uint16_t port = near_port(r, rule.ports[uniform(r, 0, rule.ports.size() - 1)]);
        (k.dir == direction::ingress ? k.local_port : k.remote_port) = port;
      }
      if (rule.icmp_type != config::k_icmp_any) k.icmp_type = static_cast<std::uint8_t>(rule.icmp_type);
      if (rule.icmp_code != config::k_icmp_any) k.icmp_code = static_cast<std::uint8_t>(rule.icmp_code);
      if (const auto* c = std::get_if<net::cidr>(&rule.remote)) {
        fam = c->fam();
        remote = near(r, *c);
      } else if (const auto* pl = std::get_if<config::prefix_list_ref>(&rule.remote)) {
        const auto& list = m.prefix_lists[pl->index];
        if (!list.entries.empty()) {
          fam = list.fam;
          remote = near(r, list.entries[uniform(r, 0, list.entries.size() - 1)]);
        }
      } else if (!hosts.empty()) {
        const net::ip_address h = hosts[uniform(r, 0, hosts.size() - 1)];
        fam = h.fam;
        remote = h.value;
      }
      if (k.proto == ip_proto::icmp && chance(r, 0.8)) fam = net::family::ipv4;
      if (k.proto == ip_proto::icmpv6 && chance(r, 0.8)) fam = net::family::ipv6;
    } else if (aim < 8 && !hosts.empty()) {
      const net::ip_address h = hosts[uniform(r, 0, hosts.size() - 1)];
      fam = h.fam;
      remote = h.value;
    }
    if (fam == net::family::ipv4) remote &= 0xFFFFFFFFULL;
    k.remote = {fam, remote};
    keys.push_back(dp::classify_key::make(k));
  }
  return keys;
}

}  // namespace sgfw::testing
