#include "custody/ledger/bundle.h"

#include <fcntl.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <cerrno>
#include <cstdio>
#include <filesystem>

#include "custody/ledger/entry.h"
#include "custody/ledger/merkle.h"
#include "custody/schema/json_canon.h"
#include "file_util.h"

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

namespace {

boost::json::array HashesToJson(const std::vector<Hash>& hashes) {
  boost::json::array out;
  out.reserve(hashes.size());
  for (const Hash& h : hashes) out.emplace_back(HashToBase64(h));
  return out;
}

// A malformed log.json member: names the file and the member.
Status BadLogJson(const std::string& path, std::string_view member, std::string_view why) {
  return Status::InvalidArgument(path + ": \"" + std::string(member) + "\" " + std::string(why) +
                                 " (a bundle written by custodyctl export has it right; was "
                                 "log.json edited?)");
}

Result<uint64_t> JsonCount(const boost::json::object& o, std::string_view member,
                           const std::string& path) {
  const boost::json::value* v = o.if_contains(member);
  if (v == nullptr) return BadLogJson(path, member, "is missing");
  if (v->is_uint64()) return v->get_uint64();
  if (v->is_int64() && v->get_int64() >= 0) return static_cast<uint64_t>(v->get_int64());
  return BadLogJson(path, member, "must be a non-negative integer");
}

Result<std::vector<Hash>> JsonHashes(const boost::json::value* v, std::string_view member,
                                     const std::string& path) {
  if (v == nullptr || !v->is_array()) return BadLogJson(path, member, "must be an array of hashes");
  std::vector<Hash> out;
  for (const boost::json::value& h : v->get_array()) {
    if (!h.is_string()) return BadLogJson(path, member, "holds a non-string");
    auto hash = HashFromBase64(std::string_view(h.get_string()));
    if (!hash.ok()) return BadLogJson(path, member, "holds " + hash.status().message());
    out.push_back(*hash);
  }
  return out;
}

}  // namespace

Status WriteBundleLog(const std::string& dir, const BundleLog& log) {
  namespace fs = std::filesystem;
  boost::json::object o;
  o["format"] = "custody-bundle-1";
  o["origin"] = log.origin;
  o["verifier_key"] = log.verifier_key;
  o["size"] = log.size;
  const LogPrefix& prefix = log.prefix;
  if (prefix.first_seq > 0) {
    o["first_seq"] = prefix.first_seq;
    o["prefix"] = HashesToJson(prefix.range);
    boost::json::array prior;
    std::string lines;
    for (const LogPrefix::PriorPolicy& p : prefix.policies) {
      boost::json::object entry;
      entry["seq"] = p.seq;
      entry["proof"] = HashesToJson(p.proof);
      prior.push_back(std::move(entry));
      lines.append(p.entry).push_back('\n');
    }
    o["prior_policies"] = std::move(prior);
    CUSTODY_RETURN_IF_ERROR(
        WriteWholeFile((fs::path(dir) / "prior-policies.ndjson").string(), lines));
  }
  CUSTODY_ASSIGN_OR_RETURN(std::string text, schema::CanonicalJson(o));
  return WriteWholeFile((fs::path(dir) / "log.json").string(), text + "\n");
}

Result<BundleLog> ReadBundleLog(const std::string& dir) {
  namespace fs = std::filesystem;
  const std::string path = (fs::path(dir) / "log.json").string();
  CUSTODY_ASSIGN_OR_RETURN(std::string text, ReadWholeFile(path));
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  if (ec || !v.is_object()) {
    return Status::InvalidArgument(path + " is not a JSON object" +
                                   (ec ? ": " + ec.message() : std::string()));
  }
  const boost::json::object& o = v.get_object();
  BundleLog log;
  if (const auto* s = o.if_contains("origin"); s != nullptr && s->is_string()) {
    log.origin = std::string(s->get_string());
  }
  if (const auto* s = o.if_contains("verifier_key"); s != nullptr && s->is_string()) {
    log.verifier_key = std::string(s->get_string());
  }
  CUSTODY_ASSIGN_OR_RETURN(log.size, JsonCount(o, "size", path));
  if (!o.contains("first_seq")) return log;  // a whole log
  LogPrefix& prefix = log.prefix;
  CUSTODY_ASSIGN_OR_RETURN(prefix.first_seq, JsonCount(o, "first_seq", path));
  CUSTODY_ASSIGN_OR_RETURN(prefix.range, JsonHashes(o.if_contains("prefix"), "prefix", path));
  const boost::json::value* prior = o.if_contains("prior_policies");
  if (prior == nullptr || !prior->is_array()) {
    return BadLogJson(path, "prior_policies", "must be an array");
  }
  const std::string lines_path = (fs::path(dir) / "prior-policies.ndjson").string();
  CUSTODY_ASSIGN_OR_RETURN(std::string lines, ReadWholeFile(lines_path));
  std::string_view rest = lines;
  for (const boost::json::value& p : prior->get_array()) {
    const std::string member = "prior_policies[" + std::to_string(prefix.policies.size()) + "]";
    if (!p.is_object()) return BadLogJson(path, member, "must be an object");
    LogPrefix::PriorPolicy& policy = prefix.policies.emplace_back();
    CUSTODY_ASSIGN_OR_RETURN(policy.seq, JsonCount(p.get_object(), "seq", path));
    CUSTODY_ASSIGN_OR_RETURN(
        policy.proof, JsonHashes(p.get_object().if_contains("proof"), member + ".proof", path));
    const size_t nl = rest.find('\n');
    if (nl == std::string_view::npos) {
      return Status::InvalidArgument(lines_path + " has " +
                                     std::to_string(prefix.policies.size() - 1) +
                                     " lines but log.json lists " +
                                     std::to_string(prior->get_array().size()) + " prior policies");
    }
    policy.entry = std::string(rest.substr(0, nl));
    rest.remove_prefix(nl + 1);
  }
  if (!rest.empty()) {
    return Status::InvalidArgument(lines_path + " has more lines than the " +
                                   std::to_string(prefix.policies.size()) +
                                   " prior policies log.json lists");
  }
  return log;
}

