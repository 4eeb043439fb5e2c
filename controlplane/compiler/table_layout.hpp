// The classifier's tables as the dataplane reads them: per set of groups,
// direction and family, the address and service maps and their rows, then
// the policy-wide shapes (row width, matrices or rows, search trees).
// Internal to controlplane/compiler/ (docs/classifier.md).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "compiler/compiler.hpp"
#include "compiler/group_semantics.hpp"

namespace sgfw::cp::compiling {

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

struct pending_set {
  std::vector<std::uint32_t> groups;
  std::array<std::array<pending_table, direction_count>, net::family_count> tables;
  std::array<pending_map<std::uint32_t>, direction_count> v4_addresses;
  std::array<pending_map<net::u128>, direction_count> v6_addresses;
};

// The policy-wide shapes (compiled_policy: tree depths, the combine
// representation) that every set's finished tables have.  (The policy's
// widest row only picks the workers' code path: tables keep their own.)
struct policy_shapes {
  std::array<std::uint32_t, net::family_count> address_depth{1, 1};
  std::uint32_t service_depth = 1;
  std::uint32_t matrix_entry_bytes = 0;  // 0: rows
  friend bool operator==(const policy_shapes&, const policy_shapes&) = default;
};

// A set's tables before and after the policy-wide shapes are fixed.  The
// finished tables are shared, never written once made: policies that have
// the same set under the same shapes point to the same tables.
struct built_set {
  pending_set pending;
  std::shared_ptr<const dp::group_set_tables> finished;  // null until finished
  policy_shapes finished_under;
};

// The tables of one set of groups (the resources that have exactly these).
pending_set build_set(compile_context& ctx, std::vector<std::uint32_t> groups);

// Fixes the policy-wide shapes, finishes each set whose tables were not
// finished under them (search trees, matrices or rows) and points the
// policy's sets and views at them.
void finish(const std::vector<built_set*>& sets, combine_choice choice, dp::compiled_policy& p);

}  // namespace sgfw::cp::compiling
