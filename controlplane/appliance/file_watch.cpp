#include "appliance/file_watch.hpp"

#include <sys/inotify.h>
#include <unistd.h>

#include <array>
#include <cstring>

namespace sgfw::cp {

file_watch::file_watch(std::string path) : path_(std::move(path)) {
  const std::size_t slash = path_.rfind('/');
  dir_ = slash == std::string::npos ? "." : slash == 0 ? "/" : path_.substr(0, slash);
  name_ = slash == std::string::npos ? path_ : path_.substr(slash + 1);
  fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  // The directory, not the file: a file replaced by a rename is a new
  // inode, which a watch on the old one would never report.
  if (fd_ >= 0 && ::inotify_add_watch(fd_, dir_.c_str(), IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE) < 0) {
    ::close(fd_);
    fd_ = -1;
  }
  read_ = current();
  pending_ = read_;
}

file_watch::~file_watch() {
  if (fd_ >= 0) ::close(fd_);
}

file_watch::version file_watch::current() const {
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0) return {};
  return {true, st.st_dev, st.st_ino, st.st_size,
          static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
}

void file_watch::mark_read() {
  read_ = current();
  pending_ = read_;
}

bool file_watch::completed_change() {
  if (fd_ >= 0) {
    bool changed = false;
    alignas(inotify_event) std::array<char, 4096> buf;
    for (;;) {
      const ssize_t n = ::read(fd_, buf.data(), buf.size());
      if (n <= 0) break;
      for (ssize_t off = 0; off < n;) {
        const auto* ev = reinterpret_cast<const inotify_event*>(buf.data() + off);
        off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
        const bool ours = ev->len != 0 && name_ == ev->name;
        // Another name in the directory (a symlink swapped behind ours):
        // ours changed only if it now names another version.
        if (ours || (ev->mask & (IN_MOVED_TO | IN_CREATE)) != 0) changed = true;
      }
    }
    // Created empty and not yet written (IN_CREATE of our name) is no
    // completed write; its IN_CLOSE_WRITE follows.  Whatever the events,
    // act only when the file is not what was read last.
    return changed && current() != read_;
  }
  // Polling: once a second; a new version must hold for a second.
  const auto now = std::chrono::steady_clock::now();
  if (now - last_poll_ < std::chrono::seconds(1)) return false;
  last_poll_ = now;
  const version v = current();
  if (v == read_) {
    pending_ = v;
    return false;
  }
  if (!(v == pending_)) {
    pending_ = v;
    pending_since_ = now;
    return false;
  }
  return now - pending_since_ >= std::chrono::seconds(1);
}

}  // namespace sgfw::cp
