// explain: the verdict the dataplane gives a packet that would open a new
// flow, and why: every group and rule of the resource that allows it (the
// union, S3), whether the flow would be tracked (S8), and for a packet of
// no resource, the appliance's unprotected_traffic choice (S9).  The
// verdict and the first rule come from the running compiled policy's own
// classifier (dp::classify), the code the workers run; the list of every
// allowing rule from the reference evaluator.  A packet between two
// resources must pass the sender's egress and the receiver's ingress (S1):
// without a direction, both are asked.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>

#include "config/model.hpp"
#include "policy/compiled_policy.hpp"

namespace sgfw::cp {

// `request`: Source, Destination, Protocol, and SourcePort/DestinationPort
// or IcmpType/IcmpCode; optionally Direction (ingress|egress) and Resource
// or Address (whose side the direction is about).  The reply, or one with
// "Error" when the request is malformed.
// "tcp", "udp", "icmp", "icmpv6" (any case), or a number 0-255, as a
// string or a JSON number.
std::optional<std::uint8_t> protocol_number(const nlohmann::json& v);

nlohmann::json explain(const config::policy_model& model, const dp::compiled_policy& policy,
                       const nlohmann::json& request);

}  // namespace sgfw::cp