Result<LogPrefix> BuildLogPrefix(ReadView& view, uint64_t first_seq, uint64_t size,
                                 const std::vector<uint64_t>* policy_seqs) {
  if (first_seq > size || size > view.size()) {
    return Status::InvalidArgument("cannot describe the entries before seq " +
                                   std::to_string(first_seq) + " of a bundle ending at " +
                                   std::to_string(size) + " (the log has " +
                                   std::to_string(view.size()) + " entries)");
  }
  LogPrefix prefix;
  prefix.first_seq = first_seq;
  if (first_seq == 0) return prefix;
  CUSTODY_ASSIGN_OR_RETURN(CompactRange range, view.CompactRangeAt(first_seq));
  prefix.range = range.hashes();
  std::vector<uint64_t> scanned;
  if (policy_seqs == nullptr) {
    CUSTODY_ASSIGN_OR_RETURN(Cursor cursor, view.NewEntryCursor());
    CUSTODY_ASSIGN_OR_RETURN(bool more, cursor.SeekFirst());
    for (uint64_t seq = 0; more && seq < first_seq; ++seq) {
      CUSTODY_ASSIGN_OR_RETURN(DecodedEntry e, DecodeEntry(cursor.value()));
      if (e.kind == "policy") scanned.push_back(seq);
      CUSTODY_ASSIGN_OR_RETURN(more, cursor.Next());
    }
    policy_seqs = &scanned;
  }
  for (uint64_t seq : *policy_seqs) {
    if (seq >= first_seq) continue;
    LogPrefix::PriorPolicy& p = prefix.policies.emplace_back();
    p.seq = seq;
    CUSTODY_ASSIGN_OR_RETURN(std::string_view bytes, view.Entry(seq));
    p.entry = std::string(bytes);
    CUSTODY_ASSIGN_OR_RETURN(p.proof, view.InclusionProof(seq, size));
  }
  return prefix;
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
  if (options.first_seq >= size) {
    return Status::InvalidArgument("cannot export from seq " + std::to_string(options.first_seq) +
                                   ": the bundle ends at " + std::to_string(size));
  }
  CUSTODY_ASSIGN_OR_RETURN(LogPrefix prefix, BuildLogPrefix(view, options.first_seq, size));
  CUSTODY_ASSIGN_OR_RETURN(std::string_view last_note, view.CheckpointAt(size));
  std::vector<std::pair<uint64_t, std::string>> notes;
  if (options.all_checkpoints) {
    CUSTODY_RETURN_IF_ERROR(view.ForEachCheckpoint([&](uint64_t s, std::string_view note) {
      if (s >= options.first_seq && s < size) notes.emplace_back(s, std::string(note));
      return Status::Ok();
    }));
  }
  notes.emplace_back(size, std::string(last_note));

  CUSTODY_ASSIGN_OR_RETURN(OutFile entries,
                           OutFile::Create((fs::path(dir) / "entries.ndjson").string()));
  CUSTODY_ASSIGN_OR_RETURN(Cursor cursor, view.NewEntryCursor());
  const uint64_t first = options.first_seq;  // entry keys are native-endian uint64
  CUSTODY_ASSIGN_OR_RETURN(bool more, cursor.Seek(std::string_view(
                                          reinterpret_cast<const char*>(&first), sizeof first)));
  for (uint64_t seq = options.first_seq; seq < size; ++seq) {
    if (!more) return Status::Corruption("entry " + std::to_string(seq) + " is missing");
    CUSTODY_RETURN_IF_ERROR(entries.Write(cursor.value()));
    CUSTODY_RETURN_IF_ERROR(entries.Write("\n"));
    if (options.progress && (seq + 1 - options.first_seq) % 65536 == 0) {
      options.progress(seq + 1 - options.first_seq, size - options.first_seq);
    }
    CUSTODY_ASSIGN_OR_RETURN(more, cursor.Next());
  }
  CUSTODY_RETURN_IF_ERROR(entries.Close());
  for (const auto& [s, note] : notes) {
    CUSTODY_RETURN_IF_ERROR(
        WriteWholeFile((fs::path(dir) / "checkpoints" / CheckpointFileName(s)).string(), note));
  }
  if (options.progress) options.progress(size - options.first_seq, size - options.first_seq);
  return WriteBundleLog(
      dir, {ledger.origin(), ledger.verifier_key().ToString(), size, std::move(prefix)});
}

}  // namespace custody::ledger
