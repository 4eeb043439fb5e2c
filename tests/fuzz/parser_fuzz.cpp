// libFuzzer target: the packet parser on arbitrary bytes.  Built with
// -Dfuzz=enabled (clang, ASan, UBSan) and run for a bounded time by
// `./setup.sh test`.
#include <cstddef>
#include <cstdint>

#include "net/packet_parser.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  sgfw::dp::parsed_packet p;
  sgfw::dp::parse_frame(data, static_cast<std::uint32_t>(size), p);
  // Whatever the parser says must be self-consistent.
  if (p.kind == sgfw::dp::frame_kind::malformed && p.malformed == sgfw::dp::malformed_reason::none) __builtin_trap();
  if (p.kind != sgfw::dp::frame_kind::malformed && p.malformed != sgfw::dp::malformed_reason::none) __builtin_trap();
  return 0;
}
