#include "compiler/compiler.hpp"

#include <algorithm>
#include <bit>
#include <limits>
#include <map>
#include <type_traits>

#if defined(__AVX512BW__)
#include <immintrin.h>
#endif

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
constexpr K key_max() {
  return static_cast<K>(~K{0});
}

// Interval end points to sweep.  For 32-bit keys an event is packed into
// one integer, key << 32 | bit << 1 | end, so that sorting is a plain
// integer sort; the order of events at one key does not matter.
template <class K>
struct event_list;

template <>
struct event_list<std::uint32_t> {
  std::vector<std::uint64_t> events;

  void add(std::uint32_t bit, std::uint32_t first, std::uint32_t last) {
    events.push_back(std::uint64_t{first} << 32 | std::uint64_t{bit} << 1);
    if (last != key_max<std::uint32_t>()) {
      events.push_back(std::uint64_t{last + 1} << 32 | std::uint64_t{bit} << 1 | 1U);
    }
  }
  void sort() { std::sort(events.begin(), events.end()); }
  std::size_t size() const { return events.size(); }
  void clear() { events.clear(); }
  std::uint32_t key(std::size_t i) const { return static_cast<std::uint32_t>(events[i] >> 32); }
  std::uint32_t bit(std::size_t i) const { return static_cast<std::uint32_t>(events[i] >> 1) & 0x7FFFFFFFU; }
  bool end(std::size_t i) const { return (events[i] & 1U) != 0; }
};

template <>
struct event_list<net::u128> {
  struct event {
    net::u128 key;
    std::uint32_t bit;
    bool end;
  };
  std::vector<event> events;

  void add(std::uint32_t bit, net::u128 first, net::u128 last) {
    events.push_back({first, bit, false});
    if (last != key_max<net::u128>()) events.push_back({last + 1, bit, true});
  }
  void sort() {
    std::sort(events.begin(), events.end(), [](const event& a, const event& b) { return a.key < b.key; });
  }
  std::size_t size() const { return events.size(); }
  void clear() { events.clear(); }
  net::u128 key(std::size_t i) const { return events[i].key; }
  std::uint32_t bit(std::size_t i) const { return events[i].bit; }
  bool end(std::size_t i) const { return events[i].end; }
};

// A pseudo-random 64-bit tag per bit: the XOR of the tags of the set bits
// is a hash of the bitset that the sweep keeps current in O(1) per event.
std::uint64_t bit_tag(std::uint32_t bit) {
  std::uint64_t z = (std::uint64_t{bit} + 1) * 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// Interns rule bitsets: equal rows share one id, so tables hold each
// distinct row once however many intervals map to it.  Rows are stored
// `stride` words apart (the table's power-of-two row width).  Works in
// reused scratch buffers; rows() hands out an exactly sized copy.
class row_interner {
 public:
  row_interner(std::uint32_t words, std::uint32_t stride, std::vector<std::uint32_t>& slots,
               std::vector<std::uint64_t>& rows, std::vector<std::uint64_t>& hashes)
      : words_(words), stride_(stride), slots_(slots), rows_(rows), hashes_(hashes) {
    slots_.assign(64, 0);
    rows_.clear();
    hashes_.clear();
  }

  std::uint32_t intern(const std::uint64_t* bits, std::uint64_t hash) {
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
      const std::uint32_t s = slots_[i];
      if (s == 0) {
        const auto id = static_cast<std::uint32_t>(hashes_.size());
        rows_.insert(rows_.end(), bits, bits + words_);
        rows_.resize(rows_.size() + (stride_ - words_), 0);
        hashes_.push_back(hash);
        slots_[i] = id + 1;
        if (2 * hashes_.size() > slots_.size()) grow();
        return id;
      }
      if (hashes_[s - 1] == hash &&
          std::equal(bits, bits + words_, rows_.begin() + static_cast<std::ptrdiff_t>(std::size_t{s - 1} * stride_))) {
        return s - 1;
      }
    }
  }

  dp::aligned_vector<std::uint64_t> rows() const { return {rows_.begin(), rows_.end()}; }

 private:
  void grow() {
    slots_.assign(slots_.size() * 2, 0);
    const std::size_t mask = slots_.size() - 1;
    for (std::uint32_t id = 0; id < hashes_.size(); ++id) {
      std::size_t i = hashes_[id] & mask;
      while (slots_[i] != 0) i = (i + 1) & mask;
      slots_[i] = id + 1;
    }
  }

  std::uint32_t words_;
  std::uint32_t stride_;
  std::vector<std::uint32_t>& slots_;  // row id + 1; 0 = empty
  std::vector<std::uint64_t>& rows_;
  std::vector<std::uint64_t>& hashes_;
};

