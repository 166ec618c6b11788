// ScopedTempDir: a fresh directory under $TMPDIR (or /tmp), removed with its
// contents when the object dies. Not thread-safe; one owner.
#ifndef CUSTODY_TESTING_TEMP_DIR_H_
#define CUSTODY_TESTING_TEMP_DIR_H_

#include <filesystem>
#include <string>

namespace custody::testing {

class ScopedTempDir {
 public:
  ScopedTempDir();
  ~ScopedTempDir();
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // path() / name, as a string.
  std::string File(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// Reads a whole file; aborts the test binary if it cannot.
std::string ReadFileOrDie(const std::filesystem::path& path);
void WriteFileOrDie(const std::filesystem::path& path, const std::string& contents);

}  // namespace custody::testing

#endif  // CUSTODY_TESTING_TEMP_DIR_H_
