#include "appliance/control_bridge.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <exception>
#include <system_error>

namespace sgfw::cp {

control_bridge::control_bridge(event_loop& loop) : loop_(loop), fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
  loop_.on_readable(fd_, [this] { answer_all(); });
}

control_bridge::~control_bridge() {
  close();
  ::close(fd_);
}

void control_bridge::close() {
  {
    std::lock_guard lock(m_);
    if (closed_) return;
    closed_ = true;
    for (const auto& q : waiting_) q->done = true;  // no answer
    waiting_.clear();
  }
  answered_.notify_all();
  loop_.remove(fd_);
}

std::optional<nlohmann::json> control_bridge::ask(question_fn f, std::chrono::milliseconds limit) {
  auto q = std::make_shared<question>();
  q->f = std::move(f);
  std::unique_lock lock(m_);
  if (closed_ || waiting_.size() >= k_max_waiting) return std::nullopt;
  waiting_.push_back(q);
  const std::uint64_t one = 1;
  // Only a counter at its maximum fails (EAGAIN), and then it is set.
  [[maybe_unused]] const ssize_t n = ::write(fd_, &one, sizeof one);
  if (!answered_.wait_for(lock, limit, [&q] { return q->done; })) {
    // Given up: the control thread skips it (or has it running: its
    // answer is then dropped with the last reference).
    std::erase(waiting_, q);
    q->abandoned = true;
    return std::nullopt;
  }
  return std::move(q->answer);
}

void control_bridge::answer_all() {
  std::uint64_t n = 0;
  while (::read(fd_, &n, sizeof n) < 0 && errno == EINTR) {
  }
  // Only the questions waiting now: one asked meanwhile wrote the eventfd
  // again and waits for the next turn, so askers that ask again at once
  // cannot keep the loop from its signals, sockets and timers.
  std::deque<std::shared_ptr<question>> batch;
  {
    std::lock_guard lock(m_);
    batch.swap(waiting_);
  }
  for (auto& q : batch) {
    {
      std::lock_guard lock(m_);
      if (q->abandoned) continue;
    }
    std::optional<nlohmann::json> a;
    try {
      a = q->f();
    } catch (const std::exception& e) {
      a = nlohmann::json{{"Error", e.what()}};
    }
    {
      std::lock_guard lock(m_);
      q->answer = std::move(a);
      q->done = true;
    }
    answered_.notify_all();
  }
}

}  // namespace sgfw::cp
