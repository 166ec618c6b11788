#include "daemon/ingest/pseudonymizer.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "custody/schema/encoding.h"

namespace custody::daemon {
namespace {

constexpr size_t kKeyBytes = 32;
constexpr size_t kRefBytes = 16;

Status ReadKeyFile(const std::string& path, unsigned char* key) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return Status::FromErrno(errno, "stat " + path);
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Status::PermissionDenied(path + ": pseudonym key file mode " + mode +
                                    " is too open; run chmod 600 " + path);
  }
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno(errno, "open " + path);
  ssize_t n = ::read(fd, key, kKeyBytes);
  unsigned char extra;
  ssize_t more = ::read(fd, &extra, 1);
  ::close(fd);
  if (n != static_cast<ssize_t>(kKeyBytes) || more != 0) {
    return Status::Corruption(path + ": a pseudonym key file holds exactly 32 bytes");
  }
  return Status::Ok();
}

Status CreateKeyFile(const std::string& path, unsigned char* key) {
  randombytes_buf(key, kKeyBytes);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Status::FromErrno(errno, "create " + path);
  const bool ok = ::write(fd, key, kKeyBytes) == static_cast<ssize_t>(kKeyBytes) && ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  if (!ok) return Status::FromErrno(err, "write " + path);
  return Status::Ok();
}

}  // namespace

Pseudonymizer::Pseudonymizer() : key_(static_cast<unsigned char*>(sodium_malloc(kKeyBytes))) {}

Pseudonymizer::~Pseudonymizer() { sodium_free(key_); }

Result<std::unique_ptr<Pseudonymizer>> Pseudonymizer::LoadOrCreate(const std::string& path) {
  if (sodium_init() < 0) return Status::Internal("libsodium failed to initialise");
  std::unique_ptr<Pseudonymizer> p(new Pseudonymizer());
  if (p->key_ == nullptr) return Status::ResourceExhausted("sodium_malloc failed");
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 && errno == ENOENT) {
    CUSTODY_RETURN_IF_ERROR(CreateKeyFile(path, p->key_));
  } else {
    CUSTODY_RETURN_IF_ERROR(ReadKeyFile(path, p->key_));
  }
  sodium_mprotect_readonly(p->key_);
  return p;
}

std::string Pseudonymizer::Ref(std::string_view subject_id) const {
  unsigned char out[kRefBytes];
  crypto_generichash(out, sizeof out, reinterpret_cast<const unsigned char*>(subject_id.data()),
                     subject_id.size(), key_, kKeyBytes);
  return "ps1:" + schema::HexEncode(out);
}

}  // namespace custody::daemon
