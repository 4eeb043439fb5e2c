#include "appliance/telemetry_commands.hpp"

#include <rte_eal.h>
#include <rte_telemetry.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <mutex>
#include <string_view>

namespace sgfw::cp {

namespace {

using json = nlohmann::json;

// How deep containers go (the answer itself is level 1); deeper values are
// their JSON text.
constexpr int k_max_depth = 3;
// The control thread answers in microseconds; a second means it is stuck
// on something (a change writing the file) and the client hears so.
constexpr std::chrono::milliseconds k_answer_limit{2000};

struct source {
  std::shared_ptr<control_bridge> bridge;
  control_api* api = nullptr;
};
std::mutex g_mutex;
std::shared_ptr<const source> g_source;

// Telemetry's names: letters, digits, '_' and '/'; at most 127 bytes.
std::string tel_name(std::string_view key) {
  std::string name(key.substr(0, RTE_TEL_MAX_STRING_LEN - 1));
  for (char& c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '/';
    if (!ok) c = '_';
  }
  return name.empty() ? "_" : name;
}

// Telemetry's JSON writer escapes neither control characters nor bytes
// past ASCII (it drops them or writes an invalid escape): both become '?',
// whatever a name or an echoed parameter holds.
std::string tel_string(std::string_view s) {
  std::string out(s.substr(0, RTE_TEL_MAX_STRING_LEN - 1));
  for (char& c : out) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x20 || b >= 0x7F) c = '?';
  }
  return out;
}

std::string text_of(const json& v) {
  return v.is_string() ? v.get_ref<const std::string&>() : v.dump(-1, ' ', false, json::error_handler_t::replace);
}

// A number as telemetry holds one: u64 when not negative (a fraction
// rounded), int when it fits, else its text.
enum class number_kind { u64, i32, text };
number_kind kind_of(const json& v) {
  if (v.is_number_unsigned() || v.is_boolean()) return number_kind::u64;
  if (v.is_number_integer()) {
    const auto n = v.get<std::int64_t>();
    if (n >= 0) return number_kind::u64;
    return n >= std::numeric_limits<int>::min() ? number_kind::i32 : number_kind::text;
  }
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (!std::isfinite(d)) return number_kind::text;
    if (d >= 0 && d < 1.8e19) return number_kind::u64;
    return d > std::numeric_limits<int>::min() ? number_kind::i32 : number_kind::text;
  }
  return number_kind::text;
}
std::uint64_t as_u64(const json& v) {
  if (v.is_boolean()) return v.get<bool>() ? 1 : 0;
  if (v.is_number_float()) return static_cast<std::uint64_t>(std::llround(v.get<double>()));
  return v.is_number_unsigned() ? v.get<std::uint64_t>() : static_cast<std::uint64_t>(v.get<std::int64_t>());
}
int as_int(const json& v) {
  return v.is_number_float() ? static_cast<int>(std::lround(v.get<double>())) : static_cast<int>(v.get<std::int64_t>());
}

bool is_container(const json& v) { return v.is_object() || v.is_array(); }

void fill(const json& v, rte_tel_data* d, int depth, std::size_t& budget);

// A container for `v` at `depth`, or nullptr past telemetry's nesting
// (it is then its JSON text).
rte_tel_data* child_of(const json& v, int depth, std::size_t& budget) {
  if (depth > k_max_depth) return nullptr;
  rte_tel_data* c = rte_tel_data_alloc();
  if (c == nullptr) return nullptr;
  fill(v, c, depth, budget);
  return c;
}

void fill_object(const json& v, rte_tel_data* d, int depth, std::size_t& budget) {
  rte_tel_data_start_dict(d);
  std::size_t left = v.size();
  for (const auto& [key, value] : v.items()) {
    const std::size_t cost = key.size() + (is_container(value) ? 8 : text_of(value).size()) + 6;
    // Room for the marker saying what was left out.
    const std::size_t added = v.size() - left;
    if (cost > budget || (added + 1 == static_cast<std::size_t>(RTE_TEL_MAX_DICT_ENTRIES) && left > 1)) {
      rte_tel_data_add_dict_u64(d, "Truncated", left);
      return;
    }
    budget -= cost;
    --left;
    const std::string name = tel_name(key);
    if (is_container(value)) {
      if (rte_tel_data* c = child_of(value, depth + 1, budget)) {
        if (rte_tel_data_add_dict_container(d, name.c_str(), c, 0) != 0) rte_tel_data_free(c);
        continue;
      }
    } else if (value.is_number() || value.is_boolean()) {
      switch (kind_of(value)) {
        case number_kind::u64:
          rte_tel_data_add_dict_u64(d, name.c_str(), as_u64(value));
          continue;
        case number_kind::i32:
          rte_tel_data_add_dict_int(d, name.c_str(), as_int(value));
          continue;
        case number_kind::text:
          break;
      }
    } else if (value.is_null()) {
      rte_tel_data_add_dict_string(d, name.c_str(), "");
      continue;
    }
    rte_tel_data_add_dict_string(d, name.c_str(), tel_string(text_of(value)).c_str());
  }
}

