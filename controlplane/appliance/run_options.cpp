#include "appliance/run_options.hpp"

#include <charconv>
#include <sstream>

#include "appliance/eal_options.hpp"

namespace sgfw::cp {

namespace {

constexpr std::string_view k_run_usage =
    "usage: sgfw run --config FILE [--outside DEVARGS] [--inside DEVARGS] [--workers N]\n"
    "                [--cores LIST] [--eal \"EAL ARGS\"] [--status-interval SECONDS]\n"
    "                [--control-socket PATH] [--metrics-listen ADDRESS:PORT]\n";

bool parse_number(std::string_view text, long lo, long hi, long& out) {
  long v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size() || v < lo || v > hi) return false;
  out = v;
  return true;
}

// "1,3-5" -> {1, 3, 4, 5}
bool parse_cores(const std::string& text, std::vector<std::uint32_t>& out) {
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, ',');) {
    const std::size_t dash = part.find('-');
    long lo = 0;
    long hi = 0;
    if (!parse_number(std::string_view(part).substr(0, dash), 0, 1023, lo)) return false;
    hi = lo;
    if (dash != std::string::npos && !parse_number(std::string_view(part).substr(dash + 1), lo, 1023, hi)) return false;
    for (long c = lo; c <= hi; ++c) out.push_back(static_cast<std::uint32_t>(c));
  }
  return !out.empty();
}

std::vector<std::string> split_words(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

}  // namespace

std::string_view run_usage() { return k_run_usage; }

bool parse_run_options(const std::vector<std::string_view>& args, run_options& o, std::string& error) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view a = args[i];
    const bool has_value = i + 1 < args.size();
    if (a == "--config" && has_value) {
      o.config = std::string(args[++i]);
    } else if (a == "--outside" && has_value) {
      o.outside = std::string(args[++i]);
    } else if (a == "--inside" && has_value) {
      o.inside = std::string(args[++i]);
    } else if (a == "--workers" && has_value) {
      if (!parse_number(args[++i], 1, config::k_max_workers, o.workers)) {
        error = "--workers takes a number from 1 to " + std::to_string(config::k_max_workers);
        return false;
      }
    } else if (a == "--cores" && has_value) {
      o.cores = std::string(args[++i]);
    } else if (a == "--control-socket" && has_value) {
      o.control_socket = std::string(args[++i]);
    } else if (a == "--metrics-listen" && has_value) {
      o.metrics_listen = std::string(args[++i]);
    } else if (a == "--eal" && has_value) {
      o.eal = std::string(args[++i]);
    } else if (a == "--status-interval" && has_value) {
      if (!parse_number(args[++i], 0, 3600, o.status_interval)) {
        error = "--status-interval takes seconds from 0 to 3600";
        return false;
      }
    } else {
      error = "unexpected argument '" + std::string(a) + "'";
      return false;
    }
  }
  if (o.config.empty()) {
    error = "--config FILE is required";
    return false;
  }
  return true;
}

std::string prepare_run(const run_options& o, config::boot_settings& r, bool& usage, std::vector<std::string>& notes) {
  usage = false;
  if (!o.outside.empty()) r.outside = o.outside;
  if (!o.inside.empty()) r.inside = o.inside;
  if (o.workers > 0) {
    // The file's first cores when it names enough, else the defaults.
    r.workers = static_cast<std::uint32_t>(o.workers);
    if (r.cores.size() >= r.workers) {
      r.cores.resize(r.workers);
    } else {
      r.cores.clear();
    }
  }
  if (!o.cores.empty()) {
    r.cores.clear();
    usage = true;
    if (!parse_cores(o.cores, r.cores)) return "--cores takes CPU numbers such as 1,2 or 2-5";
    if (r.cores.size() != r.workers) {
      if (o.workers > 0) {
        return "--cores lists " + std::to_string(r.cores.size()) + " CPUs for --workers " + std::to_string(r.workers);
      }
      r.workers = static_cast<std::uint32_t>(r.cores.size());
    }
    usage = false;
  }
  if (!o.eal.empty()) {
    for (std::string& a : split_words(o.eal)) r.eal_args.push_back(std::move(a));
  }
  if (!o.control_socket.empty()) r.control_socket = o.control_socket;
  if (!o.metrics_listen.empty()) {
    std::string why;
    auto a = config::parse_listen_address(o.metrics_listen, why);
    if (!a) {
      usage = true;
      return "--metrics-listen '" + o.metrics_listen + "': " + why;
    }
    r.metrics_listen = std::move(*a);
  }
  if (o.status_interval >= 0) r.status_interval = static_cast<std::uint32_t>(o.status_interval);
  if (r.outside.empty() || r.inside.empty()) {
    const std::string which = r.outside.empty() ? "outside" : "inside";
    return "no " + which + " port: set [appliance.ports] in " + o.config + " or give --" + which + " DEVARGS";
  }
  if (r.outside == r.inside) return "outside and inside are the same device '" + r.outside + "'";
  const machine_facts machine = machine_facts::read();
  if (std::string problem = check_cores(r, machine); !problem.empty()) return problem;
  const std::vector<std::uint32_t> cores = worker_cores(r);
  for (std::size_t w = 0; w < cores.size(); ++w) {
    if (cores[w] == r.main_core) {
      notes.push_back("note: worker " + std::to_string(w) + " shares CPU " + std::to_string(cores[w]) +
                      " with the main thread, which then takes cycles from it (fine for a test, not for an "
                      "appliance: give main_core a CPU of its own)");
    }
  }
  return {};
}

}  // namespace sgfw::cp
