// Change latency: from a control request (what sgfwctl sends) to the reply,
// and to the first packet a worker judges by the new rule, over 1000
// changes at each policy size (docs/performance.md).
//
//   build/perf/change_latency [--changes 1000] [--sizes 100,1000,10000] [--groups 200] [--no-persist]
//                             [--sgfwctl build/sgfwctl]
//
// A worker runs on a thread of its own (the appliance's worker core) over
// ring ports, injecting a TCP SYN to the port under test from a new source
// port each turn and polling; the main thread (the appliance's control
// thread) sends AuthorizeSecurityGroupIngress for that port to the control
// API, as the socket would, and then revokes it again (untimed), so every
// change meets the same policy size.  The request goes the whole way: the
// document edited, the TOML read, validated and compiled, the file written
// (fsync, rename; unless --no-persist), the policy published and the reply
// held until every worker has taken it.  Reported: p50/p99/max of
//   reply:  request -> reply (the API's own time), and
//   packet: request -> the first SYN forwarded under the new rule,
// plus the compile time the API reports.  As in the appliance (EAL lcores),
// the worker and the control thread are pinned to cores of their own when
// there are two: unpinned, the scheduler now and then runs both on one
// core and the worker waits out a time slice (1-2 ms) before it takes the
// new policy.
//
// With --sgfwctl PATH the change is made the way an operator makes it: the
// control API is served on a socket by an event loop on the control thread
// (as in `sgfw run`), and each change is a run of sgfwctl, timed from its
// spawn; then *reply* is spawn -> sgfwctl has exited, and *first packet*
// spawn -> the first SYN forwarded under the new rule, process start
// (exec, dynamic linking, connect) included.
#include <pthread.h>
#include <sched.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "appliance/event_loop.hpp"
#include "control/control_api.hpp"
#include "control/control_server.hpp"
#include "pipeline.hpp"

namespace {

// Pins the calling thread to `core` when the machine has more than one
// (the appliance's worker and control threads run on cores of their own).
void pin_to(unsigned core) {
  if (std::thread::hardware_concurrency() < 2) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(core % std::thread::hardware_concurrency(), &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

using namespace sgfw;
using clock_type = std::chrono::steady_clock;
namespace flag = dp::tcp_flag;

// `rules` ingress rules spread over `groups` groups; resources of four
// groups each.  Resource r0 (10.200.0.1) has g0..g3; the change adds a rule
// to g0.
std::string make_policy(unsigned rules, unsigned groups) {
  std::ostringstream t;
  t << "[limits]\ningress_rules_per_group = 1000\n\n";
  for (unsigned g = 0; g < groups; ++g) {
    t << "[[security_group]]\nid = \"g" << g << "\"\n";
    for (unsigned k = g; k < rules; k += groups) {
      t << "  [[security_group.ingress]]\n  protocol = \"tcp\"\n  ports = " << (1000 + k % 30000) << "\n  cidr = \"10."
        << (k / 256) % 256 << "." << k % 256 << ".0/24\"\n";
    }
  }
  for (unsigned r = 0; r * 4 < groups; ++r) {
    t << "[[resource]]\nname = \"r" << r << "\"\naddresses = [\"10.200." << r / 250 << "." << r % 250 + 1
      << "\"]\nsecurity_groups = [";
    for (unsigned g = r * 4; g < std::min(groups, r * 4 + 4); ++g) t << (g == r * 4 ? "" : ", ") << "\"g" << g << "\"";
    t << "]\n";
  }
  return t.str();
}

struct percentiles {
  double p50, p99, max;
};
percentiles of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const auto at = [&](double q) {
    return v[std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size() - 1) + 0.5))];
  };
  return {at(0.5), at(0.99), v.back()};
}

extern "C" char** environ;

