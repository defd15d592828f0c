#!/usr/bin/env bash
# Checks the live server against Schemas/openapi.yaml: builds `tally`, starts `tally serve` on a
# fresh data directory and a free port, runs scripts/check-openapi.py (a scenario through every
# route, each response validated), then schemathesis (installed from PyPI into .venv-schemathesis
# when missing) with the admin and auditor keys, a user's session and a vendor's signing key as
# credentials. Then it stops the server and runs the full audit (`journal-tool verify`) on what
# they wrote, so that every event a route writes is held to the audit's rules. Exits non-zero on
# any failure, saying which.
#
#   scripts/schemathesis.sh
#
# Environment: SCHEMATHESIS_VERSION (default 4.32.5), TALLY_ST_EXAMPLES (examples per operation
# and phase, default 25), TALLY_ST_SEED, TALLY_ST_SCRATCH (SwiftPM scratch path, default
# .build-oa), TALLY_ST_SKIP_BUILD=1 to use the binary already built there.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
started=$(date +%s)

version=${SCHEMATHESIS_VERSION:-4.32.5}
examples=${TALLY_ST_EXAMPLES:-25}
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
    echo "== building tally and journal-tool (debug, scratch path $scratch)"
    swift build --scratch-path "$scratch" --product tally 2>&1 | tail -n 3
    swift build --scratch-path "$scratch" --product journal-tool 2>&1 | tail -n 3
fi
tally="$root/$scratch/debug/tally"
journal_tool="$root/$scratch/debug/journal-tool"
[ -x "$tally" ] || { echo "schemathesis.sh: no binary at $tally" >&2; exit 1; }
[ -x "$journal_tool" ] || { echo "schemathesis.sh: no binary at $journal_tool" >&2; exit 1; }

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

# Schemathesis signs vendor requests through this hook (a requests auth callable sees the
# final request target and body bytes), and swaps generated purchase tokens, customer
# pseudonyms and content IDs for real ones most of the time, so that vendor writes get past
# authentication into the ledger.
cat >"$work/tally_st_hooks.py" <<'PY'
import hashlib, hmac, os, random, secrets, time
import schemathesis

KEY_ID = os.environ.get("TALLY_ST_VENDOR_KEY", "")
SECRET = bytes.fromhex(os.environ.get("TALLY_ST_VENDOR_SECRET", ""))
RANDOM = random.Random(os.environ.get("TALLY_ST_SEED", "0"))
REAL = {"purchaseToken": os.environ.get("TALLY_ST_PURCHASE_TOKEN"), "customer": os.environ.get("TALLY_ST_CUSTOMER"),
        "content": os.environ.get("TALLY_ST_CONTENT")}


def signature_headers(method, target, body, idempotency_key):
    timestamp, nonce = str(int(time.time())), secrets.token_urlsafe(24)
    canonical = "\n".join(["tally-request-v1", method, target, timestamp, nonce, idempotency_key or "", hashlib.sha256(body).hexdigest()])
    return {"Tally-Key": KEY_ID, "Tally-Timestamp": timestamp, "Tally-Nonce": nonce,
            "Tally-Signature": hmac.new(SECRET, canonical.encode(), hashlib.sha256).hexdigest()}


def sign(request):
    body = request.body or b""
    if isinstance(body, str):
        body = body.encode()
    idempotency_key = request.headers.get("Idempotency-Key")
    if isinstance(idempotency_key, bytes):
        idempotency_key = idempotency_key.decode("latin-1")
    request.headers.update(signature_headers(request.method, request.path_url, body, idempotency_key))
    return request


def realistic(value):
    if isinstance(value, dict):
        for name, real in REAL.items():
            if real and isinstance(value.get(name), str) and RANDOM.random() < 0.7:
                value[name] = real
        for item in value.values():
            realistic(item)
    elif isinstance(value, list):
        for item in value:
            realistic(item)


def mutates_credentials(case):
    """Whether a negative case is about the signature headers themselves (left unsigned then)."""
    meta = case._meta
    if meta is None or not meta.generation.mode.is_negative:
        return False
    data = meta.phase.data
    targets = [(getattr(data, "parameter", None), getattr(data, "parameter_location", None))]
    targets += [(m.parameter, m.parameter_location) for m in (getattr(data, "mutations", None) or [])]
    return any(str(getattr(location, "value", location)) == "header" and (name is None or name.lower().startswith("tally-"))
               for name, location in targets)


