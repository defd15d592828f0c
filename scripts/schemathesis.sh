#!/usr/bin/env bash
# Checks the live server against Schemas/openapi.yaml: builds `tally`, starts `tally serve` on a
# fresh data directory and a free port, runs scripts/check-openapi.py (a scenario through every
# route, each response validated), then schemathesis (installed from PyPI into .venv-schemathesis
# when missing) with the admin, auditor and a user's session as credentials. Stops the server on
# exit. Exits non-zero on any failure, saying which.
#
#   scripts/schemathesis.sh            # TALLY_ST_EXAMPLES (default 15) examples per operation
#
# Environment: SCHEMATHESIS_VERSION (default 4.32.5), TALLY_ST_EXAMPLES, TALLY_ST_SEED,
# TALLY_ST_SCRATCH (SwiftPM scratch path, default .build-oa), TALLY_ST_SKIP_BUILD=1 to use an
# existing binary.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
started=$(date +%s)

version=${SCHEMATHESIS_VERSION:-4.32.5}
examples=${TALLY_ST_EXAMPLES:-15}
seed=${TALLY_ST_SEED:-20261125}
scratch=${TALLY_ST_SCRATCH:-.build-oa}
venv="$root/.venv-schemathesis"

python3 -c "import jsonschema, yaml" 2>/dev/null || { echo "schemathesis.sh: python3 needs jsonschema and pyyaml (run scripts/setup.sh)" >&2; exit 1; }

if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "version $version\$"; then
    echo "== installing schemathesis $version into .venv-schemathesis"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "schemathesis==$version"
fi

if [ "${TALLY_ST_SKIP_BUILD:-0}" != 1 ]; then
    echo "== building tally (debug, scratch path $scratch)"
    swift build --scratch-path "$scratch" --product tally 2>&1 | tail -n 3
fi
tally="$root/$scratch/debug/tally"
[ -x "$tally" ] || { echo "schemathesis.sh: no binary at $tally" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/tally-schemathesis.XXXXXX")
server_pid=""
stop() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap stop EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
admin_key="admin-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
auditor_key="auditor-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
base="http://127.0.0.1:$port"

echo "== starting tally serve on $base (data directory $work/data)"
"$tally" serve --data-dir "$work/data" --host 127.0.0.1 --port "$port" --admin-key "$admin_key" --auditor-key "$auditor_key" \
    --scrypt-log2n 10 --log-level warning >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
    if curl -fsS "$base/health" >/dev/null 2>&1; then break; fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "schemathesis.sh: tally serve exited at start:" >&2; cat "$work/server.log" >&2; exit 1
    fi
    sleep 0.2
done
curl -fsS "$base/health" >/dev/null || { echo "schemathesis.sh: the server did not answer /health" >&2; cat "$work/server.log" >&2; exit 1; }

failed=()
server_alive() {
    kill -0 "$server_pid" 2>/dev/null || { echo "FAIL: tally serve died; its log:" >&2; tail -n 40 "$work/server.log" >&2; return 1; }
}

echo "== scripts/check-openapi.py $base"
if ! python3 scripts/check-openapi.py "$base" "$admin_key" "$auditor_key"; then failed+=("check-openapi.py"); fi
server_alive || failed+=("server died during check-openapi.py")

# A user whose session schemathesis uses for the userSession scheme (renewed on 401).
st_password="schemathesis-password"
python3 - "$base" "$st_password" <<'PY' || failed+=("schemathesis user setup")
import json, sys, urllib.request
base, password = sys.argv[1], sys.argv[2]
def post(path, body, session=None):
    headers = {"Content-Type": "application/json"}
    if session:
        headers["Authorization"] = "Bearer " + session
    request = urllib.request.Request(base + path, json.dumps(body).encode(), headers, method="POST")
    return json.load(urllib.request.urlopen(request))
post("/v1/signup", {"login": "st-user", "password": password, "name": "Schemathesis", "email": "st@example.com"})
session = post("/v1/login", {"login": "st-user", "password": password})["session"]
post("/v1/me/wallets", {"currency": "USD"}, session)
post("/v1/me/funds", {"currency": "USD", "amount": 100000, "method": "card"}, session)
PY
cat >"$work/schemathesis.toml" <<EOF
[auth.openapi.adminKey]
bearer = "$admin_key"

[auth.openapi.auditorKey]
bearer = "$auditor_key"

[auth.dynamic.openapi.userSession]
path = "/v1/login"
payload = { login = "st-user", password = "$st_password" }
extract_selector = "/session"

[output.sanitization]
enabled = false
EOF

if server_alive; then
    echo "== schemathesis $version: $examples examples per operation, seed $seed"
    # The auditor's change feed follows new commits until the client leaves: it has no end for
    # schemathesis to wait for (check-openapi.py reads it with a limit).
    if ! (cd "$work" && "$venv/bin/schemathesis" --config-file "$work/schemathesis.toml" run "$root/Schemas/openapi.yaml" \
            --url "$base" \
            --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance,negative_data_rejection \
            --phases examples,coverage,fuzzing \
            --max-examples "$examples" --seed "$seed" --workers 2 \
            --request-timeout 10 \
            --exclude-path /v1/audit/feed \
            --suppress-health-check all \
            --no-color); then
        failed+=("schemathesis")
    fi
    server_alive || failed+=("server died during schemathesis")
fi

if grep -q '"internal"\|request failed\|Fatal error' "$work/server.log"; then
    echo "== server log lines about internal errors:"
    grep -n 'request failed\|journal error\|Fatal error' "$work/server.log" | head -n 20
fi

elapsed=$(( $(date +%s) - started ))
if [ ${#failed[@]} -gt 0 ]; then
    echo "schemathesis.sh: FAILED (${failed[*]}) after ${elapsed}s"
    exit 1
fi
echo "schemathesis.sh: passed in ${elapsed}s"
