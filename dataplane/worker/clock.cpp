#include "worker/clock.hpp"

#include <rte_cycles.h>

namespace sgfw::dp {

clock_source tsc_clock() {
  return {[](const void*) { return rte_get_tsc_cycles() / (rte_get_tsc_hz() / 1000); }, nullptr};
}

}  // namespace sgfw::dp
