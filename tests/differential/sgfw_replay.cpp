// sgfw_replay: sgfw's side of the differential test against Linux
// netfilter (tests/differential/differential.py).  For each case folder
// given, it loads policy.toml into one worker over ring ports (the pipeline
// harness: the appliance's own worker code) and plays trace.txt, one frame
// per line ("outside HEX" or "inside HEX": the port it comes in on), one
// frame at a time; it writes verdicts.txt, one line per frame: "pass", or
// the drop reason's name.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "pipeline.hpp"

namespace {

using namespace sgfw;

testing::bytes unhex(const std::string& s) {
  testing::bytes b;
  for (std::size_t i = 0; i + 1 < s.size(); i += 2)
    b.push_back(static_cast<std::uint8_t>(std::stoul(s.substr(i, 2), nullptr, 16)));
  return b;
}

bool replay(const std::string& dir) {
  std::ifstream policy_file(dir + "/policy.toml");
  std::stringstream policy;
  policy << policy_file.rdbuf();
  std::ifstream trace(dir + "/trace.txt");
  std::ofstream out(dir + "/verdicts.txt");
  if (!policy_file || !trace || !out) {
    std::cerr << dir << ": cannot read policy.toml / trace.txt or write verdicts.txt\n";
    return false;
  }
  testing::pipeline p(policy.str());
  for (std::string line; std::getline(trace, line);) {
    if (line.empty()) continue;
    std::istringstream in(line);
    std::string port, hex;
    in >> port >> hex;
    const testing::side from = port == "inside" ? testing::side::inside : testing::side::outside;
    const testing::side to = from == testing::side::inside ? testing::side::outside : testing::side::inside;
    std::array<std::uint64_t, dp::drop_reason_count> before{};
    for (std::size_t r = 0; r < dp::drop_reason_count; ++r) before[r] = p.dropped(static_cast<dp::drop_reason>(r));
    p.send(from, unhex(hex));
    p.run(1);
    const std::size_t passed = p.received(to).size();
    p.received(from);
    std::string verdict = passed != 0 ? "pass" : "dropped";
    for (std::size_t r = 1; r < dp::drop_reason_count && passed == 0; ++r) {
      if (p.dropped(static_cast<dp::drop_reason>(r)) != before[r])
        verdict = std::string(dp::to_string(static_cast<dp::drop_reason>(r)));
    }
    out << verdict << "\n";
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (!sgfw::testing::init_test_eal(argv[0], "sgfw-replay", 256)) return 1;
  bool ok = true;
  for (int i = 1; i < argc; ++i) {
    try {
      ok = replay(argv[i]) && ok;
    } catch (const std::exception& e) {
      std::cerr << argv[i] << ": " << e.what() << "\n";
      ok = false;
    }
  }
  return ok ? 0 : 1;
}
