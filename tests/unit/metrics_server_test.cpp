// metrics_server: /metrics answers the scrape function's text (503 while
// there is none); other paths and methods get no figures; idle and
// oversized connections do not keep it from answering once they go, nor
// keep stop() waiting; a taken address is an error at start.
#include "appliance/metrics_server.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

namespace sgfw::cp {
namespace {

using namespace std::chrono_literals;

std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t n = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &n);
  ::close(fd);
  return ntohs(a.sin_port);
}

int connect_to(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval wait{1, 0};  // connect() gives up after this (a full backlog)
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &wait, sizeof wait);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

// One request on a new connection; the whole answer (the server closes).
std::string request(std::uint16_t port, const std::string& text) {
  const int fd = connect_to(port);
  if (fd < 0) return "";
  (void)::send(fd, text.data(), text.size(), MSG_NOSIGNAL);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) out.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return out;
}

std::string get(std::uint16_t port, const std::string& path) {
  return request(port, "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
}

config::listen_address at(std::uint16_t port) { return {"127.0.0.1", port, true}; }

TEST(MetricsServer, AnswersTheScrapeAnd503WhileThereIsNone) {
  const std::uint16_t port = free_port();
  metrics_server m;
  ASSERT_EQ(m.start(at(port)), "");
  EXPECT_EQ(get(port, "/metrics").rfind("HTTP/1.1 503", 0), 0U);
  std::atomic<int> scrapes{0};
  m.serve([&]() -> std::optional<std::string> {
    ++scrapes;
    return std::string("sgfw_policy_generation 7\n");
  });
  const std::string ok = get(port, "/metrics");
  EXPECT_EQ(ok.rfind("HTTP/1.1 200", 0), 0U) << ok;
  EXPECT_NE(ok.find("Content-Type: text/plain; version=0.0.4"), std::string::npos) << ok;
  EXPECT_NE(ok.find("\r\n\r\nsgfw_policy_generation 7\n"), std::string::npos) << ok;
  EXPECT_EQ(scrapes.load(), 1);
  // A scrape that cannot be answered (the control thread busy) is a 503.
  m.serve([]() -> std::optional<std::string> { return std::nullopt; });
  EXPECT_EQ(get(port, "/metrics").rfind("HTTP/1.1 503", 0), 0U);
  m.serve(nullptr);
  EXPECT_EQ(get(port, "/metrics").rfind("HTTP/1.1 503", 0), 0U);
  m.stop();
  EXPECT_EQ(connect_to(port), -1) << "still listening after stop()";
}

TEST(MetricsServer, OtherPathsMethodsAndBodiesGetNoFigures) {
  const std::uint16_t port = free_port();
  metrics_server m;
  ASSERT_EQ(m.start(at(port)), "");
  std::atomic<int> scrapes{0};
  m.serve([&]() -> std::optional<std::string> {
    ++scrapes;
    return std::string("x 1\n");
  });
  EXPECT_EQ(get(port, "/metricsx").rfind("HTTP/1.1 404", 0), 0U);
  EXPECT_EQ(get(port, "/../metrics").find("x 1\n"), std::string::npos);
  const std::string post =
      request(port, "POST /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 4\r\n\r\nabcd");
  EXPECT_EQ(post.find("x 1\n"), std::string::npos) << post;
  const std::string huge_header =
      request(port, "GET /metrics HTTP/1.1\r\nHost: x\r\nX: " + std::string(100000, 'a') + "\r\n\r\n");
  EXPECT_EQ(huge_header.find("x 1\n"), std::string::npos);
  EXPECT_EQ(request(port, "\x16\x03\x01\x02\x00garbage\r\n\r\n").find("x 1\n"), std::string::npos);
  EXPECT_EQ(scrapes.load(), 0);
  // And it still answers.
  EXPECT_EQ(get(port, "/metrics").rfind("HTTP/1.1 200", 0), 0U);
}

TEST(MetricsServer, IdleConnectionsDoNotKeepItFromAnsweringOnceTheyGo) {
  const std::uint16_t port = free_port();
  metrics_server m;
  ASSERT_EQ(m.start(at(port)), "");
  m.serve([]() -> std::optional<std::string> { return std::string("x 1\n"); });
  // Far more than its threads and queue: they hold them, send nothing.
  std::vector<int> idle;
  for (int i = 0; i < 30; ++i) {
    const int fd = connect_to(port);
    if (fd >= 0) idle.push_back(fd);
  }
  EXPECT_GT(idle.size(), metrics_server::k_threads + metrics_server::k_waiting);
  for (const int fd : idle) ::close(fd);
  const auto start = std::chrono::steady_clock::now();
  std::string answer;  // a connect() may meet a backlog still full: tried again
  for (int i = 0; i < 20 && answer.empty(); ++i) {
    answer = get(port, "/metrics");
  }
  EXPECT_EQ(answer.rfind("HTTP/1.1 200", 0), 0U);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
}

TEST(MetricsServer, StopDoesNotWaitLongOnIdleConnections) {
  const std::uint16_t port = free_port();
  auto m = std::make_unique<metrics_server>();
  ASSERT_EQ(m->start(at(port)), "");
  std::vector<int> idle;
  for (int i = 0; i < 8; ++i) idle.push_back(connect_to(port));
  std::this_thread::sleep_for(100ms);
  const auto start = std::chrono::steady_clock::now();
  m.reset();
  // Each connection waits at most its read timeout, the threads in parallel.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(4 * metrics_server::k_timeout_seconds));
  for (const int fd : idle) ::close(fd);
}

TEST(MetricsServer, ATakenAddressIsAnError) {
  const std::uint16_t port = free_port();
  metrics_server first;
  ASSERT_EQ(first.start(at(port)), "");
  metrics_server second;
  const std::string problem = second.start(at(port));
  EXPECT_NE(problem.find("cannot listen on 127.0.0.1:" + std::to_string(port)), std::string::npos) << problem;
}

TEST(MetricsServer, StopRightAfterStartReturns) {
  for (int i = 0; i < 20; ++i) {
    metrics_server m;
    ASSERT_EQ(m.start(at(free_port())), "");
    m.stop();
  }
}

}  // namespace
}  // namespace sgfw::cp
