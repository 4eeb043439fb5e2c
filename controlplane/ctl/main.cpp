// sgfwctl: the running appliance's policy from the command line, with the
// AWS CLI's verbs (docs/operations.md).  Talks to `sgfw run` over its
// control socket; every change is applied, written to the policy file and
// published before sgfwctl returns.
//
// Exit codes: 0 done, 1 refused (the error on stderr as
// `sgfwctl: CODE: message`), 2 usage, 3 the daemon is not reachable.
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string_view>
#include <vector>

#include "config/boot_settings.hpp"
#include "ctl/control_client.hpp"
#include "ctl/reply_format.hpp"
#include "ctl/verbs.hpp"

namespace {

constexpr int k_done = 0;
constexpr int k_refused = 1;
constexpr int k_usage = 2;
constexpr int k_unreachable = 3;

// The verb the command line names, when it names one before anything but
// the global options: only that verb's options are then set up (setting up
// every verb's costs a third of sgfwctl's start).  Anything else (help, a
// typo, an unknown option) gets every verb, for help and usage errors.
const sgfw::ctl::verb_spec* named_verb(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--socket" || a == "--output" || a == "--timeout") {
      ++i;
      continue;
    }
    if (a.starts_with("--socket=") || a.starts_with("--output=") || a.starts_with("--timeout=")) continue;
    if (a.starts_with("-")) return nullptr;
    for (const sgfw::ctl::verb_spec& v : sgfw::ctl::verbs()) {
      if (a == v.name) return &v;
    }
    return nullptr;
  }
  return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace sgfw::ctl;
  CLI::App app{"sgfwctl: change and inspect a running sgfw's policy (docs/operations.md)", "sgfwctl"};
  const char* env_socket = std::getenv("SGFW_SOCKET");
  std::string socket =
      env_socket != nullptr && *env_socket != '\0' ? env_socket : sgfw::config::k_default_control_socket;
  std::string output = "json";
  int timeout_s = 30;
  app.add_option("--socket", socket, "the daemon's control socket ([appliance.control] socket; $SGFW_SOCKET)")
      ->capture_default_str()
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("--output", output, "json, table or text")
      ->capture_default_str()
      ->check(CLI::IsMember({"json", "table", "text"}));
  app.add_option("--timeout", timeout_s, "seconds to wait for the reply")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600));
  app.require_subcommand(1, 1);
  // The global options may come after the verb too, as with the AWS CLI.
  app.fallthrough();
  std::vector<std::unique_ptr<verb_command>> commands;
  if (const verb_spec* named = named_verb(argc, argv); named != nullptr) {
    commands.push_back(std::make_unique<verb_command>(app, *named));
  } else {
    for (const verb_spec& v : verbs()) commands.push_back(std::make_unique<verb_command>(app, v));
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return k_usage;
  }
  const verb_command* chosen = nullptr;
  for (const auto& c : commands) {
    if (c->command()->parsed()) chosen = c.get();
  }
  if (chosen == nullptr) {
    std::cerr << app.help();
    return k_usage;
  }
  nlohmann::json request;
  if (const std::string problem = chosen->request(request); !problem.empty()) {
    std::cerr << "sgfwctl: " << problem << "\n";
    return k_usage;
  }
  output_format format = output_format::json;
  parse_output_format(output, format);
  const client_result r = send_request(socket, request, timeout_s * 1000);
  if (r.what == client_result::outcome::denied) {
    std::cerr << "sgfwctl: AccessDenied: " << r.problem << "\n";
    return k_refused;
  }
  if (r.what != client_result::outcome::replied) {
    std::cerr << "sgfwctl: " << r.problem << "\n";
    return k_unreachable;
  }
  if (const auto e = r.reply.find("Error"); e != r.reply.end()) {
    std::cerr << "sgfwctl: " << e->value("Code", std::string("Error")) << ": " << e->value("Message", std::string());
    if (e->contains("Field")) {
      std::cerr << " (" << e->value("Field", std::string()) << ")";
    } else if (e->contains("Path")) {
      std::cerr << " (at " << e->value("Path", std::string()) << ")";
    }
    std::cerr << "\n";
    if (const auto all = r.reply.find("Errors"); all != r.reply.end() && all->size() > 1) {
      for (std::size_t i = 1; i < all->size(); ++i) {
        const auto& x = (*all)[i];
        std::cerr << "sgfwctl: " << x.value("Code", std::string("Error")) << ": " << x.value("Message", std::string());
        if (x.contains("Field")) std::cerr << " (" << x.value("Field", std::string()) << ")";
        std::cerr << "\n";
      }
    }
    return k_refused;
  }
  print_reply(std::cout, r.reply, format);
  return k_done;
}
