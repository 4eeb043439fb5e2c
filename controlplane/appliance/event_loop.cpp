#include "appliance/event_loop.hpp"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <system_error>

namespace sgfw::cp {

namespace {

[[noreturn]] void fail(const char* what) { throw std::system_error(errno, std::generic_category(), what); }

}  // namespace

event_loop::event_loop() : epoll_(::epoll_create1(EPOLL_CLOEXEC)) {
  if (epoll_ < 0) fail("epoll_create1");
}

event_loop::~event_loop() {
  for (const auto& s : sources_) {
    if (s->owned) ::close(s->fd);
  }
  ::close(epoll_);
}

void event_loop::add(std::unique_ptr<source> s) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = s.get();
  if (::epoll_ctl(epoll_, EPOLL_CTL_ADD, s->fd, &ev) != 0) fail("epoll_ctl");
  sources_.push_back(std::move(s));
}

void event_loop::on_readable(int fd, handler h) {
  auto s = std::make_unique<source>();
  s->fd = fd;
  s->h = std::move(h);
  add(std::move(s));
}

event_loop::source* event_loop::find(int fd) {
  for (const auto& s : sources_) {
    if (s->fd == fd) return s.get();
  }
  return nullptr;
}

void event_loop::update(source& s) {
  epoll_event ev{};
  ev.events = (s.reading ? EPOLLIN : 0U) | (s.writable ? EPOLLOUT : 0U);
  ev.data.ptr = &s;
  if (::epoll_ctl(epoll_, EPOLL_CTL_MOD, s.fd, &ev) != 0) fail("epoll_ctl");
}

void event_loop::on_writable(int fd, handler h) {
  source* s = find(fd);
  if (s == nullptr) return;
  const bool was = static_cast<bool>(s->writable);
  s->writable = std::move(h);
  if (was != static_cast<bool>(s->writable)) update(*s);
}

void event_loop::set_reading(int fd, bool reading) {
  source* s = find(fd);
  if (s == nullptr || s->reading == reading) return;
  s->reading = reading;
  update(*s);
}

void event_loop::remove(int fd) {
  const auto it = std::find_if(sources_.begin(), sources_.end(), [fd](const auto& s) { return s->fd == fd; });
  if (it == sources_.end()) return;
  ::epoll_ctl(epoll_, EPOLL_CTL_DEL, fd, nullptr);
  (*it)->removed = true;
  removed_.push_back(std::move(*it));
  sources_.erase(it);
}

void event_loop::on_signal(int sig, handler h) {
  signal_handlers_.emplace_back(sig, std::move(h));
  sigset_t set;
  sigemptyset(&set);
  for (const auto& [s, _] : signal_handlers_) sigaddset(&set, s);
  if (signal_fd_ >= 0) {
    if (::signalfd(signal_fd_, &set, SFD_NONBLOCK | SFD_CLOEXEC) < 0) fail("signalfd");
    return;
  }
  signal_fd_ = ::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (signal_fd_ < 0) fail("signalfd");
  auto s = std::make_unique<source>();
  s->fd = signal_fd_;
  s->owned = true;
  s->h = [this] { dispatch_signals(); };
  add(std::move(s));
}

void event_loop::dispatch_signals() {
  signalfd_siginfo info{};
  while (::read(signal_fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
    for (const auto& [sig, h] : signal_handlers_) {
      if (static_cast<std::uint32_t>(sig) == info.ssi_signo) h();
    }
  }
}

void event_loop::every(std::chrono::milliseconds period, handler h) {
  const int fd = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (fd < 0) fail("timerfd_create");
  const auto ms = std::max<std::chrono::milliseconds::rep>(period.count(), 1);
  itimerspec spec{};
  spec.it_interval.tv_sec = static_cast<time_t>(ms / 1000);
  spec.it_interval.tv_nsec = static_cast<long>(ms % 1000) * 1000000;
  spec.it_value = spec.it_interval;
  if (::timerfd_settime(fd, 0, &spec, nullptr) != 0) {
    ::close(fd);
    fail("timerfd_settime");
  }
  auto s = std::make_unique<source>();
  s->fd = fd;
  s->owned = true;
  s->h = [fd, h = std::move(h)] {
    std::uint64_t expirations = 0;
    if (::read(fd, &expirations, sizeof expirations) == static_cast<ssize_t>(sizeof expirations)) h();
  };
  add(std::move(s));
}

void event_loop::run() {
  std::array<epoll_event, 16> events;
  while (!stopped_) {
    const int n = ::epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("epoll_wait");
    }
    for (int i = 0; i < n && !stopped_; ++i) {
      const epoll_event& e = events[static_cast<std::size_t>(i)];
      source* s = static_cast<source*>(e.data.ptr);
      // Copies: a handler may replace or clear itself while it runs.
      if (!s->removed && (e.events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0) {
        const handler h = s->h;
        h();
      }
      if (!s->removed && (e.events & EPOLLOUT) != 0 && s->writable) {
        const handler w = s->writable;
        w();
      }
    }
    removed_.clear();
  }
}

}  // namespace sgfw::cp
