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
  if (::lstat(dir.c_str(), &st) != 0) {
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return "cannot create " + dir + ": " + errno_text();
    if (::lstat(dir.c_str(), &st) != 0) return "cannot create " + dir + ": " + errno_text();
  }
  if (!S_ISDIR(st.st_mode)) return dir + " is not a folder (a link is not taken)";
  // Someone else who may rename files in the folder could swap the socket
  // (a link to another file, a fake daemon): only the daemon's user, or a
  // sticky folder such as /tmp, where no one may rename another's file.
  if ((st.st_uid != 0 && st.st_uid != ::geteuid()) || ((st.st_mode & 022) != 0 && (st.st_mode & S_ISVTX) == 0)) {
    return dir + " may be changed by other users; the control socket needs a folder only root can change";
  }
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
  // Created 0600 (0660 with a group) from the start: no moment where
  // others could connect, and no chmod by path afterwards.
  const mode_t old_mask = ::umask(has_group_ ? 0117 : 0177);
  const int bound = ::bind(listen_fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  ::umask(old_mask);
  if (bound != 0) {
    const std::string e = "cannot bind " + options_.path + ": " + errno_text();
    ::close(listen_fd_);
    listen_fd_ = -1;
    return e;
  }
  // The group, on the socket itself (never through a link put in its place).
  if (has_group_ &&
      ::fchownat(AT_FDCWD, options_.path.c_str(), static_cast<uid_t>(-1), group_, AT_SYMLINK_NOFOLLOW) != 0) {
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
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of descriptors: the pending connection would wake the loop
        // at once, again and again; the idle sweep listens again.
        loop_.set_reading(listen_fd_, false);
        accept_paused_ = true;
      }
      return;
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
  const ssize_t n = ::read(c.fd, buf, sizeof buf);
  if (n < 0) {
    if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) drop(c.fd);
    return;
  }
  if (c.closing) {
    // Refused already: what it still sends is read and ignored, and buys
    // no time; its end closes it.
    if (n == 0) drop(c.fd);
    return;
  }
  if (n == 0) {
    // The client is done sending: answer what it sent (a last line
    // without its newline too), then close.
    c.eof = true;
    if (!c.in.empty() && c.in.back() != '\n') c.in += '\n';
  } else {
    c.in.append(buf, static_cast<std::size_t>(n));
  }
  serve(c);
}

void control_server::serve(client& c) {
  constexpr std::size_t k_lines_per_turn = 16;    // then other clients and signals get a turn
  constexpr std::size_t k_output_high = 1 << 20;  // unsent reply bytes that stop reading
  const int fd = c.fd;
  std::size_t handled = 0;
  std::size_t start = 0;
  std::size_t nl = std::string::npos;
  while (handled < k_lines_per_turn && c.out.size() - c.sent < k_output_high &&
         (nl = c.in.find('\n', start)) != std::string::npos) {
    std::string_view line(c.in.data() + start, nl - start);
    start = nl + 1;
    if (line.size() > options_.max_line) {
      reply_and_close(c, api_code::request_too_large,
                      "a request line may be at most " + std::to_string(options_.max_line) + " bytes");
      return;
    }
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;  // blank line
    c.out += api_.handle_line(line);
    c.last_active = std::chrono::steady_clock::now();
    ++handled;
  }
  if (start != 0) c.in.erase(0, start);
  const bool more_lines = c.in.find('\n') != std::string::npos;
  if (!more_lines && c.in.size() > options_.max_line) {
    reply_and_close(c, api_code::request_too_large,
                    "a request line may be at most " + std::to_string(options_.max_line) + " bytes");
    return;
  }
  const bool flushed = flush(c);
  // What the changes just answered replaced is freed once their replies are sent.
  if (handled != 0) api_.tidy();
  if (!flushed) return;
  if (c.eof && !more_lines && c.sent == c.out.size()) {
    drop(fd);
    return;
  }
  // Backpressure: while replies wait to be read, or requests wait to be
  // handled, nothing more is read (the client's sends block, not our memory).
  const bool waiting = c.out.size() - c.sent >= k_output_high || more_lines;
  loop_.set_reading(fd, !waiting && !c.eof);
  if (more_lines || c.sent != c.out.size()) {
    // Called again when the socket takes more: at once if it has room.
    loop_.on_writable(fd, [this, fd] {
      if (client* cl = find(fd)) serve(*cl);
    });
  } else {
    loop_.on_writable(fd, {});
  }
}

bool control_server::flush(client& c) {
  while (c.sent < c.out.size()) {
    const ssize_t n = ::send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
      drop(c.fd);
      return false;
    }
    c.sent += static_cast<std::size_t>(n);
    c.last_active = std::chrono::steady_clock::now();
  }
  c.out.clear();
  c.sent = 0;
  if (c.closing && !c.shut) {
    // Half-closed: the reply is on its way; what the client still sends
    // is read and ignored until it closes (closing at once could reset
    // the connection and lose the reply), for a second at most.
    ::shutdown(c.fd, SHUT_WR);
    c.shut = true;
    c.last_active = std::chrono::steady_clock::now();
  }
  return true;
}

void control_server::reply_and_close(client& c, const char* code, const std::string& message) {
  c.in.clear();
  c.out += control_api::error_reply(code, message).dump() + "\n";
  c.closing = true;
  const int fd = c.fd;
  if (!flush(c)) return;
  loop_.set_reading(fd, true);  // to see its end
  if (c.sent != c.out.size()) {
    loop_.on_writable(fd, [this, fd] {
      if (client* cl = find(fd)) {
        if (flush(*cl) && cl->sent == cl->out.size()) loop_.on_writable(fd, {});
      }
    });
  } else {
    loop_.on_writable(fd, {});
  }
}

void control_server::drop(int fd) {
  loop_.remove(fd);
  ::close(fd);
  std::erase_if(clients_, [fd](const auto& c) { return c->fd == fd; });
}

void control_server::sweep_idle() {
  if (accept_paused_) {
    accept_paused_ = false;
    loop_.set_reading(listen_fd_, true);
  }
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
