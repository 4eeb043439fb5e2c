// metrics_text: the exposition format Prometheus parses; every family
// once with its HELP and TYPE, every drop reason (zeros too), and names
// from the policy that cannot break out of their label.
#include "appliance/metrics_text.hpp"

#include <gtest/gtest.h>

#include <map>
#include <sstream>

#include "worker/drop_reason.hpp"

namespace sgfw::cp {
namespace {

using nlohmann::json;

json stats_with(const std::string& resource) {
  return {
      {"Counters", {{"rx", 10}, {"tx", 7}, {"flows", 2}}},
      {"Drops", {{"policy_denied", 3}}},
      {"UptimeSeconds", 1.5},
      {"Ports",
       json::array({{{"Name", "outside"}, {"RxPackets", 6}, {"TxPackets", 4}, {"RxBytes", 600}, {"TxBytes", 400}},
                    {{"Name", "inside"}, {"RxPackets", 4}, {"TxPackets", 3}}})},
      {"Workers", json::array({{{"Worker", 0},
                                {"Counters", {{"rx", 10}, {"flows", 2}}},
                                {"BusyCycles", 50},
                                {"Cycles", 100},
                                {"BusyRatio", 0.5}}})},
      {"ResourceStats", json::array({{{"Name", resource},
                                      {"FlowsOpen", 2},
                                      {"FlowsCreated", 5},
                                      {"ConntrackAllowanceExceeded", 1},
                                      {"ConntrackAllowanceAvailable", 98},
                                      {"ConntrackAllowance", 100},
                                      {"NewFlowsPerSecond", 2.5}}})},
  };
}

// name{label="value",...} number, checked by hand: std::regex trips GCC 12's
// maybe-uninitialized warning under the sanitizer build.
bool sample_parses(const std::string& l) {
  std::size_t i = 0;
  const auto lower = [&](std::size_t at) { return at < l.size() && ((l[at] >= 'a' && l[at] <= 'z') || l[at] == '_'); };
  if (!lower(i)) return false;
  while (lower(i)) ++i;
  if (i < l.size() && l[i] == '{') {
    ++i;
    while (i < l.size() && l[i] != '}') {
      if (!lower(i)) return false;
      while (lower(i)) ++i;
      if (l.compare(i, 2, "=\"") != 0) return false;
      for (i += 2; i < l.size() && l[i] != '"'; ++i) {
        if (l[i] == '\\' && ++i == l.size()) return false;
      }
      if (i == l.size()) return false;
      ++i;
      if (i < l.size() && l[i] == ',') ++i;
    }
    if (i == l.size()) return false;
    ++i;
  }
  if (i == l.size() || l[i] != ' ' || ++i == l.size()) return false;
  return l.find_first_not_of("-+0123456789.eEInfNa", i) == std::string::npos;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

TEST(MetricsText, EveryFamilyOnceWithHelpAndTypeAndEverySampleParses) {
  const std::vector<rule_row> rules{{"web", "sgr-1", true, {5, 500, 1, 1700000000123}},
                                    {"web", "sgr-2", false, {0, 0, 0, 0}}};
  const std::string text = metrics_text(stats_with("web-1"), rules, 4);
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  std::map<std::string, int> help, type;
  std::string current;
  for (const std::string& l : lines_of(text)) {
    if (l.rfind("# HELP ", 0) == 0) {
      current = l.substr(7, l.find(' ', 7) - 7);
      ++help[current];
    } else if (l.rfind("# TYPE ", 0) == 0) {
      ++type[l.substr(7, l.find(' ', 7) - 7)];
    } else {
      ASSERT_TRUE(sample_parses(l)) << l;
      EXPECT_EQ(l.rfind(current, 0), 0U) << l << " outside its family " << current;
    }
  }
  for (const auto& [name, n] : help) {
    EXPECT_EQ(n, 1) << name;
    EXPECT_EQ(type[name], 1) << name;
    if (name.size() > 6 && name.ends_with("_total")) {
      EXPECT_NE(text.find("# TYPE " + name + " counter\n"), std::string::npos) << name;
    }
  }
  EXPECT_NE(text.find("sgfw_packets_total{port=\"outside\",direction=\"rx\"} 6\n"), std::string::npos);
  EXPECT_NE(text.find("sgfw_packets_total{port=\"inside\",direction=\"tx\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("sgfw_bytes_total{port=\"inside\",direction=\"rx\"} 0\n"), std::string::npos);
  EXPECT_NE(text.find("sgfw_worker_rx_total{worker=\"0\"} 10\n"), std::string::npos);
  EXPECT_NE(text.find("sgfw_worker_flows{worker=\"0\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("sgfw_worker_busy_ratio{worker=\"0\"} 0.5\n"), std::string::npos);
  EXPECT_NE(text.find("sgfw_flows{resource=\"web-1\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("sgfw_conntrack_allowance_exceeded_total{resource=\"web-1\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("sgfw_new_flows_per_second{resource=\"web-1\"} 2.5\n"), std::string::npos);
  EXPECT_NE(text.find("sgfw_rule_packets_total{group=\"web\",rule=\"sgr-1\",direction=\"ingress\"} 5\n"),
            std::string::npos);
  EXPECT_NE(text.find("sgfw_rule_flows_opened_total{group=\"web\",rule=\"sgr-2\",direction=\"egress\"} 0\n"),
            std::string::npos);
  // Last hit only for a rule that admitted something, in seconds.
  EXPECT_NE(text.find("sgfw_rule_last_hit_timestamp_seconds{group=\"web\",rule=\"sgr-1\",direction=\"ingress\"} "
                      "1700000000.123\n"),
            std::string::npos);
  EXPECT_EQ(text.find("sgfw_rule_last_hit_timestamp_seconds{group=\"web\",rule=\"sgr-2\""), std::string::npos);
  EXPECT_NE(text.find("sgfw_policy_generation 4\n"), std::string::npos);
}

TEST(MetricsText, EveryDropReasonIsASeriesFromTheStart) {
  const std::string text = metrics_text(stats_with("r"), {}, 1);
  for (std::size_t r = 1; r < dp::drop_reason_count; ++r) {
    const std::string reason(dp::k_drop_reasons[r].name);
    const std::string want = "sgfw_drops_total{reason=\"" + reason + "\"} " + (reason == "policy_denied" ? "3" : "0");
    EXPECT_NE(text.find(want + "\n"), std::string::npos) << want;
  }
}

TEST(MetricsText, ANameCannotEndItsLabelOrStartALine) {
  // A quote, a backslash and a newline, as a hostile name would carry.
  const std::string hostile = "a\"} 1\nsgfw_policy_generation 99\\";
  const std::vector<rule_row> rules{{hostile, hostile, true, {}}};
  const std::string text = metrics_text(stats_with(hostile), rules, 1);
  EXPECT_EQ(escape_label(hostile), "a\\\"} 1\\nsgfw_policy_generation 99\\\\");
  for (const std::string& l : lines_of(text)) {
    EXPECT_NE(l, "sgfw_policy_generation 99\\") << "a name started a line of its own";
    if (l.rfind("sgfw_policy_generation ", 0) == 0) {
      EXPECT_EQ(l, "sgfw_policy_generation 1");
    }
  }
  EXPECT_NE(text.find("sgfw_flows{resource=\"a\\\"} 1\\nsgfw_policy_generation 99\\\\\"} 2\n"), std::string::npos);
}

TEST(MetricsText, MissingFiguresAreZerosNotACrash) {
  const std::string text = metrics_text(json::object(), {}, 0);
  EXPECT_NE(text.find("sgfw_drops_total{reason=\"policy_denied\"} 0\n"), std::string::npos);
  EXPECT_NE(text.find("sgfw_uptime_seconds 0\n"), std::string::npos);
  const std::string odd = metrics_text({{"Workers", json::array({json::object(), 5})}, {"Ports", "x"}}, {}, 0);
  EXPECT_NE(odd.find("sgfw_worker_rx_total{worker=\"0\"} 0\n"), std::string::npos);
}

}  // namespace
}  // namespace sgfw::cp
