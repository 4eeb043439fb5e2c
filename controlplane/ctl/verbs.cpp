#include "ctl/verbs.hpp"

#include <fstream>
#include <sstream>

namespace sgfw::ctl {

using nlohmann::json;

namespace {

using k = value_kind;

// A change's own choice for the flows that exist (S8).
option_spec established_flows_option() {
  return {"--established-flows", "EstablishedFlows", k::string,
          "keep (tracked flows go on) or revalidate (they end unless still allowed); default: each resource's "
          "setting"};
}

// The shorthand of one rule, or --ip-permissions, as the AWS CLI has them.
std::vector<option_spec> rule_options(bool revoke) {
  std::vector<option_spec> o{
      {"--group-id", "GroupId", k::string, "the security group", true},
      {"--protocol", "Protocol", k::string, "tcp, udp, icmp, icmpv6, all (-1) or a protocol number"},
      {"--port", "Port", k::string,
       "a port, FROM-TO, or -1 for all (TCP/UDP); for ICMP the type, TYPE-CODE, or -1 for all"},
      {"--cidr", "Cidr", k::string, "the peer's IPv4 or IPv6 CIDR"},
      {"--source-group", "SourceGroup", k::string, "the peer: the members of this security group"},
      {"--prefix-list-id", "PrefixListId", k::string, "the peer: the entries of this managed prefix list"},
      {"--icmp-type", "IcmpType", k::integer, "ICMP type (-1 all)"},
      {"--icmp-code", "IcmpCode", k::integer, "ICMP code (-1 all)"},
      {"--description", "Description", k::string, "the rule's description"},
      {"--ip-permissions", "IpPermissions", k::json,
       "the rules as the cloud's IpPermissions JSON (or file://PATH) instead of the shorthand"},
  };
  if (revoke) {
    o.push_back({"--security-group-rule-ids", "SecurityGroupRuleIds", k::strings, "the rules to revoke, by id"});
    o.push_back(established_flows_option());
  } else {
    o.push_back({"--rule-id", "RuleId", k::string, "the rule's id (default: derived from its content)"});
  }
  return o;
}

std::vector<option_spec> explain_options() {
  return {
      {"--resource", "Resource", k::string, "the resource the packet reaches or leaves"},
      {"--address", "Address", k::string, "or: the resource's address"},
      {"--direction", "Direction", k::string, "ingress (to the resource) or egress (from it)"},
      {"--protocol", "Protocol", k::string, "tcp, udp, icmp, icmpv6 or a number", true},
      {"--source", "Source", k::string, "source address", true},
      {"--destination", "Destination", k::string, "destination address", true},
      {"--source-port", "SourcePort", k::integer, "source port (TCP/UDP)"},
      {"--destination-port", "DestinationPort", k::integer, "destination port (TCP/UDP)"},
      {"--icmp-type", "IcmpType", k::integer, "ICMP type"},
      {"--icmp-code", "IcmpCode", k::integer, "ICMP code"},
  };
}

// "Cidr=10.0.0.0/8,Description=office" -> {"Cidr": ..., "Description": ...}
bool parse_entry(const std::string& text, json& out, std::string& error) {
  if (!text.empty() && (text.front() == '{' || text.front() == '[')) {
    out = json::parse(text, nullptr, false);
    if (out.is_discarded()) {
      error = "not JSON: " + text;
      return false;
    }
    return true;
  }
  out = json::object();
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, ',');) {
    const auto eq = part.find('=');
    if (eq == std::string::npos) {
      error = "expected Cidr=CIDR[,Description=TEXT], found '" + text + "'";
      return false;
    }
    out[part.substr(0, eq)] = part.substr(eq + 1);
  }
  return true;
}

bool read_json_value(const std::string& text, json& out, std::string& error) {
  std::string body = text;
  if (text.rfind("file://", 0) == 0) {
    std::ifstream f(text.substr(7));
    if (!f) {
      error = "cannot read " + text.substr(7);
      return false;
    }
    std::stringstream ss;
    ss << f.rdbuf();
    body = ss.str();
  }
  out = json::parse(body, nullptr, false);
  if (out.is_discarded()) {
    error = "not JSON: " + (body.size() > 80 ? body.substr(0, 80) + "..." : body);
    return false;
  }
  return true;
}

}  // namespace