// Buffers reused from table to table, so that compiling allocates little.
struct compile_scratch {
  event_list<std::uint32_t> v4_events;
  event_list<net::u128> v6_events;
  event_list<std::uint32_t> service_events;
  std::vector<std::uint32_t> count;
  std::vector<std::uint64_t> bits;
  std::vector<std::uint32_t> slots;
  std::vector<std::uint64_t> rows;
  std::vector<std::uint64_t> hashes;
  std::vector<std::uint32_t> bounds32;
  std::vector<net::u128> bounds128;
  std::vector<std::uint32_t> values;
  std::vector<interval<std::uint32_t>> v4_intervals;
  std::vector<interval<net::u128>> v6_intervals;
  std::vector<interval<std::uint32_t>> service_intervals;
};

// Cuts the key space into elementary intervals, each mapped to the interned
// bitset of the rules whose intervals cover it; neighbours with the same
// bitset are merged.  Intervals of one rule may overlap (a prefix list with
// nested entries): a per-bit count keeps that right.
template <class K>
void sweep(event_list<K>& events, std::uint32_t bits_used, std::uint32_t words, compile_scratch& scratch,
           row_interner& rows, std::vector<K>& bounds, std::vector<std::uint32_t>& values) {
  events.sort();
  scratch.count.assign(bits_used, 0);
  scratch.bits.assign(words, 0);
  std::uint64_t hash = 0;
  std::size_t i = 0;
  K cur = 0;
  for (;;) {
    for (; i < events.size() && events.key(i) == cur; ++i) {
      const std::uint32_t bit = events.bit(i);
      std::uint32_t& c = scratch.count[bit];
      const bool was_set = c != 0;
      c = events.end(i) ? c - 1 : c + 1;
      if (was_set != (c != 0)) {
        scratch.bits[bit / 64] ^= std::uint64_t{1} << (bit % 64);
        hash ^= bit_tag(bit);
      }
    }
    const std::uint32_t row = rows.intern(scratch.bits.data(), hash);
    if (values.empty() || values.back() != row) {
      bounds.push_back(cur);
      values.push_back(row);
    }
    if (i == events.size()) break;
    cur = events.key(i);
  }
}

