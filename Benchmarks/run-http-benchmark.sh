#!/usr/bin/env bash
# The standard purchase workload (../shared/bench/WORKLOAD.md) over HTTP: builds `tally` and
# `tally-loadgen` (release), starts `tally serve` on a fresh temporary data directory on a free
# port with a known admin key, runs the load generator, prints its JSON line, stops the server.
#
#   Benchmarks/run-http-benchmark.sh                      # MODE=single, C=16, WORKLOAD defaults
#   MODE=single C=64 Benchmarks/run-http-benchmark.sh
#   MODE=batched BATCH=1000 Benchmarks/run-http-benchmark.sh
#   MODE=reads U=2000 V=50 N=20000 C=64 READ_RATE=2000,5000,10000 Benchmarks/run-http-benchmark.sh
#
# Every WORKLOAD.md variable (U V N C BATCH SEED INITIAL CURRENCY), MODE and the read mode's
# READ_* variables pass through to the load generator (TALLY_SERVER_PID lets it report the
# server's CPU time per read phase). SKIP_BUILD=1 reuses the binaries; SCRATCH (default .build-lg) is the build
# directory; KEEP_DATA=1 keeps the data directory; SERVER_LOG names the server's log file.
# The server runs with --scrypt-log2n 10 (the lowest allowed) so that U logins are fast: that
# only weakens password hashing of these throwaway accounts and is untimed setup.
set -euo pipefail

cd "$(dirname "$0")/.."
SCRATCH="${SCRATCH:-.build-lg}"

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    swift build -c release --scratch-path "$SCRATCH" --product tally >&2
    swift build -c release --scratch-path "$SCRATCH" --product tally-loadgen >&2
fi
BIN="$(swift build -c release --scratch-path "$SCRATCH" --show-bin-path)"

DATA="$(mktemp -d "${TMPDIR:-/tmp}/tally-http-bench.XXXXXX")"
SERVER_LOG="${SERVER_LOG:-$DATA.server.log}"
ADMIN_KEY="bench-admin-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
AUDITOR_KEY="bench-auditor-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"

"$BIN/tally" serve --data-dir "$DATA/data" --host 127.0.0.1 --port 0 \
    --admin-key "$ADMIN_KEY" --auditor-key "$AUDITOR_KEY" --scrypt-log2n 10 --log-level warning \
    >"$SERVER_LOG" 2>&1 &
SERVER=$!
cleanup() {
    if kill -0 "$SERVER" 2>/dev/null; then
        kill -TERM "$SERVER" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$SERVER" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$SERVER" 2>/dev/null || true
    fi
    if [[ "${KEEP_DATA:-0}" != 1 ]]; then rm -rf "$DATA"; else echo "data directory kept: $DATA" >&2; fi
}
trap cleanup EXIT

# The server prints "Tally is serving http://127.0.0.1:<port> …" once it accepts connections.
PORT=""
for _ in $(seq 1 600); do
    PORT="$(sed -n 's#^Tally is serving http://127\.0\.0\.1:\([0-9]*\).*#\1#p' "$SERVER_LOG" | head -1)"
    [[ -n "$PORT" ]] && break
    kill -0 "$SERVER" 2>/dev/null || { echo "tally serve exited:" >&2; cat "$SERVER_LOG" >&2; exit 1; }
    sleep 0.1
done
[[ -n "$PORT" ]] || { echo "tally serve did not start within 60 s" >&2; cat "$SERVER_LOG" >&2; exit 1; }
echo "tally serve on port $PORT, data $DATA/data, log $SERVER_LOG" >&2

set +e
TALLY_URL="http://127.0.0.1:$PORT" TALLY_ADMIN_KEY="$ADMIN_KEY" TALLY_SERVER_PID="$SERVER" "$BIN/tally-loadgen"
STATUS=$?
set -e
exit $STATUS
