// control_client: sgfwctl's side of the control socket (docs/operations.md):
// connect, send one JSON request line, read one reply line.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace sgfw::ctl {

struct client_result {
  enum class outcome { replied, unreachable, denied } what = outcome::unreachable;
  nlohmann::json reply;  // when replied
  std::string problem;   // otherwise: why, for the operator
};

// One request, one reply; `timeout_ms` bounds the whole exchange.
client_result send_request(const std::string& socket_path, const nlohmann::json& request, int timeout_ms);

}  // namespace sgfw::ctl
