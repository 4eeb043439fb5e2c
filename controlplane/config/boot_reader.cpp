#include "config/boot_reader.hpp"

#include <algorithm>
#include <cctype>

namespace sgfw::config {

void read_boot(toml_reader& in, const toml::table& t, const std::string& path, boot_settings& r) {
  if (auto v = in.get_integer(t, "workers", path, 1, k_max_workers)) r.workers = static_cast<std::uint32_t>(*v);
  if (const toml::node* n = t.get("cores")) {
    const std::string k = with_key(path, "cores");
    if (const toml::array* arr = n->as_array()) {
      for (std::size_t i = 0; i < arr->size(); ++i) {
        const toml::node& e = *arr->get(i);
        if (!e.is_integer() || e.as_integer()->get() < 0 || e.as_integer()->get() > 1023) {
          in.error(pos_of(e), with_index(k, i), "expected a CPU number 0-1023");
          continue;
        }
        r.cores.push_back(static_cast<std::uint32_t>(e.as_integer()->get()));
      }
      if (r.cores.size() != r.workers) {
        in.error(pos_of(*n), k,
                 std::to_string(r.cores.size()) + " cores for " + std::to_string(r.workers) +
                     " workers; expected one CPU per worker",
                 code::invalid_parameter_combination);
      }
    } else {
      in.wrong_type(*n, k, "an array of CPU numbers");
    }
  }
  if (auto v = in.get_integer(t, "main_core", path, 0, 1023)) r.main_core = static_cast<std::uint32_t>(*v);
  if (auto v = in.get_bool(t, "watch", path)) r.watch = *v;
  if (auto v = in.get_integer(t, "status_interval", path, 0, 3600)) r.status_interval = static_cast<std::uint32_t>(*v);
  if (const toml::table* pt = in.sub_table(t, "ports", path)) {
    const std::string ppath = with_key(path, "ports");
    in.check_keys(*pt, ppath, {"outside", "inside", "rx_descriptors", "tx_descriptors", "packet_buffers"});
    const std::string_view what = "DPDK devargs: a PCI address or a vdev such as \"net_tap0,iface=sgfw0\"";
    if (auto v = in.get_string(*pt, "outside", ppath, false, what)) r.outside = *v;
    if (auto v = in.get_string(*pt, "inside", ppath, false, what)) r.inside = *v;
    if (auto v = in.get_integer(*pt, "rx_descriptors", ppath, 64, 16384))
      r.rx_descriptors = static_cast<std::uint32_t>(*v);
    if (auto v = in.get_integer(*pt, "tx_descriptors", ppath, 64, 16384))
      r.tx_descriptors = static_cast<std::uint32_t>(*v);
    if (auto v = in.get_integer(*pt, "packet_buffers", ppath, 0, 16 << 20))
      r.packet_buffers = static_cast<std::uint32_t>(*v);
    if (!r.outside.empty() && r.outside == r.inside) {
      in.error(pos_of(*pt->get("inside")), with_key(ppath, "inside"),
               "the same device as outside; expected another port", code::invalid_parameter_combination);
    }
  }
  if (const toml::table* ct = in.sub_table(t, "control", path)) {
    const std::string cpath = with_key(path, "control");
    in.check_keys(*ct, cpath, {"socket", "socket_group", "persist"});
    if (auto v = in.get_string(*ct, "socket", cpath, false, "an absolute path such as \"/run/sgfw/sgfw.sock\"")) {
      // sun_path holds 108 bytes with the terminating NUL.
      if (v->empty() || v->front() != '/' || v->size() > 107 || v->find('\0') != std::string::npos) {
        in.error(pos_of(*ct->get("socket")), with_key(cpath, "socket"),
                 quoted(*v) + " is not a socket path; expected an absolute path of at most 107 bytes");
      } else {
        r.control_socket = *v;
      }
    }
    if (auto v = in.get_string(*ct, "socket_group", cpath, false, "a group name such as \"sgfw\"")) {
      const bool ok = !v->empty() && v->size() <= 32 && std::all_of(v->begin(), v->end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_' || c == '.';
      });
      if (ok) {
        r.control_socket_group = *v;
      } else {
        in.error(pos_of(*ct->get("socket_group")), with_key(cpath, "socket_group"),
                 quoted(*v) + " is not a group name; expected 1-32 letters, digits, '-', '_' or '.'");
      }
    }
    if (auto v = in.get_bool(*ct, "persist", cpath)) r.control_persist = *v;
  }
  if (const toml::table* mt = in.sub_table(t, "metrics", path)) {
    const std::string mpath = with_key(path, "metrics");
    in.check_keys(*mt, mpath, {"listen"});
    if (auto v = in.get_string(*mt, "listen", mpath, false, "ADDRESS:PORT such as \"127.0.0.1:9477\"")) {
      std::string why;
      if (auto a = parse_listen_address(*v, why)) {
        r.metrics_listen = std::move(*a);
      } else {
        in.error(pos_of(*mt->get("listen")), with_key(mpath, "listen"), quoted(*v) + ": " + why);
      }
    }
  }
  if (const toml::table* et = in.sub_table(t, "eal", path)) {
    const std::string epath = with_key(path, "eal");
    in.check_keys(*et, epath, {"hugepages", "memory_mb", "file_prefix", "args"});
    if (auto v = in.get_string(*et, "hugepages", epath, false, "\"auto\", \"yes\" or \"no\"")) {
      if (*v == "auto") {
        r.hugepages = boot_settings::hugepages_mode::automatic;
      } else if (*v == "yes") {
        r.hugepages = boot_settings::hugepages_mode::yes;
      } else if (*v == "no") {
        r.hugepages = boot_settings::hugepages_mode::no;
      } else {
        in.error(pos_of(*et->get("hugepages")), with_key(epath, "hugepages"),
                 "unknown value " + quoted(*v) + "; expected \"auto\", \"yes\" or \"no\"");
      }
    }
    if (auto v = in.get_integer(*et, "memory_mb", epath, 64, 1 << 20)) r.memory_mb = static_cast<std::uint32_t>(*v);
    if (auto v = in.get_string(*et, "file_prefix", epath, false)) {
      const bool ok = !v->empty() && v->size() <= 64 && std::all_of(v->begin(), v->end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_';
      });
      if (ok) {
        r.file_prefix = *v;
      } else {
        in.error(pos_of(*et->get("file_prefix")), with_key(epath, "file_prefix"),
                 quoted(*v) + " is not a file prefix; expected 1-64 letters, digits, '-' or '_'");
      }
    }
    if (const toml::node* n = et->get("args")) {
      const std::string k = with_key(epath, "args");
      if (const toml::array* arr = n->as_array()) {
        for (std::size_t i = 0; i < arr->size(); ++i) {
          const toml::node& e = *arr->get(i);
          if (!e.is_string()) {
            in.wrong_type(e, with_index(k, i), "a string (one EAL argument)");
            continue;
          }
          r.eal_args.push_back(e.as_string()->get());
        }
      } else {
        in.wrong_type(*n, k, "an array of strings, e.g. [\"--no-pci\", \"--log-level=7\"]");
      }
    }
  }
}

void read_boot_conntrack(toml_reader& in, const toml::table& ct, const std::string& cpath, boot_settings& r) {
  if (auto v = in.get_integer(ct, "max_flows", cpath, 1024, std::int64_t{1} << 28)) {
    r.max_flows = static_cast<std::uint32_t>(*v);
  }
  if (auto v = in.get_bool(ct, "early_drop", cpath)) r.early_drop = *v;
  if (auto v = in.get_bool(ct, "flow_counters", cpath)) r.flow_counters = *v;
  if (auto v = in.get_integer(ct, "fragment_timeout", cpath, 1, 120))
    r.fragment_timeout = static_cast<std::uint32_t>(*v);
  if (auto v = in.get_integer(ct, "max_fragmented_datagrams", cpath, 64, std::int64_t{1} << 24)) {
    r.max_fragmented_datagrams = static_cast<std::uint32_t>(*v);
  }
}

}  // namespace sgfw::config
