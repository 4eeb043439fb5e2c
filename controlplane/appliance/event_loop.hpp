// event_loop: the daemon's one loop, on the main thread.  Everything the
// control plane reacts to is a file descriptor on one epoll set: signals
// (signalfd), timers (timerfd), the policy file's watch (inotify), and
// next the control socket and an etcd watch.  Handlers run one at a time,
// in the loop's thread, so what they touch (the policy store, the status
// line) needs no lock.
//
// Control thread only.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <vector>

namespace sgfw::cp {

class event_loop {
 public:
  using handler = std::function<void()>;

  event_loop();  // throws std::system_error when epoll is not available
  ~event_loop();
  event_loop(const event_loop&) = delete;
  event_loop& operator=(const event_loop&) = delete;

  // `fd` is readable (or hung up): `h` runs (and must read what made it
  // so).  The caller keeps the descriptor open until it is removed, or
  // for the loop's life.
  void on_readable(int fd, handler h);
  // While `h` is set, `fd` (added by on_readable) being writable runs it;
  // an empty handler stops asking.
  void on_writable(int fd, handler h);
  // Stops (false) or resumes asking whether `fd` is readable: a reader
  // that cannot take more now (backpressure) pauses instead of spinning.
  void set_reading(int fd, bool reading);
  // Stops watching `fd` (a handler may remove any source, its own too);
  // the caller closes it afterwards.
  void remove(int fd);
  // `sig` arrived.  The signal must be blocked in every thread (block it
  // before any thread starts), so it is taken here and nowhere else.
  void on_signal(int sig, handler h);
  // Every `period`, first one period from now.
  void every(std::chrono::milliseconds period, handler h);

  // Runs handlers until stop() (from a handler, or before run()).
  void run();
  void stop() { stopped_ = true; }

 private:
  struct source {
    int fd = -1;
    bool owned = false;  // the loop made the descriptor and closes it
    bool removed = false;
    bool reading = true;
    handler h;
    handler writable;
  };
  void add(std::unique_ptr<source> s);
  void update(source& s);
  source* find(int fd);
  void dispatch_signals();

  int epoll_ = -1;
  int signal_fd_ = -1;
  std::vector<std::pair<int, handler>> signal_handlers_;
  std::vector<std::unique_ptr<source>> sources_;
  std::vector<std::unique_ptr<source>> removed_;  // freed after the batch of events that may name them
  bool stopped_ = false;
};

}  // namespace sgfw::cp
