#include "cli/policy_report.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include "compiler/compiler.hpp"
#include "config/address_text.hpp"
#include "config/rule_text.hpp"

namespace sgfw::cli {

namespace {

// A left-aligned text table whose columns are as wide as their widest cell.
class text_table {
 public:
  explicit text_table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }

  void print(std::ostream& out, std::string_view indent) const {
    std::vector<std::size_t> width(rows_[0].size(), 0);
    for (const auto& r : rows_) {
      for (std::size_t c = 0; c < r.size(); ++c) width[c] = std::max(width[c], r[c].size());
    }
    for (const auto& r : rows_) {
      std::string line(indent);
      for (std::size_t c = 0; c < r.size(); ++c) {
        line += r[c];
        if (c + 1 < r.size()) line += std::string(width[c] - r[c].size() + 2, ' ');
      }
      while (!line.empty() && line.back() == ' ') line.pop_back();
      out << line << '\n';
    }
  }

 private:
  std::vector<std::vector<std::string>> rows_;
};

std::string join_addresses(const std::vector<net::ip_address>& addrs) {
  std::string s;
  for (const auto& a : addrs) s += (s.empty() ? "" : ", ") + config::to_string(a);
  return s;
}

std::string describe_untracked(const std::vector<cp::service_range>& services) {
  std::string s;
  for (const auto& svc : services) {
    s += s.empty() ? "" : ", ";
    s += svc.proto == ip_proto::tcp ? "tcp " : "udp ";
    s += svc.ports.first == svc.ports.last ? std::to_string(svc.ports.first)
                                           : std::to_string(svc.ports.first) + "-" + std::to_string(svc.ports.last);
  }
  return s;
}

}  // namespace

void print_policy(std::ostream& out, const config::policy_model& model, const dp::compiled_policy& policy) {
  for (std::size_t r = 0; r < model.resources.size(); ++r) {
    const auto& res = model.resources[r];
    const auto& set = *policy.sets[policy.resource_set[r]];
    std::string groups;
    for (const std::uint32_t g : set.groups) groups += (groups.empty() ? "" : ", ") + model.groups[g].id;
    out << "resource " << res.name << "  [" << join_addresses(res.addresses) << "]  groups: " << groups << '\n';

    text_table table({"DIRECTION", "PROTOCOL", "PORTS", "PEER", "GROUP", "RULE ID", "DESCRIPTION"});
    std::size_t count = 0;
    for (const direction d : {direction::ingress, direction::egress}) {
      for (const std::uint32_t g : set.groups) {
        for (const config::rule& rule : model.groups[g].rules(d)) {
          table.add({std::string(to_string(d)), config::describe_protocol(rule.protocol), config::describe_ports(rule),
                     config::describe_peer(model, rule.remote), model.groups[g].id, rule.id, rule.description});
          ++count;
        }
      }
    }
    if (count == 0) {
      out << "  no rules: all traffic to and from this resource is denied\n";
    } else {
      table.print(out, "  ");
    }
    for (const net::family f : {net::family::ipv4, net::family::ipv6}) {
      for (const direction d : {direction::ingress, direction::egress}) {
        const auto services = cp::untracked_services(model, set.groups, d, f);
        if (services.empty()) continue;
        out << "  untracked " << config::to_string(f) << " flows started by " << to_string(d) << ": "
            << describe_untracked(services) << '\n';
      }
    }
    out << '\n';
  }
}

}  // namespace sgfw::cli
