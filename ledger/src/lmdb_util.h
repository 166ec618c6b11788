// Private LMDB helpers for the ledger: error conversion and RAII handles.
#ifndef CUSTODY_LEDGER_LMDB_UTIL_H_
#define CUSTODY_LEDGER_LMDB_UTIL_H_

#include <lmdb.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "custody/schema/status.h"

namespace custody::ledger {

// The one place LMDB return codes become Status values. MDB_MAP_FULL and
// ENOSPC are Unavailable (retryable once space exists); MDB_NOTFOUND is
// NotFound; MDB_CORRUPTED / MDB_PAGE_NOTFOUND / MDB_INVALID are Corruption.
schema::Status FromMdb(int rc, std::string_view what);

inline MDB_val ToVal(std::string_view s) {
  return MDB_val{s.size(), const_cast<char*>(s.data())};
}
inline std::string_view FromVal(const MDB_val& v) {
  return std::string_view(static_cast<const char*>(v.mv_data), v.mv_size);
}

// A transaction that aborts unless committed. Move-only.
class TxnHandle {
 public:
  TxnHandle() = default;
  explicit TxnHandle(MDB_txn* txn) : txn_(txn) {}
  TxnHandle(TxnHandle&& o) noexcept : txn_(std::exchange(o.txn_, nullptr)) {}
  TxnHandle& operator=(TxnHandle&& o) noexcept {
    if (this != &o) {
      Abort();
      txn_ = std::exchange(o.txn_, nullptr);
    }
    return *this;
  }
  ~TxnHandle() { Abort(); }

  MDB_txn* get() const { return txn_; }
  void Abort() {
    if (txn_ != nullptr) mdb_txn_abort(std::exchange(txn_, nullptr));
  }
  // mdb_txn_commit frees the txn even when it fails, so release it first.
  schema::Status Commit() { return FromMdb(CommitRaw(), "commit"); }
  // Commit returning LMDB's code (callers that treat MDB_MAP_FULL specially).
  int CommitRaw() {
    MDB_txn* t = std::exchange(txn_, nullptr);
    return mdb_txn_commit(t);
  }

 private:
  MDB_txn* txn_ = nullptr;
};

}  // namespace custody::ledger

#endif  // CUSTODY_LEDGER_LMDB_UTIL_H_
