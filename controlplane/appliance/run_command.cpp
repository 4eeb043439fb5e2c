#include "appliance/run_command.hpp"

#include <rte_eal.h>
#include <rte_errno.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <ctime>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>

#include "appliance/appliance.hpp"
#include "appliance/eal_options.hpp"
#include "appliance/file_watch.hpp"
#include "appliance/policy_publisher.hpp"
#include "appliance/status_report.hpp"

namespace sgfw::cp {

namespace {

constexpr std::string_view k_run_usage =
    "usage: sgfw run --config FILE [--outside DEVARGS] [--inside DEVARGS] [--workers N]\n"
    "                [--cores LIST] [--eal \"EAL ARGS\"] [--status-interval SECONDS]\n";

struct run_options {
  std::string config;
  std::string outside, inside, cores, eal;
  long workers = -1;
  long status_interval = -1;
};

int usage(const std::string& message) {
  std::cerr << "sgfw run: " << message << "\n" << k_run_usage;
  return 2;
}

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

void print_reload(const reload_result& r, const std::string& path) {
  for (const auto& n : r.notes) std::cout << n << "\n";
  if (r.published) {
    std::cout << "sgfw: reloaded " << path << ": policy generation " << r.generation << " (compiled in " << r.compile_ms
              << " ms)" << std::endl;
  } else {
    for (const auto& e : r.errors) std::cout << e << "\n";
    std::cout << "sgfw: reload of " << path << " rejected (" << r.errors.size()
              << (r.errors.size() == 1 ? " error" : " errors") << "); still running policy generation " << r.generation
              << std::endl;
  }
}

}  // namespace

int run_command(const std::vector<std::string_view>& args) {
  run_options o;
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
        return usage("--workers takes a number from 1 to " + std::to_string(config::k_max_workers));
      }
    } else if (a == "--cores" && has_value) {
      o.cores = std::string(args[++i]);
    } else if (a == "--eal" && has_value) {
      o.eal = std::string(args[++i]);
    } else if (a == "--status-interval" && has_value) {
      if (!parse_number(args[++i], 0, 3600, o.status_interval)) {
        return usage("--status-interval takes seconds from 0 to 3600");
      }
    } else {
      return usage("unexpected argument '" + std::string(a) + "'");
    }
  }
  if (o.config.empty()) return usage("--config FILE is required");

  // SIGINT/SIGTERM/SIGHUP are taken by this thread with sigtimedwait, in
  // the loop below.  Blocked from the start: a reload or stop asked for
  // while the file loads or DPDK starts waits for the loop instead of
  // killing the process, and no EAL thread is ever interrupted.
  sigset_t signals;
  sigemptyset(&signals);
  for (const int s : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  policy_publisher publisher(o.config);
  {
    std::vector<std::string> errors;
    std::vector<std::string> notes;
    const bool ok = publisher.load_first(errors, notes);
    for (const auto& n : notes) std::cerr << n << "\n";
    for (const auto& e : errors) std::cerr << e << "\n";
    if (!ok) {
      std::cerr << o.config << ": " << errors.size() << (errors.size() == 1 ? " error" : " errors")
                << "; nothing was started\n";
      return 1;
    }
  }
  config::appliance_settings settings = publisher.model().appliance;
  config::appliance_runtime& r = settings.runtime;
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
    if (!parse_cores(o.cores, r.cores)) return usage("--cores takes CPU numbers such as 1,2 or 2-5");
    if (r.cores.size() != r.workers) {
      if (o.workers > 0)
        return usage("--cores lists " + std::to_string(r.cores.size()) + " CPUs for --workers " +
                     std::to_string(r.workers));
      r.workers = static_cast<std::uint32_t>(r.cores.size());
    }
  }
  if (!o.eal.empty()) {
    for (std::string& a : split_words(o.eal)) r.eal_args.push_back(std::move(a));
  }
  if (o.status_interval >= 0) r.status_interval = static_cast<std::uint32_t>(o.status_interval);
  if (r.outside.empty() || r.inside.empty()) {
    std::cerr << "sgfw: no " << (r.outside.empty() ? "outside" : "inside") << " port: set [appliance.ports] in "
              << o.config << " or give --" << (r.outside.empty() ? "outside" : "inside") << " DEVARGS\n";
    return 1;
  }
  if (r.outside == r.inside) {
    std::cerr << "sgfw: outside and inside are the same device '" << r.outside << "'\n";
    return 1;
  }
  const machine_facts machine = machine_facts::read();
  if (const std::string problem = check_cores(r, machine); !problem.empty()) {
    std::cerr << "sgfw: " << problem << "\n";
    return 1;
  }
  const std::vector<std::uint32_t> cores = worker_cores(r);
  for (std::size_t w = 0; w < cores.size(); ++w) {
    if (cores[w] == r.main_core) {
      std::cerr << "sgfw: note: worker " << w << " shares CPU " << cores[w]
                << " with the main thread, which then takes cycles from it (fine for a test, not for an "
                   "appliance: give main_core a CPU of its own)\n";
    }
  }

  std::vector<std::string> eal = eal_arguments(r, machine);
  std::vector<char*> eal_argv;
  for (auto& a : eal) eal_argv.push_back(a.data());
  if (rte_eal_init(static_cast<int>(eal_argv.size()), eal_argv.data()) < 0) {
    std::string line;
    for (const auto& a : eal) line += (line.empty() ? "" : " ") + a;
    std::cerr << "sgfw: cannot start DPDK: " << rte_strerror(rte_errno) << " (EAL arguments: " << line << ")\n";
    return 1;
  }
  int status = 0;
  {
    appliance app(settings);
    publisher.start(app.policy(), r.workers, settings.max_flows,
                    [&app](std::uint16_t slot) { return app.slot_in_use(slot); });
    std::string error;
    if (!app.start(error)) {
      std::cerr << "sgfw: " << error << "\n";
      status = 1;
    } else {
      std::cout << "sgfw: running: outside " << r.outside << " (port " << app.outside().id
                << (app.outside().rss ? ", symmetric RSS" : "") << "), inside " << r.inside << " (port "
                << app.inside().id << (app.inside().rss ? ", symmetric RSS" : "") << "), " << r.workers
                << (r.workers == 1 ? " worker" : " workers") << ", policy " << o.config << " generation "
                << publisher.generation() << std::endl;
      const bool show_status = r.status_interval != 0 && (o.status_interval > 0 || ::isatty(STDOUT_FILENO) != 0);
      const auto started = std::chrono::steady_clock::now();
      auto last_status = started;
      appliance_totals before = app.totals();
      // Watching starts where the first read ended (a change since is seen).
      std::unique_ptr<file_watch> watch;
      if (r.watch) {
        watch = std::make_unique<file_watch>(o.config);
        if (!watch->uses_inotify()) {
          std::cout << "sgfw: note: inotify is not available for " << o.config
                    << "; it is polled and reloaded once it has stayed unchanged for a second" << std::endl;
        }
      }
      for (;;) {
        const timespec wait{0, 200 * 1000 * 1000};
        siginfo_t info{};
        const int sig = sigtimedwait(&signals, &info, &wait);
        if (sig == SIGINT || sig == SIGTERM) break;
        if (sig == SIGHUP) {
          if (watch) watch->mark_read();
          print_reload(publisher.reload(), o.config);
        }
        publisher.reclaim();
        const auto now = std::chrono::steady_clock::now();
        if (watch && watch->completed_change()) {
          watch->mark_read();
          print_reload(publisher.reload(), o.config);
        }
        if (show_status && now - last_status >= std::chrono::seconds(r.status_interval)) {
          const appliance_totals t = app.totals();
          std::cout << "sgfw: "
                    << status_line(t, before, std::chrono::duration<double>(now - last_status).count(),
                                   publisher.generation())
                    << std::endl;
          before = t;
          last_status = now;
        }
      }
      app.stop();
      std::vector<appliance_totals> per_worker;
      for (std::uint32_t w = 0; w < r.workers; ++w) per_worker.push_back(app.totals_of(w));
      print_final_counters(std::cout, app.totals(), per_worker,
                           std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(),
                           publisher.generation());
      // S11: the resources that were refused new flows for want of room.
      const dp::compiled_policy& policy = publisher.current();
      for (std::size_t res = 0; res < policy.resource_count(); ++res) {
        if (const std::uint64_t n = app.slot_exceeded(policy.resource_slot[res]); n != 0) {
          std::cout << "  resource " << policy.resource_names[res] << ": conntrack_allowance_exceeded " << n << "\n";
        }
      }
      std::cout.flush();
    }
  }
  rte_eal_cleanup();
  return status;
}

}  // namespace sgfw::cp
