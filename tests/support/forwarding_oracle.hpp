// forwarding_oracle: could the appliance have forwarded this frame?
//
// An independent account of what sgfw may let through, for the fuzz
// targets and the differential tests: the rules come from the reference
// evaluator (the config model read rule by rule, not the compiled
// classifier), the state from a shadow set of every flow key a forwarded
// frame carried (not the connection table; never aged, so it only ever
// allows more than the appliance does).  A forwarded frame must be one of
// the exceptions the appliance's settings allow (ARP, valid neighbour
// discovery, listed groups, unprotected traffic when forwarded), or each
// of its sides must be allowed by the rules as a packet that may open a
// flow from that port, or belong to a flow a frame forwarded earlier
// carried; a later fragment must follow a first fragment forwarded from
// the same port.  check() answers "" or why the frame should not have
// passed; record() adds a forwarded frame's keys.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <tuple>

#include "compiler/reference_evaluator.hpp"
#include "config/model.hpp"
#include "net/parsed_packet.hpp"

namespace sgfw::testing {

class forwarding_oracle {
 public:
  explicit forwarding_oracle(const config::policy_model& model) : model_(model), reference_(model) {}

  // A frame that left the appliance; it had come in on the inside port
  // when `from_inside`.  Checks it, then records its keys.
  std::string forwarded(const std::uint8_t* frame, std::size_t len, bool from_inside);

  std::size_t size() const { return flows_.size() + fragments_.size(); }

 private:
  using flow_key = std::tuple<std::uint32_t, net::u128, net::u128, std::uint16_t, std::uint16_t, std::uint8_t, bool>;
  using fragment_key = std::tuple<net::u128, net::u128, std::uint8_t, std::uint32_t, bool, bool>;

  std::uint32_t resource_of(const net::ip_address& a, std::uint64_t mac) const;
  std::string check(const dp::parsed_packet& p, std::uint64_t src_mac, std::uint64_t dst_mac, bool from_inside) const;
  void record(const dp::parsed_packet& p, std::uint64_t src_mac, std::uint64_t dst_mac, bool from_inside);

  const config::policy_model& model_;
  cp::reference_evaluator reference_;
  std::set<flow_key> flows_;
  std::set<fragment_key> fragments_;
};

}  // namespace sgfw::testing