const std::vector<verb_spec>& verbs() {
  static const std::vector<verb_spec> all{
      {"describe-security-groups",
       "DescribeSecurityGroups",
       "the security groups, with their rules",
       {{"--group-ids", "GroupIds", k::strings, "only these groups"}}},
      {"describe-security-group-rules",
       "DescribeSecurityGroupRules",
       "the rules, each with its stable id",
       {{"--group-id", "GroupId", k::string, "only this group's rules"},
        {"--security-group-rule-ids", "SecurityGroupRuleIds", k::strings, "only these rules"}}},
      {"create-security-group",
       "CreateSecurityGroup",
       "a new group (its egress: all traffic out, as the cloud's default)",
       {{"--group-id", "GroupId", k::string, "the group's id", true},
        {"--description", "Description", k::string, "what it is for"}},
       true},
      {"delete-security-group",
       "DeleteSecurityGroup",
       "delete a group no resource uses and no rule references",
       {{"--group-id", "GroupId", k::string, "the group", true}},
       true},
      {"authorize-security-group-ingress", "AuthorizeSecurityGroupIngress", "allow inbound traffic to a group",
       rule_options(false), true},
      {"authorize-security-group-egress", "AuthorizeSecurityGroupEgress", "allow outbound traffic from a group",
       rule_options(false), true},
      {"revoke-security-group-ingress", "RevokeSecurityGroupIngress", "remove inbound rules (by content or id)",
       rule_options(true), true},
      {"revoke-security-group-egress", "RevokeSecurityGroupEgress", "remove outbound rules (by content or id)",
       rule_options(true), true},
      {"describe-resources",
       "DescribeResources",
       "the protected resources: addresses and groups",
       {{"--names", "Names", k::strings, "only these resources"}}},
      {"create-resource",
       "CreateResource",
       "protect a new resource",
       {{"--name", "Name", k::string, "its name", true},
        {"--addresses", "Addresses", k::strings, "its addresses (IPv4, IPv6, CIDR)", true},
        {"--groups", "Groups", k::strings, "its security groups (default: the default group)"},
        {"--side", "Side", k::string, "inside (default) or outside"},
        {"--description", "Description", k::string, "what it is"},
        {"--mac-address", "MacAddress", k::string, "its MAC address"},
        {"--max-flows", "MaxFlows", k::integer, "its conntrack allowance"},
        {"--mode", "Mode", k::string, "enforce (default) or audit (would-deny passed, tracked and counted)"},
        {"--established-flows", "EstablishedFlows", k::string,
         "keep or revalidate: what later changes do to its flows (default: the appliance's)"}},
       true},
      {"delete-resource",
       "DeleteResource",
       "stop protecting a resource",
       {{"--name", "Name", k::string, "the resource", true}},
       true},
      {"modify-resource-attribute",
       "ModifyResourceAttribute",
       "change a resource's groups (at once), addresses, mode or description",
       {{"--name", "Name", k::string, "the resource", true},
        {"--groups", "Groups", k::strings, "its new security groups"},
        {"--addresses", "Addresses", k::strings, "its new addresses"},
        {"--mode", "Mode", k::string, "enforce, or audit (what its groups would deny is passed and counted)"},
        {"--description", "Description", k::string, "its new description"},
        established_flows_option()},
       true},
      {"describe-managed-prefix-lists",
       "DescribeManagedPrefixLists",
       "the managed prefix lists",
       {{"--prefix-list-ids", "PrefixListIds", k::strings, "only these lists"}}},
      {"get-managed-prefix-list-entries",
       "GetManagedPrefixListEntries",
       "a prefix list's entries",
       {{"--prefix-list-id", "PrefixListId", k::string, "the list", true}}},
      {"create-managed-prefix-list",
       "CreateManagedPrefixList",
       "a new prefix list",
       {{"--prefix-list-id", "PrefixListId", k::string, "its id", true},
        {"--address-family", "AddressFamily", k::string, "IPv4 or IPv6"},
        {"--max-entries", "MaxEntries", k::integer, "its size limit"},
        {"--entries", "Entries", k::entries, "Cidr=CIDR[,Description=TEXT] ..."},
        {"--description", "Description", k::string, "what it is"}},
       true},
      {"modify-managed-prefix-list",
       "ModifyManagedPrefixList",
       "add or remove entries; every rule that names the list follows at once",
       {{"--prefix-list-id", "PrefixListId", k::string, "the list", true},
        {"--add-entries", "AddEntries", k::entries, "Cidr=CIDR[,Description=TEXT] ..."},
        {"--remove-entries", "RemoveEntries", k::entries, "Cidr=CIDR ..."},
        {"--max-entries", "MaxEntries", k::integer, "its new size limit"}},
       true},
      {"delete-managed-prefix-list",
       "DeleteManagedPrefixList",
       "delete a prefix list no rule names",
       {{"--prefix-list-id", "PrefixListId", k::string, "the list", true}},
       true},
      {"describe-flows",
       "DescribeFlows",
       "the tracked flows: state, time left, packets and bytes each way, the rule that opened each",
       {{"--resource", "Resource", k::string, "only this resource's flows"},
        {"--address", "Address", k::string, "only flows with this address at either end"},
        {"--port", "Port", k::integer, "only flows with this port at either end (TCP/UDP)"},
        {"--protocol", "Protocol", k::string, "only this protocol (tcp, udp, icmp, icmpv6 or a number)"},
        {"--state", "State", k::strings, "only these states (tcp_established, tcp_syn_sent, udp, udp_stream, ...)"},
        {"--limit", "Limit", k::integer, "at most this many (default 1000, at most 10000)"}}},
      {"describe-stats", "DescribeStats", "the policy generation and the appliance's counters", {}},
      {"explain", "Explain", "the verdict on one packet, and every rule that allows it", explain_options()},
      {"reload", "Reload", "re-read the policy file (as SIGHUP)", {}},
      {"save",
       "Save",
       "write the running policy to its file",
       {{"--force", "Force", k::flag, "even over a file edited since sgfw read it"}}},
  };
  return all;
}

