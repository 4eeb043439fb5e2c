#include "appliance/metrics_server.hpp"

#include <httplib.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "appliance/metrics_text.hpp"

namespace sgfw::cp {

namespace {

// httplib's own pool queues every accepted connection without limit; this
// one holds at most `waiting` and otherwise runs the connection on the
// accepting thread (it owns the socket: dropping it would leak it).
class bounded_pool final : public httplib::TaskQueue {
 public:
  bounded_pool(std::size_t threads, std::size_t waiting) : waiting_(waiting) {
    for (std::size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { work(); });
  }
  ~bounded_pool() override { shutdown(); }

  void enqueue(std::function<void()> fn) override {
    {
      std::lock_guard lock(m_);
      if (!stopping_ && jobs_.size() < waiting_) {
        jobs_.push_back(std::move(fn));
        ready_.notify_one();
        return;
      }
    }
    fn();
  }
  void shutdown() override {
    {
      std::lock_guard lock(m_);
      if (stopping_ && threads_.empty()) return;
      stopping_ = true;
    }
    ready_.notify_all();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

 private:
  void work() {
    for (;;) {
      std::function<void()> fn;
      {
        std::unique_lock lock(m_);
        ready_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
        if (jobs_.empty()) return;  // stopping, and nothing left to close
        fn = std::move(jobs_.front());
        jobs_.pop_front();
      }
      fn();
    }
  }

  std::size_t waiting_;
  std::mutex m_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> jobs_;
  std::vector<std::thread> threads_;
  bool stopping_ = false;
};

}  // namespace

struct metrics_server::impl {
  httplib::Server http;
  std::thread thread;
  std::atomic<bool> done{false};  // the serving thread returned
  std::mutex m;
  scrape_fn scrape;
};

metrics_server::metrics_server() : impl_(std::make_unique<impl>()) {}

metrics_server::~metrics_server() { stop(); }

std::string metrics_server::start(const config::listen_address& at) {
  httplib::Server& http = impl_->http;
  http.new_task_queue = [] { return new bounded_pool(k_threads, k_waiting); };
  http.set_read_timeout(k_timeout_seconds, 0);
  http.set_write_timeout(k_timeout_seconds, 0);
  http.set_keep_alive_timeout(k_timeout_seconds);
  http.set_keep_alive_max_count(100);
  http.set_payload_max_length(0);  // requests here carry no body
  // httplib's default adds SO_REUSEPORT, with which another process of the
  // same user could bind the same port and take part of the scrapes.
  http.set_socket_options([](int sock) {
    const int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  impl* self = impl_.get();
  http.Get("/metrics", [self](const httplib::Request&, httplib::Response& res) {
    scrape_fn f;
    {
      std::lock_guard lock(self->m);
      f = self->scrape;
    }
    std::optional<std::string> text;
    if (f) text = f();
    if (!text) {
      res.status = 503;
      res.set_content("sgfw: the figures could not be read now (starting, stopping or busy); try again\n",
                      "text/plain");
      return;
    }
    res.set_content(std::move(*text), k_metrics_content_type);
  });
  http.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("sgfw: Prometheus metrics are at /metrics\n", "text/plain");
  });
  if (!http.bind_to_port(at.host, at.port)) {
    return "cannot listen on " + (at.host.find(':') != std::string::npos ? "[" + at.host + "]" : at.host) + ":" +
           std::to_string(at.port) + " for metrics: " + std::strerror(errno);
  }
  impl_->thread = std::thread([self] {
    self->http.listen_after_bind();
    self->done.store(true);
  });
  return "";
}

void metrics_server::serve(scrape_fn f) {
  std::lock_guard lock(impl_->m);
  impl_->scrape = std::move(f);
}

void metrics_server::stop() {
  if (!impl_->thread.joinable()) return;
  // httplib's stop() does nothing before the thread has begun listening:
  // asked again until the thread is out.
  while (!impl_->done.load()) {
    impl_->http.stop();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  impl_->thread.join();
}

}  // namespace sgfw::cp
