// control_bridge: how a thread other than the control thread (DPDK's
// telemetry thread, the metrics server's) asks the control plane a
// question.  The question runs on the control thread, between two of its
// handlers, so it reads the policy store, the control API and the
// appliance's figures as any handler does, without a lock; the asker waits
// for the answer, at most a limit.
//
// Bounded: at most k_max_waiting questions wait at once (more are refused
// at once), so a flood of telemetry or scrape requests cannot grow memory
// or starve the control socket; a question whose asker gave up is skipped.
// Each turn of the loop answers only the questions waiting when it began,
// so askers asking again at once never keep the loop from its other work.
//
// ask(): any thread.  Everything else: control thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "appliance/event_loop.hpp"

namespace sgfw::cp {

class control_bridge {
 public:
  static constexpr std::size_t k_max_waiting = 64;
  using question_fn = std::function<nlohmann::json()>;

  // Answers questions from `loop`'s thread while it runs.
  explicit control_bridge(event_loop& loop);  // throws std::system_error without eventfd
  ~control_bridge();
  control_bridge(const control_bridge&) = delete;
  control_bridge& operator=(const control_bridge&) = delete;

  // `f`'s answer, run on the control thread; none when it was not run
  // within `limit`, too many questions wait, or the bridge is closed.  An
  // exception `f` throws is answered as {"Error": what()}.
  std::optional<nlohmann::json> ask(question_fn f, std::chrono::milliseconds limit);
  // No more questions: the loop stops watching, waiting askers get none.
  // Before the loop and what the questions read go.
  void close();

 private:
  struct question {
    question_fn f;
    std::optional<nlohmann::json> answer;
    bool done = false;
    bool abandoned = false;  // its asker gave up: not run
  };
  void answer_all();

  event_loop& loop_;
  int fd_ = -1;  // eventfd: questions are waiting
  std::mutex m_;
  std::condition_variable answered_;
  std::deque<std::shared_ptr<question>> waiting_;
  bool closed_ = false;
};

}  // namespace sgfw::cp
