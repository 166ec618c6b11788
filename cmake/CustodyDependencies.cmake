# Every third-party dependency, found once. All come from Debian 12 packages
# installed by scripts/setup.sh; nothing is downloaded at build time.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)

find_package(Boost 1.81...<1.82 REQUIRED CONFIG COMPONENTS json url)
find_package(OpenSSL 3 REQUIRED COMPONENTS Crypto)
pkg_check_modules(LMDB REQUIRED IMPORTED_TARGET lmdb)
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium)
pkg_check_modules(SYSTEMD REQUIRED IMPORTED_TARGET libsystemd)
find_package(fmt REQUIRED CONFIG)
find_package(spdlog REQUIRED CONFIG)
find_package(CLI11 REQUIRED CONFIG)
find_package(tomlplusplus REQUIRED CONFIG)

if(CUSTODY_BUILD_TESTS)
  find_package(GTest REQUIRED CONFIG)
  include(GoogleTest)
endif()
if(CUSTODY_BUILD_BENCHMARKS)
  find_package(benchmark REQUIRED CONFIG)
endif()
