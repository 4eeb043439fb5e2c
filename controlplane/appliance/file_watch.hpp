// file_watch: when to reload a policy file that is being watched
// ([appliance] watch = true).
//
// A file is acted on only once its writer is done with it: inotify reports
// that it was closed after writing (IN_CLOSE_WRITE), or that a complete
// file was renamed or linked into its place (IN_MOVED_TO, IN_CREATE: the
// atomic way to replace a file, and what configuration tools and
// Kubernetes' ConfigMap symlink swaps do).  A file still open for writing,
// however much it already holds, is never read because it changed.  Where
// inotify is not available (some network file systems), the file is
// polled and acted on only after it has stayed unchanged (same inode, size
// and modification time) for a whole second.  Reading itself refuses a
// file that changes while it is read (config::load_policy_file), and an
// empty policy is refused unless the file says so, so a half-written file
// can never be published.
//
// Control thread only.
#pragma once

#include <sys/stat.h>

#include <chrono>
#include <string>

namespace sgfw::cp {

class file_watch {
 public:
  explicit file_watch(std::string path);
  ~file_watch();
  file_watch(const file_watch&) = delete;
  file_watch& operator=(const file_watch&) = delete;

  // True when the file has been completed since the last time this said
  // so (or since construction); never blocks.
  bool completed_change();
  // The file was just read (a reload): changes up to now are seen.
  void mark_read();
  bool uses_inotify() const { return fd_ >= 0; }
  // The inotify descriptor an event loop waits on (-1 when polling: call
  // completed_change() from a timer instead).
  int fd() const { return fd_; }

 private:
  struct version {
    bool exists = false;
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = 0;
    std::int64_t mtime_ns = 0;
    friend bool operator==(const version&, const version&) = default;
  };
  version current() const;

  std::string path_;
  std::string dir_;
  std::string name_;
  int fd_ = -1;
  version read_;  // as last read
  // Polling without inotify: a new version and since when it has held.
  version pending_;
  std::chrono::steady_clock::time_point pending_since_{};
  std::chrono::steady_clock::time_point last_poll_{};
};

}  // namespace sgfw::cp
