// reply_format: how sgfwctl prints a reply (--output json|table|text).
// json is the reply as it came (the cloud's field names and shapes),
// indented; text is tab-separated lines for scripts, as the AWS CLI's
// text output; table is aligned columns for people.
#pragma once

#include <nlohmann/json.hpp>
#include <ostream>
#include <string_view>

namespace sgfw::ctl {

enum class output_format { json, table, text };

bool parse_output_format(std::string_view name, output_format& out);
void print_reply(std::ostream& out, const nlohmann::json& reply, output_format f);

}  // namespace sgfw::ctl
