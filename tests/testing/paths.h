// Where the tests find shared data and the built programs.
#ifndef CUSTODY_TESTING_PATHS_H_
#define CUSTODY_TESTING_PATHS_H_

#include <filesystem>

namespace custody::testing {

// ../shared/vectors relative to the project root (CUSTODY_SHARED_DIR at configure time).
std::filesystem::path VectorsDir();
// ../shared/scenarios.
std::filesystem::path ScenariosDir();
// The project's source root.
std::filesystem::path SourceDir();
// The CMake build root (programs live in <root>/daemon, <root>/client, ...).
std::filesystem::path BinaryDir();

}  // namespace custody::testing

#endif  // CUSTODY_TESTING_PATHS_H_
