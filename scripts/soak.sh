#!/usr/bin/env bash
# A long crash soak, kept out of the default test run: the SIGKILL crash test with many more
# kills (TALLY_CRASH_ITERATIONS, default 500).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
swift build --build-tests
TALLY_CRASH_ITERATIONS="${TALLY_CRASH_ITERATIONS:-500}" swift test --skip-build --filter "Journal crash safety"
