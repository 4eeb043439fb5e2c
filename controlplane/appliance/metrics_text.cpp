#include "appliance/metrics_text.hpp"

#include <charconv>
#include <cmath>
#include <string_view>

#include "worker/counters.hpp"
#include "worker/drop_reason.hpp"

namespace sgfw::cp {

namespace {

using nlohmann::json;

std::uint64_t whole(const json& o, std::string_view key) {
  if (!o.is_object()) return 0;
  const auto it = o.find(key);
  if (it == o.end()) return 0;
  if (it->is_number_unsigned()) return it->get<std::uint64_t>();
  if (it->is_number_integer() && it->get<std::int64_t>() > 0)
    return static_cast<std::uint64_t>(it->get<std::int64_t>());
  return 0;
}

class writer {
 public:
  explicit writer(std::string& out) : out_(out) {}

  void family(std::string_view name, std::string_view type, std::string_view help) {
    name_ = name;
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    for (const char c : help) {  // HELP escapes only \ and newlines
      if (c == '\\') {
        out_ += "\\\\";
      } else if (c == '\n') {
        out_ += "\\n";
      } else {
        out_ += c;
      }
    }
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  // A sample of the current family: labels as name, value pairs.
  template <typename V>
  void sample(std::initializer_list<std::pair<std::string_view, std::string_view>> labels, V value) {
    out_ += name_;
    if (labels.size() != 0) {
      out_ += '{';
      bool first = true;
      for (const auto& [k, v] : labels) {
        if (!first) out_ += ',';
        first = false;
        out_ += k;
        out_ += "=\"";
        out_ += escape_label(v);
        out_ += '"';
      }
      out_ += '}';
    }
    out_ += ' ';
    number(value);
    out_ += '\n';
  }

 private:
  void number(std::uint64_t v) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out_.append(buf, r.ptr);
  }
  void number(double v) {
    if (!std::isfinite(v)) {
      out_ += std::isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf";
      return;
    }
    char buf[32];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out_.append(buf, r.ptr);
  }