// Everything the compiler derives once from the model.
struct compile_context {
  const policy_model& model;
  std::vector<std::array<std::vector<net::u128>, net::family_count>> members;       // group -> family -> addresses
  std::vector<std::array<std::vector<std::uint32_t>, direction_count>> rule_index;  // group -> dir -> global
  compile_scratch scratch;

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

// TCP and UDP ports that the groups' rules allow to or from the whole
// family (0.0.0.0/0 or ::/0), per direction and family, in one pass over
// the rules: [direction][family][0 = tcp, 1 = udp].
using family_port_sets =
    std::array<std::array<std::array<std::vector<port_range>, 2>, net::family_count>, direction_count>;

family_port_sets whole_family_ports(const policy_model& m, const std::vector<std::uint32_t>& groups) {
  family_port_sets out;
  for (const std::uint32_t g : groups) {
    for (const direction d : {direction::ingress, direction::egress}) {
      for (const rule& r : m.groups[g].rules(d)) {
        for (const net::family f : {net::family::ipv4, net::family::ipv6}) {
          if (!peer_is_whole_family(m, r.remote, f)) continue;
          auto& per_proto = out[static_cast<std::size_t>(d)][static_cast<std::size_t>(f)];
          for (std::size_t p = 0; p < 2; ++p) {
            const std::uint8_t proto = p == 0 ? ip_proto::tcp : ip_proto::udp;
            if (r.protocol.all) {
              per_proto[p].push_back({0, 65535});
            } else if (r.protocol.is(proto)) {
              per_proto[p].insert(per_proto[p].end(), r.ports.begin(), r.ports.end());
            }
          }
        }
      }
    }
  }
  for (auto& per_dir : out) {
    for (auto& per_family : per_dir) {
      for (auto& ranges : per_family) ranges = merge_ranges(std::move(ranges));
    }
  }
  return out;
}

std::vector<service_range> untracked_from(const family_port_sets& ports, direction initiated, net::family fam) {
  std::vector<service_range> out;
  const auto f = static_cast<std::size_t>(fam);
  for (std::size_t p = 0; p < 2; ++p) {
    const auto& back = ports[static_cast<std::size_t>(opposite(initiated))][f][p];
    if (back.size() != 1 || back[0].first != 0 || back[0].last != 65535) continue;
    for (const port_range& r : ports[static_cast<std::size_t>(initiated)][f][p]) {
      out.push_back({p == 0 ? ip_proto::tcp : ip_proto::udp, r});
    }
  }
  return out;
}

template <class K>
struct pending_map {
  std::vector<K> bounds{0};
  std::vector<std::uint32_t> values{0};
};

// A table before the policy-wide tree depths are known.  Rows are already
// at their final width, a power of two, so that they never straddle a
// cache line.
struct pending_table {
  pending_map<std::uint32_t> services;
  std::uint32_t words = 1;                                                                   // stored row width
  dp::aligned_vector<std::uint64_t> address_rows = dp::aligned_vector<std::uint64_t>(1, 0);  // row 0: nothing
  dp::aligned_vector<std::uint64_t> service_rows = dp::aligned_vector<std::uint64_t>(1, 0);
  std::vector<std::uint32_t> rules;
};

template <class K>
std::vector<interval<K>>& address_intervals_of(compile_scratch& s) {
  if constexpr (std::is_same_v<K, std::uint32_t>) {
    return s.v4_intervals;
  } else {
    return s.v6_intervals;
  }
}

template <class K>
std::vector<K>& address_bounds_of(compile_scratch& s) {
  if constexpr (std::is_same_v<K, std::uint32_t>) {
    return s.bounds32;
  } else {
    return s.bounds128;
  }
}

template <class K>
event_list<K>& address_events_of(compile_scratch& s) {
  if constexpr (std::is_same_v<K, std::uint32_t>) {
    return s.v4_events;
  } else {
    return s.v6_events;
  }
}

template <class K>
void build_table(compile_context& ctx, const std::vector<std::uint32_t>& groups, const family_port_sets& wide_open,
                 direction dir, net::family f, pending_table& t, pending_map<K>& addresses) {
  compile_scratch& scratch = ctx.scratch;
  event_list<K>& address_events = address_events_of<K>(scratch);
  event_list<std::uint32_t>& service_events = scratch.service_events;
  address_events.clear();
  service_events.clear();
  auto& addrs = address_intervals_of<K>(scratch);
  auto& services = scratch.service_intervals;
  std::size_t candidates = 0;
  for (const std::uint32_t g : groups) candidates += ctx.model.groups[g].rules(dir).size();
  t.rules.reserve(candidates + 1);

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
      for (const auto& a : addrs) address_events.add(bit, a.first, a.last);
      for (const auto& sv : services) service_events.add(bit, sv.first, sv.last);
    }
  }
  if (t.rules.empty()) return;  // the defaults: one interval each way, nothing allowed

  // One more bit in service rows flags the services whose flows would be
  // untracked (S8); address rows never set it, so it cannot allow anything.
  const auto untracked_bit = static_cast<std::uint32_t>(t.rules.size());
  for (const service_range& sr : untracked_from(wide_open, dir, f)) {
    service_events.add(untracked_bit, dp::service_key(sr.proto, sr.ports.first),
                       dp::service_key(sr.proto, sr.ports.last));
  }
  const std::uint32_t bits_used = untracked_bit + 1;
  const std::uint32_t words = (bits_used + 63) / 64;
  t.words = std::bit_ceil(words);

  {
    auto& bounds = address_bounds_of<K>(scratch);
    bounds.clear();
    scratch.values.clear();
    row_interner rows(words, t.words, scratch.slots, scratch.rows, scratch.hashes);
    sweep(address_events, bits_used, words, scratch, rows, bounds, scratch.values);
    t.address_rows = rows.rows();
    addresses.bounds.assign(bounds.begin(), bounds.end());
    addresses.values.assign(scratch.values.begin(), scratch.values.end());
  }
  {
    scratch.bounds32.clear();
    scratch.values.clear();
    row_interner rows(words, t.words, scratch.slots, scratch.rows, scratch.hashes);
    sweep(service_events, bits_used, words, scratch, rows, scratch.bounds32, scratch.values);
    t.service_rows = rows.rows();
    t.services.bounds.assign(scratch.bounds32.begin(), scratch.bounds32.end());
    t.services.values.assign(scratch.values.begin(), scratch.values.end());
  }

  // Bit 31 of a service's value says whether its flows are untracked, so
  // that lookups need not read it from the row.  Values stay class indices
  // until finish() knows the representation.
  for (auto& c : t.services.values) {
    const std::uint64_t flag_word = t.service_rows[std::size_t{c} * t.words + untracked_bit / 64];
    const bool untracked = ((flag_word >> (untracked_bit % 64)) & 1U) != 0;
    c |= untracked ? dp::k_untracked_service : 0U;
  }
}

