// set_cache: the tables of each group set from the last compile, taken
// again by the next one when nothing they were built from changed.
//
// A change through the control API edits a group or two of thousands; the
// resources whose set of groups holds none of them get the very tables
// they had.  A set's tables (compiling::build_set) depend on its groups'
// rules and those rules' global indices, on the members of every group a
// rule names and on the entries of every prefix list a rule names.  The
// rules are compared by identity (config::shared_list: a model copied
// from the one compiled last shares the rules of every group it did not
// edit), the rest by value; anything else is built again.  A set is kept
// both before the policy-wide shapes are fixed (compiling::finish) and as
// finished under the last ones: while the shapes stay as they were (a rule
// or two more rarely deepens a tree), a set taken again is not finished
// again but shared with the running policy, so a change's compile costs the
// sets it touched.
//
// Control thread only (the policy store's).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <vector>

#include "compiler/table_layout.hpp"

namespace sgfw::cp {

class set_cache {
 public:
  // Starts a compile: nothing is taken but what the last finished one kept.
  void begin_compile();
  // The tables of `groups` (sorted) for the context's model: taken from
  // the last compile when nothing they depend on changed, else built.
  // Counts what it took and built.  The reference holds until the next
  // begin_compile(); finish() may finish it.
  compiling::built_set& tables(compiling::compile_context& ctx, const std::vector<std::uint32_t>& groups);
  // Ends a compile: what this one did not ask for is dropped.
  void finish_compile();

  std::size_t taken() const { return taken_; }  // in the last compile
  std::size_t built() const { return built_; }

 private:
  struct inputs {
    std::vector<config::shared_list<config::rule>> rules;  // per group: ingress, egress
    std::vector<std::vector<std::uint32_t>> indices;       // the same rules' global indices
    std::vector<std::pair<std::uint32_t, std::array<std::vector<net::u128>, net::family_count>>> members;
    std::vector<std::pair<std::uint32_t, config::prefix_list>> lists;
  };
  struct entry {
    inputs from;
    compiling::built_set set;
  };
  static inputs inputs_of(const compiling::compile_context& ctx, const std::vector<std::uint32_t>& groups);
  static bool unchanged(const inputs& was, const compiling::compile_context& ctx,
                        const std::vector<std::uint32_t>& groups);

  std::map<std::vector<std::uint32_t>, entry> last_;
  std::map<std::vector<std::uint32_t>, entry> next_;
  std::size_t taken_ = 0;
  std::size_t built_ = 0;
};

}  // namespace sgfw::cp