  std::string& out_;
  std::string_view name_;
};

const json& array_at(const json& stats, std::string_view key) {
  static const json empty = json::array();
  const auto it = stats.find(key);
  return it != stats.end() && it->is_array() ? *it : empty;
}

std::string text_of(const json& o, std::string_view key) {
  const auto it = o.find(key);
  return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

std::string escape_label(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (const char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::vector<rule_row> rule_rows(const dp::compiled_policy& policy,
                                const std::function<dp::rule_totals(std::uint32_t)>& counts) {
  std::vector<rule_row> rows;
  for (std::uint32_t i = 1; i < policy.rules.size(); ++i) {
    const dp::rule_info& r = policy.rules[i];
    if (!r.used) continue;
    rows.push_back({policy.group_ids[r.group], policy.rule_id(i), r.dir == direction::ingress,
                    counts ? counts(i) : dp::rule_totals{}});
  }
  return rows;
}

std::string metrics_text(const json& stats, const std::vector<rule_row>& rules, std::uint64_t generation) {
  std::string out;
  out.reserve(4096 + rules.size() * 400);
  writer w(out);

  const json& ports = array_at(stats, "Ports");
  const auto port_pair = [&](std::string_view name, std::string_view help, const char* rx, const char* tx) {
    w.family(name, "counter", help);
    for (const json& p : ports) {
      const std::string port = text_of(p, "Name");
      w.sample({{"port", port}, {"direction", "rx"}}, whole(p, rx));
      w.sample({{"port", port}, {"direction", "tx"}}, whole(p, tx));
    }
  };
  port_pair("sgfw_packets_total", "Packets the port received (rx) and sent (tx), as the port counts them.", "RxPackets",
            "TxPackets");
  port_pair("sgfw_bytes_total", "Bytes the port received (rx) and sent (tx), as the port counts them.", "RxBytes",
            "TxBytes");
  const auto port_one = [&](std::string_view name, std::string_view help, const char* key) {
    w.family(name, "counter", help);
    for (const json& p : ports) w.sample({{"port", text_of(p, "Name")}}, whole(p, key));
  };
  port_one("sgfw_port_rx_missed_total", "Packets the port dropped because no worker took them in time.", "RxMissed");
  port_one("sgfw_port_rx_errors_total", "Erroneous packets the port received.", "RxErrors");
  port_one("sgfw_port_tx_errors_total", "Packets the port failed to send.", "TxErrors");
  port_one("sgfw_port_rx_no_buffer_total", "Packets the port dropped for want of a packet buffer.", "RxNoBuffer");

  w.family("sgfw_drops_total", "counter", "Packets not forwarded, by reason (docs/operations.md lists them).");
  const json drops = stats.contains("Drops") ? stats["Drops"] : json::object();
  for (std::size_t r = 1; r < dp::drop_reason_count; ++r) {
    const std::string_view reason = dp::k_drop_reasons[r].name;
    w.sample({{"reason", reason}}, whole(drops, reason));
  }

  const json& workers = array_at(stats, "Workers");
  for (std::size_t i = 0; i < dp::counter_count; ++i) {
    const dp::counter_info& c = dp::k_counters[i];
    const bool gauge = c.kind == dp::counter_kind::gauge;
    const std::string name = "sgfw_worker_" + std::string(c.name) + (gauge ? "" : "_total");
    const std::string help = std::string(c.help) + ", per worker.";
    w.family(name, gauge ? "gauge" : "counter", help);
    for (const json& wk : workers) {
      const std::string id = std::to_string(whole(wk, "Worker"));
      w.sample({{"worker", id}}, whole(wk.contains("Counters") ? wk["Counters"] : json::object(), c.name));
    }
  }
  w.family("sgfw_worker_busy_ratio", "gauge",
           "Share of the worker's cycles in loops that received packets, last second.");
  for (const json& wk : workers) {
    if (const auto it = wk.find("BusyRatio"); it != wk.end() && it->is_number()) {
      w.sample({{"worker", std::to_string(whole(wk, "Worker"))}}, it->get<double>());
    }
  }
  w.family("sgfw_worker_busy_cycles_total", "counter", "TSC cycles the worker spent in loops that received packets.");
  for (const json& wk : workers) w.sample({{"worker", std::to_string(whole(wk, "Worker"))}}, whole(wk, "BusyCycles"));
  w.family("sgfw_worker_cycles_total", "counter", "TSC cycles the worker has looped.");
  for (const json& wk : workers) w.sample({{"worker", std::to_string(whole(wk, "Worker"))}}, whole(wk, "Cycles"));

  const json& resources = array_at(stats, "ResourceStats");
  const auto per_resource = [&](std::string_view name, std::string_view type, std::string_view help, const char* key) {
    w.family(name, type, help);
    for (const json& r : resources) w.sample({{"resource", text_of(r, "Name")}}, whole(r, key));
  };
  per_resource("sgfw_flows", "gauge", "Flows open for the resource, all workers.", "FlowsOpen");
  per_resource("sgfw_flows_created_total", "counter", "Flows created for the resource.", "FlowsCreated");
  w.family("sgfw_new_flows_per_second", "gauge", "Flows the resource created over the last second.");
  for (const json& r : resources) {
    if (const auto it = r.find("NewFlowsPerSecond"); it != r.end() && it->is_number()) {
      w.sample({{"resource", text_of(r, "Name")}}, it->get<double>());
    }
  }
  per_resource("sgfw_conntrack_allowance_exceeded_total", "counter",
               "New flows refused because the resource held its share of the connection table (S11).",
               "ConntrackAllowanceExceeded");
  per_resource("sgfw_conntrack_allowance_available", "gauge", "Flows the resource may still open before it is refused.",
               "ConntrackAllowanceAvailable");
  per_resource("sgfw_conntrack_allowance", "gauge", "Flows the resource may hold, all workers.", "ConntrackAllowance");

  const auto per_rule = [&](std::string_view name, std::string_view help, auto value) {
    w.family(name, "counter", help);
    for (const rule_row& r : rules) {
      w.sample({{"group", r.group}, {"rule", r.rule}, {"direction", r.ingress ? "ingress" : "egress"}}, value(r));
    }
  };
  per_rule("sgfw_rule_packets_total", "Packets the rule admitted.", [](const rule_row& r) { return r.counts.packets; });
  per_rule("sgfw_rule_bytes_total", "Bytes the rule admitted.", [](const rule_row& r) { return r.counts.bytes; });
  per_rule("sgfw_rule_flows_opened_total", "Flows the rule opened.", [](const rule_row& r) { return r.counts.flows; });
  w.family("sgfw_rule_last_hit_timestamp_seconds", "gauge", "When the rule last admitted a packet (Unix time).");
  for (const rule_row& r : rules) {
    if (r.counts.last_ms == 0) continue;
    w.sample({{"group", r.group}, {"rule", r.rule}, {"direction", r.ingress ? "ingress" : "egress"}},
             static_cast<double>(r.counts.last_ms) / 1000.0);
  }

  w.family("sgfw_policy_generation", "gauge", "Generation of the running policy; each accepted change adds one.");
  w.sample({}, generation);
  w.family("sgfw_uptime_seconds", "gauge", "Seconds since the workers started.");
  const auto up = stats.find("UptimeSeconds");
  w.sample({}, up != stats.end() && up->is_number() ? up->get<double>() : 0.0);
  return out;
}

}  // namespace sgfw::cp
