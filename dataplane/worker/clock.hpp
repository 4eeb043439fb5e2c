// The worker's sense of time, injectable so that tests can age flows
// without sleeping (tests/support/manual_clock).  Milliseconds; the
// connection tracker keeps 32-bit wrapping ticks.
#pragma once

#include <cstdint>

namespace sgfw::dp {

struct clock_source {
  std::uint64_t (*read)(const void* context) = nullptr;
  const void* context = nullptr;

  std::uint64_t now_ms() const { return read(context); }
};

// The TSC, as DPDK calibrated it.  Needs EAL.
clock_source tsc_clock();

// A clock that moves only when told to.
struct manual_clock {
  std::uint64_t ms = 0;

  clock_source source() const {
    return {[](const void* c) { return static_cast<const manual_clock*>(c)->ms; }, this};
  }
};

}  // namespace sgfw::dp