// Runs sgfwctl with `args` and waits for it; its exit status, or -1.
int run_sgfwctl(const std::string& path, const std::vector<std::string>& args) {
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(path.c_str()));
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawn(&pid, path.c_str(), nullptr, nullptr, argv.data(), environ) != 0) return -1;
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// A change the way it is made: the control API in-process, or an sgfwctl
// run against the socket a control thread serves.
class changer {
 public:
  changer(cp::control_api& api, const std::string& sgfwctl, const std::filesystem::path& dir)
      : api_(api), sgfwctl_(sgfwctl), socket_((dir / "control.sock").string()) {
    if (sgfwctl_.empty()) return;
    server_ = std::make_unique<cp::control_server>(loop_, api_, cp::control_server_options{.path = socket_});
    if (const std::string problem = server_->start(); !problem.empty()) {
      std::fprintf(stderr, "control socket: %s\n", problem.c_str());
      std::exit(1);
    }
    loop_.every(std::chrono::milliseconds(20), [this] {
      if (stop_.load()) loop_.stop();
    });
    thread_ = std::thread([this] {
      pin_to(0);  // the control thread, as the appliance's main lcore
      loop_.run();
    });
  }
  ~changer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  changer(const changer&) = delete;
  changer& operator=(const changer&) = delete;

  // The rule for port 60000 authorized (true) or revoked; "" or what failed.
  // `compile_ms` gets what the API reports when it is called in-process.
  std::string change(bool authorize, double& compile_ms) {
    if (sgfwctl_.empty()) {
      nlohmann::json request{{"Action", authorize ? "AuthorizeSecurityGroupIngress" : "RevokeSecurityGroupIngress"},
                             {"GroupId", "g0"},
                             {"Protocol", "tcp"},
                             {"Port", "60000"},
                             {"Cidr", "198.18.0.0/15"}};
      const nlohmann::json reply = api_.handle(request);
      api_.tidy();  // as the server does once the reply is sent
      compile_ms = reply.value("CompileMs", 0.0);
      return reply.value("Return", false) ? "" : reply.dump();
    }
    const int rc =
        run_sgfwctl(sgfwctl_, {"--socket", socket_, "--output", "text",
                               authorize ? "authorize-security-group-ingress" : "revoke-security-group-ingress",
                               "--group-id", "g0", "--protocol", "tcp", "--port", "60000", "--cidr", "198.18.0.0/15"});
    compile_ms = 0;
    return rc == 0 ? "" : "sgfwctl exited with " + std::to_string(rc);
  }

