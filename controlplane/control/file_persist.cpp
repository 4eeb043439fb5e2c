#include "control/file_persist.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <random>
#include <vector>

namespace sgfw::cp {

namespace {

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

// Whether a symbolic link may be followed to find where to write: root's
// or this process's user's own.  Anyone else's link could lead a root
// writer to any file on the machine (a policy file turned into a link to
// /etc/shadow by a user who may write the folder).
bool trusted_owner(uid_t uid) { return uid == 0 || uid == ::geteuid(); }

// The folder FILE is really in (open: every later step is relative to it,
// so nothing swapped on the path afterwards moves the write) and its name
// there.  Links on the way, the file itself or a folder, are followed one
// step at a time and only when trusted_owner() owns them; "" or why not.
std::string locate(const std::string& given, int& dir, std::string& name) {
  dir = -1;
  name.clear();
  if (given.empty()) return "no policy file named";
  std::deque<std::string> pending;
  const auto push_front_path = [&pending](std::string_view p) {
    std::vector<std::string> parts;
    std::size_t at = 0;
    while (at <= p.size()) {
      const std::size_t slash = std::min(p.find('/', at), p.size());
      if (slash > at) parts.emplace_back(p.substr(at, slash - at));
      at = slash + 1;
    }
    pending.insert(pending.begin(), parts.begin(), parts.end());
  };
  const auto open_root = [](bool absolute) { return ::open(absolute ? "/" : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC); };
  int cur = open_root(given.front() == '/');
  if (cur < 0) return errno_text(("cannot open a folder of " + given).c_str());
  push_front_path(given);
  unsigned links = 0;
  std::string why;
  while (why.empty() && !pending.empty()) {
    const std::string part = std::move(pending.front());
    pending.pop_front();
    const bool last = pending.empty();
    if (part == ".") {
      if (last) why = given + " names a folder, not a file";
      continue;
    }
    struct stat st {};
    const bool exists = ::fstatat(cur, part.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
    if (!exists && !(last && errno == ENOENT)) {
      why = errno_text(("cannot find " + given).c_str());
    } else if (exists && S_ISLNK(st.st_mode)) {
      if (!trusted_owner(st.st_uid)) {
        why = given + ": the link " + part + " on its way is owned by uid " + std::to_string(st.st_uid) +
              " (neither root nor this process's user): not followed to write the policy";
        break;
      }
      if (++links > 40) {
        why = given + ": too many links on its way";
        break;
      }
      std::string target(static_cast<std::size_t>(st.st_size) + 1, '\0');
      const ssize_t n = ::readlinkat(cur, part.c_str(), target.data(), target.size());
      struct stat again {};
      // The link read is the one judged: the same one, still trusted.
      if (n <= 0 || static_cast<std::size_t>(n) >= target.size() ||
          ::fstatat(cur, part.c_str(), &again, AT_SYMLINK_NOFOLLOW) != 0 || again.st_ino != st.st_ino ||
          again.st_dev != st.st_dev || !trusted_owner(again.st_uid)) {
        why = given + ": the link " + part + " on its way changed while it was read";
        break;
      }
      target.resize(static_cast<std::size_t>(n));
      if (target.front() == '/') {
        ::close(cur);
        cur = open_root(true);
        if (cur < 0) why = errno_text("cannot open /");
      }
      push_front_path(target);
    } else if (last) {
      name = part;  // the file (or what is in its place; stage_file() judges it)
    } else {
      const int next = ::openat(cur, part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (next < 0) why = errno_text(("cannot open the folder " + part + " of " + given).c_str());
      ::close(cur);
      cur = next;
    }
  }
  if (why.empty() && name.empty()) why = given + " names a folder, not a file";
  if (!why.empty()) {
    if (cur >= 0) ::close(cur);
    return why;
  }
  dir = cur;
  return "";
}

// Takes the writer's lock on a file it made beside FILE: while it is held,
// remove_stale_staged() leaves the file alone, whatever its name's process
// id says (a writer in another pid namespace looks gone).  Never waits: the
// file is new and only root or sgfw's user can open it, so the lock is
// free, and a writer that waited on a lock anyone could take would hang
// the control API.
bool hold(int fd) {
  for (;;) {
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return true;
    if (errno != EINTR) return false;
  }
}

// A file in `dir` that did not exist, open for writing and held.
int create_temporary(int dir, const std::string& base, std::string& name) {
  // Seeded once: a random_device opened for every file costs more than
  // the file (O_EXCL and O_NOFOLLOW make the name's guess harmless).
  thread_local std::minstd_rand rd{std::random_device{}()};
  for (int attempt = 0; attempt < 16; ++attempt) {
    name = base + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(rd() & 0xFFFFFF);
    const int fd = ::openat(dir, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0 && !hold(fd)) {
      ::close(fd);
      ::unlinkat(dir, name.c_str(), 0);
      continue;
    }
    if (fd >= 0 || errno != EEXIST) return fd;
  }
  return -1;
}

// Why a rename over `name` would fail although the folder is writable: a
// folder in its place, or a file marked immutable or append-only (chattr);
// "" when none of these (or it does not exist).
std::string cannot_replace(int dir, const std::string& name, const std::string& shown) {
  struct stat st {};
  if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return "";
  if (S_ISDIR(st.st_mode)) return shown + " is a folder";
  const int fd = ::openat(dir, name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) return "";
  int flags = 0;
  const bool marked = ::ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0 && (flags & (FS_IMMUTABLE_FL | FS_APPEND_FL)) != 0;
  ::close(fd);
  return marked ? shown + " is immutable or append-only (chattr)" : "";
}

// A file open for reading only if it is a regular file (not a FIFO, whose
// open or read would wait for a writer, nor a device), or -1; `follow`:
// through a link.
int open_regular(int dir, const std::string& name, bool follow) {
  const int fd = ::openat(dir, name.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | (follow ? 0 : O_NOFOLLOW));
  if (fd < 0) return -1;
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    errno = EINVAL;
    return -1;
  }
  return fd;
}

// The whole content of `name` in `dir` (AT_FDCWD: a path), a regular
// file, read and closed; `follow`: through a link.
bool read_at(int dir, const std::string& name, std::string& out, bool follow = false) {
  const int fd = open_regular(dir, name, follow);
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

// FILE.prev's next content, beside it: a hard link to FILE, or a flushed
// copy where links are not allowed; commit() renames it over FILE.prev,
// atomically too (it is what an operator falls back on).  `name` stays
// empty when there is no FILE; `held` is open on a copy, with the
// writer's lock.  The link is not locked: its inode is FILE's, which
// anyone who may read the policy can lock too (remove_stale_staged()
// judges it by its process id).
std::string stage_previous(int dir, const std::string& file, std::string& name, int& held) {
  name.clear();
  held = -1;
  const std::string link_name = file + ".prev.tmp." + std::to_string(::getpid());
  ::unlinkat(dir, link_name.c_str(), 0);
  if (::linkat(dir, file.c_str(), dir, link_name.c_str(), 0) == 0) {
    name = link_name;
    return "";
  }
  if (errno == ENOENT) return "";  // no previous file
  // Something in the link's place that is not a file (a folder): refused,
  // rather than a copy of whatever FILE is now.
  if (errno != EPERM && errno != EXDEV && errno != EMLINK && errno != EOPNOTSUPP && errno != ENOSYS) {
    return errno_text(("cannot keep the previous file as " + link_name).c_str());
  }
  // No hard links here (some file systems): a copy, written as safely.
  std::string old;
  if (!read_at(dir, file, old)) return errno_text("cannot read the previous file");
  std::string copy;
  const int fd = create_temporary(dir, file + ".prev", copy);
  if (fd < 0) return errno_text("cannot keep the previous file");
  if (!write_all(fd, old) || ::fsync(fd) != 0) {
    const std::string why = errno_text("cannot keep the previous file");
    ::close(fd);
    ::unlinkat(dir, copy.c_str(), 0);
    return why;
  }
  held = fd;
  name = copy;
  return "";
}

// A name sgfw's writer gives its files beside FILE: FILE.tmp.PID.N,
// FILE.prev.tmp.PID or FILE.prev.tmp.PID.N (N the random part, at most
// 24 bits); the PID, or 0 when the name is not one of these.
pid_t staged_name_pid(std::string_view name, const std::string& base) {
  const auto number = [](std::string_view digits, std::size_t most) -> long {
    if (digits.empty() || digits.size() > most || digits.find_first_not_of("0123456789") != std::string_view::npos) {
      return -1;
    }
    return std::stol(std::string(digits));
  };
  for (const std::string& prefix : {base + ".tmp.", base + ".prev.tmp."}) {
    if (name.size() <= prefix.size() || name.substr(0, prefix.size()) != prefix) continue;
    const std::string_view rest = name.substr(prefix.size());
    const std::size_t dot = rest.find('.');
    const bool random_needed = prefix == base + ".tmp.";
    if (dot == std::string_view::npos && random_needed) return 0;
    if (dot != std::string_view::npos && number(rest.substr(dot + 1), 8) < 0) return 0;
    const long pid = number(rest.substr(0, dot), 7);  // pid_max is at most 2^22
    return pid > 0 ? static_cast<pid_t>(pid) : 0;
  }
  return 0;
}

}  // namespace

bool file_holds(const std::string& path, std::string_view text) {
  const int fd = open_regular(AT_FDCWD, path, true);
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

bool read_whole_file(const std::string& path, std::string& out) { return read_at(AT_FDCWD, path, out, true); }

std::string stage_file(const std::string& given, std::size_t size, staged_file& out) {
  out.drop();
  // A policy file that is a symbolic link is replaced where it points: the
  // link stays a link.  Only links root or this user owns are followed.
  int dir = -1;
  std::string file;
  if (std::string why = locate(given, dir, file); !why.empty()) return why;
  struct stat old {};
  const bool existed = ::fstatat(dir, file.c_str(), &old, AT_SYMLINK_NOFOLLOW) == 0;
  // locate() followed the links it trusts: what is there now must be a
  // file (a FIFO would hang the copy's read; a link put there since would
  // lend the new file its mode and owner).
  if (existed && !S_ISREG(old.st_mode)) {
    ::close(dir);
    return given + " is not a regular file; nothing was written";
  }
  std::string tmp;
  const int fd = create_temporary(dir, file, tmp);
  if (fd < 0) {
    std::string why = errno_text(("cannot create a file beside " + given).c_str());
    ::close(dir);
    return why;
  }
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
  std::string prev_name = file + ".prev";
  if (why.empty()) why = cannot_replace(dir, file, given);
  if (why.empty()) why = cannot_replace(dir, prev_name, given + ".prev");
  std::string prev;
  int prev_fd = -1;
  if (why.empty() && existed) why = stage_previous(dir, file, prev, prev_fd);
  if (!why.empty()) {
    ::close(fd);
    ::unlinkat(dir, tmp.c_str(), 0);
    ::close(dir);
    return why;
  }
  out.dir_ = dir;
  out.fd_ = fd;
  out.prev_fd_ = prev_fd;
  out.size_ = size;
  out.tmp_ = std::move(tmp);
  out.file_ = std::move(file);
  out.prev_ = std::move(prev_name);
  out.prev_tmp_ = std::move(prev);
  return "";
}

void staged_file::release() {
  if (fd_ >= 0) ::close(fd_);
  if (prev_fd_ >= 0) ::close(prev_fd_);
  if (dir_ >= 0) ::close(dir_);
  fd_ = prev_fd_ = dir_ = -1;
}

void staged_file::drop() {
  if (fd_ < 0) return;
  ::unlinkat(dir_, tmp_.c_str(), 0);
  if (!prev_tmp_.empty()) ::unlinkat(dir_, prev_tmp_.c_str(), 0);
  release();
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
  if (why.empty() && !prev_tmp_.empty() && ::renameat(dir_, prev_tmp_.c_str(), dir_, prev_.c_str()) != 0) {
    why = errno_text("cannot keep the previous file");
  }
  if (why.empty() && ::renameat(dir_, tmp_.c_str(), dir_, file_.c_str()) != 0) {
    why = errno_text("cannot rename into place");
  }
  if (!why.empty()) {
    drop();
    return why;
  }
  // In place: nothing from here on can fail or allocate.
  ::fsync(dir_);
  release();
  return "";
}

std::size_t remove_stale_staged(const std::string& given) {
  int dir = -1;
  std::string base;
  if (!locate(given, dir, base).empty()) return 0;
  const int listing = ::dup(dir);
  DIR* d = listing >= 0 ? ::fdopendir(listing) : nullptr;
  if (d == nullptr) {
    if (listing >= 0) ::close(listing);
    ::close(dir);
    return 0;
  }
  std::size_t removed = 0;
  while (const dirent* e = ::readdir(d)) {
    const pid_t pid = staged_name_pid(e->d_name, base);
    if (pid == 0) continue;
    // Its writer is gone: its process id names no process (or this one:
    // at start nothing is staged yet, and in a container every start is
    // pid 1), and no writer holds its lock (a writer in another pid
    // namespace would).  Only plain files of this user.
    if (pid != ::getpid() && (::kill(pid, 0) == 0 || errno != ESRCH)) continue;
    const int fd = ::openat(dir, e->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) continue;
    struct stat st {};
    if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == ::geteuid() &&
        ::flock(fd, LOCK_EX | LOCK_NB) == 0 && ::unlinkat(dir, e->d_name, 0) == 0) {
      ++removed;
    }
    ::close(fd);
  }
  ::closedir(d);
  ::close(dir);
  return removed;
}

std::string replace_file(const std::string& path, std::string_view text) {
  staged_file staged;
  if (std::string why = stage_file(path, text.size(), staged); !why.empty()) return why;
  return staged.commit(text);
}

}  // namespace sgfw::cp
