// metrics_server: the Prometheus endpoint ([appliance.metrics] listen;
// off by default).  GET /metrics answers the text exposition format
// (metrics_text.hpp); the figures are gathered on the control thread
// through a control_bridge, so a scrape takes no lock the workers or the
// control API hold and reads every figure once.
//
// cpp-httplib serves it, on its own threads, bounded so that a flood of
// connections cannot grow memory: k_threads answer, at most k_waiting
// connections wait for one, and past that the accepting thread answers
// the next itself, so no more are accepted meanwhile (the kernel's backlog
// holds or refuses them).  Each connection has a few seconds to send its
// request and read the answer, and requests carry no body.
//
// start()/stop()/serve(): control thread.  The scrape function runs on the
// server's threads.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "config/listen_address.hpp"

namespace sgfw::cp {

class metrics_server {
 public:
  static constexpr std::size_t k_threads = 2;
  static constexpr std::size_t k_waiting = 16;
  static constexpr int k_timeout_seconds = 3;

  // The exposition text, or none when it could not be had (503).
  using scrape_fn = std::function<std::optional<std::string>()>;

  metrics_server();
  ~metrics_server();  // stops
  metrics_server(const metrics_server&) = delete;
  metrics_server& operator=(const metrics_server&) = delete;

  // Binds `at` and starts serving (503 until serve()); the problem, or "".
  std::string start(const config::listen_address& at);
  // From now on /metrics answers what `f` returns; nullptr: 503 again.
  void serve(scrape_fn f);
  // Closes the socket and waits for the server's threads.
  void stop();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace sgfw::cp
