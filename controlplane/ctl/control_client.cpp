#include "ctl/control_client.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace sgfw::ctl {

namespace {

struct fd_guard {
  int fd;
  ~fd_guard() {
    if (fd >= 0) ::close(fd);
  }
};

// Waits for `events` on `fd` until `deadline`; false on timeout.
bool wait_for(int fd, short events, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
}

}  // namespace

client_result send_request(const std::string& socket_path, const nlohmann::json& request, int timeout_ms) {
  client_result out;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof addr.sun_path) {
    out.problem = "socket path too long: " + socket_path;
    return out;
  }
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  fd_guard s{::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  if (s.fd < 0) {
    out.problem = std::string("socket: ") + std::strerror(errno);
    return out;
  }
  if (::connect(s.fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    const int e = errno;
    if (e == EACCES || e == EPERM) {
      out.what = client_result::outcome::denied;
      out.problem = "permission denied on " + socket_path +
                    ": the control socket serves root (and its socket_group, when one is set)";
    } else {
      out.problem = "cannot reach sgfw at " + socket_path + ": " + std::strerror(e) +
                    (e == ENOENT || e == ECONNREFUSED ? " (is `sgfw run` running? --socket PATH names another)" : "");
    }
    return out;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  const std::string line = request.dump() + "\n";
  for (std::size_t sent = 0; sent < line.size();) {
    if (!wait_for(s.fd, POLLOUT, deadline)) {
      out.problem = "sgfw at " + socket_path + " did not take the request in time";
      return out;
    }
    const ssize_t n = ::send(s.fd, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      out.problem = std::string("sending the request: ") + std::strerror(errno);
      return out;
    }
    sent += static_cast<std::size_t>(n);
  }
  std::string in;
  char buf[65536];
  while (in.find('\n') == std::string::npos) {
    if (!wait_for(s.fd, POLLIN, deadline)) {
      out.problem = "no reply from sgfw at " + socket_path + " within " + std::to_string(timeout_ms / 1000) + " s";
      return out;
    }
    const ssize_t n = ::read(s.fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      out.problem = std::string("reading the reply: ") + std::strerror(errno);
      return out;
    }
    if (n == 0) break;
    in.append(buf, static_cast<std::size_t>(n));
  }
  const auto nl = in.find('\n');
  out.reply = nlohmann::json::parse(in.substr(0, nl), nullptr, false);
  if (nl == std::string::npos || out.reply.is_discarded() || !out.reply.is_object()) {
    out.problem = "sgfw at " + socket_path + " closed the connection without a whole reply";
    return out;
  }
  out.what = client_result::outcome::replied;
  return out;
}

}  // namespace sgfw::ctl
