// The control API's writes of the policy file (replace_file): whole or
// not at all, even when the writer is killed (kill -9) at any moment; the
// previous version kept as FILE.prev; mode kept; links followed.
#include "control/file_persist.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>
#include <vector>

namespace sgfw::cp {
namespace {

namespace fs = std::filesystem;

class FilePersist : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("sgfw-persist-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    path_ = (dir_ / "policy.toml").string();
  }
  void TearDown() override { fs::remove_all(dir_); }
  static std::string read(const std::string& p) {
    std::string s;
    EXPECT_TRUE(read_whole_file(p, s)) << p;
    return s;
  }

  fs::path dir_;
  std::string path_;
};

TEST_F(FilePersist, ReplacesAndKeepsThePreviousVersionAndTheMode) {
  ASSERT_EQ(replace_file(path_, "one\n"), "");
  EXPECT_EQ(read(path_), "one\n");
  EXPECT_FALSE(fs::exists(path_ + ".prev"));
  ::chmod(path_.c_str(), 0640);
  ASSERT_EQ(replace_file(path_, "two\n"), "");
  EXPECT_EQ(read(path_), "two\n");
  EXPECT_EQ(read(path_ + ".prev"), "one\n");
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640U);
  // Nothing left behind.
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir_)) ++files;
  EXPECT_EQ(files, 2U);
}

TEST_F(FilePersist, AFileThatIsALinkIsReplacedWhereItPoints) {
  const std::string target = (dir_ / "real.toml").string();
  ASSERT_EQ(replace_file(target, "one\n"), "");
  fs::create_symlink(target, path_);
  ASSERT_EQ(replace_file(path_, "two\n"), "");
  EXPECT_TRUE(fs::is_symlink(path_));
  EXPECT_EQ(read(target), "two\n");
}

TEST_F(FilePersist, AFailedWriteChangesNothingAndLeavesNothing) {
  ASSERT_EQ(replace_file(path_, "one\n"), "");
  // FILE.prev cannot be made (a folder with something in it is there).
  fs::create_directories(path_ + ".prev/x");
  EXPECT_NE(replace_file(path_, "two\n"), "");
  EXPECT_EQ(read(path_), "one\n");
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir_)) ++files;
  EXPECT_EQ(files, 2U);  // the file and the folder: no temporary left
  EXPECT_NE(replace_file((dir_ / "no-such-folder" / "p.toml").string(), "x"), "");
}

// A writer replacing the file over and over, killed at random moments:
// the file is always one whole version, never a mix or a prefix.
// The room for the text is taken when staging, before the control API
// publishes: a full disk refuses there, and leaves nothing beside the file.
TEST_F(FilePersist, AFullDiskRefusesWhenStagingNotWhenCommitting) {
  const fs::path small = dir_ / "small";
  fs::create_directories(small);
  if (::mount("tmpfs", small.c_str(), "tmpfs", 0, "size=64k") != 0) GTEST_SKIP() << "cannot mount a tmpfs (not root?)";
  const std::string path = (small / "policy.toml").string();
  ASSERT_EQ(replace_file(path, "one\n"), "");
  staged_file staged;
  const std::string big(1U << 20, 'x');
  EXPECT_NE(stage_file(path, big.size(), staged), "");
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(small)) ++entries;
  const std::string kept = read(path);
  ASSERT_EQ(::umount(small.c_str()), 0);
  EXPECT_EQ(kept, "one\n");
  EXPECT_EQ(entries, 1U);  // the file alone: no temporary, no FILE.prev staged
}

TEST_F(FilePersist, StagedRoomIsFilledByTheTextItWasStagedFor) {
  ASSERT_EQ(replace_file(path_, "one\n"), "");
  staged_file staged;
  ASSERT_EQ(stage_file(path_, 4, staged), "");
  EXPECT_NE(staged.commit("three\n"), "");  // not the size staged: nothing in place
  EXPECT_EQ(read(path_), "one\n");
  ASSERT_EQ(stage_file(path_, 4, staged), "");
  EXPECT_EQ(staged.commit("two\n"), "");
  EXPECT_EQ(read(path_), "two\n");
  EXPECT_EQ(read(path_ + ".prev"), "one\n");
}

