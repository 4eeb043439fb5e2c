// The classifier's tables as the dataplane reads them: per set of groups,
// direction and family, the address and service maps and their rows, then
// the policy-wide shapes (row width, matrices or rows, search trees).
// Internal to controlplane/compiler/ (docs/classifier.md).
#pragma once

#include <array>
#include <cstdint>
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

// The tables of one set of groups (the resources that have exactly these).
pending_set build_set(compile_context& ctx, std::vector<std::uint32_t> groups);

// Fixes the policy-wide shapes and builds the search trees.
void finish(std::vector<pending_set>& pending, combine_choice choice, dp::compiled_policy& p);

}  // namespace sgfw::cp::compiling
