#!/usr/bin/env bash
# Projection catch-up from a cold start (issue 4: at least 200,000 events/s). Builds `tally` and
# `tally-loadgen` (release) and has the server itself write a journal: the standard workload in
# batched mode (`run-http-benchmark.sh`, N purchases, U users, V vendors, kept with KEEP_DATA=1).
# It then removes DIR/projections, starts `tally serve --data-dir DIR` again and polls
# `GET /ready` every POLL_MS ms until the read models' `projectionSequence` equals the journal's
# head (`journalSequence`). Prints one JSON line:
#
#   events_per_s          = head / (caught up − first answer of the server): the fold alone
#   events_per_s_from_launch = head / (caught up − process launch): includes opening the journal,
#                           the write model and the HTTP listener
#
# While the read models are more than 10,000 events behind, /ready answers 503
# `projection-behind` with "at sequence S of H" in its detail; the script reads S from there.
#
#   Benchmarks/run-catchup-benchmark.sh                         # 200,000 purchases, 2,000 users, 50 vendors
#   N=1000000 U=10000 Benchmarks/run-catchup-benchmark.sh
#   SKIP_BUILD=1 JOURNAL=/tmp/base Benchmarks/run-catchup-benchmark.sh   # reuse binaries and a data directory
#
# JOURNAL names a data directory a server has written (its journal, server/ secrets and the
# identity and credential stores: the `data` directory `KEEP_DATA=1 run-http-benchmark.sh`
# keeps) to start from; it is copied, never modified. A journal from the hidden
# `journal-tool generate` alone does not do: the server refuses a journal whose events were
# written without the secrets and stores beside them. SCRATCH (default .build-lg) is the build
# directory; KEEP_DATA=1 keeps the temporary directory.
set -euo pipefail

cd "$(dirname "$0")/.."
SCRATCH="${SCRATCH:-.build-lg}"
PURCHASES="${N:-200000}"
USERS="${U:-2000}"
VENDORS="${V:-50}"
POLL_MS="${POLL_MS:-50}"
TIMEOUT_S="${TIMEOUT_S:-900}"

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    # One product per call: given several --product flags, SwiftPM 6.3 builds only the last.
    swift build -c release --scratch-path "$SCRATCH" --product tally >&2
    swift build -c release --scratch-path "$SCRATCH" --product tally-loadgen >&2
fi
BIN="$(swift build -c release --scratch-path "$SCRATCH" --show-bin-path)"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/tally-catchup.XXXXXX")"
DATA="$WORK/data"
SERVER_LOG="$WORK/server.log"
SERVER=""
cleanup() {
    if [[ -n "$SERVER" ]] && kill -0 "$SERVER" 2>/dev/null; then
        kill -TERM "$SERVER" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$SERVER" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$SERVER" 2>/dev/null || true
    fi
    if [[ "${KEEP_DATA:-0}" != 1 ]]; then rm -rf "$WORK"; else echo "kept: $WORK" >&2; fi
}
trap cleanup EXIT

BUILT="null"
if [[ -n "${JOURNAL:-}" ]]; then
    cp -a "$JOURNAL" "$DATA"
    echo "copied $JOURNAL to $DATA" >&2
else
    echo "writing the journal: $PURCHASES purchases of $USERS users at $VENDORS vendors, batched, through the server" >&2
    SKIP_BUILD=1 SCRATCH="$SCRATCH" KEEP_DATA=1 MODE=batched BATCH=1000 U="$USERS" V="$VENDORS" N="$PURCHASES" \
        Benchmarks/run-http-benchmark.sh >"$WORK/load.json" 2>"$WORK/load.log" || { cat "$WORK/load.log" >&2; exit 1; }
    KEPT="$(sed -n 's#^data directory kept: ##p' "$WORK/load.log")"
    [[ -n "$KEPT" && -d "$KEPT/data" ]] || { echo "the HTTP benchmark kept no data directory" >&2; cat "$WORK/load.log" >&2; exit 1; }
    mv "$KEPT/data" "$DATA"
    rm -rf "$KEPT" "$KEPT.server.log"
    BUILT="{\"purchases\":$PURCHASES,\"users\":$USERS,\"vendors\":$VENDORS}"
fi
rm -rf "$DATA/projections"
sync

ADMIN_KEY="bench-admin-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
AUDITOR_KEY="bench-auditor-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
now() { date +%s.%N; }

LAUNCH="$(now)"
"$BIN/tally" serve --data-dir "$DATA" --host 127.0.0.1 --port 0 \
    --admin-key "$ADMIN_KEY" --auditor-key "$AUDITOR_KEY" --log-level warning \
    >"$SERVER_LOG" 2>&1 &
