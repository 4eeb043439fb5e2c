// `sgfw run`'s command line and the checks made before anything starts:
// the arguments, the file's [appliance] settings with the command line's
// overrides applied, the ports and the CPUs.  Apart from the daemon's loop
// (run_command.cpp), so each can be read and tested on its own.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/boot_settings.hpp"

namespace sgfw::cp {

struct run_options {
  std::string config;
  std::string outside, inside, cores, eal, control_socket, metrics_listen;
  long workers = -1;
  long status_interval = -1;
};

// Parses the arguments after `run`; false with `error` set on a bad one.
bool parse_run_options(const std::vector<std::string_view>& args, run_options& out, std::string& error);

// The usage text, for errors.
std::string_view run_usage();

// Applies the command line to the file's settings and checks the result:
// ports given and distinct, CPUs that exist.  Returns a problem to print
// (with `usage` true when it is the command line's), or an empty string.
// `notes` gets what is fine but worth saying.
std::string prepare_run(const run_options& o, config::boot_settings& r, bool& usage, std::vector<std::string>& notes);

}  // namespace sgfw::cp
