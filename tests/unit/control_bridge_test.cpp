// control_bridge: questions from other threads run on the loop's thread,
// one at a time; a loop that does not answer, a flood of askers or a
// closed bridge give no answer, never a hang.
#include "appliance/control_bridge.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <thread>
#include <vector>

namespace sgfw::cp {
namespace {

using namespace std::chrono_literals;

TEST(ControlBridge, QuestionsRunOnTheLoopsThread) {
  event_loop loop;
  control_bridge bridge(loop);
  const auto loop_thread_id = std::this_thread::get_id();
  std::atomic<int> answered{0};
  std::vector<std::thread> askers;
  for (int i = 0; i < 4; ++i) {
    askers.emplace_back([&, i] {
      const auto a = bridge.ask(
          [&, i] {
            EXPECT_EQ(std::this_thread::get_id(), loop_thread_id);
            return nlohmann::json{{"n", i}};
          },
          5s);
      ASSERT_TRUE(a.has_value());
      EXPECT_EQ((*a)["n"], i);
      ++answered;
    });
  }
  // stop() is the loop thread's: it looks for the answers itself.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  loop.every(10ms, [&] {
    if (answered == 4 || std::chrono::steady_clock::now() > deadline) loop.stop();
  });
  loop.run();
  for (auto& t : askers) t.join();
  EXPECT_EQ(answered.load(), 4);
}

TEST(ControlBridge, AnExceptionIsAnErrorAnswer) {
  event_loop loop;
  control_bridge bridge(loop);
  std::atomic<bool> done{false};
  std::thread asker([&] {
    const auto a = bridge.ask([]() -> nlohmann::json { throw std::runtime_error("boom"); }, 5s);
    ASSERT_TRUE(a.has_value());
    EXPECT_EQ((*a)["Error"], "boom");
    done = true;
  });
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  loop.every(10ms, [&] {
    if (done || std::chrono::steady_clock::now() > deadline) loop.stop();
  });
  loop.run();
  asker.join();
}

TEST(ControlBridge, NoAnswerWhenTheLoopDoesNotRunOrTheBridgeIsClosed) {
  event_loop loop;
  control_bridge bridge(loop);
  bool ran = false;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(bridge
                   .ask(
                       [&ran] {
                         ran = true;
                         return nlohmann::json();
                       },
                       50ms)
                   .has_value());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  // The question given up on is not run later.
  loop.every(20ms, [&loop] { loop.stop(); });
  loop.run();
  EXPECT_FALSE(ran);
  // Askers waiting when it closes are let go at once, later ones too.
  std::thread waiting([&] { EXPECT_FALSE(bridge.ask([] { return nlohmann::json(); }, 10s).has_value()); });
  std::this_thread::sleep_for(50ms);
  const auto closing = std::chrono::steady_clock::now();
  bridge.close();
  waiting.join();
  EXPECT_LT(std::chrono::steady_clock::now() - closing, 2s);
  EXPECT_FALSE(bridge.ask([] { return nlohmann::json(); }, 1s).has_value());
}

// Two askers that ask again the moment they are answered (two telemetry
// clients in a loop) do not keep the loop from its timers (nor its
// signals and sockets): a 100 ms timer still stops it in time.
TEST(ControlBridge, AskersAskingAgainAtOnceDoNotStarveTheLoop) {
  event_loop loop;
  control_bridge bridge(loop);
  std::atomic<bool> quit{false};
  std::atomic<std::uint64_t> answers{0};
  std::vector<std::thread> askers;
  for (int i = 0; i < 2; ++i) {
    askers.emplace_back([&] {
      const auto until = std::chrono::steady_clock::now() + 3s;  // without the fix: the loop's only way out
      while (!quit && std::chrono::steady_clock::now() < until) {
        // Each question takes a while (a big describe): meanwhile the other
        // asker, just answered, asks again.
        const auto slow = [] {
          std::this_thread::sleep_for(2ms);
          return nlohmann::json(1);
        };
        if (bridge.ask(slow, 1s)) ++answers;
      }
    });
  }
  const auto start = std::chrono::steady_clock::now();
  loop.every(100ms, [&loop] { loop.stop(); });
  loop.run();
  const auto took = std::chrono::steady_clock::now() - start;
  quit = true;
  bridge.close();
  for (auto& t : askers) t.join();
  EXPECT_LT(took, 1500ms);
  EXPECT_GT(answers.load(), 0U);
}

TEST(ControlBridge, AFloodOfAskersIsBounded) {
  event_loop loop;
  control_bridge bridge(loop);
  std::atomic<int> refused{0};
  std::vector<std::thread> askers;
  const int n = static_cast<int>(control_bridge::k_max_waiting) + 16;
  for (int i = 0; i < n; ++i) {
    askers.emplace_back([&] {
      if (!bridge.ask([] { return nlohmann::json(); }, 500ms).has_value()) ++refused;
    });
  }
  for (auto& t : askers) t.join();  // the loop never ran: none answered
  EXPECT_EQ(refused.load(), n);
}

}  // namespace
}  // namespace sgfw::cp