TEST_F(FilePersist, FileHoldsComparesEveryByte) {
  std::string text(200000, 'a');
  text[150000] = 'b';
  ASSERT_EQ(replace_file(path_, text), "");
  EXPECT_TRUE(file_holds(path_, text));
  std::string other = text;
  other[199999] = 'c';  // same size, last byte differs
  EXPECT_FALSE(file_holds(path_, other));
  other = text;
  other[0] = 'c';  // same size, first byte differs
  EXPECT_FALSE(file_holds(path_, other));
  EXPECT_FALSE(file_holds(path_, text.substr(0, 199999)));
  EXPECT_FALSE(file_holds(path_, text + "a"));
  EXPECT_FALSE(file_holds((dir_ / "missing").string(), ""));
  ASSERT_EQ(replace_file(path_, ""), "");
  EXPECT_TRUE(file_holds(path_, ""));
}

// What a writer killed between staging and committing left beside the file
// goes at the next start; what a live process (or this one) is writing
// stays, and so does everything else in the folder.
TEST_F(FilePersist, TemporaryFilesOfAWriterThatIsGoneAreRemoved) {
  ASSERT_EQ(replace_file(path_, "one\n"), "");
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);  // gone: its pid names no process
  const std::string dead = std::to_string(child);
  const std::string alive = std::to_string(::getppid());
  const std::string self = std::to_string(::getpid());
  const std::vector<std::string> stale{path_ + ".tmp." + dead + ".123", path_ + ".prev.tmp." + dead,
                                       path_ + ".prev.tmp." + dead + ".9"};
  const std::vector<std::string> kept{path_ + ".tmp." + alive + ".1", path_ + ".tmp." + self + ".1", path_ + ".tmp.x1",
                                      path_ + ".tmpx." + dead, (dir_ / "other.tmp.").string() + dead};
  for (const auto& p : stale) std::ofstream(p) << "partial";
  for (const auto& p : kept) std::ofstream(p) << "partial";
  fs::create_directory(path_ + ".tmp." + dead + ".7");  // not a file: left alone
  EXPECT_EQ(remove_stale_staged(path_), stale.size());
  for (const auto& p : stale) EXPECT_FALSE(fs::exists(p)) << p;
  for (const auto& p : kept) EXPECT_TRUE(fs::exists(p)) << p;
  EXPECT_TRUE(fs::exists(path_ + ".tmp." + dead + ".7"));
  EXPECT_EQ(read(path_), "one\n");
}

TEST_F(FilePersist, AKillAtAnyMomentLeavesTheOldOrTheNewFileWhole) {
  std::string a(256 * 1024, 'a');
  std::string b(300 * 1024, 'b');
  a.back() = '\n';
  b.back() = '\n';
  ASSERT_EQ(replace_file(path_, a), "");
  std::mt19937 rng(42);
  std::size_t saw_a = 0, saw_b = 0;
  for (int round = 0; round < 60; ++round) {
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      for (unsigned i = 0;; ++i) replace_file(path_, (i & 1) != 0 ? a : b);
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200 + rng() % 20000));
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    const std::string now = read(path_);
    ASSERT_TRUE(now == a || now == b) << "round " << round << ": " << now.size() << " bytes";
    (now == a ? saw_a : saw_b) += 1;
    if (fs::exists(path_ + ".prev")) {
      const std::string prev = read(path_ + ".prev");
      ASSERT_TRUE(prev == a || prev == b) << "round " << round << ": .prev has " << prev.size() << " bytes";
    }
  }
  // Killed mid-way often enough to mean something: both versions were seen.
  EXPECT_GT(saw_a, 0U);
  EXPECT_GT(saw_b, 0U);
}

}  // namespace
}  // namespace sgfw::cp
