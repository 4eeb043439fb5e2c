// The flow owner must be the queue a NIC with sgfw's RSS settings picks:
// checked against DPDK's own software Toeplitz (rte_softrss) over the same
// key and input, for IPv4 and IPv6, both directions.
#include "worker/flow_owner.hpp"

#include <gtest/gtest.h>
#include <rte_thash.h>

#include <array>
#include <random>

namespace sgfw::dp {
namespace {

// rte_softrss takes the tuple as 32-bit words in host order, each holding
// four bytes of the packet in network order: the same words as our
// host-order addresses.
std::uint32_t reference(net::family fam, net::u128 src, net::u128 dst) {
  std::array<std::uint32_t, 8> tuple{};
  if (fam == net::family::ipv4) {
    tuple[0] = static_cast<std::uint32_t>(src);
    tuple[1] = static_cast<std::uint32_t>(dst);
    return rte_softrss(tuple.data(), 2, k_symmetric_rss_key.data());
  }
  for (unsigned i = 0; i < 4; ++i) {
    tuple[i] = static_cast<std::uint32_t>(src >> (96 - 32 * i));
    tuple[4 + i] = static_cast<std::uint32_t>(dst >> (96 - 32 * i));
  }
  return rte_softrss(tuple.data(), 8, k_symmetric_rss_key.data());
}

net::u128 random_address(std::mt19937_64& rng, net::family fam) {
  if (fam == net::family::ipv4) return rng() & 0xFFFFFFFFU;
  return (net::u128{rng()} << 64) | rng();
}

TEST(FlowOwner, HashIsTheNicsToeplitzOverTheAddresses) {
  std::mt19937_64 rng(7);
  const symmetric_toeplitz toeplitz;
  for (const net::family fam : {net::family::ipv4, net::family::ipv6}) {
    for (int i = 0; i < 20000; ++i) {
      const net::u128 a = random_address(rng, fam);
      const net::u128 b = random_address(rng, fam);
      const std::uint32_t want = reference(fam, a, b);
      ASSERT_EQ(toeplitz.hash(fam, a, b), want) << "family " << static_cast<int>(fam) << " case " << i;
      ASSERT_EQ(reference(fam, b, a), want) << "the key is not symmetric";
    }
  }
}

TEST(FlowOwner, OwnerIsTheQueueTheRedirectionTablePicks) {
  std::mt19937_64 rng(11);
  for (const std::uint32_t workers : {1U, 2U, 3U, 4U, 7U}) {
    for (const std::uint32_t reta : {64U, 128U, 512U}) {
      const flow_owner owner(workers, reta);
      std::array<unsigned, 8> seen{};
      for (int i = 0; i < 4000; ++i) {
        const auto fam = i % 2 == 0 ? net::family::ipv4 : net::family::ipv6;
        const net::u128 a = random_address(rng, fam);
        const net::u128 b = random_address(rng, fam);
        // sgfw programs entry j to queue j % workers.
        const std::uint32_t queue = (reference(fam, a, b) % reta) % workers;
        ASSERT_EQ(owner(fam, a, b), queue);
        ASSERT_EQ(owner(fam, b, a), queue);
        ++seen[queue];
      }
      for (std::uint32_t w = 0; w < workers; ++w) {
        EXPECT_GT(seen[w], 4000 / workers / 2) << workers << " workers: worker " << w << " gets too few flows";
      }
    }
  }
}

}  // namespace
}  // namespace sgfw::dp
