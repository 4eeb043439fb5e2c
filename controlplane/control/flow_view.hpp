// flow_view: the workers' flows as `describe-flows` and `explain` show
// them (docs/operations.md): the request's filters as a dp::flow_query,
// the copies every worker made (worker/flow_dump.hpp) gathered into one
// list, and each flow in JSON with its resource, state, time left, counts
// each way and the rule that opened it.
//
// Control thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "policy/compiled_policy.hpp"
#include "worker/flow_dump.hpp"

namespace sgfw::cp {

struct flow_listing {
  std::vector<dp::flow_record> records;  // at most the limit, one per flow
  std::uint64_t matched = 0;             // every flow that matched, listed or not
  bool complete = true;                  // false: a worker did not answer in time
};

// What describe-flows asks of the appliance (or of a test's workers).
using flows_fn = std::function<flow_listing(const dp::flow_query&, std::size_t limit)>;

// Asks every worker's dump for the flows `q` matches and waits for all
// (calling `wait` between looks: a short sleep while the workers run on
// their cores, a turn of the workers in tests) at most `timeout`.
flow_listing gather_flows(std::span<dp::flow_dump* const> dumps, const dp::flow_query& q, std::size_t limit,
                          std::chrono::milliseconds timeout, const std::function<void()>& wait);

inline constexpr std::size_t k_default_flow_limit = 1000;
inline constexpr std::size_t k_max_flow_limit = 10000;  // per request: at most this many copied per worker

// DescribeFlows's filters (Resource, Address, Port, Protocol, State, Limit)
// as a query; an error reply when one is malformed.
struct flow_filter {
  dp::flow_query query;
  std::size_t limit = k_default_flow_limit;
};
std::variant<flow_filter, nlohmann::json> flow_filter_of(const dp::compiled_policy& policy,
                                                         const nlohmann::json& request);

// One flow in the reply's shape.  `names` (names_by_slot) names its resource.
nlohmann::json flow_json(const dp::compiled_policy& policy, const std::vector<std::string_view>& names,
                         const dp::flow_record& r);
// Each resource's name at its slot (flow_entry::quota_slot), once per reply.
std::vector<std::string_view> names_by_slot(const dp::compiled_policy& policy);

}  // namespace sgfw::cp
