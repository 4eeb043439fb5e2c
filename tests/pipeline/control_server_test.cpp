// The control socket against clients that hold it up: one that connects
// and sends nothing, one that dribbles a byte at a time without ever
// finishing a line.  Each is told RequestTimeout and closed after the idle
// time, however long it keeps dribbling, while another client is served.
#include "control/control_server.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "config/policy_check.hpp"
#include "test_policies.hpp"

namespace sgfw::cp {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

int connect_to(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  path.copy(a.sun_path, sizeof a.sun_path - 1);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Everything the server sends until it closes, or until `limit`.
std::string read_until_closed(int fd, std::chrono::milliseconds limit, bool* closed) {
  std::string got;
  const auto until = std::chrono::steady_clock::now() + limit;
  *closed = false;
  while (std::chrono::steady_clock::now() < until) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 20) <= 0) continue;
    char buf[4096];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) {
      *closed = true;
      break;
    }
    got.append(buf, static_cast<std::size_t>(n));
  }
  return got;
}

class ControlServer : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("sgfw-server-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    const std::string text = testing::test_policy("web_server");
    config::checked_policy first = config::check_policy(config::load_policy_text(text, "p.toml"));
    ASSERT_TRUE(first.ok());
    ASSERT_TRUE(store_.set_first(std::move(first)));
    store_.start(handle_, 1, 1U << 16, [](std::uint16_t) { return false; });
    api_ = std::make_unique<control_api>(store_, control_settings{"p.toml", false, {}, {}}, text);
    path_ = (dir_ / "s.sock").string();
    server_ = std::make_unique<control_server>(loop_, *api_, control_server_options{.path = path_, .idle = 300ms});
    ASSERT_EQ(server_->start(), "");
    loop_.every(20ms, [this] {
      if (stop_) loop_.stop();
    });
    thread_ = std::thread([this] { loop_.run(); });
  }
  void TearDown() override {
    stop_ = true;
    thread_.join();
    server_.reset();
    fs::remove_all(dir_);
  }

  fs::path dir_;
  std::string path_;
  dp::policy_handle handle_{1};
  policy_store store_;
  std::unique_ptr<control_api> api_;
  event_loop loop_;
  std::unique_ptr<control_server> server_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST_F(ControlServer, ASilentClientIsToldAndClosedAfterTheIdleTime) {
  const int silent = connect_to(path_);
  ASSERT_GE(silent, 0);
  const auto t0 = std::chrono::steady_clock::now();
  // Another client is served meanwhile.
  const int other = connect_to(path_);
  const std::string ask = "{\"Action\":\"DescribeStats\"}\n";
  ASSERT_EQ(::write(other, ask.data(), ask.size()), static_cast<ssize_t>(ask.size()));
  bool closed = false;
  const std::string answer = read_until_closed(other, 200ms, &closed);
  EXPECT_NE(answer.find("\"PolicyGeneration\":1"), std::string::npos) << answer;
  EXPECT_FALSE(closed);
  const std::string got = read_until_closed(silent, 3s, &closed);
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_TRUE(closed);
  EXPECT_NE(got.find("RequestTimeout"), std::string::npos) << got;
  EXPECT_GE(took, 300ms);
  EXPECT_LT(took, 2500ms);
  ::close(silent);
  ::close(other);
}

TEST_F(ControlServer, DribbledBytesDoNotKeepAClientAlive) {
  const int slow = connect_to(path_);
  ASSERT_GE(slow, 0);
  const auto t0 = std::chrono::steady_clock::now();
  bool closed = false;
  std::string got;
  const std::string partial = "{\"Action\":\"DescribeStats\"";
  for (std::size_t i = 0; !closed && std::chrono::steady_clock::now() - t0 < 4s; ++i) {
    (void)::send(slow, &partial[i % partial.size()], 1, MSG_NOSIGNAL);
    got += read_until_closed(slow, 100ms, &closed);
  }
  EXPECT_TRUE(closed) << "a client that never finishes a line was kept " << got;
  EXPECT_NE(got.find("RequestTimeout"), std::string::npos) << got;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  ::close(slow);
}

}  // namespace
}  // namespace sgfw::cp