 private:
  cp::control_api& api_;
  std::string sgfwctl_;
  std::string socket_;
  cp::event_loop loop_;
  std::unique_ptr<cp::control_server> server_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

int run(unsigned changes, const std::vector<unsigned>& sizes, unsigned groups, bool persist,
        const std::string& sgfwctl) {
  pin_to(0);  // the control thread
  if (!sgfwctl.empty()) {
    std::printf("each change a run of %s over the control socket; reply = until it exited, from its spawn\n\n",
                sgfwctl.c_str());
  }
  std::printf(
      "| rules | groups | persist | reply p50 | reply p99 | reply max | first packet p50 | first packet p99 | "
      "first packet max | compile p50 |\n|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const unsigned size : sizes) {
    const std::string text = make_policy(size, groups);
    const std::filesystem::path dir =
        std::filesystem::temp_directory_path() / ("sgfw-latency-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir);
    const std::string file = (dir / "policy.toml").string();
    std::ofstream(file) << text;
    testing::pipeline p(text, {.flow_capacity = 1U << 20});
    cp::control_api api(p.store(), cp::control_settings{file, persist, {}, {}}, text);
    changer make(api, sgfwctl, dir);

    // The worker: a SYN per turn while armed, polling always.
    std::atomic<bool> stop{false};
    std::atomic<bool> armed{false};
    std::atomic<clock_type::rep> first_forwarded{0};
    std::thread worker([&] {
      pin_to(1);
      // Every SYN from a source address and port never used before: a
      // repeated one would meet the flow an earlier allowed SYN opened.
      std::uint32_t n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        if (armed.load(std::memory_order_acquire)) {
          const std::uint32_t host = n / 64000;  // within 198.18.0.0/15
          const std::string src = "198." + std::to_string(18 + (host >> 16)) + "." +
                                  std::to_string((host >> 8) & 0xFF) + "." + std::to_string(host & 0xFF);
          p.send(testing::side::outside,
                 testing::tcp(src, static_cast<std::uint16_t>(1024 + n % 64000), "10.200.0.1", 60000, flag::syn, 1));
          ++n;
        }
        p.run(1);
        if (!p.received(testing::side::inside).empty() && armed.load(std::memory_order_acquire)) {
          first_forwarded.store(clock_type::now().time_since_epoch().count(), std::memory_order_release);
          armed.store(false, std::memory_order_release);
        }
        p.received(testing::side::outside);
      }
    });

    std::vector<double> reply_ms, packet_ms, compile_ms;
    for (unsigned i = 0; i < changes; ++i) {
      first_forwarded.store(0);
      armed.store(true, std::memory_order_release);
      std::this_thread::sleep_for(std::chrono::microseconds(200));  // denied SYNs flowing
      double compiled = 0;
      const auto t0 = clock_type::now();
      const std::string problem = make.change(true, compiled);
      const auto t1 = clock_type::now();
      if (!problem.empty()) {
        std::fprintf(stderr, "change %u refused: %s\n", i, problem.c_str());
        stop = true;
        worker.join();
        return 1;
      }
      while (first_forwarded.load(std::memory_order_acquire) == 0) std::this_thread::yield();
      const auto t2 = clock_type::time_point(clock_type::duration(first_forwarded.load()));
      reply_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
      packet_ms.push_back(std::chrono::duration<double, std::milli>(t2 - t0).count());
      compile_ms.push_back(compiled);
      if (const std::string undo = make.change(false, compiled); !undo.empty()) {
        std::fprintf(stderr, "revoke %u refused: %s\n", i, undo.c_str());
        stop = true;
        worker.join();
        return 1;
      }
    }
    stop = true;
    worker.join();
    std::filesystem::remove_all(dir);
    const percentiles r = of(reply_ms), k = of(packet_ms), c = of(compile_ms);
    std::printf("| %u | %u | %s | %.3f ms | %.3f ms | %.3f ms | %.3f ms | %.3f ms | %.3f ms | %.3f ms |\n", size,
                groups, persist ? "yes" : "no", r.p50, r.p99, r.max, k.p50, k.p99, k.max, c.p50);
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  unsigned changes = 1000, groups = 200;
  std::vector<unsigned> sizes{100, 1000, 10000};
  bool persist = true;
  std::string sgfwctl;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--changes" && i + 1 < argc) {
      changes = static_cast<unsigned>(std::stoul(argv[++i]));
    } else if (a == "--groups" && i + 1 < argc) {
      groups = static_cast<unsigned>(std::stoul(argv[++i]));
    } else if (a == "--sizes" && i + 1 < argc) {
      sizes.clear();
      std::stringstream in(argv[++i]);
      for (std::string s; std::getline(in, s, ',');) sizes.push_back(static_cast<unsigned>(std::stoul(s)));
    } else if (a == "--no-persist") {
      persist = false;
    } else if (a == "--sgfwctl" && i + 1 < argc) {
      sgfwctl = std::filesystem::absolute(argv[++i]).string();
    } else {
      std::fprintf(stderr, "usage: %s [--changes N] [--sizes A,B,...] [--groups G] [--no-persist] [--sgfwctl PATH]\n",
                   argv[0]);
      return 2;
    }
  }
  if (!testing::init_test_eal(argv[0], "sgfw-latency", 512)) return 1;
  return run(changes, sizes, groups, persist, sgfwctl);
}
