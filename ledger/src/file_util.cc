#include "file_util.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace custody::ledger {

schema::Result<std::string> ReadWholeFile(const std::string& path) {
  using schema::Status;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::NotFound("cannot read " + path + ": it does not exist");
    return Status::FromErrno(errno, "open " + path);
  }
  std::string out;
  char buf[65536];
  for (;;) {
    const ssize_t got = ::read(fd, buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      const int err = errno;
      ::close(fd);
      return Status::FromErrno(err, "read " + path);
    }
    if (got == 0) break;
    out.append(buf, static_cast<size_t>(got));
  }
  ::close(fd);
  return out;
}

}  // namespace custody::ledger
