#!/usr/bin/env bash
# Builds custody (release preset, warnings as errors) and runs every test.
# One command from a fresh Debian 12 clone: installs what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake --preset release
cmake --build --preset release -j "$(nproc)"
ctest --preset release
