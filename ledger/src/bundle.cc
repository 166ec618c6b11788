#include "custody/ledger/bundle.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "custody/schema/json_canon.h"

namespace custody::ledger {
namespace {

// A buffered append-only file that fsyncs on Close.
class OutFile {
 public:
  static Result<OutFile> Create(const std::string& path) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return Status::FromErrno(errno, "create " + path);
    return OutFile(fd, path);
  }
  OutFile(OutFile&& o) noexcept : fd_(std::exchange(o.fd_, -1)), path_(std::move(o.path_)) {}
  ~OutFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  Status Write(std::string_view data) {
    buffer_.append(data);
    return buffer_.size() >= (1 << 20) ? Flush() : Status::Ok();
  }
  Status Close() {
    CUSTODY_RETURN_IF_ERROR(Flush());
    if (::fsync(fd_) != 0) return Status::FromErrno(errno, "fsync " + path_);
    if (::close(std::exchange(fd_, -1)) != 0) return Status::FromErrno(errno, "close " + path_);
    return Status::Ok();
  }

 private:
  OutFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  Status Flush() {
    size_t off = 0;
    while (off < buffer_.size()) {
      ssize_t n = ::write(fd_, buffer_.data() + off, buffer_.size() - off);
      if (n < 0) {
        if (errno == EINTR) continue;
        return Status::FromErrno(errno, "write " + path_);
      }
      off += static_cast<size_t>(n);
    }
    buffer_.clear();
    return Status::Ok();
  }
  int fd_;
  std::string path_;
  std::string buffer_;
};

Status WriteWholeFile(const std::string& path, std::string_view data) {
  CUSTODY_ASSIGN_OR_RETURN(OutFile f, OutFile::Create(path));
  CUSTODY_RETURN_IF_ERROR(f.Write(data));
  return f.Close();
}

}  // namespace

std::string CheckpointFileName(uint64_t size) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%020llu.txt", static_cast<unsigned long long>(size));
  return buf;
}

Status WriteBundleLogJson(const std::string& dir, const std::string& origin,
                          const std::string& verifier_key, uint64_t size) {
  boost::json::object log;
  log["format"] = "custody-bundle-1";
  log["origin"] = origin;
  log["verifier_key"] = verifier_key;
  log["size"] = size;
  CUSTODY_ASSIGN_OR_RETURN(std::string text, schema::CanonicalJson(log));
  return WriteWholeFile((std::filesystem::path(dir) / "log.json").string(), text + "\n");
}

Status ExportBundle(Ledger& ledger, const std::string& dir, const ExportOptions& options) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_empty(dir, ec)) {
    return Status::AlreadyExists(dir + " exists and is not empty; choose a new directory");
  }
  fs::create_directories(fs::path(dir) / "checkpoints", ec);
  if (ec) return Status::IOError("cannot create " + dir + ": " + ec.message());

  CUSTODY_ASSIGN_OR_RETURN(ReadView view, ledger.Read());
  const uint64_t size = options.size == 0 ? view.size() : options.size;
  if (size > view.size()) {
    return Status::InvalidArgument("the log has " + std::to_string(view.size()) +
                                   " entries; cannot export " + std::to_string(size));
  }
  CUSTODY_ASSIGN_OR_RETURN(std::string_view last_note, view.CheckpointAt(size));
  std::vector<std::pair<uint64_t, std::string>> notes;
  if (options.all_checkpoints) {
    CUSTODY_RETURN_IF_ERROR(view.ForEachCheckpoint([&](uint64_t s, std::string_view note) {
      if (s < size) notes.emplace_back(s, std::string(note));
      return Status::Ok();
    }));
  }
  notes.emplace_back(size, std::string(last_note));

  CUSTODY_ASSIGN_OR_RETURN(OutFile entries,
                           OutFile::Create((fs::path(dir) / "entries.ndjson").string()));
  CUSTODY_ASSIGN_OR_RETURN(Cursor cursor, view.NewEntryCursor());
  CUSTODY_ASSIGN_OR_RETURN(bool more, cursor.SeekFirst());
  for (uint64_t seq = 0; seq < size; ++seq) {
    if (!more) return Status::Corruption("entry " + std::to_string(seq) + " is missing");
    CUSTODY_RETURN_IF_ERROR(entries.Write(cursor.value()));
    CUSTODY_RETURN_IF_ERROR(entries.Write("\n"));
    if (options.progress && (seq + 1) % 65536 == 0) options.progress(seq + 1, size);
    CUSTODY_ASSIGN_OR_RETURN(more, cursor.Next());
  }
  CUSTODY_RETURN_IF_ERROR(entries.Close());
  for (const auto& [s, note] : notes) {
    CUSTODY_RETURN_IF_ERROR(
        WriteWholeFile((fs::path(dir) / "checkpoints" / CheckpointFileName(s)).string(), note));
  }
  if (options.progress) options.progress(size, size);
  return WriteBundleLogJson(dir, ledger.origin(), ledger.verifier_key().ToString(), size);
}

}  // namespace custody::ledger
