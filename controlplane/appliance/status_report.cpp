#include "appliance/status_report.hpp"

#include <algorithm>
#include <cstdio>
#include <utility>

namespace sgfw::cp {

namespace {

std::string rate(double per_second) {
  char buf[32];
  if (per_second >= 1e6) {
    std::snprintf(buf, sizeof buf, "%.2f Mpps", per_second / 1e6);
  } else if (per_second >= 1e3) {
    std::snprintf(buf, sizeof buf, "%.2f kpps", per_second / 1e3);
  } else {
    std::snprintf(buf, sizeof buf, "%.0f pps", per_second);
  }
  return buf;
}

// Drop reasons that counted, most first.
std::vector<std::pair<std::uint64_t, std::size_t>> drops_by_count(const appliance_totals& t) {
  std::vector<std::pair<std::uint64_t, std::size_t>> out;
  for (std::size_t r = 1; r < t.drops.size(); ++r) {
    if (t.drops[r] != 0) out.emplace_back(t.drops[r], r);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  return out;
}

}  // namespace

std::string status_line(const appliance_totals& now, const appliance_totals& before, double seconds,
                        std::uint64_t generation) {
  const double s = seconds > 0 ? seconds : 1;
  std::string line = "gen " + std::to_string(generation) + " | in " +
                     rate(static_cast<double>(now.rx - before.rx) / s) + " out " +
                     rate(static_cast<double>(now.tx - before.tx) / s) + " | flows " + std::to_string(now.flows) +
                     " | dropped " + std::to_string(now.dropped());
  const auto drops = drops_by_count(now);
  if (!drops.empty()) {
    line += " (";
    for (std::size_t i = 0; i < drops.size() && i < 3; ++i) {
      if (i != 0) line += ", ";
      line += std::string(dp::to_string(static_cast<dp::drop_reason>(drops[i].second))) + " " +
              std::to_string(drops[i].first);
    }
    if (drops.size() > 3) line += ", ...";
    line += ")";
  }
  return line;
}

void print_final_counters(std::ostream& out, const appliance_totals& t, const std::vector<appliance_totals>& per_worker,
                          double seconds, std::uint64_t generation) {
  char took[32];
  std::snprintf(took, sizeof took, "%.1f", seconds);
  out << "sgfw: stopped after " << took << " s, policy generation " << generation << "\n"
      << "  packets: received " << t.rx << ", sent " << t.tx << ", dropped " << t.dropped() << "\n"
      << "  flows: " << t.flows << " open, " << t.flows_created << " created, " << t.flows_expired << " expired, "
      << t.flows_early_dropped << " early-dropped\n"
      << "  related ICMP errors passed: " << t.related << "; handed to another worker: " << t.handed_off
      << "; fragments evicted: " << t.fragments_evicted << "\n";
  const auto drops = drops_by_count(t);
  if (!drops.empty()) {
    out << "  drops by reason:\n";
    for (const auto& [n, r] : drops)
      out << "    " << dp::to_string(static_cast<dp::drop_reason>(r)) << ": " << n << "\n";
  }
  if (per_worker.size() > 1) {
    for (std::size_t w = 0; w < per_worker.size(); ++w) {
      const appliance_totals& p = per_worker[w];
      out << "  worker " << w << ": received " << p.rx << ", sent " << p.tx << ", dropped " << p.dropped() << ", flows "
          << p.flows << ", handed off " << p.handed_off << "\n";
    }
  }
}

}  // namespace sgfw::cp