void fill_array(const json& v, rte_tel_data* d, int depth, std::size_t& budget) {
  // One kind for the whole array, as telemetry's arrays have.
  bool all_u64 = true, all_int = true, all_text = true;
  for (const auto& e : v) {
    const bool number = e.is_number() || e.is_boolean();
    all_u64 = all_u64 && number && kind_of(e) == number_kind::u64;
    all_int = all_int && number && kind_of(e) != number_kind::text;
    all_text = all_text && !is_container(e);
  }
  std::size_t left = v.size();
  if (all_u64 || all_int || all_text) {
    rte_tel_data_start_array(d, all_u64 ? RTE_TEL_U64_VAL : all_int ? RTE_TEL_INT_VAL : RTE_TEL_STRING_VAL);
    for (const auto& e : v) {
      const std::string text = text_of(e);
      if (text.size() + 3 > budget || v.size() - left >= static_cast<std::size_t>(RTE_TEL_MAX_ARRAY_ENTRIES)) return;
      budget -= text.size() + 3;
      --left;
      if (all_u64) {
        rte_tel_data_add_array_u64(d, as_u64(e));
      } else if (all_int) {
        rte_tel_data_add_array_int(d, as_int(e));
      } else {
        rte_tel_data_add_array_string(d, tel_string(text).c_str());
      }
    }
    return;
  }
  // Containers: telemetry's arrays hold no dictionaries, so a list of them
  // is a dictionary keyed by position ("0", "1", ...).
  rte_tel_data_start_dict(d);
  for (const auto& e : v) {
    const std::size_t used = v.size() - left;
    if (budget < 16 || (used + 1 == static_cast<std::size_t>(RTE_TEL_MAX_DICT_ENTRIES) && left > 1)) break;
    budget -= 8;
    // A plain value among containers: a dictionary of one.
    const json& one = is_container(e) ? e : json{{"Value", e}};
    rte_tel_data* c = child_of(one, depth + 1, budget);
    const std::string name = std::to_string(used);
    if (c == nullptr) {
      rte_tel_data_add_dict_string(d, name.c_str(), tel_string(text_of(one)).c_str());
    } else if (rte_tel_data_add_dict_container(d, name.c_str(), c, 0) != 0) {
      rte_tel_data_free(c);
      break;
    }
    --left;
  }
  if (left > 0) rte_tel_data_add_dict_u64(d, "Truncated", left);
}

void fill(const json& v, rte_tel_data* d, int depth, std::size_t& budget) {
  if (v.is_object()) {
    fill_object(v, d, depth, budget);
  } else if (v.is_array()) {
    fill_array(v, d, depth, budget);
  } else {
    rte_tel_data_string(d, tel_string(text_of(v)).c_str());
  }
}

// The control API's answer to `request`, with `pick` applied to it on the
// control thread; the error text when there is none.
json ask(const json& request, json (*pick)(json&&)) {
  std::shared_ptr<const source> s;
  {
    std::lock_guard lock(g_mutex);
    s = g_source;
  }
  if (!s) return {{"Error", "sgfw is not running its workers"}};
  control_api* api = s->api;
  std::optional<json> a = s->bridge->ask([api, request, pick] { return pick(api->handle(request)); }, k_answer_limit);
  if (!a) return {{"Error", "the control thread did not answer in time (busy or stopping)"}};
  return std::move(*a);
}

json stats_only(json&& reply) {
  reply.erase("Workers");
  reply.erase("ResourceStats");
  return std::move(reply);
}

json workers_only(json&& reply) {
  if (!reply.contains("Workers")) return std::move(reply);
  return std::move(reply["Workers"]);
}

json resources_only(json&& reply) {
  if (!reply.contains("ResourceStats")) return std::move(reply);
  return std::move(reply["ResourceStats"]);
}

