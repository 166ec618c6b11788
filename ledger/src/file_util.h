// Small file helpers shared by the bundle writer/reader and the verifier.
#ifndef CUSTODY_LEDGER_FILE_UTIL_H_
#define CUSTODY_LEDGER_FILE_UTIL_H_

#include <string>

#include "custody/schema/result.h"

namespace custody::ledger {

// The whole file at `path`, read with plain read(2) (a bundle holds a
// checkpoint file for every signed size: a thousand for a million entries).
// NotFound when it does not exist; IOError naming the path otherwise.
schema::Result<std::string> ReadWholeFile(const std::string& path);

}  // namespace custody::ledger

#endif  // CUSTODY_LEDGER_FILE_UTIL_H_
