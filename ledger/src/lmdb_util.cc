#include "lmdb_util.h"

#include <cerrno>

namespace custody::ledger {

schema::Status FromMdb(int rc, std::string_view what) {
  using schema::Status;
  if (rc == MDB_SUCCESS) return Status::Ok();
  std::string msg = std::string("lmdb ") + std::string(what) + ": " + mdb_strerror(rc);
  switch (rc) {
    case MDB_NOTFOUND: return Status::NotFound(std::move(msg));
    case MDB_MAP_FULL:
      return Status::Unavailable(std::move(msg) + " (the ledger's map is full)");
    case ENOSPC: return Status::Unavailable(std::move(msg) + " (disk full; free space and retry)");
    case EDQUOT:
      return Status::Unavailable(std::move(msg) + " (disk quota exceeded; raise it and retry)");
    case EFBIG:
      return Status::Unavailable(std::move(msg) +
                                 " (the file size limit was reached; raise LimitFSIZE / ulimit -f)");
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH: return Status::Corruption(std::move(msg));
    case EACCES:
    case EPERM: return Status::PermissionDenied(std::move(msg));
    case ENOENT: return Status::NotFound(std::move(msg));
    default: return Status::IOError(std::move(msg));
  }
}

}  // namespace custody::ledger