struct pending_set {
  std::vector<std::uint32_t> groups;
  std::array<std::array<pending_table, direction_count>, net::family_count> tables;
  std::array<pending_map<std::uint32_t>, direction_count> v4_addresses;
  std::array<pending_map<net::u128>, direction_count> v6_addresses;
};

pending_set build_set(compile_context& ctx, std::vector<std::uint32_t> groups) {
  pending_set s;
  s.groups = std::move(groups);
  const family_port_sets wide_open = whole_family_ports(ctx.model, s.groups);
  for (const direction d : {direction::ingress, direction::egress}) {
    const auto di = static_cast<std::size_t>(d);
    build_table<std::uint32_t>(ctx, s.groups, wide_open, d, net::family::ipv4, s.tables[0][di], s.v4_addresses[di]);
    build_table<net::u128>(ctx, s.groups, wide_open, d, net::family::ipv6, s.tables[1][di], s.v6_addresses[di]);
  }
  return s;
}

std::size_t class_count(const dp::aligned_vector<std::uint64_t>& rows, std::uint32_t words) {
  return rows.size() / words;
}

// Matrices replace the rows when every table's rule bits fit in 16 bits and
// all matrices together take at most eight times the rows' memory (or
// 256 KiB), and never more than 512 MiB: a lookup then reads one answer
// instead of two rows, which measured 1.25x faster at 1k and 10k rules even
// at four times the memory (docs/performance.md).  Entries are one byte when
// every table has fewer than 255 rules.  Returns the entry width, 0 for rows.
std::uint32_t matrix_entry_bytes(const std::vector<pending_set>& pending, combine_choice choice) {
  if (choice == combine_choice::rows) return 0;
  std::size_t row_bytes = 0;
  std::size_t matrix_entries = 0;
  std::size_t most_rules = 0;
  for (const auto& s : pending) {
    for (const auto& per_family : s.tables) {
      for (const auto& t : per_family) {
        most_rules = std::max(most_rules, t.rules.size());
        row_bytes += (t.address_rows.size() + t.service_rows.size()) * sizeof(std::uint64_t);
        matrix_entries += class_count(t.address_rows, t.words) * class_count(t.service_rows, t.words);
      }
    }
  }
  if (most_rules >= 0xFFFF) return 0;
  const std::uint32_t width = most_rules < 0xFF && choice != combine_choice::wide_matrices ? 1 : 2;
  if (choice != combine_choice::automatic) return width;
  const std::size_t matrix_bytes = matrix_entries * width;
  const bool affordable =
      matrix_bytes <= std::max<std::size_t>(256 * 1024, 8 * row_bytes) && matrix_bytes <= (std::size_t{512} << 20);
  return affordable ? width : 0;
}

