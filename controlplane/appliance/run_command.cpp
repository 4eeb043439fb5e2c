#include "appliance/run_command.hpp"

#include <rte_eal.h>
#include <rte_errno.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include "appliance/appliance.hpp"
#include "appliance/appliance_stats.hpp"
#include "appliance/control_bridge.hpp"
#include "appliance/eal_options.hpp"
#include "appliance/event_loop.hpp"
#include "appliance/file_watch.hpp"
#include "appliance/metrics_server.hpp"
#include "appliance/metrics_text.hpp"
#include "appliance/policy_store.hpp"
#include "appliance/rule_stats.hpp"
#include "appliance/run_options.hpp"
#include "appliance/status_report.hpp"
#include "appliance/telemetry_commands.hpp"
#include "control/control_api.hpp"
#include "control/control_server.hpp"
#include "control/file_persist.hpp"

namespace sgfw::cp {

namespace {

int usage(const std::string& message) {
  std::cerr << "sgfw run: " << message << "\n" << run_usage();
  return 2;
}

void print_reload(const apply_result& r, const std::string& path) {
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
  if (std::string error; !parse_run_options(args, o, error)) return usage(error);

  // SIGINT/SIGTERM/SIGHUP are taken by the event loop (signalfd).  Blocked
  // from the start: a reload or stop asked for while the file loads or
  // DPDK starts waits for the loop instead of killing the process, and no
  // EAL thread is ever interrupted.
  sigset_t signals;
  sigemptyset(&signals);
  for (const int s : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  // The file is the policy's source; the store owns what runs.
  policy_store store;
  config::boot_settings file_boot;  // the file's, before the command line's overrides
  std::string first_text;           // the running policy's text, as the control API edits it
  {
    config::checked_policy first = config::read_policy_file(o.config);
    file_boot = first.boot;
    first_text = first.text;
    for (const auto& n : first.notes) std::cerr << n << "\n";
    for (const auto& e : first.errors) std::cerr << e << "\n";
    const std::size_t errors = first.errors.size();
    if (!store.set_first(std::move(first))) {
      std::cerr << o.config << ": " << errors << (errors == 1 ? " error" : " errors") << "; nothing was started\n";
      return 1;
    }
  }
  config::boot_settings boot = file_boot;
  {
    bool bad_usage = false;
    std::vector<std::string> notes;
    const std::string problem = prepare_run(o, boot, bad_usage, notes);
    if (bad_usage) return usage(problem);
    if (!problem.empty()) {
      std::cerr << "sgfw: " << problem << "\n";
      return 1;
    }
    for (const auto& n : notes) std::cerr << "sgfw: " << n << "\n";
  }
  const config::boot_settings& r = boot;

  // The control socket is made before DPDK starts: a socket that cannot be
  // served stops the start with one clear line.  Requests wait in its
  // backlog until the loop runs, after the workers have started.
  event_loop loop;
  control_settings control{o.config, r.control_persist, {}};
  if (r.control_persist) {
    if (const std::size_t n = remove_stale_staged(o.config); n > 0) {
      std::cout << "sgfw: removed " << n << " temporary file(s) beside " << o.config
                << " that a writer killed mid-change left (the file itself is whole)\n";
    }
  }
  control.boot_note = [&](const config::checked_policy& next) -> std::optional<std::string> {
    // The file carries the run settings too; they apply at the next start.
    if (next.boot == file_boot) return std::nullopt;
    return o.config +
           ": the run settings ([appliance] workers, cores, ports, eal, conntrack, control, metrics) differ from the "
           "running "
           "ones; they apply at the next start, the rest applies now";
  };
  control.log = [](const std::string& line) { std::cout << "sgfw: " << line << std::endl; };
  control_api api(store, std::move(control), first_text);
  control_server server(loop, api, {.path = r.control_socket, .group = r.control_socket_group});
  if (std::string problem = server.start(); !problem.empty()) {
    std::cerr << "sgfw: " << problem
              << " ([appliance.control] socket, or --control-socket PATH); nothing was started\n";
    return 1;
  }

  // The metrics endpoint is bound before anything starts, so a taken
  // address stops the start as a taken control socket does.
  metrics_server metrics;
  if (r.metrics_listen) {
    if (std::string problem = metrics.start(*r.metrics_listen); !problem.empty()) {
      std::cerr << "sgfw: " << problem << " ([appliance.metrics] listen, or --metrics-listen); nothing was started\n";
      return 1;
    }
    if (!r.metrics_listen->loopback) {
      std::cout << "sgfw: note: metrics on " << r.metrics_listen->host
                << ", not a loopback address: whoever reaches it reads the groups', rules' and resources' names "
                   "and figures (no authentication; restrict it with a host firewall)"
                << std::endl;
    }
  }
  std::vector<std::string> eal = eal_arguments(r, machine_facts::read());
  std::vector<char*> eal_argv;
  for (auto& a : eal) eal_argv.push_back(a.data());
  if (rte_eal_init(static_cast<int>(eal_argv.size()), eal_argv.data()) < 0) {
    std::string line;
    for (const auto& a : eal) line += (line.empty() ? "" : " ") + a;
    std::cerr << "sgfw: cannot start DPDK: " << rte_strerror(rte_errno) << " (EAL arguments: " << line << ")\n";
    return 1;
  }
  // DPDK's telemetry socket answers sgfw's commands too (telemetry_commands.hpp).
  if (const std::string exposed = telemetry_exposed(); !exposed.empty()) {
    std::cerr << "sgfw: note: " << exposed << "; the /sgfw/ telemetry commands are off (make it 0700, owned by "
              << "sgfw's user)\n";
  } else if (!register_telemetry_commands()) {
    std::cerr << "sgfw: note: the /sgfw/ telemetry commands could not be registered\n";
  }
  int status = 0;
  {
    appliance app(boot);
    store.start(app.policy(), r.workers, r.max_flows, [&app](std::uint16_t slot) { return app.slot_in_use(slot); });
    std::string error;
    if (!app.start(error)) {
      std::cerr << "sgfw: " << error << "\n";
      status = 1;
    } else {
      std::cout << "sgfw: running: outside " << r.outside << " (port " << app.outside().id
                << (app.outside().rss ? ", symmetric RSS" : "") << "), inside " << r.inside << " (port "
                << app.inside().id << (app.inside().rss ? ", symmetric RSS" : "") << "), " << r.workers
                << (r.workers == 1 ? " worker" : " workers") << ", policy " << o.config << " generation "
                << store.generation() << ", control " << r.control_socket << std::endl;
      const bool show_status = r.status_interval != 0 && (o.status_interval > 0 || ::isatty(STDOUT_FILENO) != 0);
      const auto started = std::chrono::steady_clock::now();
      auto last_status = started;
      appliance_totals before = app.totals();

      appliance_stats stats(app, store, started);
      stats.sample(started);
      loop.every(std::chrono::seconds(1), [&stats] { stats.sample(); });
      api.set_stats([&stats] { return stats.describe(); });
      // Other threads' questions (telemetry) are answered between handlers.
      const auto bridge = std::make_shared<control_bridge>(loop);
      serve_telemetry(bridge, api);
      // Per-rule counts: the workers' clock is the TSC's (worker_wiring).
      rule_stats rules([&app](std::uint32_t i) { return app.rule_totals(i); }, dp::tsc_clock(),
                       [] {
                         return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                               std::chrono::system_clock::now().time_since_epoch())
                                                               .count());
                       });
      store.on_rule_reuse([&rules](const std::vector<std::uint32_t>& reused) { rules.reused(reused); });
      api.set_rule_counts([&rules](std::uint32_t i) { return rules.read(i); });
      api.set_flows([&app](const dp::flow_query& q, std::size_t limit) {
        const std::vector<dp::flow_dump*> dumps = app.flow_dumps();
        // The workers walk their tables between bursts, a slice per loop.
        return gather_flows(dumps, q, limit, std::chrono::seconds(2),
                            [] { std::this_thread::sleep_for(std::chrono::microseconds(100)); });
      });
      // Prometheus: gathered and written on the control thread, a scrape at
      // a time through the bridge (metrics_text.hpp).
      metrics.serve([bridge, &stats, &rules, &store]() -> std::optional<std::string> {
        auto answer = bridge->ask(
            [&stats, &rules, &store] {
              const std::vector<rule_row> rows =
                  rule_rows(store.current(), [&rules](std::uint32_t i) { return rules.read(i); });
              return nlohmann::json(metrics_text(stats.describe(), rows, store.generation()));
            },
            std::chrono::seconds(2));
        if (!answer || !answer->is_string()) return std::nullopt;
        return std::move(answer->get_ref<std::string&>());
      });
      loop.on_signal(SIGINT, [&loop] { loop.stop(); });
      loop.on_signal(SIGTERM, [&loop] { loop.stop(); });
      // Watching starts where the first read ended (a change since is seen).
      std::unique_ptr<file_watch> watch;
      const auto reload = [&](bool from_watch) {
        if (watch) watch->mark_read();
        bool unchanged = false;
        const apply_result applied = api.reload(from_watch, &unchanged);
        // The control API's own write is seen by the watch: nothing to say.
        if (!unchanged) print_reload(applied, o.config);
      };
      loop.on_signal(SIGHUP, [&] { reload(false); });
      if (r.watch) {
        watch = std::make_unique<file_watch>(o.config);
        const auto changed = [&] {
          if (watch->completed_change()) reload(true);
        };
        if (watch->uses_inotify()) {
          loop.on_readable(watch->fd(), changed);
        } else {
          std::cout << "sgfw: note: inotify is not available for " << o.config
                    << "; it is polled and reloaded once it has stayed unchanged for a second" << std::endl;
          loop.every(std::chrono::milliseconds(200), changed);
        }
      }
      // Retired policies are freed once every worker has passed a
      // quiescent point (RCU), and replaced models with them (tidy):
      // checked often, it costs nothing.
      loop.every(std::chrono::milliseconds(200), [&store] { store.tidy(); });
      if (show_status) {
        loop.every(std::chrono::seconds(r.status_interval), [&] {
          const auto now = std::chrono::steady_clock::now();
          const appliance_totals t = app.totals();
          std::cout << "sgfw: "
                    << status_line(t, before, std::chrono::duration<double>(now - last_status).count(),
                                   store.generation())
                    << std::endl;
          before = t;
          last_status = now;
        });
      }
      loop.run();

      stop_telemetry();
      metrics.serve(nullptr);
      bridge->close();  // a scrape waiting on it gets none
      metrics.stop();
      store.on_rule_reuse(nullptr);  // `rules` and `stats` end here
      api.set_rule_counts(nullptr);
      api.set_stats(nullptr);
      app.stop();
      std::vector<appliance_totals> per_worker;
      for (std::uint32_t w = 0; w < r.workers; ++w) per_worker.push_back(app.totals_of(w));
      print_final_counters(std::cout, app.totals(), per_worker,
                           std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(),
                           store.generation());
      // S11: the resources that were refused new flows for want of room.
      const dp::compiled_policy& policy = store.current();
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
