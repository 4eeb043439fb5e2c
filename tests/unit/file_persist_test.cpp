// The control API's writes of the policy file (replace_file): whole or
// not at all, even when the writer is killed (kill -9) at any moment; the
// previous version kept as FILE.prev; mode kept; links followed.
#include "control/file_persist.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
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
// goes at the next start: the names the writer makes, with a process id
// that names no process, or this one's (nothing is staged at start; in a
// container every start is pid 1).  What a live process is writing stays,
// and so does what a writer holds the lock of (a writer in another pid
// namespace looks gone by its id), another user's file, and every name the
// writer does not make (an operator's policy.toml.tmp.20240101 backup).
TEST_F(FilePersist, TemporaryFilesOfAWriterThatIsGoneAreRemoved) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (files of another user)";
  ASSERT_EQ(replace_file(path_, "one\n"), "");
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);  // gone: its pid names no process
  const std::string dead = std::to_string(child);
  const std::string alive = std::to_string(::getppid());
  const std::string self = std::to_string(::getpid());
  const std::vector<std::string> stale{path_ + ".tmp." + dead + ".123", path_ + ".prev.tmp." + dead,
                                       path_ + ".prev.tmp." + dead + ".9", path_ + ".tmp." + self + ".1"};
  const std::vector<std::string> kept{path_ + ".tmp." + alive + ".1",  path_ + ".tmp.x1",
                                      path_ + ".tmpx." + dead,         (dir_ / "other.tmp.").string() + dead + ".1",
                                      path_ + ".tmp.20240101",         path_ + ".tmp." + dead,
                                      path_ + ".tmp." + dead + ".bak", path_ + ".tmp." + dead + ".123456789",
                                      path_ + ".tmp.12345678.1",       path_ + ".prev.tmp." + dead + ".x",
                                      path_ + ".tmp." + dead + ".5",   path_ + ".tmp." + dead + ".6"};
  for (const auto& p : stale) std::ofstream(p) << "partial";
  for (const auto& p : kept) std::ofstream(p) << "partial";
  // Held by a live writer (its lock), and another user's.
  const int held = ::open((path_ + ".tmp." + dead + ".5").c_str(), O_RDONLY);
  ASSERT_GE(held, 0);
  ASSERT_EQ(::flock(held, LOCK_EX), 0);
  ASSERT_EQ(::chown((path_ + ".tmp." + dead + ".6").c_str(), 65534, 65534), 0);
  fs::create_directory(path_ + ".tmp." + dead + ".7");  // not a file: left alone
  EXPECT_EQ(remove_stale_staged(path_), stale.size());
  ::close(held);
  for (const auto& p : stale) EXPECT_FALSE(fs::exists(p)) << p;
  for (const auto& p : kept) EXPECT_TRUE(fs::exists(p)) << p;
  EXPECT_TRUE(fs::exists(path_ + ".tmp." + dead + ".7"));
  EXPECT_EQ(read(path_), "one\n");
}

