#include "control/control_server.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iostream>

namespace sgfw::cp {

namespace {

std::string errno_text() { return std::strerror(errno); }

// Makes the socket's folder (0755, root's) if it is missing; its parents
// must exist.
std::string make_folder(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos || slash == 0) return {};
  const std::string dir = path.substr(0, slash);
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) {
    return S_ISDIR(st.st_mode) ? "" : dir + " is not a folder";
  }
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return "cannot create " + dir + ": " + errno_text();
  return {};
}

// Is a daemon listening on `path`?
bool someone_listens(const sockaddr_un& addr) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const bool yes = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return yes;
}

}  // namespace

control_server::control_server(event_loop& loop, control_api& api, control_server_options options)
    : loop_(loop), api_(api), options_(std::move(options)) {}

control_server::~control_server() {
  for (const auto& c : clients_) {
    loop_.remove(c->fd);
    ::close(c->fd);
  }
  if (listen_fd_ >= 0) {
    loop_.remove(listen_fd_);
    ::close(listen_fd_);
    ::unlink(options_.path.c_str());
  }
}

std::string control_server::start() {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (options_.path.empty() || options_.path.size() >= sizeof addr.sun_path) {
    return "control socket path '" + options_.path + "' is empty or longer than " +
           std::to_string(sizeof addr.sun_path - 1) + " bytes";
  }
  std::memcpy(addr.sun_path, options_.path.c_str(), options_.path.size() + 1);
  if (!options_.group.empty()) {
    std::vector<char> buf(16384);
    group g{};
    group* found = nullptr;
    if (::getgrnam_r(options_.group.c_str(), &g, buf.data(), buf.size(), &found) != 0 || found == nullptr) {
      return "control socket group '" + options_.group + "' does not exist";
    }
    group_ = g.gr_gid;
    has_group_ = true;
  }
  if (std::string e = make_folder(options_.path); !e.empty()) return e;
  // A socket left by a daemon that died is removed; a live one, or a file
  // that is not a socket, is not touched.
  struct stat st {};
  if (::lstat(options_.path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return options_.path + " exists and is not a socket; not replacing it";
    if (someone_listens(addr)) return "another sgfw is already serving " + options_.path;
    ::unlink(options_.path.c_str());
  }
  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (listen_fd_ < 0) return "cannot create the control socket: " + errno_text();
  // Created 0600 from the start (no moment where others could connect).
  const mode_t old_mask = ::umask(0177);
  const int bound = ::bind(listen_fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  ::umask(old_mask);
  if (bound != 0) {
    const std::string e = "cannot bind " + options_.path + ": " + errno_text();
    ::close(listen_fd_);
    listen_fd_ = -1;
    return e;
  }
  if (has_group_ &&
      (::chown(options_.path.c_str(), ::geteuid(), group_) != 0 || ::chmod(options_.path.c_str(), 0660) != 0)) {
    const std::string e = "cannot give " + options_.path + " to group '" + options_.group + "': " + errno_text();
    ::close(listen_fd_);
    listen_fd_ = -1;
    ::unlink(options_.path.c_str());
    return e;
  }
  if (::listen(listen_fd_, 64) != 0) {
    const std::string e = "cannot listen on " + options_.path + ": " + errno_text();
    ::close(listen_fd_);
    listen_fd_ = -1;
    ::unlink(options_.path.c_str());
    return e;
  }
  loop_.on_readable(listen_fd_, [this] { accept_clients(); });
  loop_.every(std::chrono::milliseconds(500), [this] { sweep_idle(); });
  return {};
}

bool control_server::allowed(int fd, std::string& who) const {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return false;
  who = "uid " + std::to_string(cred.uid);
  if (cred.uid == 0 || cred.uid == ::geteuid()) return true;
  if (!has_group_) return false;
  if (cred.gid == group_) return true;
  // A member of the group by its supplementary groups.
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  if (::getpwuid_r(cred.uid, &pw, buf.data(), buf.size(), &found) != 0 || found == nullptr) return false;
  int n = 64;
  std::vector<gid_t> groups(static_cast<std::size_t>(n));
  if (::getgrouplist(pw.pw_name, pw.pw_gid, groups.data(), &n) < 0) {
    groups.resize(static_cast<std::size_t>(n));
    if (::getgrouplist(pw.pw_name, pw.pw_gid, groups.data(), &n) < 0) return false;
  }
  groups.resize(static_cast<std::size_t>(n));
  return std::find(groups.begin(), groups.end(), group_) != groups.end();
}

control_server::client* control_server::find(int fd) {
  for (const auto& c : clients_) {
    if (c->fd == fd) return c.get();
  }
  return nullptr;
}

void control_server::accept_clients() {
  for (;;) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;  // EAGAIN, or out of descriptors: the next readiness retries
    }
    if (clients_.size() >= 2 * options_.max_clients) {
      ::close(fd);  // a flood of connections: not even a reply
      continue;
    }
    auto c = std::make_unique<client>();
    c->fd = fd;
    c->last_active = std::chrono::steady_clock::now();
    client& ref = *c;
    clients_.push_back(std::move(c));
    loop_.on_readable(fd, [this, fd] {
      if (client* cl = find(fd)) read_from(*cl);
    });
    std::string who;
    if (!allowed(fd, who)) {
      reply_and_close(ref, api_code::access_denied,
                      "the control socket serves root" +
                          (options_.group.empty() ? std::string() : " and the group '" + options_.group + "'") +
                          "; not " + who);
    } else if (clients_.size() > options_.max_clients) {
      reply_and_close(ref, api_code::throttling,
                      "too many control clients at once (" + std::to_string(options_.max_clients) + "); try again");
    }
  }
}

