// Packet-path cases as folders, one test each: tests/pipeline/cases/NAME/
//
//   policy.toml           the policy
//   in.pcap               frames arriving on the outside port
//   in-inside.pcap        (optional) frames arriving on the inside port
//   expect.pcap           what must leave the inside port, in order
//   expect-outside.pcap   (optional) what must leave the outside port
//
// The two inputs are merged by their pcap timestamps, which also drive the
// workers' clock (so a case can let flows time out); each frame is handed
// to the workers on its own.  Classic pcap, Ethernet, either byte order,
// micro- or nanosecond timestamps.  tests/pipeline/cases/make_cases.py
// writes the cases kept here.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "pipeline.hpp"

namespace sgfw::testing {
namespace {

namespace fs = std::filesystem;

struct record {
  std::uint64_t time_us = 0;
  side from = side::outside;
  bytes frame;
};

std::uint32_t read32(const std::uint8_t* p, bool swap) {
  const std::uint32_t v = p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
  return swap ? __builtin_bswap32(v) : v;
}

bytes read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  bytes out(static_cast<std::size_t>(fs::file_size(path)));
  in.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(out.size()));
  if (!in) ADD_FAILURE() << path << ": cannot read";
  return out;
}

// The frames of a pcap file; a missing file has none.  A malformed one
// fails the test.
std::vector<record> read_pcap(const fs::path& path, side from) {
  std::vector<record> out;
  if (!fs::exists(path)) return out;
  const bytes data = read_bytes(path);
  if (data.size() < 24) {
    ADD_FAILURE() << path << ": no pcap header";
    return out;
  }
  const std::uint32_t magic = read32(data.data(), false);
  bool swap = false;
  bool nanos = false;
  if (magic == 0xA1B2C3D4U || magic == 0xA1B23C4DU) {
    nanos = magic == 0xA1B23C4DU;
  } else if (magic == 0xD4C3B2A1U || magic == 0x4D3CB2A1U) {
    swap = true;
    nanos = magic == 0x4D3CB2A1U;
  } else {
    ADD_FAILURE() << path << ": not a classic pcap file";
    return out;
  }
  if (read32(data.data() + 20, swap) != 1) ADD_FAILURE() << path << ": link type is not Ethernet";
  for (std::size_t off = 24; off < data.size();) {
    if (data.size() - off < 16) {
      ADD_FAILURE() << path << ": truncated record header at " << off;
      break;
    }
    const std::uint64_t sec = read32(data.data() + off, swap);
    const std::uint64_t frac = read32(data.data() + off + 4, swap);
    const std::uint32_t len = read32(data.data() + off + 8, swap);
    off += 16;
    if (data.size() - off < len) {
      ADD_FAILURE() << path << ": truncated record at " << off;
      break;
    }
    out.push_back({sec * 1000000 + (nanos ? frac / 1000 : frac), from,
                   bytes(data.begin() + static_cast<std::ptrdiff_t>(off),
                         data.begin() + static_cast<std::ptrdiff_t>(off + len))});
    off += len;
  }
  return out;
}

std::string read_text(const fs::path& path) {
  const bytes b = read_bytes(path);
  return {b.begin(), b.end()};
}

fs::path cases_dir() { return fs::path(SGFW_SOURCE_DIR) / "tests" / "pipeline" / "cases"; }

std::vector<std::string> case_names() {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(cases_dir())) {
    if (e.is_directory() && fs::exists(e.path() / "policy.toml")) out.push_back(e.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

class PacketCase : public ::testing::TestWithParam<std::string> {};

TEST_P(PacketCase, FramesComeOutAsExpected) {
  const fs::path dir = cases_dir() / GetParam();
  pipeline p(read_text(dir / "policy.toml"));
  std::vector<record> in = read_pcap(dir / "in.pcap", side::outside);
  const std::vector<record> in_inside = read_pcap(dir / "in-inside.pcap", side::inside);
  in.insert(in.end(), in_inside.begin(), in_inside.end());
  std::stable_sort(in.begin(), in.end(), [](const record& a, const record& b) { return a.time_us < b.time_us; });
  ASSERT_FALSE(in.empty()) << dir << ": no input frames";

  std::vector<bytes> out[2];
  std::uint64_t clock_us = in.front().time_us;
  for (const record& r : in) {
    p.advance_ms((r.time_us - clock_us) / 1000);
    clock_us = r.time_us - (r.time_us - clock_us) % 1000;
    p.send(r.from, r.frame);
    p.run();
    for (const side s : {side::outside, side::inside}) {
      for (bytes& f : p.received(s)) out[static_cast<int>(s)].push_back(std::move(f));
    }
  }
  for (const auto& [s, file] :
       {std::pair{side::inside, "expect.pcap"}, std::pair{side::outside, "expect-outside.pcap"}}) {
    const std::vector<record> expected = read_pcap(dir / file, s);
    const std::vector<bytes>& got = out[static_cast<int>(s)];
    EXPECT_EQ(got.size(), expected.size())
        << file << ": frames out of the " << (s == side::inside ? "inside" : "outside") << " port";
    for (std::size_t i = 0; i < std::min(got.size(), expected.size()); ++i) {
      EXPECT_EQ(got[i], expected[i].frame) << file << ": frame " << i << " differs";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, PacketCase, ::testing::ValuesIn(case_names()),
                         [](const ::testing::TestParamInfo<std::string>& case_info) {
                           std::string name = case_info.param;
                           std::replace_if(
                               name.begin(), name.end(), [](char c) { return !std::isalnum(c); }, '_');
                           return name;
                         });

}  // namespace
}  // namespace sgfw::testing
