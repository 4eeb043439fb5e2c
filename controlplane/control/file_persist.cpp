#include "control/file_persist.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
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
  // Seeded once: a random_device opened for every file costs more than
  // the file (O_EXCL and O_NOFOLLOW make the name's guess harmless).
  thread_local std::minstd_rand rd{std::random_device{}()};
  for (int attempt = 0; attempt < 16; ++attempt) {
    name = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(rd() & 0xFFFFFF);
    const int fd = ::open(name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0 || errno != EEXIST) return fd;
  }
  return -1;
}

// Why a rename over `path` would fail although the folder is writable: a
// folder in its place, or a file marked immutable or append-only (chattr);
// "" when none of these (or it does not exist).
std::string cannot_replace(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return "";
  if (S_ISDIR(st.st_mode)) return path + " is a folder";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) return "";
  int flags = 0;
  const bool marked = ::ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0 && (flags & (FS_IMMUTABLE_FL | FS_APPEND_FL)) != 0;
  ::close(fd);
  return marked ? path + " is immutable or append-only (chattr)" : "";
}

// FILE.prev's next content, beside it: a hard link to FILE, or a flushed
// copy where links are not allowed; commit() renames it over FILE.prev,
// atomically too (it is what an operator falls back on).  `name` stays
// empty when there is no FILE.
std::string stage_previous(const std::string& path, std::string& name) {
  name.clear();
  const std::string prev = path + ".prev";
  const std::string link_name = prev + ".tmp." + std::to_string(::getpid());
  ::unlink(link_name.c_str());
  if (::link(path.c_str(), link_name.c_str()) == 0) {
    name = link_name;
    return "";
  }
  if (errno == ENOENT) return "";  // no previous file
  // No hard links here (some file systems): a copy, written as safely.
  std::string old;
  if (!read_whole_file(path, old)) return errno_text("cannot read the previous file");
  std::string copy;
  const int fd = create_temporary(prev, copy);
  if (fd < 0) return errno_text("cannot keep the previous file");
  const bool ok = write_all(fd, old) && ::fsync(fd) == 0;
  const std::string why = ok ? "" : errno_text("cannot keep the previous file");
  ::close(fd);
  if (!ok) {
    ::unlink(copy.c_str());
    return why;
  }
  name = copy;
  return "";
}

}  // namespace

bool file_holds(const std::string& path, std::string_view text) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st {};
  bool same = ::fstat(fd, &st) == 0 && static_cast<std::uint64_t>(st.st_size) == text.size();
  // Read, not mapped: a file cut short meanwhile would fault (SIGBUS) in a
  // mapping.  To the end even when the size matched: it may have grown.
  char buf[65536];
  while (same) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) break;
    const auto got = static_cast<std::size_t>(n);
    same = n > 0 && got <= text.size() && std::memcmp(buf, text.data(), got) == 0;
    if (same) text.remove_prefix(got);
  }
  ::close(fd);
  return same && text.empty();
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

std::string stage_file(const std::string& given, std::size_t size, staged_file& out) {
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
  // The room for the text, taken now: a full disk or a quota refuses here.
  // A file system without fallocate() can still fail in commit().
  if (size > 0 && ::fallocate(fd, 0, 0, static_cast<off_t>(size)) != 0 && errno != EOPNOTSUPP && errno != ENOSYS) {
    why = errno_text("cannot write");
  } else if (existed) {
    // The old file's mode and owner (a root-owned 0640 policy stays so).
    if (::fchmod(fd, old.st_mode & 07777) != 0 || (::fchown(fd, old.st_uid, old.st_gid) != 0 && errno != EPERM)) {
      why = errno_text("cannot set the mode");
    }
  } else {
    ::fchmod(fd, 0644);
  }
  // What would make the renames of commit() fail is refused here, before
  // anything is published.
  for (const std::string& target : {path, path + ".prev"}) {
    if (why.empty()) why = cannot_replace(target);
  }
  std::string prev;
  if (why.empty() && existed) why = stage_previous(path, prev);
  if (!why.empty()) {
    ::close(fd);
    ::unlink(tmp.c_str());
    return why;
  }
  out.fd_ = fd;
  out.size_ = size;
  out.tmp_ = std::move(tmp);
  out.path_ = std::move(path);
  out.prev_tmp_ = std::move(prev);
  return "";
}

void staged_file::drop() {
  if (fd_ < 0) return;
  ::close(fd_);
  ::unlink(tmp_.c_str());
  if (!prev_tmp_.empty()) ::unlink(prev_tmp_.c_str());
  fd_ = -1;
}

std::string staged_file::commit(std::string_view text) {
  if (fd_ < 0) return "nothing staged";
  std::string why;
  if (text.size() != size_) {
    why = "the text is not the size staged";
  } else if (!write_all(fd_, text)) {
    why = errno_text("cannot write");
  } else if (::fsync(fd_) != 0) {
    why = errno_text("cannot flush to disk");
  }
  ::close(fd_);
  fd_ = -1;
  if (why.empty() && !prev_tmp_.empty() && ::rename(prev_tmp_.c_str(), (path_ + ".prev").c_str()) != 0) {
    why = errno_text("cannot keep the previous file");
  }
  if (why.empty() && ::rename(tmp_.c_str(), path_.c_str()) != 0) why = errno_text("cannot rename into place");
  if (!why.empty()) {
    ::unlink(tmp_.c_str());
    if (!prev_tmp_.empty()) ::unlink(prev_tmp_.c_str());
    return why;
  }
  const int dir = ::open(folder_of(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return "";
}

std::size_t remove_stale_staged(const std::string& given) {
  std::string path = given;
  if (char* real = ::realpath(given.c_str(), nullptr)) {
    path = real;
    std::free(real);
  }
  const std::string folder = folder_of(path);
  const auto slash = path.rfind('/');
  const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  DIR* d = ::opendir(folder.c_str());
  if (d == nullptr) return 0;
  std::size_t removed = 0;
  const std::string prefixes[] = {base + ".tmp.", base + ".prev.tmp."};
  while (const dirent* e = ::readdir(d)) {
    const std::string_view name = e->d_name;
    std::string_view rest;
    for (const std::string& prefix : prefixes) {
      if (name.size() > prefix.size() && name.substr(0, prefix.size()) == prefix) rest = name.substr(prefix.size());
    }
    // <pid> or <pid>.<random>: made by a process that is gone.
    const std::size_t digits = std::min(rest.find('.'), rest.size());
    if (digits == 0 || digits > 9 || rest.substr(0, digits).find_first_not_of("0123456789") != std::string_view::npos) {
      continue;
    }
    const auto pid = static_cast<pid_t>(std::stol(std::string(rest.substr(0, digits))));
    if (pid == ::getpid() || ::kill(pid, 0) == 0 || errno != ESRCH) continue;
    const std::string full = folder + "/" + std::string(name);
    struct stat st {};
    if (::lstat(full.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::unlink(full.c_str()) == 0) ++removed;
  }
  ::closedir(d);
  return removed;
}

std::string replace_file(const std::string& path, std::string_view text) {
  staged_file staged;
  if (std::string why = stage_file(path, text.size(), staged); !why.empty()) return why;
  return staged.commit(text);
}

}  // namespace sgfw::cp
