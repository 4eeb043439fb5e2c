// Every file in tests/config/bad/ is a config with one mistake; its first
// line says the error the loader must report, its last line that error's
// stable code:
//   # expect: LINE:COLUMN: KEY: MESSAGE
//   ...
//   # code: InvalidPermission.Duplicate
// The loader must reject the file as a whole (no partial model) and report
// exactly that as its first error, prefixed with the file's path.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "config/toml_loader.hpp"

namespace sgfw::config {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> bad_configs() {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(SGFW_TEST_CONFIG_DIR "/bad")) {
    if (e.path().extension() == ".toml") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

class BadConfig : public ::testing::TestWithParam<fs::path> {};

TEST_P(BadConfig, IsRejectedWithItsFileLineColumnError) {
  const fs::path path = GetParam();
  std::ifstream in(path);
  std::string first;
  std::getline(in, first);
  const std::string prefix = "# expect: ";
  ASSERT_EQ(first.rfind(prefix, 0), 0U) << path << " has no '# expect:' line";
  const std::string expected = path.string() + ":" + first.substr(prefix.size());
  std::string second, line;
  while (std::getline(in, line)) {
    if (!line.empty()) second = line;
  }
  const std::string code_prefix = "# code: ";
  ASSERT_EQ(second.rfind(code_prefix, 0), 0U) << path << " has no '# code:' last line";

  const load_result r = load_policy_file(path.string());
  EXPECT_FALSE(r.ok()) << "a config with an error must not yield a model";
  ASSERT_FALSE(r.diagnostics.empty());
  const auto err = std::find_if(r.diagnostics.begin(), r.diagnostics.end(),
                                [](const diagnostic& d) { return d.level == diagnostic::severity::error; });
  ASSERT_NE(err, r.diagnostics.end());
  EXPECT_EQ(format(*err), expected);
  EXPECT_EQ(std::string(err->code), second.substr(code_prefix.size()));
  for (const diagnostic& d : r.diagnostics) {
    EXPECT_NE(std::string(d.code), "") << format(d) << " has no code";
    EXPECT_GT(d.pos.line, 0U) << format(d);
    EXPECT_GT(d.pos.column, 0U) << format(d);
  }
}

INSTANTIATE_TEST_SUITE_P(Files, BadConfig, ::testing::ValuesIn(bad_configs()),
                         [](const ::testing::TestParamInfo<fs::path>& param_info) {
                           std::string name = param_info.param.stem().string();
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

TEST(BadConfigs, ThereAreAtLeastTwentyFive) { EXPECT_GE(bad_configs().size(), 25U); }

TEST(BadConfigs, MissingFileIsAClearError) {
  const load_result r = load_policy_file("/nonexistent/policy.toml");
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(r.diagnostics.size(), 1U);
  EXPECT_EQ(format(r.diagnostics[0]), "/nonexistent/policy.toml: cannot open the file: No such file or directory");
}

TEST(BadConfigs, EveryErrorIsReportedNotJustTheFirst) {
  const load_result r = load_policy_text(R"([[security_group]]
id = "g"
  [[security_group.ingress]]
  protocol = "tcp"
  ports = 70000
  cidr = "10.0.0.1/8"
  [[security_group.ingress]]
  protocol = "udp"
  ports = 53
  cidr = "1.2.3.4/33"
[[resource]]
name = "r"
addresses = ["10.0.0.999"]
)",
                                         "multi.toml");
  ASSERT_FALSE(r.ok());
  std::vector<std::string> lines;
  for (const auto& d : r.diagnostics) lines.push_back(format(d));
  ASSERT_EQ(lines.size(), 4U) << ::testing::PrintToString(lines);
  EXPECT_EQ(lines[0].substr(0, 16), "multi.toml:5:11:");
  EXPECT_EQ(lines[1].substr(0, 16), "multi.toml:6:10:");
  EXPECT_EQ(lines[2].substr(0, 17), "multi.toml:10:10:");
  EXPECT_EQ(lines[3].substr(0, 17), "multi.toml:13:14:");
}

}  // namespace
}  // namespace sgfw::config
