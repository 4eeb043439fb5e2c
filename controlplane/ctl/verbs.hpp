// verbs: sgfwctl's verbs and options, named as in the AWS CLI
// (describe-security-groups, authorize-security-group-ingress --group-id
// ... --protocol tcp --port 22 --cidr ...), each the control API's Action
// with the options as its fields (docs/operations.md).  One table says it
// all: what the CLI offers, its help, and the request it sends.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace sgfw::ctl {

enum class value_kind {
  string,   // --group-id web
  strings,  // --group-ids a b c (or a,b,c)
  integer,  // --icmp-type 8
  flag,     // --dry-run
  json,     // --ip-permissions '[...]' or file://perms.json
  entries,  // --add-entries Cidr=10.0.0.0/8,Description=x ... (or JSON)
};

struct option_spec {
  const char* flag;   // "--group-id"
  const char* field;  // "GroupId"
  value_kind kind;
  const char* help;
  bool required = false;
};

struct verb_spec {
  const char* name;    // "authorize-security-group-ingress"
  const char* action;  // "AuthorizeSecurityGroupIngress"
  const char* help;
  std::vector<option_spec> options;
  bool changes = false;  // takes --dry-run
};

const std::vector<verb_spec>& verbs();

// One verb's subcommand, with storage for its options.
class verb_command {
 public:
  verb_command(CLI::App& app, const verb_spec& spec);
  CLI::App* command() const { return command_; }
  const verb_spec& spec() const { return spec_; }
  // The request its parsed options make; "" or what is wrong with them.
  std::string request(nlohmann::json& out) const;

 private:
  struct value {
    std::string text;
    std::vector<std::string> list;
    long long number = 0;
    bool flag = false;
    CLI::Option* option = nullptr;
  };
  const verb_spec& spec_;
  CLI::App* command_ = nullptr;
  std::vector<std::unique_ptr<value>> values_;
};

}  // namespace sgfw::ctl