// The first rule bit common to each pair of address and service classes.
// Works rule by rule rather than pair by pair: for every bit, the bitmap of
// service classes that contain it (a column).  An address class (few bits:
// an address is covered by few blocks) then writes its bits from the
// highest to the lowest into its matrix row, each over the service classes
// of its column, so the lowest common bit is what remains.  With AVX-512 one
// masked store writes 64 (one-byte) or 32 (two-byte) entries.
template <class Entry>
dp::aligned_vector<std::uint8_t> decision_matrix(const pending_table& t) {
  const std::size_t a_count = class_count(t.address_rows, t.words);
  const std::size_t s_count = class_count(t.service_rows, t.words);
  const std::size_t s_words = (s_count + 63) / 64;
  const std::size_t bits = std::size_t{t.words} * 64;
  std::vector<std::uint64_t> columns(bits * s_words, 0);
  for (std::size_t sc = 0; sc < s_count; ++sc) {
    for (std::uint32_t w = 0; w < t.words; ++w) {
      for (std::uint64_t x = t.service_rows[sc * t.words + w]; x != 0; x &= x - 1) {
        const std::size_t b = w * 64 + static_cast<std::size_t>(std::countr_zero(x));
        columns[b * s_words + sc / 64] |= std::uint64_t{1} << (sc % 64);
      }
    }
  }
  // Column bits are all below s_count, so a 64-entry masked store never
  // writes past its row (and masked-off lanes never fault).
  dp::aligned_vector<std::uint8_t> bytes(a_count * s_count * sizeof(Entry), 0xFF);  // all ones: none
  auto* matrix = reinterpret_cast<Entry*>(bytes.data());
  std::vector<std::uint32_t> row_bits;
  for (std::size_t a = 0; a < a_count; ++a) {
    row_bits.clear();
    for (std::uint32_t w = 0; w < t.words; ++w) {
      for (std::uint64_t x = t.address_rows[a * t.words + w]; x != 0; x &= x - 1) {
        row_bits.push_back(w * 64 + static_cast<std::uint32_t>(std::countr_zero(x)));
      }
    }
    Entry* row = matrix + a * s_count;
    for (auto b = row_bits.rbegin(); b != row_bits.rend(); ++b) {
      const std::uint64_t* column = columns.data() + std::size_t{*b} * s_words;
      for (std::size_t sw = 0; sw < s_words; ++sw) {
#if defined(__AVX512BW__)
        if constexpr (sizeof(Entry) == 1) {
          _mm512_mask_storeu_epi8(row + sw * 64, column[sw], _mm512_set1_epi8(static_cast<char>(*b)));
        } else {
          const __m512i v = _mm512_set1_epi16(static_cast<short>(*b));
          _mm512_mask_storeu_epi16(row + sw * 64, static_cast<__mmask32>(column[sw]), v);
          _mm512_mask_storeu_epi16(row + sw * 64 + 32, static_cast<__mmask32>(column[sw] >> 32), v);
        }
#else
        for (std::uint64_t x = column[sw]; x != 0; x &= x - 1) {
          row[sw * 64 + static_cast<std::size_t>(std::countr_zero(x))] = static_cast<Entry>(*b);
        }
#endif
      }
    }
  }
  return bytes;
}

