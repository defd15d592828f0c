#!/usr/bin/env python3
"""Checks a running Tally server's responses against Schemas/openapi.yaml.

    scripts/check-openapi.py BASE_URL ADMIN_KEY [AUDITOR_KEY]

Starts nothing: it drives a scenario through every route of the spec against the server at
BASE_URL (vendors registered and signing their requests with HMAC-SHA256, users signing up
and logging in, wallets, funds, purchase tokens, purchases, authorizations captured and
voided, content, incentives, disputes, settlement, audit reads, the change feeds, and error
cases), and checks every response: its status must be one the spec declares for that route
(and the one the scenario expects), its content type the declared one, and its body valid
against the declared schema, with no null anywhere in a JSON body. Every operation of the
spec must have been exercised. Exits 1 listing each failure, 0 when all hold.
"""
import hashlib
import hmac
import http.client
import json
import os
import re
import secrets
import sys
import time
import urllib.parse

import jsonschema
import yaml

SPEC_PATH = os.environ.get("TALLY_OPENAPI_SPEC") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Schemas", "openapi.yaml")


class Checker:
    def __init__(self, base_url, spec):
        parsed = urllib.parse.urlsplit(base_url)
        self.host = parsed.hostname
        self.port = parsed.port or 80
        self.spec = spec
        self.failures = []
        self.exercised = set()
        self.calls = 0
        self.operations = {}
        for template, item in spec["paths"].items():
            for method, operation in item.items():
                pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
                self.operations[(method.upper(), template)] = (re.compile(pattern), operation)

    def fail(self, message):
        print("FAIL: " + message, flush=True)
        self.failures.append(message)

    def operation_for(self, method, path):
        bare = path.split("?", 1)[0]
        # Prefer a literal template over one with parameters (e.g. purchases/batch over purchases/{transaction}).
        matches = [(t, op) for (m, t), (rx, op) in self.operations.items() if m == method and rx.match(bare)]
        matches.sort(key=lambda pair: pair[0].count("{"))
        return matches[0] if matches else (None, None)

    def resolve(self, node):
        while isinstance(node, dict) and "$ref" in node and len(node) == 1:
            target = self.spec
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            node = target
        return node

    def validate(self, schema, value):
        root = {"components": self.spec["components"]}
        root.update(schema)
        errors = sorted(jsonschema.Draft202012Validator(root).iter_errors(value), key=lambda e: list(e.path))
        return [f"{'/'.join(str(p) for p in e.absolute_path) or '<body>'}: {e.message[:300]}" for e in errors]

    @staticmethod
    def nulls(value, path="<body>"):
        if value is None:
            return [path]
        if isinstance(value, dict):
            return [n for k, v in value.items() for n in Checker.nulls(v, f"{path}/{k}")]
        if isinstance(value, list):
            return [n for i, v in enumerate(value) for n in Checker.nulls(v, f"{path}/{i}")]
        return []

    def request(self, method, path, body=None, headers=None, expect=None, raw=None, sse=False, label=None):
        """Sends one request and checks the answer; returns (status, parsed body or text, headers, raw bytes)."""
        self.calls += 1
        headers = dict(headers or {})
        data = raw if raw is not None else (json.dumps(body, separators=(",", ":")).encode() if body is not None else b"")
        if data:
            headers.setdefault("Content-Type", "application/json")
        what = label or f"{method} {path}"
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            connection.request(method, path, body=data if (data or method in ("POST", "PUT")) else None, headers=headers)
            response = connection.getresponse()
            payload = response.read()
        except Exception as error:  # a dropped connection is a failure too
            self.fail(f"{what}: no answer ({error!r})")
            return None, None, {}, b""
        finally:
            connection.close()
        status = response.status
        response_headers = {k.lower(): v for k, v in response.getheaders()}
        content_type = response_headers.get("content-type", "").split(";")[0].strip()
        template, operation = self.operation_for(method, path)
        parsed = None
        if content_type in ("application/json", "application/problem+json") and payload:
            try:
                parsed = json.loads(payload)
            except ValueError:
                self.fail(f"{what}: {status} body is not JSON: {payload[:200]!r}")
        else:
            parsed = payload.decode("utf-8", "replace")
        expected = {expect} if isinstance(expect, int) else set(expect or [])
        if expected and status not in expected:
            self.fail(f"{what}: status {status}, expected {sorted(expected)}; body {payload[:400]!r}")
        if operation is None:
            # Not a route of the spec: the server must still answer with a problem document.
            if content_type != "application/problem+json":
                self.fail(f"{what}: undeclared path answered {status} {content_type!r}")
            else:
                self.check_body(what, self.spec["components"]["schemas"]["ProblemDocument"], parsed, status)
            return status, parsed, response_headers, payload
        self.exercised.add((method, template))
        declared = operation["responses"]
        if str(status) not in declared:
            self.fail(f"{what}: status {status} is not declared for {method} {template} (declared: {sorted(declared)}); body {payload[:300]!r}")
            return status, parsed, response_headers, payload
        answer = self.resolve(declared[str(status)])
        content = answer.get("content")
        if not content:
            if payload:
                self.fail(f"{what}: {status} declares no body but got {payload[:200]!r}")
            return status, parsed, response_headers, payload
        if content_type not in content:
            self.fail(f"{what}: {status} content type {content_type!r}, declared {sorted(content)}")
            return status, parsed, response_headers, payload
        schema = content[content_type]["schema"]
        if content_type.endswith("json"):
            self.check_body(what, schema, parsed, status)
        elif content_type == "text/event-stream":
            self.check_sse(what, parsed, schema, audit=template == "/v1/audit/feed")
        else:
            problems = self.validate(schema, parsed)
            for problem in problems:
                self.fail(f"{what}: {status} body: {problem}")
        return status, parsed, response_headers, payload

    def check_body(self, what, schema, parsed, status):
        for problem in self.validate(schema, parsed):
            self.fail(f"{what}: {status} body does not match the schema: {problem}")
        for path in self.nulls(parsed):
            self.fail(f"{what}: {status} body has null at {path} (optional fields must be omitted)")
        if status >= 400 and isinstance(parsed, dict) and parsed.get("status") != status:
            self.fail(f"{what}: problem document status {parsed.get('status')} differs from the HTTP status {status}")

    def check_sse(self, what, text, schema, audit):
        events = 0
        for block in [b for b in text.split("\n\n") if b.strip()]:
            fields = {}
            for line in block.split("\n"):
                if line.startswith(":"):
                    continue
                name, _, value = line.partition(": ")
                fields[name] = value
            if not fields:
                continue
            if set(fields) != {"id", "event", "data"}:
                self.fail(f"{what}: SSE event with fields {sorted(fields)}: {block[:200]!r}")
                continue
            for problem in self.validate(schema, fields):
                self.fail(f"{what}: SSE event does not match the schema: {problem}")
            try:
                data = json.loads(fields["data"])
            except ValueError:
                self.fail(f"{what}: SSE data is not JSON: {fields['data'][:200]!r}")
                continue
            events += 1
            if data.get("sequence") != int(fields["id"]) or data.get("type") != fields["event"]:
                self.fail(f"{what}: SSE id/event {fields['id']}/{fields['event']} disagree with data {fields['data'][:200]}")
            if audit:
                for problem in self.validate({"$ref": "#/components/schemas/AuditEvent"}, data):
                    self.fail(f"{what}: SSE data is not an AuditEvent: {problem}")
        if events == 0:
            self.fail(f"{what}: the feed sent no event")