SERVER=$!

PORT=""
for _ in $(seq 1 $((TIMEOUT_S * 100))); do
    PORT="$(sed -n 's#^Tally is serving http://127\.0\.0\.1:\([0-9]*\).*#\1#p' "$SERVER_LOG" | head -1)"
    [[ -n "$PORT" ]] && break
    kill -0 "$SERVER" 2>/dev/null || { echo "tally serve exited:" >&2; cat "$SERVER_LOG" >&2; exit 1; }
    sleep 0.01
done
[[ -n "$PORT" ]] || { echo "tally serve did not start within $TIMEOUT_S s" >&2; cat "$SERVER_LOG" >&2; exit 1; }
SERVING="$(now)"
echo "tally serve on port $PORT after $(echo "$SERVING - $LAUNCH" | bc) s" >&2

FIRST="" HEAD="" FOLDED="" LAST_REPORT=0 DONE=""
DEADLINE=$(( $(date +%s) + TIMEOUT_S ))
while (( $(date +%s) < DEADLINE )); do
    BODY="$(curl -s -m 5 "http://127.0.0.1:$PORT/ready" || true)"
    T="$(now)"
    if [[ -n "$BODY" && -z "$FIRST" ]]; then FIRST="$T"; FIRST_BODY="$BODY"; fi
    if [[ "$BODY" =~ \"journalSequence\":([0-9]+) ]]; then
        HEAD="${BASH_REMATCH[1]}"
        [[ "$BODY" =~ \"projectionSequence\":([0-9]+) ]] && FOLDED="${BASH_REMATCH[1]}"
        if [[ -n "$FOLDED" && "$FOLDED" -ge "$HEAD" ]]; then DONE="$T"; break; fi
    elif [[ "$BODY" =~ at\ sequence\ ([0-9]+)\ of\ ([0-9]+) ]]; then
        FOLDED="${BASH_REMATCH[1]}"; HEAD="${BASH_REMATCH[2]}"
    elif [[ "$BODY" == *projection-stopped* || "$BODY" == *journal-writer-stopped* ]]; then
        echo "/ready: $BODY" >&2; exit 1
    fi
    if (( ${T%.*} - LAST_REPORT >= 5 )); then
        echo "catch-up: ${FOLDED:-?} of ${HEAD:-?} after $(echo "$T - $FIRST" | bc) s" >&2
        LAST_REPORT=${T%.*}
    fi
    sleep "$(echo "scale=3; $POLL_MS / 1000" | bc)"
done
# The server's CPU time (user + system, all threads) from launch to caught up.
read -r -a STAT <<<"$(sed 's/.*) //' "/proc/$SERVER/stat")"
SERVER_CPU="$(LC_ALL=C printf '%.3f' "$(echo "scale=6; (${STAT[11]:-0} + ${STAT[12]:-0}) / $(getconf CLK_TCK)" | bc)")"
[[ -n "$DONE" ]] || { echo "the read models did not reach the head within $TIMEOUT_S s (${FOLDED:-?} of ${HEAD:-?})" >&2; exit 1; }
echo "first /ready answer: $FIRST_BODY" >&2

fmt() { LC_ALL=C printf '%.3f' "$(echo "scale=6; $1" | bc)"; }
FOLD_S="$(fmt "$DONE - $FIRST")"
LAUNCH_S="$(fmt "$DONE - $LAUNCH")"
START_S="$(fmt "$SERVING - $LAUNCH")"
RATE="$(echo "$HEAD / ($DONE - $FIRST)" | bc)"
RATE_LAUNCH="$(echo "$HEAD / ($DONE - $LAUNCH)" | bc)"
RECORDS_BYTES="$(du -sb "$DATA/journal" | cut -f1)"
PROJ_BYTES="$(du -sb "$DATA/projections" 2>/dev/null | cut -f1 || echo 0)"
printf '{"workload":"projection-catchup","events":%s,"seconds":%s,"events_per_s":%s,"seconds_from_launch":%s,"events_per_s_from_launch":%s,"startup_s":%s,"server_cpu_s":%s,"journal_bytes":%s,"projections_bytes":%s,"poll_ms":%s,"built":%s}\n' \
    "$HEAD" "$FOLD_S" "$RATE" "$LAUNCH_S" "$RATE_LAUNCH" "$START_S" "$SERVER_CPU" "$RECORDS_BYTES" "${PROJ_BYTES:-0}" "$POLL_MS" \
    "$BUILT"
