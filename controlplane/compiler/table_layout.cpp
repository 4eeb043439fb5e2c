#include "compiler/table_layout.hpp"

#include <algorithm>
#include <bit>
#include <type_traits>

#if defined(__AVX512BW__)
#include <immintrin.h>
#endif

namespace sgfw::cp::compiling {

namespace {

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

std::size_t class_count(const dp::aligned_vector<std::uint64_t>& rows, std::uint32_t words) {
  return rows.size() / words;
}

// Matrices replace the rows when every table's rule bits fit in 16 bits and
// all matrices together take at most eight times the rows' memory (or
// 256 KiB), and never more than 512 MiB: a lookup then reads one answer
// instead of two rows, which measured 1.25x faster at 1k and 10k rules even
// at four times the memory (docs/performance.md).  Entries are one byte when
// every table has fewer than 255 rules.  Returns the entry width, 0 for rows.
std::uint32_t matrix_entry_bytes(const std::vector<built_set*>& sets, combine_choice choice) {
  if (choice == combine_choice::rows) return 0;
  std::size_t row_bytes = 0;
  std::size_t matrix_entries = 0;
  std::size_t most_rules = 0;
  for (const built_set* s : sets) {
    for (const auto& per_family : s->pending.tables) {
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

}  // namespace

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

namespace {

policy_shapes shapes_of(const std::vector<built_set*>& sets, combine_choice choice) {
  using dp::interval_map;
  policy_shapes out;
  for (const built_set* s : sets) {
    for (const auto& per_family : s->pending.tables) {
      for (const auto& t : per_family) {
        out.service_depth =
            std::max(out.service_depth, interval_map<std::uint32_t>::natural_depth(t.services.bounds.size()));
      }
    }
    for (const auto& m : s->pending.v4_addresses) {
      out.address_depth[0] =
          std::max(out.address_depth[0], interval_map<std::uint32_t>::natural_depth(m.bounds.size()));
    }
    for (const auto& m : s->pending.v6_addresses) {
      out.address_depth[1] = std::max(out.address_depth[1], interval_map<net::u128>::natural_depth(m.bounds.size()));
    }
  }
  out.matrix_entry_bytes = matrix_entry_bytes(sets, choice);
  return out;
}

// Leaves hold offsets: matrices, address class * service classes and
// service class; rows, class * row width in words for both.  Service
// values keep their untracked flag.
std::vector<std::uint32_t> scaled(const std::vector<std::uint32_t>& values, std::uint32_t scale) {
  std::vector<std::uint32_t> out(values);
  for (auto& v : out) v = (v & ~dp::k_untracked_service) * scale | (v & dp::k_untracked_service);
  return out;
}

std::shared_ptr<const dp::group_set_tables> finish_set(const pending_set& s, const policy_shapes& shapes) {
  using dp::interval_map;
  const bool matrices = shapes.matrix_entry_bytes != 0;
  auto out = std::make_shared<dp::group_set_tables>();
  out->groups = s.groups;
  for (std::size_t d = 0; d < direction_count; ++d) {
    std::array<std::uint32_t, net::family_count> address_scale{};
    for (std::size_t f = 0; f < net::family_count; ++f) {
      const pending_table& t = s.tables[f][d];
      dp::rule_table& o = out->tables[f][d];
      o.words = t.words;
      address_scale[f] = matrices ? static_cast<std::uint32_t>(class_count(t.service_rows, t.words)) : t.words;
      if (shapes.matrix_entry_bytes == 1) {
        o.matrix = decision_matrix<std::uint8_t>(t);
      } else if (matrices) {
        o.matrix = decision_matrix<std::uint16_t>(t);
      } else {
        o.address_rows = t.address_rows;
        o.service_rows = t.service_rows;
      }
      o.services = interval_map<std::uint32_t>::build(
          t.services.bounds, scaled(t.services.values, matrices ? 1 : t.words), shapes.service_depth);
      o.rules = t.rules;
      o.rules.push_back(dp::k_no_rule);
    }
    out->v4_addresses[d] = interval_map<std::uint32_t>::build(
        s.v4_addresses[d].bounds, scaled(s.v4_addresses[d].values, address_scale[0]), shapes.address_depth[0]);
    out->v6_addresses[d] = interval_map<net::u128>::build(
        s.v6_addresses[d].bounds, scaled(s.v6_addresses[d].values, address_scale[1]), shapes.address_depth[1]);
  }
  return out;
}

}  // namespace

void finish(const std::vector<built_set*>& sets, combine_choice choice, dp::compiled_policy& p) {
  const policy_shapes shapes = shapes_of(sets, choice);
  p.row_words = 1;
  for (const built_set* s : sets) {
    for (const auto& per_family : s->pending.tables) {
      for (const auto& t : per_family) p.row_words = std::max(p.row_words, t.words);
    }
  }
  p.address_depth = shapes.address_depth;
  p.service_depth = shapes.service_depth;
  p.matrices = shapes.matrix_entry_bytes != 0;
  p.matrix_entry_bytes = shapes.matrix_entry_bytes;
  p.sets.reserve(sets.size());
  for (built_set* s : sets) {
    if (s->finished == nullptr || !(s->finished_under == shapes)) {
      s->finished = finish_set(s->pending, shapes);
      s->finished_under = shapes;
    }
    p.sets.push_back(s->finished);
  }
  p.views.resize(p.sets.size() * 4);
  for (std::size_t i = 0; i < p.sets.size(); ++i) {
    const dp::group_set_tables& s = *p.sets[i];
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

}  // namespace sgfw::cp::compiling