verb_command::verb_command(CLI::App& app, const verb_spec& spec) : spec_(spec) {
  command_ = app.add_subcommand(spec.name, spec.help);
  for (const option_spec& o : spec.options) {
    auto v = std::make_unique<value>();
    switch (o.kind) {
      case k::string:
      case k::json:
        v->option = command_->add_option(o.flag, v->text, o.help);
        break;
      case k::strings:
      case k::entries:
        v->option = command_->add_option(o.flag, v->list, o.help);
        if (o.kind == k::strings) v->option->delimiter(',');
        break;
      case k::integer:
        v->option = command_->add_option(o.flag, v->number, o.help);
        break;
      case k::flag:
        v->option = command_->add_flag(o.flag, v->flag, o.help);
        break;
    }
    if (o.required) v->option->required();
    values_.push_back(std::move(v));
  }
  if (spec.changes) {
    auto v = std::make_unique<value>();
    v->option = command_->add_flag("--dry-run", v->flag, "check and compile, say what would change, change nothing");
    values_.push_back(std::move(v));
  }
}

std::string verb_command::request(json& out) const {
  out = json{{"Action", spec_.action}};
  for (std::size_t i = 0; i < spec_.options.size(); ++i) {
    const option_spec& o = spec_.options[i];
    const value& v = *values_[i];
    if (v.option->count() == 0) continue;
    switch (o.kind) {
      case k::string:
        out[o.field] = v.text;
        break;
      case k::strings:
        out[o.field] = v.list;
        break;
      case k::integer:
        out[o.field] = v.number;
        break;
      case k::flag:
        out[o.field] = v.flag;
        break;
      case k::json: {
        json parsed;
        std::string error;
        if (!read_json_value(v.text, parsed, error)) return std::string(o.flag) + ": " + error;
        out[o.field] = std::move(parsed);
        break;
      }
      case k::entries: {
        json list = json::array();
        for (const std::string& t : v.list) {
          json e;
          std::string error;
          if (!parse_entry(t, e, error)) return std::string(o.flag) + ": " + error;
          if (e.is_array()) {
            for (auto& x : e) list.push_back(std::move(x));
          } else {
            list.push_back(std::move(e));
          }
        }
        out[o.field] = std::move(list);
        break;
      }
    }
  }
  if (spec_.changes && values_.back()->flag) out["DryRun"] = true;
  return {};
}

}  // namespace sgfw::ctl
