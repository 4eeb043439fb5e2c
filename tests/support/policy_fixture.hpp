// A policy loaded from TOML text, compiled, and paired with the reference
// evaluator, so that every question a test asks is answered by both and the
// answers are compared.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <string_view>

#include "compiler/compiler.hpp"
#include "compiler/reference_evaluator.hpp"
#include "config/address_text.hpp"
#include "config/policy_check.hpp"
#include "policy/classifier.hpp"

namespace sgfw::testing {

inline net::ip_address ip(std::string_view text) {
  auto parsed = config::parse_address(text);
  if (auto* e = std::get_if<config::text_error>(&parsed)) {
    ADD_FAILURE() << "bad address in test: " << e->message;
    return {};
  }
  return std::get<net::ip_address>(parsed);
}

class policy_fixture {
 public:
  explicit policy_fixture(std::string_view toml) {
    auto loaded = config::check_policy(config::load_policy_text(toml, "test.toml"));
    for (const auto& e : loaded.errors) ADD_FAILURE() << e;
    if (!loaded.ok()) throw std::runtime_error("test policy does not load");
    model_ = std::make_unique<config::policy_model>(std::move(*loaded.model));
    compiled_ = cp::compile(*model_, 1);
    rows_ = cp::compile(*model_, {1, cp::combine_choice::rows});
    matrices_ = cp::compile(*model_, {1, cp::combine_choice::matrices});
    wide_matrices_ = cp::compile(*model_, {1, cp::combine_choice::wide_matrices});
    reference_ = std::make_unique<cp::reference_evaluator>(*model_);
  }

  const config::policy_model& model() const { return *model_; }
  const dp::compiled_policy& compiled() const { return compiled_; }

  std::uint32_t resource(std::string_view name) const {
    for (std::size_t i = 0; i < model_->resources.size(); ++i) {
      if (model_->resources[i].name == name) return static_cast<std::uint32_t>(i);
    }
    ADD_FAILURE() << "no resource " << name;
    return 0;
  }

  // Asks the compiled classifier (single and batched; rows, one-byte and
  // two-byte matrices) and the reference; all must agree.
  dp::decision ask(const dp::classify_key& k) const {
    const dp::decision compiled = dp::classify(compiled_, k);
    const dp::decision reference = reference_->classify(k);
    EXPECT_EQ(compiled, reference) << "compiled rule " << compiled.rule << " vs reference rule " << reference.rule;
    for (const dp::compiled_policy* p : {&compiled_, &rows_, &matrices_, &wide_matrices_}) {
      dp::decision burst;
      dp::classify_burst(*p, &k, &burst, 1);
      EXPECT_EQ(dp::classify(*p, k), reference) << (p->matrices ? "matrices " : "rows ") << p->matrix_entry_bytes;
      EXPECT_EQ(burst, reference) << (p->matrices ? "matrices " : "rows ") << p->matrix_entry_bytes;
    }
    return compiled;
  }

  // The first packet of a flow from `remote` to the resource's `port`.
  dp::decision inbound(std::string_view res, std::string_view proto, std::string_view remote, std::uint16_t port,
                       std::uint16_t remote_port = 40000) const {
    return ask(key(res, direction::ingress, proto, remote, port, remote_port));
  }
  // The first packet of a flow from the resource to `remote`'s `port`.
  dp::decision outbound(std::string_view res, std::string_view proto, std::string_view remote, std::uint16_t port,
                        std::uint16_t local_port = 40000) const {
    return ask(key(res, direction::egress, proto, remote, local_port, port));
  }
  dp::decision icmp(std::string_view res, direction d, std::string_view remote, std::uint8_t type,
                    std::uint8_t code) const {
    const net::ip_address a = ip(remote);
    return ask(key(res, d, a.fam == net::family::ipv4 ? "icmp" : "icmpv6", remote, 0, 0, type, code));
  }

  dp::classify_key key(std::string_view res, direction d, std::string_view proto, std::string_view remote,
                       std::uint16_t local_port, std::uint16_t remote_port, std::uint8_t icmp_type = 0,
                       std::uint8_t icmp_code = 0) const {
    dp::classify_key::fields k;
    k.resource = resource(res);
    k.dir = d;
    k.proto = proto == "tcp"      ? ip_proto::tcp
              : proto == "udp"    ? ip_proto::udp
              : proto == "icmp"   ? ip_proto::icmp
              : proto == "icmpv6" ? ip_proto::icmpv6
                                  : static_cast<std::uint8_t>(std::stoi(std::string(proto)));
    k.remote = ip(remote);
    k.local_port = local_port;
    k.remote_port = remote_port;
    k.icmp_type = icmp_type;
    k.icmp_code = icmp_code;
    return dp::classify_key::make(k);
  }

  // "group/rule-id" of the rule that decided, or "deny".
  std::string who(const dp::decision& d) const {
    if (!d.allowed()) return "deny";
    return compiled_.group_ids[compiled_.rules[d.rule].group] + "/" + std::string(compiled_.rule_id(d.rule));
  }

 private:
  std::unique_ptr<config::policy_model> model_;
  dp::compiled_policy compiled_;  // automatic choice
  dp::compiled_policy rows_;
  dp::compiled_policy matrices_;
  dp::compiled_policy wide_matrices_;
  std::unique_ptr<cp::reference_evaluator> reference_;
};

}  // namespace sgfw::testing
