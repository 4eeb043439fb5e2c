#include "control/file_persist.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <random>

namespace sgfw::cp {

namespace {

std::string folder_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

bool write_all(int fd, std::string_view text) {
  while (!text.empty()) {
    const ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    text.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// A file in `folder` that did not exist, open for writing.
int create_temporary(const std::string& path, std::string& name) {
  std::random_device rd;
  for (int attempt = 0; attempt < 16; ++attempt) {
    name = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(rd() & 0xFFFFFF);
    const int fd = ::open(name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0 || errno != EEXIST) return fd;
  }
  return -1;
}

// FILE.prev := FILE, atomically too (it is what an operator falls back on).
std::string keep_previous(const std::string& path) {
  const std::string prev = path + ".prev";
  const std::string tmp_link = prev + ".tmp." + std::to_string(::getpid());
  ::unlink(tmp_link.c_str());
  if (::link(path.c_str(), tmp_link.c_str()) == 0) {
    if (::rename(tmp_link.c_str(), prev.c_str()) != 0) {
      const std::string why = errno_text("cannot keep the previous file");
      ::unlink(tmp_link.c_str());
      return why;
    }
    return "";
  }
  if (errno == ENOENT) return "";  // no previous file
  // No hard links here (some file systems): a copy, written as safely.
  std::string old;
  if (!read_whole_file(path, old)) return errno_text("cannot read the previous file");
  std::string name;
  const int fd = create_temporary(prev, name);
  if (fd < 0) return errno_text("cannot keep the previous file");
  const bool ok = write_all(fd, old) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(name.c_str(), prev.c_str()) != 0) {
    const std::string why = errno_text("cannot keep the previous file");
    ::unlink(name.c_str());
    return why;
  }
  return "";
}

file_stamp stamp_from(const struct stat& st) {
  file_stamp out;
  out.dev = st.st_dev;
  out.ino = st.st_ino;
  out.size = static_cast<unsigned long long>(st.st_size);
  out.mtime_ns = st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
  out.ctime_ns = st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec;
  return out;
}

}  // namespace

std::optional<file_stamp> stamp_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return stamp_from(st);
}

bool read_whole_file(const std::string& path, std::string& out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  out.clear();
  char buf[65536];
  bool ok = true;
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) ok = false;
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return ok;
}

std::string stage_file(const std::string& given, std::string_view text, staged_file& out) {
  out.drop();
  // A policy file that is a symbolic link is replaced where it points: the
  // link stays a link.
  std::string path = given;
  struct stat link {};
  if (::lstat(given.c_str(), &link) == 0 && S_ISLNK(link.st_mode)) {
    char* real = ::realpath(given.c_str(), nullptr);
    if (real == nullptr) return errno_text(("cannot follow the link " + given).c_str());
    path = real;
    std::free(real);
  }
  struct stat old {};
  const bool existed = ::stat(path.c_str(), &old) == 0;
  std::string tmp;
  const int fd = create_temporary(path, tmp);
  if (fd < 0) return errno_text(("cannot create a file in " + folder_of(path)).c_str());
  std::string why;
  if (!write_all(fd, text)) {
    why = errno_text("cannot write");
  } else if (existed) {
    // The old file's mode and owner (a root-owned 0640 policy stays so).
    if (::fchmod(fd, old.st_mode & 07777) != 0 || (::fchown(fd, old.st_uid, old.st_gid) != 0 && errno != EPERM)) {
      why = errno_text("cannot set the mode");
    }
  } else {
    ::fchmod(fd, 0644);
  }
  if (!why.empty()) {
    ::close(fd);
    ::unlink(tmp.c_str());
    return why;
  }
  out.fd_ = fd;
  out.tmp_ = std::move(tmp);
  out.path_ = std::move(path);
  out.existed_ = existed;
  return "";
}

void staged_file::drop() {
  if (fd_ < 0) return;
  ::close(fd_);
  ::unlink(tmp_.c_str());
  fd_ = -1;
}

std::string staged_file::commit() {
  if (fd_ < 0) return "nothing staged";
  stamp_.reset();
  std::string why;
  if (::fsync(fd_) != 0) why = errno_text("cannot flush to disk");
  if (why.empty() && existed_) why = keep_previous(path_);
  if (why.empty() && ::rename(tmp_.c_str(), path_.c_str()) != 0) why = errno_text("cannot rename into place");
  if (why.empty()) {
    // The file as it is in place (a rename moves its change time).
    struct stat st {};
    if (::fstat(fd_, &st) == 0) stamp_ = stamp_from(st);
  }
  ::close(fd_);
  fd_ = -1;
  if (!why.empty()) {
    ::unlink(tmp_.c_str());
    return why;
  }
  const int dir = ::open(folder_of(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return "";
}

std::string replace_file(const std::string& path, std::string_view text) {
  staged_file staged;
  if (std::string why = stage_file(path, text, staged); !why.empty()) return why;
  return staged.commit();
}

}  // namespace sgfw::cp
