// huge_buffer: zeroed, aligned, writable memory from either path, and
// moves that hand the memory over exactly once.
#include "memory/huge_buffer.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <utility>

namespace sgfw::dp {
namespace {

bool all_zero(const huge_buffer& b) {
  const auto* p = static_cast<const unsigned char*>(b.data());
  for (std::size_t i = 0; i < b.size(); ++i) {
    if (p[i] != 0) return false;
  }
  return true;
}

TEST(HugeBuffer, SmallBuffersComeFromTheHeapLargeOnesAreMapped) {
  const huge_buffer small(1000);
  EXPECT_FALSE(small.huge());
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(small.data()) % 64, 0U);
  EXPECT_TRUE(all_zero(small));

  const huge_buffer large(std::size_t{5} << 20);
  EXPECT_TRUE(large.huge());
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(large.data()) % (std::size_t{2} << 20), 0U);
  EXPECT_EQ(large.size(), std::size_t{5} << 20);
  EXPECT_TRUE(all_zero(large));
  std::memset(large.data(), 0xAB, large.size());  // every byte writable
}

TEST(HugeBuffer, MovesHandTheMemoryOver) {
  huge_buffer a(std::size_t{3} << 20);
  void* const p = a.data();
  huge_buffer b(std::move(a));
  EXPECT_EQ(b.data(), p);
  EXPECT_EQ(a.data(), nullptr);  // NOLINT(bugprone-use-after-move): moved-from state is specified
  huge_buffer c(64);
  c = std::move(b);
  EXPECT_EQ(c.data(), p);
  EXPECT_EQ(c.size(), std::size_t{3} << 20);
}

}  // namespace
}  // namespace sgfw::dp
