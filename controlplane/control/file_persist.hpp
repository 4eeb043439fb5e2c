// Writing the policy file the way a crash cannot tear: the new text goes
// to a temporary file in the same folder, is flushed to disk (fsync), the
// old file is kept as FILE.prev (a hard link, or a copy where links are
// not allowed), and the new one is renamed over FILE, which is atomic;
// then the folder is flushed.  A kill -9 at any moment leaves FILE either
// as it was or as it is now, never partial.  The new file keeps the old
// one's mode and owner.
//
// A policy file that is a symbolic link is written where the link leads,
// but only through links root or this process's user own (each followed
// one step at a time, the folder then held open): a link someone else
// made is refused, since it could lead a root writer to any file.
//
// In two steps for the control API: stage_file() makes the temporary
// file with room for the text (fallocate) and FILE.prev's new content
// beside it (what fails for a full disk, a read-only folder, a missing
// permission or an immutable file fails here, and nothing is in place
// yet), and commit() writes and flushes the new file and renames both
// into place (the disk's slow part: a change is published in between,
// docs/operations.md).
#pragma once

#include <string>
#include <string_view>

namespace sgfw::cp {

// A new text for FILE, written beside it, not yet in its place.  Dropped
// (the temporary file removed) unless committed.
class staged_file {
 public:
  staged_file() = default;
  staged_file(const staged_file&) = delete;
  staged_file& operator=(const staged_file&) = delete;
  ~staged_file() { drop(); }

  // Writes `text` (the size staged) and flushes it to disk, keeps
  // FILE.prev and renames it over FILE.  "" when FILE is now the new
  // text; otherwise why not (FILE is then as it was).
  std::string commit(std::string_view text);
  void drop();

 private:
  friend std::string stage_file(const std::string& path, std::size_t size, staged_file& out);
  void release();  // closes what is open
  int dir_ = -1;   // the folder FILE is in (where its links lead)
  int fd_ = -1;    // the new file, held (remove_stale_staged)
  int prev_fd_ = -1;
  std::size_t size_ = 0;
  std::string tmp_;  // names in dir_
  std::string file_;
  std::string prev_;      // FILE.prev
  std::string prev_tmp_;  // FILE.prev's new content beside it ("": no FILE)
};

// "" when a text of `size` bytes is staged into `out`; otherwise why not
// (nothing was written).
std::string stage_file(const std::string& path, std::size_t size, staged_file& out);

// Both steps at once.  "" when written; otherwise why not (FILE is then as it was).
std::string replace_file(const std::string& path, std::string_view text);

// Removes what a writer killed between stage_file() and commit() left
// beside FILE (its temporary files, named with its process id, when that
// process is gone and nobody holds their lock; only the names it makes,
// only plain files of this user); how many.  At start, before the first
// change (files named with this process's id count as gone then).
std::size_t remove_stale_staged(const std::string& path);

// Whether the file holds exactly `text` (read, not allocated: no copy of
// a large file is made to compare it).
bool file_holds(const std::string& path, std::string_view text);

// The file's whole content, or nothing when it cannot be read.
bool read_whole_file(const std::string& path, std::string& out);

}  // namespace sgfw::cp