def bounded_feed(case):
    """A feed without a limit follows new commits for ever: read at most 3 events from the start."""
    query = case.query if isinstance(case.query, dict) else None
    if query is None:
        return
    limit = query.get("limit")
    if limit is None or (isinstance(limit, int) and not isinstance(limit, bool) and limit > 3):
        query["limit"] = 3
        query["from"] = 1


@schemathesis.hook
def before_call(context, case, kwargs):
    if case.operation.path.endswith("/feed"):
        bounded_feed(case)
    if case.operation.path.startswith("/v1/vendor") and not mutates_credentials(case):
        realistic(case.body)
        kwargs["auth"] = sign
PY

# Data for schemathesis to find: a vendor (which it signs as), content with a royalty, a user
# (whose session it uses for the userSession scheme, renewed on 401) who bought it, and that
# user's pending cheque, dispute of the purchase, a payout, a second purchase for the vendor to
# refund, and a payout the user asked for.
st_password="schemathesis-password"
if ! setup=$(cd "$work" && TALLY_ST_VENDOR_SECRET=00 python3 - "$base" "$admin_key" "$st_password" <<'PY'
import json, secrets, sys, urllib.request
sys.modules["schemathesis"] = type(sys)("schemathesis")
sys.modules["schemathesis"].hook = lambda function: function
import tally_st_hooks as hooks

base, admin_key, password = sys.argv[1:4]


def call(method, path, body=None, headers=None, vendor=None):
    data = json.dumps(body).encode() if body is not None else b""
    headers = dict(headers or {}, **{"Content-Type": "application/json"})
    if vendor:
        hooks.KEY_ID, hooks.SECRET = vendor["keyId"], bytes.fromhex(vendor["secret"])
        headers["Idempotency-Key"] = "setup-" + secrets.token_hex(8)
        headers.update(hooks.signature_headers(method, path, data, headers["Idempotency-Key"]))
    request = urllib.request.Request(base + path, data, headers, method=method)
    return json.load(urllib.request.urlopen(request))


admin = {"Authorization": "Bearer " + admin_key}
vendor = call("POST", "/v1/admin/vendors", {"name": "Schemathesis shop", "sites": ["https://st.example/"], "feeBasisPoints": 300,
                                           "settlement": {"thresholdAmount": 10000}}, admin)
user = call("POST", "/v1/signup", {"login": "st-user", "password": password, "name": "Schemathesis", "email": "st@example.com"})
# Erased by the erasePerson operation (which must not erase st-user, whose session schemathesis uses).
erasable = call("POST", "/v1/signup", {"login": "st-erasable", "password": password, "name": "To erase", "email": "e@example.com"})
session = {"Authorization": "Bearer " + call("POST", "/v1/login", {"login": "st-user", "password": password})["session"]}
call("POST", "/v1/me/wallets", {"currency": "USD"}, session)
call("POST", "/v1/me/funds", {"currency": "USD", "amount": 1000000, "method": "card"}, session)
token = call("POST", "/v1/me/purchase-token", None, session)["purchaseToken"]
call("POST", "/v1/vendor/content", {"content": "st-article", "title": "T", "price": 10, "currency": "USD", "url": "https://st.example/a",
                                    "royalties": [{"holder": "st-author", "basisPoints": 1000}]}, vendor=vendor)
bought = call("POST", "/v1/vendor/purchases", {"purchaseToken": token, "content": "st-article"}, vendor=vendor)
# A case of each kind for customer service's queues and lookups to answer with.
pending = call("POST", "/v1/me/funds", {"currency": "USD", "amount": 500, "method": "check"}, session)
dispute = call("POST", "/v1/me/disputes", {"transaction": bought["transaction"], "reason": "schemathesis"}, session)
refundable = call("POST", "/v1/vendor/purchases", {"purchaseToken": token, "content": "st-article"}, vendor=vendor)
asked = call("POST", "/v1/me/payout-requests", {"currency": "USD", "amount": 50, "method": "card"}, session)
# The rights holder's read key (the holderKey scheme).
holder_key = call("POST", "/v1/admin/holders/st-author/keys", None, admin)
payout = call("POST", "/v1/admin/payouts", {"user": user["user"], "currency": "USD", "amount": 100, "method": "card", "representative": "st-rep"}, admin)
print(vendor["keyId"], vendor["secret"], vendor["vendor"], user["user"], token, bought["customer"], erasable["user"],
      pending["funding"], dispute["dispute"], payout["payout"], refundable["transaction"], asked["payout"], holder_key["token"])
PY
); then
    failed+=("schemathesis data setup")
    setup="- 00 - - - - - - - - - - -"
