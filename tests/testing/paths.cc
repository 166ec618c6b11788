#include "testing/paths.h"

namespace custody::testing {

std::filesystem::path VectorsDir() { return std::filesystem::path(CUSTODY_SHARED_DIR) / "vectors"; }
std::filesystem::path ScenariosDir() {
  return std::filesystem::path(CUSTODY_SHARED_DIR) / "scenarios";
}
std::filesystem::path SourceDir() { return CUSTODY_SOURCE_DIR; }
std::filesystem::path BinaryDir() { return CUSTODY_BINARY_DIR; }

}  // namespace custody::testing