class Vendor:
    """A vendor's signing key: signs requests the way the spec's vendorKey scheme describes."""

    def __init__(self, checker, vendor, key_id, secret_hex):
        self.checker = checker
        self.vendor = vendor
        self.key_id = key_id
        self.secret = bytes.fromhex(secret_hex)

    def headers(self, method, path, body_bytes, idempotency_key=None, timestamp=None, nonce=None):
        timestamp = str(int(time.time()) if timestamp is None else timestamp)
        nonce = nonce or secrets.token_urlsafe(24)
        canonical = "\n".join([
            "tally-request-v1", method, path, timestamp, nonce, idempotency_key or "", hashlib.sha256(body_bytes).hexdigest()])
        signature = hmac.new(self.secret, canonical.encode(), hashlib.sha256).hexdigest()
        headers = {"Tally-Key": self.key_id, "Tally-Timestamp": timestamp, "Tally-Nonce": nonce, "Tally-Signature": signature}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        return headers

    def call(self, method, path, body=None, expect=None, idempotency_key=None, raw=None, label=None, **overrides):
        data = raw if raw is not None else (json.dumps(body, separators=(",", ":")).encode() if body is not None else b"")
        headers = self.headers(method, path, data, idempotency_key, **overrides)
        return self.checker.request(method, path, headers=headers, raw=data, expect=expect, label=label)

    def write(self, method, path, body, expect, key=None, label=None):
        return self.call(method, path, body, expect=expect, idempotency_key=key or ("idem-" + secrets.token_hex(8)), label=label)


def bearer(token):
    return {"Authorization": "Bearer " + token}


