// Writing the policy file the way a crash cannot tear: the new text goes
// to a temporary file in the same folder, is flushed to disk (fsync), the
// old file is kept as FILE.prev (a hard link, or a copy where links are
// not allowed), and the new one is renamed over FILE, which is atomic;
// then the folder is flushed.  A kill -9 at any moment leaves FILE either
// as it was or as it is now, never partial.  The new file keeps the old
// one's mode and owner.
//
// In two steps for the control API: stage_file() writes the temporary
// file (what fails for a full disk, a read-only folder or a missing
// permission fails here, and FILE is untouched), and commit() flushes it
// and puts it in place (the disk's slow part: a change is published in
// between, docs/operations.md).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sgfw::cp {

// What tells a file's content apart without reading it: which file it is,
// its size and when its data or inode last changed (any write, rename or
// chmod moves the change time).
struct file_stamp {
  unsigned long long dev = 0, ino = 0, size = 0;
  long long mtime_ns = 0, ctime_ns = 0;
  friend bool operator==(const file_stamp&, const file_stamp&) = default;
};
// FILE's stamp (where a link points); nothing when it cannot be read.
std::optional<file_stamp> stamp_of(const std::string& path);

// A new text for FILE, written beside it, not yet in its place.  Dropped
// (the temporary file removed) unless committed.
class staged_file {
 public:
  staged_file() = default;
  staged_file(const staged_file&) = delete;
  staged_file& operator=(const staged_file&) = delete;
  ~staged_file() { drop(); }

  // Flushes the text to disk, keeps FILE.prev and renames it over FILE.
  // "" when FILE is now the new text; otherwise why not (FILE is then as
  // it was).
  std::string commit();
  void drop();
  // The new FILE's stamp, taken as it was put in place (after commit()).
  const std::optional<file_stamp>& stamp() const { return stamp_; }

 private:
  friend std::string stage_file(const std::string& path, std::string_view text, staged_file& out);
  int fd_ = -1;
  std::string tmp_;
  std::string path_;  // where a link points, for a link
  bool existed_ = false;
  std::optional<file_stamp> stamp_;
};

// "" when staged into `out`; otherwise why not (nothing was written).
std::string stage_file(const std::string& path, std::string_view text, staged_file& out);

// Both steps at once.  "" when written; otherwise why not (FILE is then as it was).
std::string replace_file(const std::string& path, std::string_view text);

// The file's whole content, or nothing when it cannot be read.
bool read_whole_file(const std::string& path, std::string& out);

}  // namespace sgfw::cp
