// The packet parser: Ethernet (with up to two VLAN tags), ARP, IPv4 (with
// options), IPv6 (with its extension-header chain), TCP, UDP, ICMP and
// ICMPv6, and the packet an ICMP error quotes.  It reads the frame and
// nothing else, checks every length before it reads, and reports a
// malformed frame as a drop reason; no input can make it read out of
// bounds or loop (tests/fuzz/parser_fuzz.cpp).
#pragma once

#include <cstdint>

#include "net/parsed_packet.hpp"

namespace sgfw::dp {

void parse_frame(const std::uint8_t* frame, std::uint32_t len, parsed_packet& out);

}  // namespace sgfw::dp