// What telemetry shows of a rule: its place and its counts.
json rule_counts(json&& reply) {
  if (!reply.contains("SecurityGroupRules")) return std::move(reply);
  json out = json::array();
  for (auto& r : reply["SecurityGroupRules"]) {
    json one = json::object();
    for (const char* k : {"SecurityGroupRuleId", "GroupId", "IsEgress", "IpProtocol", "FromPort", "ToPort", "Packets",
                          "Bytes", "FlowsOpened", "LastHit"}) {
      if (const auto it = r.find(k); it != r.end()) one[k] = std::move(*it);
    }
    out.push_back(std::move(one));
  }
  return out;
}

json flows_only(json&& reply) {
  if (!reply.contains("Flows")) return std::move(reply);
  return std::move(reply["Flows"]);
}

int answer(rte_tel_data* d, const json& v) {
  to_telemetry(v, d);
  return 0;
}

// A callback's body: nothing it throws (memory) crosses telemetry's C frames.
template <typename F>
int guarded(rte_tel_data* d, F&& body) {
  try {
    return answer(d, body());
  } catch (...) {
    return -1;
  }
}

int stats_cmd(const char*, const char*, rte_tel_data* d) {
  return guarded(d, [] { return ask({{"Action", "DescribeStats"}}, stats_only); });
}
int workers_cmd(const char*, const char*, rte_tel_data* d) {
  return guarded(d, [] { return ask({{"Action", "DescribeStats"}}, workers_only); });
}
json resources_of(const char* params) {
  json v = ask({{"Action", "DescribeStats"}}, resources_only);
  if (params != nullptr && *params != '\0' && v.is_array()) {
    json only = json::array();
    for (auto& r : v) {
      const auto name = r.find("Name");
      if (name != r.end() && name->is_string() && name->get_ref<const std::string&>() == params) {
        only.push_back(std::move(r));
      }
    }
    v = std::move(only);
  }
  return v;
}
int resources_cmd(const char*, const char* params, rte_tel_data* d) {
  return guarded(d, [params] { return resources_of(params); });
}
int rules_cmd(const char*, const char* params, rte_tel_data* d) {
  return guarded(d, [params] {
    json request{{"Action", "DescribeSecurityGroupRules"}};
    if (params != nullptr && *params != '\0') request["GroupId"] = params;
    return ask(request, rule_counts);
  });
}
int flows_cmd(const char*, const char* params, rte_tel_data* d) {
  return guarded(d, [params] {
    json request{{"Action", "DescribeFlows"}, {"Limit", k_max_flows_in_telemetry}};
    if (params != nullptr && *params != '\0') request["Resource"] = params;
    return ask(request, flows_only);
  });
}

}  // namespace

void to_telemetry(const json& v, rte_tel_data* d, std::size_t budget) { fill(v, d, 1, budget); }

std::string telemetry_exposed() {
  const char* dir = rte_eal_get_runtime_dir();
  if (dir == nullptr || *dir == '\0') return "";
  struct stat st {};
  if (::stat(dir, &st) != 0) return "";  // no folder, no socket
  if (st.st_uid != ::geteuid() || (st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return std::string("DPDK's runtime folder ") + dir + " (mode " + mode + ", owner uid " + std::to_string(st.st_uid) +
           ") lets others reach its telemetry socket";
  }
  return "";
}

bool register_telemetry_commands() {
  struct command {
    const char* name;
    telemetry_cb fn;
    const char* help;
  };
  static constexpr command k_commands[] = {
      {"/sgfw/stats", stats_cmd, "sgfw's counters, drops by reason and policy. No parameters"},
      {"/sgfw/workers", workers_cmd, "Each sgfw worker's counters and drops. No parameters"},
      {"/sgfw/resources", resources_cmd,
       "Each resource's flows, new flows per second and conntrack allowance. Parameter: a resource name"},
      {"/sgfw/rules", rules_cmd, "Each rule's packets, bytes, flows opened and last hit. Parameter: a group id"},
      {"/sgfw/flows", flows_cmd, "Open flows (at most 32). Parameter: a resource name"},
  };
  bool all = true;
  for (const command& c : k_commands) all = rte_telemetry_register_cmd(c.name, c.fn, c.help) == 0 && all;
  return all;
}

void serve_telemetry(std::shared_ptr<control_bridge> bridge, control_api& api) {
  auto s = std::make_shared<source>();
  s->bridge = std::move(bridge);
  s->api = &api;
  std::lock_guard lock(g_mutex);
  g_source = std::move(s);
}

void stop_telemetry() {
  std::lock_guard lock(g_mutex);
  g_source.reset();
}

}  // namespace sgfw::cp
