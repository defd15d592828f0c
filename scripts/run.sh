#!/usr/bin/env bash
# Sets everything up on a fresh Debian machine with Swift, builds Tally (release) and starts
# the service on an embedded data directory (./tally-data unless TALLY_DATA_DIR says otherwise).
# Extra arguments go to `tally serve` (for example --port 9000).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
swift build -c release --product tally
exec .build/release/tally serve --data-dir "${TALLY_DATA_DIR:-./tally-data}" "$@"
