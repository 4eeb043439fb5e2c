// Writing the policy file the way a crash cannot tear: the new text goes
// to a temporary file in the same folder, is flushed to disk (fsync), the
// old file is kept as FILE.prev (a hard link, or a copy where links are
// not allowed), and the new one is renamed over FILE, which is atomic;
// then the folder is flushed.  A kill -9 at any moment leaves FILE either
// as it was or as it is now, never partial.  The new file keeps the old
// one's mode and owner.
#pragma once

#include <string>
#include <string_view>

namespace sgfw::cp {

// "" when written; otherwise why not (FILE is then as it was).
std::string replace_file(const std::string& path, std::string_view text);

// The file's whole content, or nothing when it cannot be read.
bool read_whole_file(const std::string& path, std::string& out);

}  // namespace sgfw::cp