def scenario(c, admin_key, auditor_key):
    admin = bearer(admin_key)
    auditor = bearer(auditor_key) if auditor_key else None
    run = secrets.token_hex(4)

    # Operations.
    c.request("GET", "/health", expect=200)
    c.request("GET", "/ready", expect=200)
    status, text, _, _ = c.request("GET", "/metrics", expect=200)
    if status == 200 and "# TYPE" not in (text or ""):
        c.fail("/metrics: no Prometheus TYPE line")
    c.request("GET", "/v1/no-such-route", expect=404)

    # Vendors registered by customer service.
    registration = {"name": "Shop A " + run, "sites": ["https://shop-a.example/"], "feeBasisPoints": 500,
                    "settlement": {"thresholdAmount": 1000000, "periodSeconds": 86400}}
    c.request("POST", "/v1/admin/vendors", registration, expect=401, label="register vendor without credentials")
    if auditor:
        c.request("POST", "/v1/admin/vendors", registration, headers=auditor, expect=403, label="register vendor with the auditor key")
    c.request("POST", "/v1/admin/vendors", dict(registration, balance=5), headers=admin, expect=400, label="register vendor with an unknown field")
    c.request("POST", "/v1/admin/vendors", raw=b"{not json", headers=admin, expect=400, label="register vendor with malformed JSON")
    _, a, _, _ = c.request("POST", "/v1/admin/vendors", registration, headers=admin, expect=201)
    _, b, _, _ = c.request("POST", "/v1/admin/vendors", dict(registration, name="Shop B " + run, sites=["https://shop-b.example/"]), headers=admin, expect=201)
    if not (isinstance(a, dict) and isinstance(b, dict) and "secret" in a and "secret" in b):
        c.fail("cannot register vendors; stopping the scenario")
        return
    # Changed by customer service: each field on its own, refusals with their fields.
    c.request("PATCH", f"/v1/admin/vendors/{b['vendor']}", {"name": "Shop B, renamed " + run, "feeBasisPoints": 400,
              "settlement": {"thresholdAmount": 1000000, "periodSeconds": 86400, "currencyThresholds": {"JPY": 10000000}}}, headers=admin, expect=200)
    c.request("PATCH", f"/v1/admin/vendors/{b['vendor']}", {}, headers=admin, expect=422, label="update a vendor with nothing to change")
    c.request("PATCH", f"/v1/admin/vendors/{b['vendor']}", {"feeBasisPoints": 10001}, headers=admin, expect=422, label="update a vendor's fee over 100 %")
    c.request("PATCH", f"/v1/admin/vendors/{b['vendor']}", {"sites": ["https://shop-b.example/"], "balance": 1}, headers=admin, expect=400, label="update a vendor with an unknown field")
    c.request("PATCH", "/v1/admin/vendors/v_nosuchvendor", {"feeBasisPoints": 1}, headers=admin, expect=404, label="update an unknown vendor")
    c.request("PATCH", f"/v1/admin/vendors/{b['vendor']}", {"feeBasisPoints": 1}, expect=401, label="update a vendor without credentials")
    _, key2, _, _ = c.request("POST", f"/v1/admin/vendors/{a['vendor']}/keys", headers=admin, expect=201)
    c.request("POST", "/v1/admin/vendors/v_nosuchvendor/keys", headers=admin, expect=404)
    vendor_a = Vendor(c, a["vendor"], a["keyId"], a["secret"])
    vendor_a2 = Vendor(c, a["vendor"], key2["keyId"], key2["secret"]) if isinstance(key2, dict) else vendor_a
    vendor_b = Vendor(c, b["vendor"], b["keyId"], b["secret"])

    # Users.
    x_login, y_login = "x-" + run, "y-" + run
    password = "correct horse battery"
    signup = {"login": x_login, "password": password, "name": "User X", "email": "x@example.com"}
    c.request("POST", "/v1/signup", dict(signup, login="bad login"), expect=400, label="signup with a space in the login")
    c.request("POST", "/v1/signup", dict(signup, wallet=1), expect=400, label="signup with an unknown field")
    c.request("POST", "/v1/signup", {"login": x_login}, expect=400, label="signup with a missing field")
    c.request("POST", "/v1/signup", raw=b'{"login":"' + b"a" * (70 * 1024) + b'"}', expect=413, label="signup with a 70 KiB body")
    c.request("POST", "/v1/signup", signup, headers={"Content-Type": "text/plain"}, expect=415, label="signup sent as text/plain")
    c.request("GET", "/v1/signup", expect=405, label="signup asked with GET")
    _, x, _, _ = c.request("POST", "/v1/signup", signup, expect=201)
    c.request("POST", "/v1/signup", signup, expect=409, label="signup with a taken login")
    _, y, _, _ = c.request("POST", "/v1/signup", dict(signup, login=y_login, name="User Y", referringVendor=vendor_a.vendor), expect=201)
    c.request("POST", "/v1/signup", dict(signup, login="z-" + run, referringVendor="v_nosuch"), expect=422, label="signup referred by an unknown vendor")
    c.request("POST", "/v1/login", {"login": x_login, "password": "wrong password!"}, expect=401)
    c.request("POST", "/v1/login", {"login": x_login}, expect=400, label="login without password")
    _, xs, _, _ = c.request("POST", "/v1/login", {"login": x_login, "password": password}, expect=200)
    _, ys, _, _ = c.request("POST", "/v1/login", {"login": y_login, "password": password}, expect=200)
    if not (isinstance(xs, dict) and isinstance(ys, dict) and isinstance(x, dict) and isinstance(y, dict)):
        c.fail("cannot sign up and log in; stopping the scenario")
        return
    ux, uy = bearer(xs["session"]), bearer(ys["session"])

    # Passwords: changed by the user (name and current password again; other sessions end),
    # or set by customer service for a caller.
    change = {"login": y_login, "currentPassword": password, "newPassword": password}
    c.request("POST", "/v1/me/password", dict(change, currentPassword="wrong password!"), headers=uy, expect=403, label="password change with a wrong password")
    c.request("POST", "/v1/me/password", dict(change, login=x_login), headers=uy, expect=403, label="password change of another user's login")
    c.request("POST", "/v1/me/password", dict(change, newPassword="short"), headers=uy, expect=400, label="password change to a short one")
    c.request("POST", "/v1/me/password", change, headers=admin, expect=403, label="password change with the admin key")
    c.request("POST", "/v1/me/password", change, headers=uy, expect=200)
    w_login = "w-" + run
    _, w, _, _ = c.request("POST", "/v1/signup", dict(signup, login=w_login, name="User W"), expect=201)
    c.request("POST", "/v1/admin/password-resets", {"login": w_login, "newPassword": "a new long password"}, headers=admin, expect=200)
    c.request("POST", "/v1/admin/password-resets", {"login": "nobody-" + run, "newPassword": "a new long password"}, headers=admin, expect=404, label="password reset of an unknown login")
    c.request("POST", "/v1/admin/password-resets", {"login": w_login, "newPassword": "a new long password"}, headers=uy, expect=403, label="password reset with a user's session")
    c.request("POST", "/v1/login", {"login": w_login, "password": "a new long password"}, expect=200, label="login with the reset password")
    # Erased: the person's data unreadable, their logins gone; erasing again changes nothing.
    if isinstance(w, dict):
        c.request("POST", f"/v1/admin/users/{w['user']}/erase", headers=uy, expect=403, label="erase a person with a user's session")
        c.request("POST", f"/v1/admin/users/{w['user']}/erase", {"force": True}, headers=admin, expect=400, label="erase with an unknown field")
        c.request("POST", f"/v1/admin/users/{w['user']}/erase", headers=admin, expect=200)
        c.request("POST", f"/v1/admin/users/{w['user']}/erase", headers=admin, expect=200, label="erase a person again")
        c.request("POST", "/v1/login", {"login": w_login, "password": "a new long password"}, expect=401, label="login of an erased person")
    c.request("POST", "/v1/admin/users/u_nosuchuser/erase", headers=admin, expect=404, label="erase an unknown user")

    c.request("GET", "/v1/me", headers=ux, expect=200)
    c.request("GET", "/v1/me", expect=401, label="GET /v1/me anonymous")
    c.request("GET", "/v1/me", headers=admin, expect=403, label="GET /v1/me with the admin key")
    c.request("GET", "/v1/me", headers=bearer("not-a-session"), expect=401, label="GET /v1/me with a made-up token")
    c.request("POST", "/v1/me/wallets", {"currency": "USD"}, headers=ux, expect=201)
    c.request("POST", "/v1/me/wallets", {"currency": "USD"}, headers=ux, expect=409, label="open the USD wallet again")
    c.request("POST", "/v1/me/wallets", {"currency": "XXX"}, headers=ux, expect=400, label="open a wallet in an unknown currency")
    c.request("POST", "/v1/me/wallets", {"currency": "USD"}, headers=uy, expect=201)
    c.request("POST", "/v1/me/funds", {"currency": "USD", "amount": 100000, "method": "card"}, headers=ux, expect=201)
    c.request("POST", f"/v1/admin/users/{x['user']}/erase", headers=admin, expect=409, label="erase a person whose account holds money")
    c.request("POST", "/v1/me/funds", {"currency": "USD", "amount": 100, "method": "providerIssue"}, headers=ux, expect=400, label="funds by providerIssue")
    c.request("POST", "/v1/me/funds", {"currency": "USD", "amount": 0, "method": "card"}, headers=ux, expect=422, label="funds of zero")
    c.request("POST", "/v1/me/funds", {"currency": "EUR", "amount": 100, "method": "card"}, headers=ux, expect=422, label="funds to an unopened wallet")
    _, check1, _, _ = c.request("POST", "/v1/me/funds", {"currency": "USD", "amount": 2500, "method": "check"}, headers=ux, expect=201)
    _, check2, _, _ = c.request("POST", "/v1/me/funds", {"currency": "USD", "amount": 700, "method": "moneyOrder"}, headers=ux, expect=201)
    if isinstance(check1, dict) and isinstance(check2, dict):
        if check1.get("pending") is not True:
            c.fail("funds by check are not pending")
        _, queue, _, _ = c.request("GET", f"/v1/admin/funds?minSequence={check2['sequence']}&limit=500", headers=admin, expect=200, label="pending funds queue")
        if isinstance(queue, dict) and check1["funding"] not in [f["funding"] for f in queue["data"]["fundings"]]:
            c.fail("a pending funding is missing from the queue")
        c.request("GET", f"/v1/admin/funds?after={check1['sequence']}&limit=1", headers=admin, expect=200, label="pending funds queue, a later page")
        c.request("GET", "/v1/admin/funds?limit=0", headers=admin, expect=400, label="pending funds queue with limit 0")
        c.request("GET", f"/v1/admin/funds/{check1['funding']}", headers=admin, expect=200)
        c.request("GET", f"/v1/me/funds?minSequence={check2['sequence']}&limit=2", headers=ux, expect=200, label="own fundings")
        c.request("GET", f"/v1/me/funds?minSequence={check2['sequence']}&status=pending", headers=ux, expect=200, label="own pending fundings")
        c.request("GET", "/v1/me/funds?status=waiting", headers=ux, expect=400, label="fundings of an unknown status")
        c.request("GET", f"/v1/admin/users/{x['user']}/funds?status=completed", headers=admin, expect=200, label="a user's completed fundings")
        c.request("GET", f"/v1/admin/users/{x['user']}/funds?minSequence={check2['sequence']}", headers=admin, expect=200, label="a user's fundings")
        c.request("POST", f"/v1/admin/funds/{check1['funding']}/clear", headers=admin, expect=200)
        c.request("POST", f"/v1/admin/funds/{check1['funding']}/clear", headers=admin, expect=422, label="clear funds twice")
        c.request("POST", f"/v1/admin/funds/{check2['funding']}/fail", {}, headers=admin, expect=200)
        c.request("POST", f"/v1/admin/funds/{check2['funding']}/fail", {"x": 1}, headers=admin, expect=400, label="fail funds with a body")
    c.request("POST", "/v1/admin/funds/f_nosuch/clear", headers=admin, expect=404, label="clear unknown funds")
    c.request("POST", "/v1/me/funds", {"currency": "USD", "amount": 5000, "method": "card"}, headers=uy, expect=201)

    # Purchase tokens.
    _, tx_token, _, _ = c.request("POST", "/v1/me/purchase-token", headers=ux, expect=201)
    _, ty_token, _, _ = c.request("POST", "/v1/me/purchase-token", headers=uy, expect=201)
    c.request("POST", "/v1/me/purchase-token", headers=admin, expect=403, label="purchase token with the admin key")
    token_x, token_y = tx_token["purchaseToken"], ty_token["purchaseToken"]

    # Vendor authentication.
    vendor_a.call("GET", "/v1/vendor", expect=200)
    vendor_a2.call("GET", "/v1/vendor", expect=200, label="GET /v1/vendor with the second key")
    # Signing keys: listed (never their secrets), and one revoked: its signatures are refused from then on.
    vendor_a.call("GET", "/v1/vendor/keys", expect=200)
    c.request("GET", f"/v1/admin/vendors/{a['vendor']}/keys", headers=admin, expect=200)
    c.request("GET", "/v1/admin/vendors/v_nosuchvendor/keys", headers=admin, expect=404)
    if auditor:
        c.request("DELETE", f"/v1/admin/vendors/{a['vendor']}/keys/{vendor_a2.key_id}", headers=auditor, expect=403, label="revoke a key with the auditor key")
    c.request("DELETE", f"/v1/admin/vendors/{b['vendor']}/keys/{vendor_a2.key_id}", headers=admin, expect=404, label="revoke another vendor's key")
    c.request("DELETE", f"/v1/admin/vendors/{a['vendor']}/keys/{vendor_a2.key_id}", headers=admin, expect=200)
    c.request("DELETE", f"/v1/admin/vendors/{a['vendor']}/keys/{vendor_a2.key_id}", headers=admin, expect=404, label="revoke a revoked key")
    vendor_a2.call("GET", "/v1/vendor", expect=401, label="GET /v1/vendor with a revoked key")
    c.request("GET", "/v1/vendor", expect=401, label="GET /v1/vendor unsigned")
    c.request("GET", "/v1/vendor", headers=admin, expect=403, label="GET /v1/vendor with the admin key")
    forged = vendor_a.headers("GET", "/v1/vendor", b"")
    forged["Tally-Signature"] = "0" * 64
    c.request("GET", "/v1/vendor", headers=forged, expect=401, label="GET /v1/vendor with a forged signature")
    replayed = vendor_a.headers("GET", "/v1/vendor", b"")
    c.request("GET", "/v1/vendor", headers=replayed, expect=200, label="GET /v1/vendor (first of a replay)")
    c.request("GET", "/v1/vendor", headers=replayed, expect=401, label="GET /v1/vendor replayed")
    vendor_a.call("GET", "/v1/vendor", expect=401, timestamp=int(time.time()) - 3600, label="GET /v1/vendor signed an hour ago")
    vendor_a.call("GET", "/v1/vendor", expect=401, nonce="short", label="GET /v1/vendor with a short nonce")
    tampered = vendor_a.headers("GET", "/v1/vendor/history", b"")
    c.request("GET", "/v1/vendor/history?limit=1", headers=tampered, expect=401, label="vendor read with a tampered query")

    # Content.
    content = {"content": "article-" + run, "title": "An article", "price": 250, "currency": "USD", "url": "https://shop-a.example/a/" + run,
               "description": "words", "access": {"views": 3, "days": 30}, "royalties": [{"holder": "author-" + run, "basisPoints": 1000}]}
    key = "content-" + run
    _, _, first_headers, first = vendor_a.write("POST", "/v1/vendor/content", content, 201, key=key)
    _, _, again_headers, again = vendor_a.write("POST", "/v1/vendor/content", content, 201, key=key, label="register content again (idempotent retry)")
    if first != again or again_headers.get("idempotent-replayed") != "true":
        c.fail(f"idempotent retry of content registration did not return the first answer: {first!r} vs {again!r}")
    vendor_a.write("POST", "/v1/vendor/content", dict(content, price=300), 422, key=key, label="same Idempotency-Key, different content")
    vendor_a.write("POST", "/v1/vendor/content", content, 409, label="register the same content ID again")
    vendor_a.call("POST", "/v1/vendor/content", content, expect=400, label="register content without an Idempotency-Key")
    vendor_a.write("POST", "/v1/vendor/content", dict(content, content="other-" + run, url="https://elsewhere.example/x"), 422, label="content outside the vendor's sites")
    vendor_a.write("POST", "/v1/vendor/content", dict(content, balance=1), 400, label="content with an unknown field")

    # One-step purchases.
    _, bought, _, _ = vendor_a.write("POST", "/v1/vendor/purchases", {"purchaseToken": token_x, "content": content["content"]}, 201)
    inline = dict(content, content="inline-" + run, price=120)
    inline.pop("royalties")
    _, bought2, _, _ = vendor_a.write("POST", "/v1/vendor/purchases", {"purchaseToken": token_x, "inline": inline}, 201, label="purchase inline content")
    vendor_a.write("POST", "/v1/vendor/purchases", {"purchaseToken": token_x, "content": content["content"], "inline": inline}, 400, label="purchase with both content and inline")
    vendor_a.write("POST", "/v1/vendor/purchases", {"purchaseToken": token_x, "content": content["content"], "holdSeconds": 60}, 400, label="purchase with holdSeconds")
    _, referenced, _, _ = vendor_a.write("POST", "/v1/vendor/purchases", {"purchaseToken": token_x, "content": content["content"],
                                                    "vendorData": {"reference": "order-1", "parameters": {"campaign": "spring"}}}, 201,
                   label="purchase with the vendor's data")
    _, found, _, _ = vendor_a.call("GET", f"/v1/vendor/purchases?reference=order-1&limit=5&minSequence={referenced['sequence']}", expect=200,
                                   label="the vendor's purchases under its reference")
    if not found or len(found["data"]["purchases"]) != 1:
        vendor_a.checker.fail(f"one purchase should be listed under reference order-1: {found!r}")
    vendor_a.call("GET", "/v1/vendor/purchases", expect=400, label="purchases by reference without a reference")
    vendor_a.write("POST", "/v1/vendor/purchases", {"purchaseToken": token_x, "content": content["content"], "vendorData": {}}, 422,
                   label="purchase with empty vendor data")
    vendor_a.write("POST", "/v1/vendor/purchases", {"purchaseToken": token_x, "content": content["content"], "vendorData": {"ref": "x"}}, 400,
                   label="purchase with an unknown vendor-data field")
    vendor_a.write("POST", "/v1/vendor/purchases", {"purchaseToken": "garbage", "content": content["content"]}, 403, label="purchase with a forged token")
    vendor_a.write("POST", "/v1/vendor/purchases", {"purchaseToken": token_x, "content": "no-such-content"}, 404, label="purchase of unknown content")
    vendor_a.write("POST", "/v1/vendor/purchases", {"purchaseToken": token_x, "inline": dict(inline, content="big-" + run, price=10**9)}, 422, label="purchase beyond the funds")
    if not isinstance(bought, dict) or "transaction" not in bought:
        c.fail("no purchase; stopping the scenario")
        return
    tx = bought["transaction"]
    if bought.get("customer") in (x["user"], None):
        c.fail("the vendor saw the user's ID instead of a pseudonym")
    vendor_a.call("GET", f"/v1/vendor/purchases/{tx}", expect=200)
    vendor_b.call("GET", f"/v1/vendor/purchases/{tx}", expect=404, label="another vendor's purchase")
    vendor_a.call("GET", "/v1/vendor/purchases/t_nosuch", expect=404, label="unknown purchase")
    _, batch, _, _ = vendor_a.write("POST", "/v1/vendor/purchases/batch", {"purchases": [
        {"idempotencyKey": "b1-" + run, "purchaseToken": token_x, "content": content["content"]},
        {"idempotencyKey": "b2-" + run, "purchaseToken": "garbage", "content": content["content"]}]}, 200)
    if isinstance(batch, dict) and (batch.get("accepted"), batch.get("rejected")) != (1, 1):
        c.fail(f"batch: expected 1 accepted and 1 rejected, got {batch}")
    vendor_a.write("POST", "/v1/vendor/purchases/batch", {"purchases": []}, 400, label="empty batch")

    # Authorizations.
    hold_body = {"purchaseToken": token_x, "content": content["content"], "holdSeconds": 600}
    _, held, _, _ = vendor_a.write("POST", "/v1/vendor/authorizations", hold_body, 201)
    _, held2, _, _ = vendor_a.write("POST", "/v1/vendor/authorizations", hold_body, 201, label="a second authorization")
    _, held3, _, _ = vendor_a.write("POST", "/v1/vendor/authorizations", hold_body, 201, label="a third authorization")
    vendor_a.write("POST", "/v1/vendor/authorizations", {"purchaseToken": token_x, "content": content["content"]}, 400, label="authorization without holdSeconds")
    if isinstance(held, dict) and isinstance(held2, dict) and isinstance(held3, dict):
        vendor_a.write("POST", f"/v1/vendor/authorizations/{held['transaction']}/capture", None, 200)
        vendor_b.write("POST", f"/v1/vendor/authorizations/{held2['transaction']}/capture", None, {404, 422}, label="another vendor captures")
        vendor_a.write("POST", f"/v1/vendor/authorizations/{held2['transaction']}/void", {}, 200)
        vendor_a.write("POST", f"/v1/vendor/authorizations/{held2['transaction']}/capture", None, 422, label="capture a voided hold")
        vendor_a.write("POST", f"/v1/vendor/authorizations/{held2['transaction']}/void", {"reason": "x"}, 400, label="void with an unknown field")
        c.request("POST", f"/v1/admin/holds/{held3['transaction']}/expire", headers=admin, expect=422, label="expire a hold before its time")
        # The vendor refunds the captured one: once, byte for byte on a retry, never twice.
        refund_path = f"/v1/vendor/purchases/{held['transaction']}/refund"
        rkey = "refund-" + run
        vendor_b.write("POST", refund_path, {}, 404, label="another vendor refunds")
        vendor_a.write("POST", refund_path, {"reason": 5}, 400, label="refund with a reason that is not a string")
        vendor_a.write("POST", refund_path, {"balance": 5}, 400, label="refund with an unknown field")
        vendor_a.write("POST", refund_path, {"amount": "5"}, 400, label="refund with an amount that is not a number")
        vendor_a.write("POST", refund_path, {"amount": 0}, 422, label="refund of nothing")
        vendor_a.write("POST", refund_path, {"amount": 10**12}, 422, label="refund of more than the price")
        vendor_a.write("POST", refund_path, {"amount": 1, "reason": "a part"}, 200, key=rkey + "-part", label="partial refund")
        _, _, _, r_first = vendor_a.write("POST", refund_path, {"reason": "wrong edition"}, 200, key=rkey)
        _, _, _, r_again = vendor_a.write("POST", refund_path, {"reason": "wrong edition"}, 200, key=rkey, label="refund retried")
        if r_first != r_again:
            c.fail(f"refund retry answered differently: {r_first!r} vs {r_again!r}")
        vendor_a.write("POST", refund_path, None, 422, label="refund twice")
        vendor_a.write("POST", f"/v1/vendor/purchases/{held2['transaction']}/refund", None, 422, label="refund a voided hold")
    vendor_a.write("POST", "/v1/vendor/purchases/t_nosuch/refund", None, 404, label="refund an unknown purchase")
    vendor_a.write("POST", "/v1/vendor/authorizations/t_nosuch/capture", None, 404, label="capture an unknown transaction")
    c.request("POST", "/v1/admin/holds/t_nosuch/expire", headers=admin, expect=404, label="expire an unknown hold")

    # Referral policy and incentives.
    policy = {"currency": "USD", "rewardAmount": 100, "minimumSpend": 1000, "confirmationSeconds": 3600}
    vendor_a.write("PUT", "/v1/vendor/referral-policy", policy, 200)
    vendor_a.write("PUT", "/v1/vendor/referral-policy", dict(policy, rewardAmount=-1), 422, label="referral policy with a negative reward")
    vendor_a.call("GET", "/v1/vendor", expect=200, label="GET /v1/vendor with a referral policy")
    incentive = {"customer": bought["customer"], "currency": "USD", "amount": 50, "expiresAtMilliseconds": int(time.time() * 1000) + 86400000}
    ikey = "incentive-" + run
    _, _, _, i_first = vendor_a.write("POST", "/v1/vendor/incentives", incentive, 201, key=ikey)
    _, _, _, i_again = vendor_a.write("POST", "/v1/vendor/incentives", incentive, 201, key=ikey, label="vendor incentive retried")
    if i_first != i_again:
        c.fail(f"vendor incentive retry answered differently: {i_first!r} vs {i_again!r}")
    vendor_a.write("POST", "/v1/vendor/incentives", dict(incentive, amount=51), 422, key=ikey, label="vendor incentive key reused for another amount")
    vendor_a.write("POST", "/v1/vendor/incentives", dict(incentive, customer="nobody"), 422, label="incentive for an unknown customer")
    c.request("POST", "/v1/admin/referrals/" + y["user"] + "/reward", headers=admin, expect=422, label="referral reward before it qualifies")
    c.request("POST", "/v1/admin/referrals/u_nosuch/reward", headers=admin, expect={404, 422}, label="referral reward for an unknown user")

    # Users read their purchases, open content, read balances and history.
    _, head, _, _ = c.request("GET", "/v1/audit/head", headers=auditor or admin, expect=200 if auditor else 403)
    head_seq = head["sequence"] if isinstance(head, dict) and "sequence" in head else 1
    _, summary, _, _ = c.request("GET", f"/v1/me/purchases?minSequence={head_seq}", headers=ux, expect=200)
    if isinstance(summary, dict) and not any(p.get("transaction") == tx for p in summary.get("data", {}).get("purchases", [])):
        c.fail("the purchase summary (read at the head's sequence) lacks the purchase")
    c.request("GET", "/v1/me/purchases?minSequence=99999999999", headers=ux, expect=400, label="purchases at a sequence beyond the head")
    c.request("GET", "/v1/me/purchases?minSequence=abc", headers=ux, expect=400, label="purchases with a malformed minSequence")
    _, grant, _, _ = c.request("POST", f"/v1/me/purchases/{tx}/access", headers=ux, expect=201)
    c.request("POST", f"/v1/me/purchases/{tx}/access", headers=uy, expect=404, label="another user's purchase access")
    if isinstance(held2, dict):
        c.request("POST", f"/v1/me/purchases/{held2['transaction']}/access", headers=ux, expect=403, label="access to a voided purchase")
    if isinstance(grant, dict):
        vendor_a.call("GET", f"/v1/vendor/access-grants/{urllib.parse.quote(grant['grant'], safe='')}", expect=200)
        vendor_b.call("GET", f"/v1/vendor/access-grants/{urllib.parse.quote(grant['grant'], safe='')}", expect=404, label="another vendor checks the grant")
    vendor_a.call("GET", "/v1/vendor/access-grants/garbage", expect=404, label="check a made-up grant")
    c.request("GET", f"/v1/me/wallets?minSequence={head_seq}", headers=ux, expect=200)
    c.request("GET", "/v1/me/history/USD?limit=2", headers=ux, expect=200)
    _, page, _, _ = c.request("GET", f"/v1/me/history/USD?limit=1&minSequence={head_seq}", headers=ux, expect=200)
    if isinstance(page, dict) and page.get("data", {}).get("nextBefore") is not None:
        c.request("GET", f"/v1/me/history/USD?limit=1&before={page['data']['nextBefore']}", headers=ux, expect=200, label="history, second page")
    c.request("GET", "/v1/me/history/USD?limit=0", headers=ux, expect=400, label="history with limit 0")
    c.request("GET", "/v1/me/history/XXX", headers=ux, expect=400, label="history in an unknown currency")
    c.request("GET", "/v1/me/balances/USD", headers=ux, expect=200)
    c.request("GET", f"/v1/me/balances/USD?atSequence={max(head_seq - 1, 0)}&minSequence={head_seq}", headers=ux, expect=200, label="balance at a past sequence")
    c.request("GET", f"/v1/me/balances/USD?atTime={int(time.time() * 1000) - 1000}", headers=ux, expect=200, label="balance at a past time")
    c.request("GET", "/v1/me/balances/USD?atTime=1&atSequence=1", headers=ux, expect=400, label="balance at both a time and a sequence")
    c.request("GET", "/v1/me/balances/USD?atSequence=99999999999", headers=ux, expect=400, label="balance at a sequence beyond the read models")

    # Limits, members, transfers.
    limit = {"kind": "perTransaction", "currency": "USD", "amount": 100000}
    c.request("POST", "/v1/me/limits", limit, headers=ux, expect=201)
    c.request("POST", "/v1/me/limits", dict(limit, kind="perYear"), headers=ux, expect=400, label="limit of an unknown kind")
    c.request("POST", "/v1/me/limits/remove", limit, headers=ux, expect=200)
    member_login = "m-" + run
    _, member, _, _ = c.request("POST", "/v1/me/members", {"login": member_login, "password": password}, headers=ux, expect=201)
    c.request("POST", "/v1/me/members", {"login": member_login, "password": password}, headers=ux, expect=409, label="member with a taken login")
    _, ms, _, _ = c.request("POST", "/v1/login", {"login": member_login, "password": password}, expect=200, label="member login")
    if isinstance(ms, dict) and isinstance(member, dict):
        um = bearer(ms["session"])
        c.request("GET", "/v1/me", headers=um, expect=200, label="GET /v1/me as a member")
        c.request("POST", "/v1/me/wallets", {"currency": "EUR"}, headers=um, expect=403, label="a member opens a wallet")
        c.request("DELETE", f"/v1/me/members/{member['member']}", headers=um, expect=403, label="a member removes a member")
        c.request("DELETE", f"/v1/me/members/{member['member']}", headers=ux, expect=200)
        c.request("DELETE", f"/v1/me/members/{member['member']}", headers=ux, expect=422, label="remove the member again")
    c.request("POST", "/v1/me/transfers", {"toLogin": y_login, "currency": "USD", "amount": 100}, headers=ux, expect=201)
    # A retried transfer with its Idempotency-Key is the first answer, byte for byte; another body with it is 422.
    keyed = dict(ux, **{"Idempotency-Key": "transfer-" + run})
    _, _, _, first_transfer = c.request("POST", "/v1/me/transfers", {"toLogin": y_login, "currency": "USD", "amount": 7}, headers=keyed, expect=201, label="keyed transfer")
    _, _, retry_headers, retried_transfer = c.request("POST", "/v1/me/transfers", {"toLogin": y_login, "currency": "USD", "amount": 7}, headers=keyed, expect=201, label="keyed transfer again")
    if retried_transfer != first_transfer or retry_headers.get("idempotent-replayed") != "true":
        c.fail("a retried keyed transfer is not the first answer byte for byte")
    c.request("POST", "/v1/me/transfers", {"toLogin": y_login, "currency": "USD", "amount": 8}, headers=keyed, expect=422, label="keyed transfer, another body")
    c.request("POST", "/v1/me/transfers", {"toLogin": y_login, "currency": "USD", "amount": 8}, headers=dict(ux, **{"Idempotency-Key": "bad key"}), expect=400, label="transfer with an invalid key")
    c.request("POST", "/v1/me/transfers", {"toLogin": "nobody-" + run, "currency": "USD", "amount": 100}, headers=ux, expect=422, label="transfer to an unknown login")
    c.request("POST", "/v1/me/transfers", {"toLogin": y_login, "currency": "USD", "amount": 10**12}, headers=ux, expect=422, label="transfer beyond the funds")

    # Disputes.
    _, dispute, _, _ = c.request("POST", "/v1/me/disputes", {"transaction": tx, "reason": "not as described"}, headers=ux, expect=201)
    c.request("POST", "/v1/me/disputes", {"transaction": tx, "reason": "again"}, headers=ux, expect={409, 422}, label="dispute twice")
    c.request("POST", "/v1/me/disputes", {"transaction": "t_nosuch", "reason": "?"}, headers=ux, expect=404, label="dispute an unknown transaction")
    if isinstance(dispute, dict) and dispute.get("status") == "open":
        _, queue, _, _ = c.request("GET", f"/v1/admin/disputes?minSequence={dispute['sequence']}", headers=admin, expect=200, label="open disputes queue")
        if isinstance(queue, dict) and dispute["dispute"] not in [d["dispute"] for d in queue["data"]["disputes"]]:
            c.fail("an open dispute is missing from the queue")
        c.request("GET", f"/v1/admin/disputes/{dispute['dispute']}", headers=admin, expect=200)
        c.request("GET", f"/v1/me/disputes?minSequence={dispute['sequence']}", headers=ux, expect=200, label="own disputes")
        c.request("GET", f"/v1/admin/users/{x['user']}/disputes", headers=admin, expect=200, label="a user's disputes")
        vendor_a.call("GET", f"/v1/vendor/disputes?minSequence={dispute['sequence']}", expect=200, label="a vendor's disputes")
        c.request("POST", f"/v1/admin/disputes/{dispute['dispute']}/resolve", {"refund": True, "representative": "rep-1"}, headers=admin, expect=200)
        c.request("POST", f"/v1/admin/disputes/{dispute['dispute']}/resolve", {"refund": False, "representative": "rep-1"}, headers=admin, expect=422, label="resolve twice")
    c.request("POST", "/v1/admin/disputes/d_nosuch/resolve", {"refund": True, "representative": "rep-1"}, headers=admin, expect=404, label="resolve an unknown dispute")
    c.request("GET", "/v1/admin/disputes/d_nosuch", headers=admin, expect=404, label="an unknown dispute")
    c.request("GET", "/v1/admin/funds/f_nosuch", headers=admin, expect=404, label="an unknown funding")

    # Customer service.
    c.request("POST", "/v1/admin/accounts", {"login": "cs-" + run, "password": password, "name": "By Phone", "email": "p@example.com", "representative": "rep-1"}, headers=admin, expect=201)
    c.request("POST", "/v1/admin/accounts", {"login": "cs-" + run, "password": password, "name": "By Phone", "email": "p@example.com", "representative": "rep-1"}, headers=admin, expect=409, label="account with a taken login")
    c.request("GET", "/v1/admin/accounts?login=cs-" + run, headers=admin, expect=200, label="account of a login")
    c.request("GET", "/v1/admin/accounts?login=nobody-" + run, headers=admin, expect=404, label="account of an unknown login")
    c.request("GET", "/v1/admin/accounts", headers=admin, expect=400, label="account of no login")
    c.request("GET", "/v1/admin/people?email=P%40EXAMPLE.com", headers=admin, expect=200, label="accounts of an e-mail address")
    c.request("GET", "/v1/admin/people?email=nobody-" + run + "%40example.com", headers=admin, expect=404, label="accounts of an unknown address")
    c.request("GET", "/v1/admin/people", headers=admin, expect=400, label="accounts of no address")
    c.request("PATCH", "/v1/me", {"email": "x-" + run + "@example.org"}, headers=ux, expect=200, label="change own e-mail")
    c.request("PATCH", "/v1/me", {}, headers=ux, expect=400, label="change nothing")
    c.request("PATCH", f"/v1/admin/users/{x['user']}", {"name": "Renamed by service"}, headers=admin, expect=200, label="a caller's name changed by customer service")
    c.request("PATCH", "/v1/admin/users/u_nosuch", {"name": "Nobody"}, headers=admin, expect=404, label="details of an unknown user")
    c.request("GET", "/v1/admin/people?email=x-" + run + "%40example.org", headers=admin, expect=200, label="accounts of the new address")
    c.request("POST", "/v1/admin/credit-lines", {"user": x["user"], "currency": "USD", "limit": 5000}, headers=admin, expect=201)
    c.request("POST", "/v1/admin/credit-lines", {"user": x["user"], "currency": "USD", "limit": -1}, headers=admin, expect=422, label="negative credit line")
    c.request("POST", "/v1/admin/funds", {"user": x["user"], "currency": "USD", "amount": 300, "method": "providerIssue"}, headers=admin, expect=201)
    c.request("POST", "/v1/admin/funds", {"user": x["user"], "currency": "USD", "amount": 300, "method": "phone", "throughVendor": vendor_a.vendor}, headers=admin, expect=201, label="funds by phone through a vendor")
    # Paying tokens back: the wallet's own balance only, never by providerIssue, a payout ID once.
    payout_id = "pb-" + run
    _, paid, _, _ = c.request("POST", "/v1/admin/payouts", {"payout": payout_id, "user": x["user"], "currency": "USD", "amount": 120,
                                                           "method": "bankDebit", "representative": "rep-1"}, headers=admin, expect=201)
    c.request("POST", "/v1/admin/payouts", {"payout": payout_id, "user": x["user"], "currency": "USD", "amount": 120,
                                            "method": "bankDebit", "representative": "rep-1"}, headers=admin, expect=409, label="the same payout again")
    keyed_admin = dict(admin, **{"Idempotency-Key": "payout-" + run})
    for attempt in ("keyed payout", "keyed payout again"):
        c.request("POST", "/v1/admin/payouts", {"user": x["user"], "currency": "USD", "amount": 3, "method": "card", "representative": "rep-1"},
                  headers=keyed_admin, expect=201, label=attempt)
    for path, body in (("/v1/admin/funds", {"user": x["user"], "currency": "USD", "amount": 5, "method": "phone"}),
                       ("/v1/admin/incentives", {"user": x["user"], "currency": "USD", "amount": 5})):
        headers = dict(admin, **{"Idempotency-Key": path.rsplit("/", 1)[1] + "-" + run})
        c.request("POST", path, body, headers=headers, expect=201, label="keyed " + path)
        c.request("POST", path, body, headers=headers, expect=201, label="keyed " + path + " again")
    c.request("POST", "/v1/me/funds", {"currency": "USD", "amount": 5, "method": "card"}, headers=dict(ux, **{"Idempotency-Key": "funds-" + run}), expect=201, label="keyed funds")
    c.request("POST", "/v1/admin/payouts", {"user": x["user"], "currency": "USD", "amount": 10**15, "method": "card",
                                            "representative": "rep-1"}, headers=admin, expect=422, label="pay back more than the wallet holds")
    c.request("POST", "/v1/admin/payouts", {"user": x["user"], "currency": "USD", "amount": 1, "method": "providerIssue",
                                            "representative": "rep-1"}, headers=admin, expect=422, label="pay back by providerIssue")
    c.request("POST", "/v1/admin/payouts", {"user": x["user"], "currency": "USD", "amount": 1, "method": "card"}, headers=admin, expect=400,
              label="pay back without a representative")
    c.request("POST", "/v1/admin/payouts", {"user": "u_nosuch", "currency": "USD", "amount": 1, "method": "card",
                                            "representative": "rep-1"}, headers=admin, expect=422, label="pay back an unknown user")
    if isinstance(paid, dict):
        c.request("GET", f"/v1/admin/payouts/{payout_id}?minSequence={paid['sequence']}", headers=admin, expect=200)
        c.request("GET", f"/v1/admin/users/{x['user']}/payouts?minSequence={paid['sequence']}", headers=admin, expect=200, label="a user's payouts")
        c.request("GET", f"/v1/me/payouts?minSequence={paid['sequence']}&limit=5", headers=ux, expect=200, label="own payouts")
    c.request("GET", "/v1/admin/payouts/p_nosuch", headers=admin, expect=404, label="an unknown payout")
    c.request("GET", "/v1/admin/users/u_nosuch/payouts", headers=admin, expect=404, label="payouts of an unknown user")
    # Payouts the user asks for: set aside, queued, paid or declined once.
    ask = {"currency": "USD", "amount": 40, "method": "bankDebit"}
    akey = dict(ux, **{"Idempotency-Key": "ask-" + run})
    _, asked, _, a_first = c.request("POST", "/v1/me/payout-requests", ask, headers=akey, expect=201)
    _, _, _, a_again = c.request("POST", "/v1/me/payout-requests", ask, headers=akey, expect=201, label="payout request retried")
    if a_first != a_again:
        c.fail(f"payout request retry answered differently: {a_first!r} vs {a_again!r}")
    c.request("POST", "/v1/me/payout-requests", dict(ask, amount=10**15), headers=ux, expect=422, label="payout request beyond the wallet")
    c.request("POST", "/v1/me/payout-requests", dict(ask, method="providerIssue"), headers=ux, expect=422, label="payout request by providerIssue")
    c.request("POST", "/v1/me/payout-requests", dict(ask, payout="mine"), headers=ux, expect=400, label="payout request with an unknown field")
    c.request("POST", "/v1/me/payout-requests", ask, expect=401, label="payout request without a session")
    _, asked2, _, _ = c.request("POST", "/v1/me/payout-requests", dict(ask, amount=5, method="card"), headers=ux, expect=201, label="a second payout request")
    if isinstance(asked, dict) and isinstance(asked2, dict):
        c.request("GET", f"/v1/admin/payout-requests?minSequence={asked2['sequence']}", headers=admin, expect=200)
        c.request("GET", "/v1/admin/payout-requests?limit=1", headers=admin, expect=200, label="payout request queue, first page")
        c.request("GET", f"/v1/admin/payout-requests/{asked['payout']}?minSequence={asked2['sequence']}", headers=admin, expect=200)
        c.request("POST", f"/v1/admin/payout-requests/{asked['payout']}/pay", {"representative": "rep-1", "reason": "x"}, headers=admin, expect=400,
                  label="pay a payout request with a reason")
        c.request("POST", f"/v1/admin/payout-requests/{asked['payout']}/pay", {"representative": "rep-1"}, headers=admin, expect=200)
        c.request("POST", f"/v1/admin/payout-requests/{asked['payout']}/pay", {"representative": "rep-1"}, headers=admin, expect=422,
                  label="pay a payout request twice")
        c.request("POST", f"/v1/admin/payout-requests/{asked2['payout']}/decline", {"representative": "rep-1"}, headers=admin, expect=422,
                  label="decline a payout request without a reason")
        _, declined, _, _ = c.request("POST", f"/v1/admin/payout-requests/{asked2['payout']}/decline", {"representative": "rep-1", "reason": "card closed"},
                                      headers=admin, expect=200)
        if isinstance(declined, dict):
            c.request("GET", f"/v1/me/payout-requests?minSequence={declined['sequence']}&limit=5", headers=ux, expect=200, label="own payout requests")
            c.request("GET", f"/v1/admin/users/{x['user']}/payout-requests?minSequence={declined['sequence']}", headers=admin, expect=200,
                      label="a user's payout requests")
    c.request("GET", "/v1/admin/payout-requests/p_nosuch", headers=admin, expect=404, label="an unknown payout request")
    c.request("POST", "/v1/admin/payout-requests/p_nosuch/decline", {"representative": "rep-1", "reason": "no"}, headers=admin, expect=404,
              label="decline an unknown payout request")
    c.request("GET", "/v1/admin/users/u_nosuch/payout-requests", headers=admin, expect=404, label="payout requests of an unknown user")
    _, lot, _, _ = c.request("POST", "/v1/admin/incentives", {"user": x["user"], "currency": "USD", "amount": 75, "vendors": [vendor_a.vendor],
                                                               "expiresAtMilliseconds": int(time.time() * 1000) + 3600000}, headers=admin, expect=201)
    if isinstance(lot, dict):
        c.request("POST", f"/v1/admin/incentives/{lot['lot']}/expire", headers=admin, expect=422, label="expire a lot before its time")
    c.request("POST", "/v1/admin/incentives/lot_nosuch/expire", headers=admin, expect=404, label="expire an unknown lot")
    c.request("POST", "/v1/admin/settlements", {"vendor": vendor_a.vendor, "currency": "USD"}, headers=admin, expect=201)
    c.request("POST", "/v1/admin/settlements", {"vendor": vendor_a.vendor, "currency": "USD"}, headers=admin, expect=422, label="settle with nothing to settle")
    c.request("GET", f"/v1/admin/users/{x['user']}/wallets", headers=admin, expect=200)
    c.request("GET", "/v1/admin/users/u_nosuch/wallets", headers=admin, expect=404, label="wallets of an unknown user")
    c.request("GET", f"/v1/admin/users/{x['user']}/purchases?minSequence=1", headers=admin, expect=200)
    c.request("GET", f"/v1/admin/holders/author-{run}/royalties", headers=admin, expect=200)
    c.request("GET", "/v1/admin/holders/nobody/royalties", headers=admin, expect=404, label="royalties of an unknown holder")
    # The holder's royalties paid out: once, byte for byte on a keyed retry; then nothing is left.
    royalty_path = f"/v1/admin/holders/author-{run}/payouts"
    royalty_body = {"currency": "USD", "representative": "rep-oa", "payout": "roy-" + run}
    _, _, _, h_first = c.request("POST", royalty_path, royalty_body, headers=dict(admin, **{"Idempotency-Key": "roy-" + run}), expect=201)
    _, _, _, h_again = c.request("POST", royalty_path, royalty_body, headers=dict(admin, **{"Idempotency-Key": "roy-" + run}), expect=201,
                                 label="royalty payout retried")
    if h_first != h_again:
        c.fail(f"royalty payout retry answered differently: {h_first!r} vs {h_again!r}")
    c.request("POST", royalty_path, {"currency": "USD", "representative": "rep-oa"}, headers=admin, expect=422, label="royalty payout with nothing left")
    c.request("POST", royalty_path, {"currency": "USD", "representative": "rep-oa", "payout": "roy-" + run}, headers=admin, expect=409,
              label="royalty payout ID used twice")
    c.request("POST", royalty_path, {"representative": "rep-oa"}, headers=admin, expect=400, label="royalty payout without a currency")
    c.request("GET", royalty_path, headers=admin, expect=200)
    c.request("GET", "/v1/admin/holders/nobody/payouts", headers=admin, expect=404, label="royalty payouts of an unknown holder")
    # The holder reads its own statement and payouts with a read key; revoked, it reads nothing.
    _, hkey, _, _ = c.request("POST", f"/v1/admin/holders/author-{run}/keys", headers=admin, expect=201)
    c.request("POST", "/v1/admin/holders/not%20an%20id/keys", headers=admin, expect=400, label="read key for a malformed holder ID")
    c.request("POST", f"/v1/admin/holders/author-{run}/keys", {"expiresInDays": 30}, headers=admin, expect=201, label="read key for 30 days")
    c.request("POST", f"/v1/admin/holders/author-{run}/keys", {"expiresInDays": 0}, headers=admin, expect=400, label="read key for no days")
    c.request("GET", f"/v1/admin/holders/author-{run}/keys", headers=admin, expect=200)
    c.request("DELETE", f"/v1/admin/holders/author-{run}/keys/hkid_nosuch", headers=admin, expect=404, label="revoke an unknown read key")
    if isinstance(hkey, dict) and "token" in hkey:
        hx = bearer(hkey["token"])
        c.request("GET", "/v1/holder/royalties?limit=2", headers=hx, expect=200)
        c.request("GET", "/v1/holder/payouts", headers=hx, expect=200)
        c.request("GET", "/v1/holder/royalties?limit=0", headers=hx, expect=400, label="own statement with limit 0")
        c.request("GET", "/v1/holder/royalties", headers=admin, expect=403, label="own statement with the admin key")
        c.request("GET", f"/v1/admin/holders/author-{run}/royalties", headers=hx, expect=403, label="admin statement with a read key")
        c.request("DELETE", f"/v1/admin/holders/author-{run}/keys/{hkey['keyId']}", headers=admin, expect=200)
        c.request("GET", "/v1/holder/payouts", headers=hx, expect=401, label="payouts with a revoked read key")
    c.request("GET", "/v1/holder/royalties", expect=401, label="own statement without a key")
    c.request("GET", f"/v1/admin/vendors/{vendor_a.vendor}/settlement", headers=admin, expect=200)
    c.request("GET", "/v1/admin/vendors/v_nosuch/settlement", headers=admin, expect=404, label="settlement of an unknown vendor")
    c.request("GET", f"/v1/admin/users/{x['user']}/wallets", headers=ux, expect=403, label="admin read with a user session")

    # The vendor's own reads.
    vendor_a.call("GET", "/v1/vendor/settlement", expect=200)
    vendor_a.call("GET", f"/v1/vendor/settlement?minSequence={head_seq}", expect=200, label="vendor settlement at the head")
    vendor_a.call("GET", "/v1/vendor/history", expect=200)
    vendor_a.call("GET", "/v1/vendor/history?limit=2", expect=200, label="vendor history, limit 2")
    vendor_a.call("GET", "/v1/vendor/history?limit=501", expect=400, label="vendor history, limit 501")

    # Auditors.
    if auditor:
        c.request("GET", "/v1/audit/events?from=1&limit=5", headers=auditor, expect=200)
        c.request("GET", "/v1/audit/events?limit=0", headers=auditor, expect=400, label="audit events with limit 0")
        c.request("GET", "/v1/audit/blocks/1", headers=auditor, expect=200)
        c.request("GET", "/v1/audit/blocks/0", headers=auditor, expect=400, label="audit block 0")
        c.request("GET", "/v1/audit/keys", headers=auditor, expect=200)
        c.request("GET", "/v1/audit/receipts/1", headers=auditor, expect=200)
        c.request("GET", "/v1/audit/receipts/99999999999", headers=auditor, expect=404, label="receipt beyond the head")
        c.request("GET", "/v1/audit/feed?from=1&limit=3", headers=auditor, expect=200)
        c.request("GET", "/v1/audit/feed?from=0&limit=3", headers=auditor, expect=400, label="audit feed from 0")
    c.request("GET", "/v1/audit/keys", headers=admin, expect=403, label="audit keys with the admin key")
    c.request("GET", "/v1/audit/keys", expect=401, label="audit keys anonymous")
    status, text, _, _ = vendor_a.call("GET", "/v1/vendor/feed?from=1&limit=2", expect=200)
    if status == 200 and isinstance(text, str) and (x["user"] in text or text.count("\nevent: ") + text.startswith("event: ") < 1):
        c.fail(f"vendor feed: expected the vendor's events without user IDs: {text[:300]!r}")
    vendor_a.call("GET", "/v1/vendor/feed?limit=x", expect=400, label="vendor feed with a malformed limit")

    # Operations.
    c.request("POST", "/v1/admin/journal/rotate-key", headers=admin, expect=201)
    c.request("POST", "/v1/admin/projections/rebuild", headers=admin, expect={202, 409})
    c.request("POST", "/v1/admin/projections/rebuild", headers=auditor or ux, expect=403, label="rebuild with another key")
    c.request("POST", "/v1/logout", headers=uy, expect=204)
    c.request("GET", "/v1/me", headers=uy, expect=401, label="GET /v1/me after logout")
    c.request("POST", "/v1/logout", expect=401, label="logout anonymous")


def main():
    if len(sys.argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 2
    base_url, admin_key = sys.argv[1], sys.argv[2]
    auditor_key = sys.argv[3] if len(sys.argv) == 4 else os.environ.get("TALLY_AUDITOR_KEY")
    with open(SPEC_PATH) as handle:
        spec = yaml.safe_load(handle)
    jsonschema.Draft202012Validator.check_schema({"components": spec["components"]})
    checker = Checker(base_url, spec)
    started = time.time()
    scenario(checker, admin_key, auditor_key)
    missing = sorted(set(checker.operations) - checker.exercised)
    for method, template in missing:
        checker.fail(f"{method} {template}: declared in the spec but not exercised by the scenario")
    print(f"check-openapi: {checker.calls} requests, {len(checker.exercised)} of {len(checker.operations)} operations, "
          f"{len(checker.failures)} failures, {time.time() - started:.1f} s")
    return 1 if checker.failures else 0


if __name__ == "__main__":
    sys.exit(main())
