// Pseudonymizer: replaces raw subject ids with keyed BLAKE2b pseudonyms
// before anything is stored.
//
//   ref = "ps1:" + hex(BLAKE2b-128(key = 32-byte secret pepper, message = id))
//
// The same id always maps to the same ref (so investigators can query by
// subject), but without the key a ref cannot be linked back to an id or
// brute-forced from a list of ids. The key lives in <data_dir>/pseudonym.key
// (0600; refused when wider), in sodium_malloc'd memory while loaded.
//
// Thread safety: Ref() is safe from any number of threads.
#ifndef CUSTODY_DAEMON_INGEST_PSEUDONYMIZER_H_
#define CUSTODY_DAEMON_INGEST_PSEUDONYMIZER_H_

#include <memory>
#include <string>
#include <string_view>

#include "custody/schema/result.h"

namespace custody::daemon {

using schema::Result;
using schema::Status;

class Pseudonymizer {
 public:
  // Loads the key at `path`, creating a fresh random one (0600) when the file
  // does not exist. PermissionDenied when the file mode is wider than 0600.
  static Result<std::unique_ptr<Pseudonymizer>> LoadOrCreate(const std::string& path);
  ~Pseudonymizer();

  std::string Ref(std::string_view subject_id) const;

 private:
  Pseudonymizer();
  unsigned char* key_;  // sodium_malloc'd, 32 bytes, read-only
};

}  // namespace custody::daemon

#endif  // CUSTODY_DAEMON_INGEST_PSEUDONYMIZER_H_