// Fixes the policy-wide shapes and builds the search trees.
void finish(std::vector<pending_set>& pending, combine_choice choice, dp::compiled_policy& p) {
  using dp::interval_map;
  p.row_words = 1;
  p.address_depth = {1, 1};
  p.service_depth = 1;
  for (const auto& s : pending) {
    for (const auto& per_family : s.tables) {
      for (const auto& t : per_family) {
        p.row_words = std::max(p.row_words, t.words);
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
  p.matrix_entry_bytes = matrix_entry_bytes(pending, choice);
  p.matrices = p.matrix_entry_bytes != 0;
  p.sets.reserve(pending.size());
  for (auto& s : pending) {
    dp::group_set_tables out;
    out.groups = std::move(s.groups);
    for (std::size_t f = 0; f < net::family_count; ++f) {
      for (std::size_t d = 0; d < direction_count; ++d) {
        pending_table& t = s.tables[f][d];
        dp::rule_table& o = out.tables[f][d];
        o.words = t.words;
        // Leaves hold offsets: matrices, address class * service classes
        // and service class; rows, class * row width in words for both.
        // Service values keep their untracked flag.
        auto& address_values = f == 0 ? s.v4_addresses[d].values : s.v6_addresses[d].values;
        const auto address_scale =
            p.matrices ? static_cast<std::uint32_t>(class_count(t.service_rows, t.words)) : t.words;
        const std::uint32_t service_scale = p.matrices ? 1 : t.words;
        for (auto& v : address_values) v *= address_scale;
        for (auto& v : t.services.values) {
          v = (v & ~dp::k_untracked_service) * service_scale | (v & dp::k_untracked_service);
        }
        if (p.matrices) {
          o.matrix = p.matrix_entry_bytes == 1 ? decision_matrix<std::uint8_t>(t) : decision_matrix<std::uint16_t>(t);
        } else {
          o.address_rows = std::move(t.address_rows);
          o.service_rows = std::move(t.service_rows);
        }
        o.services = interval_map<std::uint32_t>::build(t.services.bounds, t.services.values, p.service_depth);
        o.rules = std::move(t.rules);
        o.rules.push_back(dp::k_no_rule);
      }
    }
    for (std::size_t d = 0; d < direction_count; ++d) {
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
        if (p.matrices) {
          v.matrix = t.matrix.data();
        } else {
          v.address_rows = t.address_rows.data();
          v.service_rows = t.service_rows.data();
        }
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
  return untracked_from(whole_family_ports(model, groups), initiated, fam);
}

dp::compiled_policy compile(const policy_model& model, const compile_options& options) {
  compile_context ctx(model);
  dp::compiled_policy p;
  p.generation = options.generation;

  // Global rule indices, 1-based: 0 is dp::k_no_rule.
  std::size_t rule_count = 1;
  std::size_t id_bytes = 0;
  for (const auto& g : model.groups) {
    for (const auto* list : {&g.ingress, &g.egress}) {
      rule_count += list->size();
      for (const rule& r : *list) id_bytes += r.id.size();
    }
  }
  p.rules.reserve(rule_count);
  p.rule_id_text.reserve(id_bytes);
  p.rules.push_back({});
  p.group_ids.reserve(model.groups.size());
  for (std::size_t g = 0; g < model.groups.size(); ++g) {
    p.group_ids.push_back(model.groups[g].id);
    for (const direction d : {direction::ingress, direction::egress}) {
      ctx.rule_index[g][static_cast<std::size_t>(d)].reserve(model.groups[g].rules(d).size());
      for (const rule& r : model.groups[g].rules(d)) {
        ctx.rule_index[g][static_cast<std::size_t>(d)].push_back(static_cast<std::uint32_t>(p.rules.size()));
        p.rules.push_back({static_cast<std::uint32_t>(p.rule_id_text.size()), static_cast<std::uint32_t>(r.id.size()),
                           static_cast<std::uint32_t>(g), d});
        p.rule_id_text += r.id;
      }
    }
  }

  // Resources with the same groups share one set of tables.
  std::map<std::vector<std::uint32_t>, std::uint32_t> set_of_groups;
  std::vector<pending_set> pending;
  std::vector<dp::resource_map::entry> addresses;
  std::vector<dp::resource_map::mac_entry> macs;
  const std::uint32_t workers = std::max<std::uint32_t>(options.workers, 1);
  config::appliance_settings shares = model.appliance;
  if (options.max_flows != 0) shares.max_flows = options.max_flows;  // the running table's, on a reload
  for (std::size_t r = 0; r < model.resources.size(); ++r) {
    const auto& res = model.resources[r];
    p.resource_names.push_back(res.name);
    p.resource_timeouts.push_back(res.timeouts);
    p.resource_side.push_back(res.side);
    p.resource_slot.push_back(options.resource_slots != nullptr ? (*options.resource_slots)[r]
                                                                : static_cast<std::uint16_t>(r));
    // Each worker holds its share of the resource's flows, as of the table.
    p.resource_flow_limit.push_back((shares.resource_share(res) + workers - 1) / workers);
    if (res.mac) macs.push_back({*res.mac, static_cast<std::uint32_t>(r)});
    std::vector<std::uint32_t> groups = res.groups;
    std::sort(groups.begin(), groups.end());
    auto [it, fresh] = set_of_groups.emplace(groups, static_cast<std::uint32_t>(pending.size()));
    if (fresh) pending.push_back(build_set(ctx, groups));
    p.resource_set.push_back(it->second);
    for (const net::ip_address& a : res.addresses) addresses.push_back({a, static_cast<std::uint32_t>(r)});
  }
  p.resource_timeouts.push_back(model.appliance.timeouts);
  p.icmp_errors_related = model.appliance.icmp_errors_related;
  p.unprotected_forward = model.appliance.unprotected_forward;
  p.other_ethertypes_forward = model.appliance.other_ethertypes_forward;
  p.arp_nd_pass = model.appliance.arp_nd_pass;
  p.ra_guard = model.appliance.ra_guard;
  p.adopt_midstream = model.appliance.adopt_midstream;
  p.forward_multicast = model.appliance.forward_multicast;
  // The deny-all set, for resource indices past the end.
  p.resource_set.push_back(static_cast<std::uint32_t>(pending.size()));
  pending.push_back(build_set(ctx, {}));
  finish(pending, options.combine, p);
  p.resources = dp::resource_map::build(addresses, macs);
  return p;
}

}  // namespace sgfw::cp
