// The compiled policy in words: per resource, its addresses, groups, the
// merged rules that apply to it (S3) and which flows the cloud would leave
// untracked (S8).  Printed by `sgfw check`.
#pragma once

#include <ostream>

#include "config/model.hpp"
#include "policy/compiled_policy.hpp"

namespace sgfw::cli {

void print_policy(std::ostream& out, const config::policy_model& model, const dp::compiled_policy& policy);

}  // namespace sgfw::cli
