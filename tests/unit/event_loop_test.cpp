// The daemon's event loop on its own: signals, timers and descriptors are
// handled on the loop's thread, and stop() ends run().
#include "appliance/event_loop.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>

namespace sgfw::cp {
namespace {

TEST(EventLoop, TakesABlockedSignalOnItsThread) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &set, nullptr), 0);
  event_loop loop;
  int seen = 0;
  loop.on_signal(SIGUSR1, [&] {
    ++seen;
    loop.stop();
  });
  ASSERT_EQ(pthread_kill(pthread_self(), SIGUSR1), 0);  // pending until the loop reads it
  loop.run();
  EXPECT_EQ(seen, 1);
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
}

TEST(EventLoop, TimersFireEveryPeriod) {
  event_loop loop;
  int ticks = 0;
  const auto t0 = std::chrono::steady_clock::now();
  loop.every(std::chrono::milliseconds(10), [&] {
    if (++ticks == 3) loop.stop();
  });
  loop.run();
  EXPECT_EQ(ticks, 3);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(30));
}

TEST(EventLoop, ADescriptorBecomingReadableRunsItsHandler) {
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  event_loop loop;
  char got = 0;
  loop.on_readable(p[0], [&] {
    ASSERT_EQ(::read(p[0], &got, 1), 1);
    loop.stop();
  });
  // A timer writes to the pipe: both kinds of source on one loop.
  loop.every(std::chrono::milliseconds(5), [&] { ASSERT_EQ(::write(p[1], "x", 1), 1); });
  loop.run();
  EXPECT_EQ(got, 'x');
  ::close(p[0]);
  ::close(p[1]);
}

TEST(EventLoop, StopBeforeRunReturnsAtOnce) {
  event_loop loop;
  loop.stop();
  loop.run();
  SUCCEED();
}

}  // namespace
}  // namespace sgfw::cp