fi
read -r st_key st_secret st_vendor st_user st_token st_customer st_erasable st_funding st_dispute st_payout st_refundable st_asked st_holder_key <<<"$setup"
export TALLY_ST_SEED="$seed" TALLY_ST_VENDOR_KEY="$st_key" TALLY_ST_VENDOR_SECRET="$st_secret" TALLY_ST_PURCHASE_TOKEN="$st_token" \
    TALLY_ST_CUSTOMER="$st_customer" TALLY_ST_CONTENT=st-article
cat >"$work/schemathesis.toml" <<TOML
hooks = "tally_st_hooks"

[auth.openapi.adminKey]
bearer = "$admin_key"

[auth.openapi.auditorKey]
bearer = "$auditor_key"

[auth.openapi.holderKey]
bearer = "$st_holder_key"

[auth.dynamic.openapi.userSession]
path = "/v1/login"
payload = { login = "st-user", password = "$st_password" }
extract_selector = "/session"

[parameters]
"path.vendor" = "$st_vendor"
"path.user" = "$st_user"
"path.holder" = "st-author"
"path.funding" = "$st_funding"
"path.dispute" = "$st_dispute"
"path.payout" = "$st_payout"

[[operations]]
include-operation-id = "adminPayoutRequest"
parameters = { "path.payout" = "$st_asked" }

[[operations]]
include-operation-id = "payRequestedPayout"
parameters = { "path.payout" = "$st_asked" }

[[operations]]
include-operation-id = "declinePayoutRequest"
parameters = { "path.payout" = "$st_asked" }

[[operations]]
include-operation-id = "refundPurchase"
parameters = { "path.transaction" = "$st_refundable" }

[[operations]]
include-operation-id = "erasePerson"
parameters = { "path.user" = "$st_erasable" }

# Its answers name the account's login: for st-user, schemathesis would reuse that name in
# logins with made-up passwords until the name is locked, and st-user's session with it.
[[operations]]
include-operation-id = "adminChangeDetails"
parameters = { "path.user" = "$st_erasable" }

[output.sanitization]
enabled = false
TOML

if server_alive; then
    # One worker: with two, Python 3.11's ast module intermittently fails inside hypothesis
    # ("AST constructor recursion depth mismatch"), a tool error that is not about the API.
    echo "== schemathesis $version: $examples examples per operation, seed $seed"
    if ! (cd "$work" && PYTHONPATH="$work" "$venv/bin/schemathesis" --config-file "$work/schemathesis.toml" run "$root/Schemas/openapi.yaml" \
            --url "$base" \
            --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance,negative_data_rejection \
            --phases examples,coverage,fuzzing \
            --max-examples "$examples" --seed "$seed" --workers 1 \
            --request-timeout 10 \
            --suppress-health-check all \
            --no-color); then
        failed+=("schemathesis")
    fi
    server_alive || failed+=("server died during schemathesis")
fi

# Everything the scenario and schemathesis wrote passes the full audit; the server stops first,
# so that the write model and the read models are final.
if kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
fi
server_pid=""
echo "== journal-tool verify --data (the server's data directory)"
if ! "$journal_tool" verify --data "$work/data"; then failed+=("journal-tool verify"); fi

if grep -q 'request failed\|journal error\|Fatal error' "$work/server.log"; then
    echo "== server log lines about internal errors (first 20):"
    grep -n 'request failed\|journal error\|Fatal error' "$work/server.log" | head -n 20
fi

elapsed=$(( $(date +%s) - started ))
if [ ${#failed[@]} -gt 0 ]; then
    echo "schemathesis.sh: FAILED (${failed[*]}) after ${elapsed}s"
    exit 1
fi
echo "schemathesis.sh: passed in ${elapsed}s"
