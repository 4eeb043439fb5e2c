// The boot settings' part of a policy file (boot_settings.hpp): the
// [appliance] keys workers, cores, main_core, watch and status_interval,
// [appliance.ports] and [appliance.eal], and the sizing keys of
// [appliance.conntrack].  The policy reader checks which keys a table may
// hold and hands these over.
#pragma once

#include <toml++/toml.h>

#include <string>

#include "config/boot_settings.hpp"
#include "config/toml_reader.hpp"

namespace sgfw::config {

// From the [appliance] table `t` at `path`.
void read_boot(toml_reader& in, const toml::table& t, const std::string& path, boot_settings& r);

// From [appliance.conntrack]: max_flows, early_drop, flow_counters,
// fragment_timeout, max_fragmented_datagrams.
void read_boot_conntrack(toml_reader& in, const toml::table& ct, const std::string& cpath, boot_settings& r);

}  // namespace sgfw::config