// Someone who may write the policy's folder (but is not root) turns the
// file into a link to a file of root's: a write through it would replace
// that file (with its mode and owner kept, and its old content as .prev).
// A link is followed only when root or this process's user owns it: the
// file itself, a folder on its path, or any link on the way.
TEST_F(FilePersist, ALinkSomeoneElseOwnsIsNotFollowed) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (links of another user)";
  const fs::path victims = dir_ / "victims";
  fs::create_directories(victims);
  const std::string victim = (victims / "shadow").string();
  std::ofstream(victim) << "root's own\n";
  const auto untouched = [&] {
    EXPECT_EQ(read(victim), "root's own\n");
    std::size_t entries = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(victims)) ++entries;
    EXPECT_EQ(entries, 1U);  // no temporary, no .prev beside the victim
  };
  const auto owned_by_nobody = [](const fs::path& link) { ASSERT_EQ(::lchown(link.c_str(), 65534, 65534), 0) << link; };
  // The file a link of another user's.
  fs::create_symlink(victim, path_);
  owned_by_nobody(path_);
  EXPECT_NE(replace_file(path_, "pwned\n"), "");
  staged_file staged;
  EXPECT_NE(stage_file(path_, 6, staged), "");
  untouched();
  // A link of root's that leads to another user's link.
  fs::remove(path_);
  const fs::path hop = dir_ / "hop";
  fs::create_symlink(victim, hop);
  owned_by_nobody(hop);
  fs::create_symlink(hop, path_);
  EXPECT_NE(replace_file(path_, "pwned\n"), "");
  untouched();
  // A folder on the path that is another user's link.
  const fs::path folder = dir_ / "conf";
  fs::create_directory_symlink(victims, folder);
  owned_by_nobody(folder);
  EXPECT_NE(replace_file((folder / "shadow").string(), "pwned\n"), "");
  untouched();
  // Root's own links, relative and through "..", are followed.
  fs::remove(path_);
  fs::create_directories(dir_ / "real");
  fs::create_symlink("../" + dir_.filename().string() + "/real/p.toml", path_);
  ASSERT_EQ(replace_file(path_, "one\n"), "");
  ASSERT_EQ(replace_file(path_, "two\n"), "");
  EXPECT_TRUE(fs::is_symlink(path_));
  EXPECT_EQ(read((dir_ / "real" / "p.toml").string()), "two\n");
  EXPECT_EQ(read((dir_ / "real" / "p.toml.prev").string()), "one\n");
  untouched();
}

// What `write` returns, run in a child process given 10 s: "hung" when it
// did not finish (the child is killed), "refused" when it returned an
// error, "" when it wrote.
std::string in_child(const std::function<std::string()>& write) {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(write().empty() ? 0 : 1);
  int status = 0;
  for (int i = 0; i < 1000; ++i) {
    if (::waitpid(child, &status, WNOHANG) == child) return WEXITSTATUS(status) == 0 ? "" : "refused";
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  return "hung";
}

// Anyone who may read the policy may lock it (flock(1), an editor): a
// change neither waits for that lock nor fails for it.
TEST_F(FilePersist, AReaderHoldingALockOnThePolicyDoesNotStopAChange) {
  ASSERT_EQ(replace_file(path_, "one\n"), "");
  for (const int how : {LOCK_SH, LOCK_EX}) {
    const int reader = ::open(path_.c_str(), O_RDONLY);
    ASSERT_GE(reader, 0);
    ASSERT_EQ(::flock(reader, how), 0);
    EXPECT_EQ(in_child([this] { return replace_file(path_, "two\n"); }), "");
    ::close(reader);
    EXPECT_EQ(read(path_), "two\n");
    EXPECT_EQ(read(path_ + ".prev"), "one\n");
    ASSERT_EQ(replace_file(path_, "one\n"), "");
  }
}

// A FIFO in the policy's place (someone who may write its folder) is
// refused, not waited on: neither the comparison with the running text
// nor the write opens it for reading.
TEST_F(FilePersist, AFifoInThePolicysPlaceIsRefusedNotWaitedOn) {
  ASSERT_EQ(::mkfifo(path_.c_str(), 0644), 0);
  EXPECT_EQ(in_child([this] { return file_holds(path_, "") ? std::string() : std::string("differs"); }), "refused");
  EXPECT_EQ(in_child([this] { return replace_file(path_, "two\n"); }), "refused");
  std::string why;
  staged_file staged;
  EXPECT_NE(why = stage_file(path_, 4, staged), "");
  EXPECT_NE(why.find("not a regular file"), std::string::npos) << why;
  // Something that is not a file where the previous version is staged.
  fs::remove(path_);
  ASSERT_EQ(replace_file(path_, "one\n"), "");
  fs::create_directory(path_ + ".prev.tmp." + std::to_string(::getpid()));
  EXPECT_NE(replace_file(path_, "two\n"), "");
  EXPECT_EQ(read(path_), "one\n");
}

// A writer replacing the file over and over, killed at random moments:
// the file is always one whole version, never a mix or a prefix.
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
