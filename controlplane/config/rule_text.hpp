// Rules in words: the short forms the CLI prints and the canonical text that
// derived rule ids are hashed from.
#pragma once

#include <string>

#include "config/model.hpp"

namespace sgfw::config {

std::string describe_protocol(const protocol_spec& p);                 // tcp, udp, icmp, all, 47
std::string describe_ports(const rule& r);                             // 80,443 | 1024-65535 | all | 3/4 | -
std::string describe_peer(const policy_model& m, const peer& remote);  // 10.0.0.0/8 | pl:office | sg:web

// A stable id for a rule the user did not name: "sgr-" and 16 hex digits of
// a hash of the group id and the rule's content (not its description or
// position), so the id survives reordering, reformatting and edits to other
// rules, and changes only when the rule itself does.
std::string derive_rule_id(const policy_model& m, const std::string& group_id, const rule& r);

}  // namespace sgfw::config
