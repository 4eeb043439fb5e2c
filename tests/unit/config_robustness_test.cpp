// A bad config never crashes the program and never yields a partial policy:
// the shipped examples, mutated at random thousands of times (bytes
// replaced, inserted, deleted; lines duplicated, dropped, swapped), must
// each either load cleanly or be rejected with located errors, and whatever
// loads must compile and answer lookups.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "compiler/compiler.hpp"
#include "config/toml_loader.hpp"
#include "policy/classifier.hpp"

namespace sgfw::config {
namespace {

namespace fs = std::filesystem;

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string mutate(std::string text, std::mt19937_64& r) {
  static constexpr std::string_view alphabet = "[]{}=\",.-/:0123456789abcdefxyz #\n\t'\\";
  const auto pick = [&](std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(r); };
  const std::size_t edits = 1 + pick(4);
  for (std::size_t e = 0; e < edits && !text.empty(); ++e) {
    const std::size_t at = pick(text.size());
    switch (pick(6)) {
      case 0:
        text[at] = alphabet[pick(alphabet.size())];
        break;
      case 1:
        text.insert(at, 1, alphabet[pick(alphabet.size())]);
        break;
      case 2:
        text.erase(at, 1 + pick(8));
        break;
      case 3:
        text[at] = static_cast<char>(pick(256));
        break;
      default: {
        // Line-level: duplicate, drop or move a whole line.
        const std::size_t start = text.rfind('\n', at) == std::string::npos ? 0 : text.rfind('\n', at) + 1;
        const std::size_t end = text.find('\n', at);
        const std::string line = text.substr(start, end == std::string::npos ? std::string::npos : end - start + 1);
        if (pick(2) == 0) {
          text.insert(start, line);
        } else {
          text.erase(start, line.size());
          text.insert(pick(text.size() + 1), line);
        }
      }
    }
  }
  return text;
}

TEST(ConfigRobustness, MutatedExamplesLoadOrFailCleanly) {
  std::mt19937_64 r(20261130);
  std::size_t loaded = 0;
  std::size_t rejected = 0;
  for (const auto& e : fs::directory_iterator(SGFW_SOURCE_DIR "/config/examples")) {
    if (e.path().extension() != ".toml") continue;
    const std::string original = read(e.path());
    for (int i = 0; i < 1500; ++i) {
      const std::string text = mutate(original, r);
      const load_result result = load_policy_text(text, "mutated.toml");
      if (result.ok()) {
        ++loaded;
        for (const auto& d : result.diagnostics) ASSERT_EQ(d.level, diagnostic::severity::warning) << format(d);
        const dp::compiled_policy p = cp::compile(*result.model, 1);
        for (std::uint32_t res = 0; res < p.resource_count() + 1; ++res) {
          const auto key = dp::classify_key::make(
              {res, direction::ingress, net::ip_address::v4(0x0A000001U), ip_proto::tcp, 22, 40000});
          (void)dp::classify(p, key);
        }
      } else {
        ++rejected;
        ASSERT_TRUE(has_errors(result.diagnostics)) << text;
        for (const auto& d : result.diagnostics) {
          ASSERT_GT(d.pos.line, 0U) << format(d) << "\n" << text;
          ASSERT_EQ(format(d).rfind("mutated.toml:", 0), 0U) << format(d);
        }
      }
    }
  }
  // Both outcomes must be common, or the mutations test little.
  EXPECT_GT(loaded, 100U);
  EXPECT_GT(rejected, 1000U);
}

}  // namespace
}  // namespace sgfw::config