void control_server::read_from(client& c) {
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(c.fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      drop(c.fd);
      return;
    }
    if (n == 0) {
      // The client is done sending: answer what it sent (a last line
      // without its newline too), then close.
      if (!c.in.empty() && !c.closing) {
        c.out += api_.handle_line(c.in);
        c.in.clear();
      }
      if (c.out.size() == c.sent || c.shut) {
        drop(c.fd);
        return;
      }
      c.closing = true;
      write_to(c);
      return;
    }
    c.last_active = std::chrono::steady_clock::now();
    if (c.closing) continue;  // refused already: what it sends is read and ignored
    c.in.append(buf, static_cast<std::size_t>(n));
    // One request at a time, in the order they came.
    std::size_t start = 0;
    for (std::size_t nl; (nl = c.in.find('\n', start)) != std::string::npos; start = nl + 1) {
      std::string_view line(c.in.data() + start, nl - start);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.find_first_not_of(" \t") == std::string_view::npos) continue;  // blank line
      if (line.size() > options_.max_line) break;
      c.out += api_.handle_line(line);
    }
    if (start != 0) c.in.erase(0, start);
    if (c.in.size() > options_.max_line) {
      reply_and_close(c, api_code::request_too_large,
                      "a request line may be at most " + std::to_string(options_.max_line) + " bytes");
      return;
    }
    if (c.out.size() - c.sent > options_.max_unread) {
      drop(c.fd);  // it does not read its replies
      return;
    }
  }
  write_to(c);
}

void control_server::write_to(client& c) {
  while (c.sent < c.out.size()) {
    const ssize_t n = ::send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        const int fd = c.fd;
        loop_.on_writable(fd, [this, fd] {
          if (client* cl = find(fd)) write_to(*cl);
        });
        return;
      }
      drop(c.fd);
      return;
    }
    c.sent += static_cast<std::size_t>(n);
    c.last_active = std::chrono::steady_clock::now();
  }
  c.out.clear();
  c.sent = 0;
  loop_.on_writable(c.fd, {});
  if (c.closing && !c.shut) {
    // Half-closed: the reply is on its way; what the client still sends
    // is read and ignored until it closes (closing at once could reset
    // the connection and lose the reply), for a second at most.
    ::shutdown(c.fd, SHUT_WR);
    c.shut = true;
    c.last_active = std::chrono::steady_clock::now();
  }
}

void control_server::reply_and_close(client& c, const char* code, const std::string& message) {
  c.in.clear();
  c.out += control_api::error_reply(code, message).dump() + "\n";
  c.closing = true;
  write_to(c);
}

void control_server::drop(int fd) {
  loop_.remove(fd);
  ::close(fd);
  std::erase_if(clients_, [fd](const auto& c) { return c->fd == fd; });
}

void control_server::sweep_idle() {
  const auto now = std::chrono::steady_clock::now();
  std::vector<int> idle;
  for (const auto& c : clients_) {
    if (now - c->last_active >= (c->shut ? std::chrono::milliseconds(1000) : options_.idle)) idle.push_back(c->fd);
  }
  for (const int fd : idle) {
    client* c = find(fd);
    if (c == nullptr) continue;
    if (c->closing || c->sent != c->out.size()) {
      drop(fd);  // it stopped reading
    } else {
      reply_and_close(*c, "RequestTimeout",
                      "no complete request for " +
                          std::to_string(std::chrono::duration_cast<std::chrono::seconds>(options_.idle).count()) +
                          " s; closing");
    }
  }
}

}  // namespace sgfw::cp
