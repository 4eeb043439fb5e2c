#include "config/address_text.hpp"

#include <arpa/inet.h>

#include <array>
#include <charconv>
#include <cstring>

namespace sgfw::config {

namespace {

bool looks_like_v6(std::string_view text) { return text.find(':') != std::string_view::npos; }

}  // namespace

std::variant<net::ip_address, text_error> parse_address(std::string_view text) {
  if (text.empty()) return text_error{"expected an IPv4 or IPv6 address, found an empty string"};
  if (text.size() > INET6_ADDRSTRLEN) {
    return text_error{"'" + std::string(text) + "' is not a valid IP address"};
  }
  std::array<char, INET6_ADDRSTRLEN + 1> buf{};
  std::memcpy(buf.data(), text.data(), text.size());
  if (looks_like_v6(text)) {
    std::array<unsigned char, 16> raw{};
    if (inet_pton(AF_INET6, buf.data(), raw.data()) != 1) {
      return text_error{"'" + std::string(text) + "' is not a valid IPv6 address"};
    }
    net::u128 v = 0;
    for (unsigned char b : raw) v = (v << 8) | b;
    return net::ip_address::v6(v);
  }
  // inet_pton accepts only the dotted-quad form with decimal octets, which
  // rules out ambiguous spellings such as 010.1 or 0x0a.0.0.1.
  std::array<unsigned char, 4> raw{};
  if (inet_pton(AF_INET, buf.data(), raw.data()) != 1) {
    return text_error{"'" + std::string(text) + "' is not a valid IPv4 address"};
  }
  const std::uint32_t v = (std::uint32_t{raw[0]} << 24) | (std::uint32_t{raw[1]} << 16) | (std::uint32_t{raw[2]} << 8) |
                          std::uint32_t{raw[3]};
  return net::ip_address::v4(v);
}

std::variant<net::cidr, text_error> parse_cidr(std::string_view text) {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) {
    const bool v6 = looks_like_v6(text);
    return text_error{"'" + std::string(text) + "' has no prefix length; expected a CIDR block such as " +
                      std::string(text) + (v6 ? "/128" : "/32")};
  }
  auto addr = parse_address(text.substr(0, slash));
  if (auto* e = std::get_if<text_error>(&addr)) return *e;
  const auto base = std::get<net::ip_address>(addr);
  const unsigned bits = net::address_bits(base.fam);

  const std::string_view len_text = text.substr(slash + 1);
  unsigned len = 0;
  const auto [end, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), len);
  if (len_text.empty() || ec != std::errc{} || end != len_text.data() + len_text.size()) {
    return text_error{"'" + std::string(len_text) + "' is not a prefix length; expected 0-" + std::to_string(bits)};
  }
  if (len > bits) {
    return text_error{"prefix length " + std::to_string(len) + " is out of range for " +
                      std::string(to_string(base.fam)) + "; expected 0-" + std::to_string(bits)};
  }
  net::cidr c{base, static_cast<std::uint8_t>(len)};
  const net::u128 mask = net::host_mask(bits, len);
  if ((base.value & mask) != 0) {
    net::cidr meant{{base.fam, base.value & ~mask}, c.prefix};
    return text_error{"'" + std::string(text) + "' has host bits set; did you mean " + to_string(meant) + "?"};
  }
  return c;
}

std::string to_string(const net::ip_address& a) {
  std::array<char, INET6_ADDRSTRLEN> buf{};
  if (a.fam == net::family::ipv4) {
    const std::uint32_t v = a.v4_value();
    const std::array<unsigned char, 4> raw{static_cast<unsigned char>(v >> 24), static_cast<unsigned char>(v >> 16),
                                           static_cast<unsigned char>(v >> 8), static_cast<unsigned char>(v)};
    inet_ntop(AF_INET, raw.data(), buf.data(), buf.size());
  } else {
    std::array<unsigned char, 16> raw{};
    for (int i = 15; i >= 0; --i)
      raw[static_cast<std::size_t>(i)] = static_cast<unsigned char>(a.value >> (8 * (15 - i)));
    inet_ntop(AF_INET6, raw.data(), buf.data(), buf.size());
  }
  return buf.data();
}

std::string to_string(const net::cidr& c) { return to_string(c.base) + "/" + std::to_string(c.prefix); }

std::string_view to_string(net::family f) { return f == net::family::ipv4 ? "IPv4" : "IPv6"; }

}  // namespace sgfw::config
