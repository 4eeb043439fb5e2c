// sgfw: the appliance's command-line entry point.
//
//   sgfw check --config FILE    validate a policy and print it compiled
//   sgfw run --config FILE ...  run the appliance (appliance/run_command.hpp)
//   sgfw version
#include <chrono>
#include <iomanip>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "appliance/run_command.hpp"
#include "cli/policy_report.hpp"
#include "compiler/compiler.hpp"
#include "config/policy_check.hpp"

namespace {

constexpr std::string_view k_usage =
    "usage: sgfw <command> [options]\n"
    "\n"
    "commands:\n"
    "  check --config FILE [--quiet]   validate a policy file and print the compiled\n"
    "                                  policy per resource; exit 1 on any error\n"
    "  run --config FILE [--outside DEVARGS] [--inside DEVARGS] [--workers N]\n"
    "      [--cores LIST] [--eal \"EAL ARGS\"] [--status-interval SECONDS]\n"
    "                                  run the appliance between two DPDK ports;\n"
    "                                  SIGHUP reloads the policy, SIGINT/SIGTERM stop\n"
    "  version                         print the version\n";

int usage_error(std::string_view message) {
  std::cerr << "sgfw: " << message << "\n\n" << k_usage;
  return 2;
}

std::string count(std::size_t n, std::string_view noun) {
  return std::to_string(n) + " " + std::string(noun) + (n == 1 ? "" : "s");
}

int check(const std::vector<std::string_view>& args) {
  std::string config;
  bool quiet = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--config" && i + 1 < args.size()) {
      config = std::string(args[++i]);
    } else if (args[i] == "--quiet" || args[i] == "-q") {
      quiet = true;
    } else {
      return usage_error("check: unexpected argument '" + std::string(args[i]) + "'");
    }
  }
  if (config.empty()) return usage_error("check: --config FILE is required");

  const auto checked = sgfw::config::read_policy_file(config);
  for (const auto& n : checked.notes) std::cerr << n << '\n';
  for (const auto& e : checked.errors) std::cerr << e << '\n';
  if (!checked.ok()) {
    const std::size_t errors = checked.errors.size();
    std::cerr << config << ": " << errors << (errors == 1 ? " error" : " errors") << "; nothing was compiled\n";
    return 1;
  }
  const auto& model = *checked.model;
  const auto start = std::chrono::steady_clock::now();
  sgfw::cp::compile_options options;
  options.generation = 1;
  options.max_flows = checked.boot.max_flows;  // the shares `sgfw run` would give
  const auto policy = sgfw::cp::compile(model, options);
  const std::chrono::duration<double, std::milli> took = std::chrono::steady_clock::now() - start;

  std::size_t rules = 0;
  std::size_t written = 0;  // groups in the file, not the synthesised default group
  for (const auto& g : model.groups) {
    rules += g.ingress.size() + g.egress.size();
    written += g.synthesised ? 0 : 1;
  }
  const std::size_t group_sets = policy.sets.size() - 1;  // less the internal deny-all set
  std::cout << config << ": OK: " << count(written, "security group")
            << (written != model.groups.size() ? " (and the default group)" : "") << ", " << count(rules, "rule")
            << ", " << count(model.prefix_lists.size(), "prefix list") << ", "
            << count(model.resources.size(), "resource") << "; compiled in " << std::fixed << std::setprecision(3)
            << took.count() << " ms into " << count(group_sets, "group set") << " (" << std::setprecision(1)
            << static_cast<double>(policy.memory_bytes()) / 1024.0 << " KiB)\n\n";
  if (!quiet) sgfw::cli::print_policy(std::cout, model, policy);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  if (args.empty()) return usage_error("no command given");
  const std::string_view command = args.front();
  args.erase(args.begin());
  if (command == "check") return check(args);
  if (command == "run") return sgfw::cp::run_command(args);
  if (command == "version" || command == "--version") {
    std::cout << "sgfw " << SGFW_VERSION << '\n';
    return 0;
  }
  if (command == "help" || command == "--help" || command == "-h") {
    std::cout << k_usage;
    return 0;
  }
  return usage_error("unknown command '" + std::string(command) + "'");
}
