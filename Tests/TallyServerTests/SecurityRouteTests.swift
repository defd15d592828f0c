import Foundation
import Hummingbird
import Journal
import TallyCrypto
import Ledger
import Testing
@testable import TallyServer

@Suite("Authentication, signatures, tokens and idempotency over HTTP")
struct SecurityRouteTests {
    @Test("forged, tampered, stale, replayed and unsigned vendor requests are refused and append nothing")
    func vendorSignatures() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let vendor = try await client.registerVendor()
            let user = try await client.fundedUser("frank")
            let token = try await client.purchaseToken(user)
            let body = client.json(["purchaseToken": token, "inline": APIHarness.Client.inlineContent(price: 10)])
            let uri = "/v1/vendor/purchases"
            let head = harness.api.journal.head

            let unsigned = try await client.send(.post, uri, headers: [.idempotencyKey: "k1"], body: body)
            #expect(unsigned.status == .unauthorized)
            #expect(unsigned.problemType == "signature-missing")

            let forger = APIHarness.Vendor(id: vendor.id, keyID: vendor.keyID, secret: SecureRandom.bytes(32))
            let forged = try await client.send(.post, uri, headers: client.signedHeaders(forger, .post, uri, body: body, idempotencyKey: "k1"), body: body)
            #expect(forged.status == .unauthorized)
            #expect(forged.problemType == "signature-invalid")

            var tamperedBody = body
            tamperedBody[tamperedBody.count - 3] ^= 1
            let tampered = try await client.send(.post, uri, headers: client.signedHeaders(vendor, .post, uri, body: body, idempotencyKey: "k1"), body: tamperedBody)
            #expect(tampered.status == .unauthorized)

            let otherKey = try await client.send(.post, uri, headers: client.signedHeaders(vendor, .post, uri, body: body, idempotencyKey: "k2"), body: body.isEmpty ? nil : body)
            #expect(otherKey.status == .created, "signed for k2 and sent with k2: accepted")
            var switched = client.signedHeaders(vendor, .post, uri, body: body, idempotencyKey: "k3")
            switched[.idempotencyKey] = "k4"
            let keySwap = try await client.send(.post, uri, headers: switched, body: body)
            #expect(keySwap.status == .unauthorized, "the idempotency key is signed")

            let stale = try await client.send(
                .post, uri, headers: client.signedHeaders(vendor, .post, uri, body: body, idempotencyKey: "k5", timestamp: harness.clock.now() / 1000 - 301), body: body)
            #expect(stale.status == .unauthorized)
            #expect(stale.problemType == "signature-stale")
            // Far from now in either direction, signed or not: stale, never an overflow. A sign
            // or a number beyond Int64 is not Unix seconds.
            for (timestamp, rule) in [("0", "signature-stale"), ("9223372036854775807", "signature-stale"),
                                      ("-9223372036854775808", "signature-invalid"), ("-1", "signature-invalid"),
                                      ("+\(harness.clock.now() / 1000)", "signature-invalid"), ("99999999999999999999", "signature-invalid"),
                                      ("", "signature-invalid")] {
                var far = client.signedHeaders(vendor, .post, uri, body: body, idempotencyKey: "k5")
                far[.tallyTimestamp] = timestamp
                let reply = try await client.send(.post, uri, headers: far, body: body)
                #expect(reply.status == .unauthorized, "\(timestamp)")
                #expect(reply.problemType == rule, "\(timestamp)")
                #expect(reply.json["field"] as? String == "Tally-Timestamp", "\(timestamp)")
            }

            let headers = client.signedHeaders(vendor, .post, uri, body: body, idempotencyKey: "k6", nonce: "fixed-nonce-0123456789")
            let first = try await client.send(.post, uri, headers: headers, body: body)
            #expect(first.status == .created)
            let replayed = try await client.send(.post, uri, headers: headers, body: body)
            #expect(replayed.status == .unauthorized)
            #expect(replayed.problemType == "signature-replayed")

            #expect(harness.api.journal.head == head + 2, "only the two properly signed purchases were appended")
        }
    }

    @Test("a purchase token of a session the user logged out of buys nothing; one of another live session still does")
    func tokenAfterLogout() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let vendor = try await client.registerVendor()
            let first = try await client.fundedUser("walt", amount: 1_000)
            let firstToken = try await client.purchaseToken(first)
            harness.clock.advance(milliseconds: 5)
            let second = try await client.loginAs("walt")
            let secondToken = try await client.purchaseToken(second)
            let logout = try await client.user(first, .post, "/v1/logout")
            #expect(logout.status == .noContent, "\(logout.text)")
            let head = harness.api.journal.head
            let refused = try await client.vendor(vendor, .post, "/v1/vendor/purchases", [
                "purchaseToken": firstToken, "inline": APIHarness.Client.inlineContent(price: 10),
            ])
            #expect(refused.status == .forbidden)
            #expect(refused.problemType == "purchase-token-revoked")
            #expect(refused.json["field"] as? String == "purchaseToken")
            #expect(harness.api.journal.head == head, "nothing appended")
            let bought = try await client.vendor(vendor, .post, "/v1/vendor/purchases", [
                "purchaseToken": secondToken, "inline": APIHarness.Client.inlineContent(price: 10),
            ])
            #expect(bought.status == .created, "\(bought.text)")
            // Pruning keeps the logout record while the ended session could still have run...
            let credentials = harness.api.credentials
            #expect(try credentials.prune(now: harness.clock.now()) == (0, 0))
            let still = try await client.vendor(vendor, .post, "/v1/vendor/purchases", [
                "purchaseToken": firstToken, "inline": APIHarness.Client.inlineContent(price: 10),
            ])
            #expect(still.problemType == "purchase-token-revoked")
            // ...and removes it, with the sessions nobody presented again, once they have expired.
            let later = harness.clock.now() + harness.api.settings.sessionMilliseconds
            let pruned = try credentials.prune(now: later)
            #expect(pruned.ended == 1, "the one logout")
            #expect(pruned.sessions >= 1, "at least the second login's session")
            #expect(try credentials.session(token: second.session, now: harness.clock.now()) == nil)
            #expect(try credentials.prune(now: later) == (0, 0))
        }
    }

    @Test("expired, altered, outside-the-window and revoked-member purchase tokens are refused")
    func purchaseTokens() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let vendor = try await client.registerVendor()
            let user = try await client.fundedUser("grace")
            let token = try await client.purchaseToken(user)
            func buy(_ token: String) async throws -> APIHarness.Reply {
                try await client.vendor(vendor, .post, "/v1/vendor/purchases", ["purchaseToken": token, "inline": APIHarness.Client.inlineContent(price: 1)])
            }
            var bytes = Array(token.utf8)
            bytes[bytes.count - 5] = bytes[bytes.count - 5] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
            let altered = try await buy(String(decoding: bytes, as: UTF8.self))
            #expect(altered.status == .forbidden)
            #expect(altered.problemType == "purchase-token-invalid")

            // A member of grace's account; once removed, their token no longer buys anything.
            let member = try await client.user(user, .post, "/v1/me/members", ["login": "grace-kid", "password": "another long password"])
            #expect(member.status == .created, "\(member.text)")
            let kid = try await client.loginAs("grace-kid", password: "another long password")
            let kidToken = try await client.purchaseToken(kid)
            #expect(try await buy(kidToken).status == .created)
            let removed = try await client.user(user, .delete, "/v1/me/members/\(member.json["member"] as! String)")
            #expect(removed.status == .ok, "\(removed.text)")
            // Refused before the ledger: the removal ended the member's sessions, tokens included.
            let revoked = try await buy(kidToken)
            #expect(revoked.status == .forbidden && revoked.problemType == "purchase-token-revoked", "\(revoked.text)")
            let kidSession = try await client.user(kid, .get, "/v1/me")
            #expect(kidSession.status == .unauthorized, "a removed member's sessions end")

            // Past the purchase window (30 minutes after login) the token is refused, and no new one is issued.
            harness.clock.advance(milliseconds: 31 * 60_000)
            let expired = try await buy(token)
            #expect(expired.status == .forbidden)
            #expect(expired.problemType == "purchase-token-expired")
            let fresh = try await client.user(user, .post, "/v1/me/purchase-token")
            #expect(fresh.status == .forbidden)
            #expect(fresh.problemType == "purchase-window-closed")
            // After the key has rotated away the token is unreadable altogether.
            harness.clock.advance(milliseconds: 3 * 3_600_000)
            #expect(try await buy(token).status == .forbidden)
        }
    }

    @Test("ten failed logins for a name from a client lock it there for 15 minutes, even for the right password; other names are unaffected")
    func loginThrottle() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            _ = try await client.fundedUser("nina", amount: 0)
            _ = try await client.fundedUser("omar", amount: 0)
            for _ in 0..<10 {
                let wrong = try await client.send(.post, "/v1/login", body: client.json(["login": "nina", "password": "not her password"]))
                #expect(wrong.status == .unauthorized)
            }
            let locked = try await client.send(.post, "/v1/login", body: client.json(["login": "NINA", "password": "correct horse battery"]))
            #expect(locked.status == .tooManyRequests)
            #expect(locked.problemType == "login-throttled")
            #expect(locked.headers[.retryAfter] != nil)
            #expect((locked.json["detail"] as? String)?.hasSuffix("from this client") == true, "\(locked.text)")
            _ = try await client.loginAs("omar")
            harness.clock.advance(milliseconds: 15 * 60_000)
            _ = try await client.loginAs("nina")
        }
    }

    @Test("a vendor's refusals never name the customer's user ID, member ID or balance: the rule, and a limit's headroom")
    func vendorRefusalsArePseudonymous() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let vendor = try await client.registerVendor()
            let user = try await client.fundedUser("vera", amount: 1_000)
            let token = try await client.purchaseToken(user)
            func expectPrivate(_ reply: APIHarness.Reply, _ rule: String, headroom: Int? = nil) {
                #expect(reply.problemType == rule, "\(reply.text)")
                #expect(!reply.text.contains(user.id), "the user's ID leaked: \(reply.text)")
                #expect(!reply.text.contains("1000"), "the balance leaked: \(reply.text)")
                #expect(reply.json["headroom"] as? Int == headroom, "\(reply.text)")
            }
            let tooDear = try await client.vendor(vendor, .post, "/v1/vendor/purchases", [
                "purchaseToken": token, "inline": APIHarness.Client.inlineContent(price: 5_000),
            ])
            expectPrivate(tooDear, "ledger/insufficient-funds")
            let limit = try await client.user(user, .post, "/v1/me/limits", ["kind": "perTransaction", "currency": "USD", "amount": 300])
            #expect(limit.status == .created, "\(limit.text)")
            let overLimit = try await client.vendor(vendor, .post, "/v1/vendor/purchases", [
                "purchaseToken": token, "inline": APIHarness.Client.inlineContent("a2", price: 400),
            ])
            expectPrivate(overLimit, "ledger/exceeds-per-transaction-limit", headroom: 300)
            let bought = try await client.vendor(vendor, .post, "/v1/vendor/purchases", [
                "purchaseToken": token, "inline": APIHarness.Client.inlineContent("a3", price: 100),
            ])
            let customer = try #require(bought.json["customer"] as? String)
            let euros = try await client.vendor(vendor, .post, "/v1/vendor/incentives", ["customer": customer, "currency": "EUR", "amount": 10])
            expectPrivate(euros, "ledger/wallet-not-open")
            // The batch route's items say as little.
            let batch = try await client.vendor(vendor, .post, "/v1/vendor/purchases/batch", ["purchases": [[
                "idempotencyKey": "b1", "purchaseToken": token, "inline": APIHarness.Client.inlineContent("a4", price: 5_000),
            ]]])
            #expect(!batch.text.contains(user.id), "\(batch.text)")
            #expect(batch.text.contains("exceeds-per-transaction-limit"), "\(batch.text)")
            // The user is told everything about their own account.
            let own = try await client.user(user, .post, "/v1/me/transfers", ["to": "nobody-here", "currency": "USD", "amount": 1])
            #expect(own.status != .internalServerError)
        }
    }

    @Test("one purchase token redeemed concurrently: funds for one purchase, exactly one succeeds")
    func concurrentRedemption() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let vendor = try await client.registerVendor()
            let user = try await client.fundedUser("heidi", amount: 100)
            let token = try await client.purchaseToken(user)
            let head = harness.api.journal.head
            let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for index in 0..<16 {
                    group.addTask {
                        try await client.vendor(vendor, .post, "/v1/vendor/purchases", [
                            "purchaseToken": token, "inline": APIHarness.Client.inlineContent("c\(index)", price: 100),
                        ]).status
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == .created }.count == 1)
            #expect(statuses.filter { $0 == .unprocessableContent }.count == 15)
            #expect(harness.api.journal.head == head + 1)
        }
    }

    @Test("a user's and customer service's money-moving writes take an Idempotency-Key: a retry is the first answer byte for byte and moves nothing; another body is 422; in flight is 409")
    func idempotencyOfUsersAndService() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let ursula = try await client.fundedUser("ursula", amount: 1_000)
            _ = try await client.fundedUser("victor", amount: 0)
            func keyed(_ token: String, _ key: String) -> HTTPFields {
                var headers = client.bearer(token)
                headers[.idempotencyKey] = key
                return headers
            }
            // (who, path, body, another body) for each write that takes a key.
            let writes: [(String, String, [String: Any], [String: Any])] = [
                (ursula.session, "/v1/me/funds", ["currency": "USD", "amount": 300, "method": "card"],
                 ["currency": "USD", "amount": 301, "method": "card"]),
                (ursula.session, "/v1/me/transfers", ["toLogin": "victor", "currency": "USD", "amount": 200],
                 ["toLogin": "victor", "currency": "USD", "amount": 201]),
                (APIHarness.adminKey, "/v1/admin/funds", ["user": ursula.id, "currency": "USD", "amount": 50, "method": "phone"],
                 ["user": ursula.id, "currency": "USD", "amount": 50, "method": "check"]),
                (APIHarness.adminKey, "/v1/admin/payouts", ["user": ursula.id, "currency": "USD", "amount": 100, "method": "card", "representative": "rep-1"],
                 ["user": ursula.id, "currency": "USD", "amount": 100, "method": "card", "representative": "rep-2"]),
                (APIHarness.adminKey, "/v1/admin/incentives", ["user": ursula.id, "currency": "USD", "amount": 20],
                 ["user": ursula.id, "currency": "USD", "amount": 21]),
            ]
            for (index, (token, path, body, other)) in writes.enumerated() {
                // Keys are unique within a scope (the account's, customer service's): one each.
                let key = "retry-\(index)"
                let first = try await client.send(.post, path, headers: keyed(token, key), body: client.json(body))
                #expect(first.status == .created, "\(path): \(first.text)")
                #expect(first.headers[.idempotentReplay] == nil)
                let head = harness.api.journal.head
                let retry = try await client.send(.post, path, headers: keyed(token, key), body: client.json(body))
                #expect(retry.status == .created && retry.bytes == first.bytes, "\(path): \(retry.text)")
                #expect(retry.headers[.idempotentReplay] == "true", "\(path)")
                let different = try await client.send(.post, path, headers: keyed(token, key), body: client.json(other))
                #expect(different.status == .unprocessableContent && different.problemType == "ledger/idempotency-conflict", "\(path): \(different.text)")
                #expect(different.json["field"] as? String == "Idempotency-Key", "\(path): \(different.text)")
                let invalid = try await client.send(.post, path, headers: keyed(token, "has space"), body: client.json(body))
                #expect(invalid.status == .badRequest && invalid.json["field"] as? String == "Idempotency-Key", "\(path): \(invalid.text)")
                #expect(harness.api.journal.head == head, "\(path) appended on a retry")
                // Without a key, the same body is a new request.
                #expect(try await client.send(.post, path, headers: client.bearer(token), body: client.json(body)).status == .created, "\(path)")
            }
            // Each write happened twice (keyed once, unkeyed once): 1000 + 2 × 300 (funds) − 2 × 200 (transfers)
            // − 2 × 100 (payouts) in the wallet; the phone funds (offline) wait, 2 × 50.
            let wallets = try await client.user(ursula, .get, "/v1/me/wallets?minSequence=\(harness.api.journal.head)")
            let wallet = ((wallets.json["data"] as? [String: Any])?["wallets"] as? [[String: Any]])?.first
            #expect(wallet?["balance"] as? Int == 1_000 && wallet?["pending"] as? Int == 100, "\(wallets.text)")
            // A user's key is the account's own: another user may use the same one.
            let victor = try await client.loginAs("victor", password: "correct horse battery")
            let victorsFunds = try await client.send(.post, "/v1/me/funds", headers: keyed(victor.session, "retry-0"),
                                                     body: client.json(["currency": "USD", "amount": 300, "method": "card"]))
            #expect(victorsFunds.status == .created && victorsFunds.headers[.idempotentReplay] == nil, "\(victorsFunds.text)")
            // In flight: a retry while the first holds the key is 409.
            let holding = try await harness.api.exclusively(scope: IdempotencyScope.customerService, key: "retry-2") {
                try await client.send(.post, "/v1/admin/payouts", headers: keyed(APIHarness.adminKey, "retry-2"), body: client.json(writes[3].2))
            }
            #expect(holding.status == .conflict && holding.problemType == "idempotency-in-flight")
        }
    }

    @Test("idempotency: a retry returns the first answer byte for byte; another body is 422; a retry in flight is 409")
    func idempotency() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let vendor = try await client.registerVendor()
            let user = try await client.fundedUser("ivan")
            let token = try await client.purchaseToken(user)
            let body: [String: Any] = ["purchaseToken": token, "inline": APIHarness.Client.inlineContent(price: 25)]
            let first = try await client.vendor(vendor, .post, "/v1/vendor/purchases", body, idempotencyKey: "order-1")
            #expect(first.status == .created)
            let head = harness.api.journal.head
            let retry = try await client.vendor(vendor, .post, "/v1/vendor/purchases", body, idempotencyKey: "order-1")
            #expect(retry.status == .created)
            #expect(retry.bytes == first.bytes)
            #expect(retry.headers[.idempotentReplay] == "true")
            let different = try await client.vendor(vendor, .post, "/v1/vendor/purchases", [
                "purchaseToken": token, "inline": APIHarness.Client.inlineContent(price: 26),
            ], idempotencyKey: "order-1")
            #expect(different.status == .unprocessableContent)
            #expect(different.problemType == "ledger/idempotency-conflict")
            let missing = try await client.send(.post, "/v1/vendor/purchases",
                headers: client.signedHeaders(vendor, .post, "/v1/vendor/purchases", body: client.json(body), idempotencyKey: nil), body: client.json(body))
            #expect(missing.status == .badRequest)
            #expect(missing.problemType == "idempotency-key-missing")
            #expect(harness.api.journal.head == head)

            // A vendor's incentive: the same key returns the first lot; another amount is refused.
            let customer = try #require(first.json["customer"] as? String)
            let gift: [String: Any] = ["customer": customer, "currency": "USD", "amount": 15]
            let issued = try await client.vendor(vendor, .post, "/v1/vendor/incentives", gift, idempotencyKey: "gift-1")
            #expect(issued.status == .created, "\(issued.text)")
            let issuedAgain = try await client.vendor(vendor, .post, "/v1/vendor/incentives", gift, idempotencyKey: "gift-1")
            #expect(issuedAgain.bytes == issued.bytes)
            #expect(issuedAgain.headers[.idempotentReplay] == "true")
            let otherGift = try await client.vendor(vendor, .post, "/v1/vendor/incentives", ["customer": customer, "currency": "USD", "amount": 16], idempotencyKey: "gift-1")
            #expect(otherGift.problemType == "ledger/idempotency-conflict")

            // The referral policy: the same key is a replay that appends nothing; another
            // policy under it is refused, and the first policy stays.
            let policy: [String: Any] = ["currency": "USD", "rewardAmount": 50, "minimumSpend": 100, "confirmationSeconds": 60]
            let set = try await client.vendor(vendor, .put, "/v1/vendor/referral-policy", policy, idempotencyKey: "policy-1")
            #expect(set.status == .ok, "\(set.text)")
            let afterPolicy = harness.api.journal.head
            let setAgain = try await client.vendor(vendor, .put, "/v1/vendor/referral-policy", policy, idempotencyKey: "policy-1")
            #expect(setAgain.bytes == set.bytes)
            #expect(setAgain.headers[.idempotentReplay] == "true")
            var otherPolicy = policy
            otherPolicy["rewardAmount"] = 5_000
            let changed = try await client.vendor(vendor, .put, "/v1/vendor/referral-policy", otherPolicy, idempotencyKey: "policy-1")
            #expect(changed.problemType == "ledger/idempotency-conflict")
            #expect(harness.api.journal.head == afterPolicy)

            // In flight: hold the slot as a first request would, and send the retry.
            let holding = try await harness.api.exclusively(scope: vendor.id, key: "order-2") {
                try await client.vendor(vendor, .post, "/v1/vendor/purchases", body, idempotencyKey: "order-2")
            }
            #expect(holding.status == .conflict)
            #expect(holding.problemType == "idempotency-in-flight")
            #expect(holding.headers[.retryAfter] == "1")
        }
    }

    @Test("bad bodies: malformed JSON, wrong types, unknown fields (a balance), huge bodies — each named, nothing applied")
    func badBodies() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let user = try await client.fundedUser("judy", amount: 0)
            var head = harness.api.journal.head
            let malformed = try await client.send(.post, "/v1/me/funds", headers: client.bearer(user.session), body: Array("{\"currency\": ".utf8))
            #expect(malformed.status == .badRequest)
            #expect(malformed.problemType == "malformed-json")
            let trailingComma = try await client.send(.post, "/v1/me/funds", headers: client.bearer(user.session),
                                                      body: Array(#"{"currency":"USD","amount":100,"method":"card",}"#.utf8))
            #expect(trailingComma.status == .badRequest)
            #expect(trailingComma.problemType == "malformed-json", "RFC 8259 has no trailing commas")
            #expect((trailingComma.json["detail"] as? String)?.hasPrefix("a trailing comma before '}'") == true)
            let wrongType = try await client.user(user, .post, "/v1/me/funds", ["currency": "USD", "amount": "100", "method": "card"])
            #expect(wrongType.problemType == "wrong-type")
            #expect(wrongType.json["field"] as? String == "amount")
            let fraction = try await client.user(user, .post, "/v1/me/funds", ["currency": "USD", "amount": 1.5, "method": "card"])
            #expect(fraction.status == .badRequest)
            // Every number the API takes is a plain 64-bit integer: anything else is refused
            // with its field named, never rounded (1e2 is not read as 100).
            for number in ["1.5", "1e2", "1.0", "100E0", "9223372036854775808", "-9223372036854775809", "1e400",
                           "1234567890123456789012345678901234567890", "-0.0"] {
                let reply = try await client.send(.post, "/v1/me/funds", headers: client.bearer(user.session),
                                                  body: Array(#"{"currency":"USD","amount":\#(number),"method":"card"}"#.utf8))
                #expect(reply.status == .badRequest, "\(number)")
                #expect(reply.problemType == "wrong-type", "\(number)")
                #expect(reply.json["field"] as? String == "amount", "\(number): \(reply.text)")
            }
            #expect(harness.api.journal.head == head)
            let vendor = try await client.registerVendor()
            head = harness.api.journal.head
            var inline = APIHarness.Client.inlineContent(price: 100)
            inline["price"] = 2.5
            let token = try await client.purchaseToken(user)
            let price = try await client.vendor(vendor, .post, "/v1/vendor/purchases", ["purchaseToken": token, "inline": inline])
            #expect(price.problemType == "wrong-type")
            #expect(price.json["field"] as? String == "inline.price", "\(price.text)")
            // A negative number where only a non-negative one fits (an unsigned field) is named too.
            let negativeHold = try await client.vendor(vendor, .post, "/v1/vendor/authorizations", [
                "purchaseToken": try await client.purchaseToken(user), "inline": APIHarness.Client.inlineContent(price: 100), "holdSeconds": -5,
            ])
            #expect(negativeHold.status == .badRequest && negativeHold.problemType == "wrong-type", "\(negativeHold.text)")
            #expect(negativeHold.json["field"] as? String == "holdSeconds", "\(negativeHold.text)")
            let stringGivenNumber = try await client.user(user, .post, "/v1/me/funds", ["currency": 1.5, "amount": 5, "method": "card"])
            #expect(stringGivenNumber.problemType == "wrong-type")
            #expect(stringGivenNumber.json["field"] as? String == "currency", "a number where a string belongs is that field's wrong type")
            let unknown = try await client.user(user, .post, "/v1/me/funds", ["currency": "USD", "amount": 100, "method": "card", "balance": 1_000_000])
            #expect(unknown.status == .badRequest)
            #expect(unknown.problemType == "unknown-field")
            #expect(unknown.json["field"] as? String == "balance")
            let nullUnknown = try await client.user(user, .post, "/v1/me/funds", ["currency": "USD", "amount": 100, "method": "card", "balance": NSNull()])
            #expect(nullUnknown.json["field"] as? String == "balance", "an unknown field is refused even when null")
            let nested = try await client.user(user, .post, "/v1/me/limits", ["kind": "perDay", "currency": "USD", "amount": 5, "extra": ["a": 1]])
            #expect(nested.json["field"] as? String == "extra")
            let missing = try await client.user(user, .post, "/v1/me/funds", ["currency": "USD", "method": "card"])
            #expect(missing.problemType == "missing-field")
            #expect(missing.json["field"] as? String == "amount")
            let method = try await client.user(user, .post, "/v1/me/funds", ["currency": "USD", "amount": 5, "method": "providerIssue"])
            #expect(method.json["field"] as? String == "method")
            let overflow = try await client.user(user, .post, "/v1/me/funds", ["currency": "USD", "amount": 9_223_372_036_854_775_807 as Int64, "method": "card"])
            #expect(overflow.status == .created || overflow.status == .unprocessableContent)
            let huge = try await client.send(.post, "/v1/me/funds", headers: client.bearer(user.session), body: Array(repeating: UInt8(ascii: " "), count: 70_000))
            #expect(huge.status == .contentTooLarge)
            #expect(huge.problemType == "body-too-large")
            let negative = try await client.user(user, .post, "/v1/me/funds", ["currency": "USD", "amount": -5, "method": "card"])
            #expect(negative.problemType == "ledger/amount-not-positive")
            if overflow.status == .created {
                #expect(harness.api.journal.head == head + 1)
                let again = try await client.user(user, .post, "/v1/me/funds", ["currency": "USD", "amount": 1, "method": "card"])
                #expect(again.problemType == "ledger/amount-overflow")
            } else {
                #expect(harness.api.journal.head == head)
            }
        }
    }

    @Test("a field named twice in one object is refused with its path (top level, nested, and on the purchase routes' fast readers); nothing is appended")
    func duplicateFields() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let vendor = try await client.registerVendor()
            let user = try await client.fundedUser("kim", amount: 1_000)
            let token = try await client.purchaseToken(user)
            let head = harness.api.journal.head

            let funds = try await client.send(.post, "/v1/me/funds", headers: client.bearer(user.session),
                                              body: Array(#"{"currency":"USD","amount":100,"method":"card","amount":-100}"#.utf8))
            #expect(funds.status == .badRequest)
            #expect(funds.problemType == "duplicate-field")
            #expect(funds.json["field"] as? String == "amount")

            func purchase(_ body: String, path: String = "/v1/vendor/purchases") async throws -> APIHarness.Reply {
                let bytes = Array(body.utf8)
                return try await client.send(.post, path, headers: client.signedHeaders(
                    vendor, .post, path, body: bytes, idempotencyKey: "dup-" + Hex.encode(SecureRandom.bytes(6))), body: bytes)
            }
            let inline = #""content":"a-1","title":"A","currency":"USD","url":"https://shop.example/a/1","royalties":[]"#
            let nested = try await purchase(#"{"purchaseToken":"\#(token)","inline":{\#(inline),"price":1,"price":900}}"#)
            #expect(nested.status == .badRequest)
            #expect(nested.problemType == "duplicate-field")
            #expect(nested.json["field"] as? String == "inline.price")
            let top = try await purchase(#"{"purchaseToken":"\#(token)","purchaseToken":"\#(token)","inline":{\#(inline),"price":1}}"#)
            #expect(top.problemType == "duplicate-field")
            #expect(top.json["field"] as? String == "purchaseToken")
            let batch = try await purchase(
                #"{"purchases":[{"idempotencyKey":"b-1","purchaseToken":"\#(token)","inline":{\#(inline),"price":1,"currency":"EUR"}}]}"#,
                path: "/v1/vendor/purchases/batch")
            #expect(batch.problemType == "duplicate-field")
            #expect(batch.json["field"] as? String == "purchases[].inline.currency")
            #expect(harness.api.journal.head == head)

            // The same bodies without the repetition are accepted: the refusal is the duplicate's.
            let single = try await purchase(#"{"purchaseToken":"\#(token)","inline":{\#(inline),"price":1}}"#)
            #expect(single.status == .created || single.status == .ok, "\(single.json)")
        }
    }

    @Test("a query parameter given twice is refused with its name; given once it is read")
    func duplicateParameters() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let user = try await client.fundedUser("lou", amount: 1_000)
            for path in ["/v1/me/history/USD?limit=5&limit=500", "/v1/me/wallets?minSequence=1&minSequence=999999",
                         "/v1/me/balances/USD?atSequence=1&other=x&atSequence=2"] {
                let refused = try await client.user(user, .get, path)
                #expect(refused.status == .badRequest, "\(path)")
                #expect(refused.problemType == "duplicate-parameter", "\(path)")
                let name = String(path.split(separator: "?")[1].split(separator: "=")[0])
                #expect(refused.json["field"] as? String == name, "\(path)")
            }
            #expect(try await client.user(user, .get, "/v1/me/history/USD?limit=5").status == .ok)
            let auditor = try await client.send(.get, "/v1/audit/events?from=1&from=2", headers: client.bearer(APIHarness.auditorKey))
            #expect(auditor.problemType == "duplicate-parameter")
        }
    }
}

@Suite("Replay guard")
struct ReplayGuardTests {
    @Test("a nonce is refused again for at least twice the skew, per key, and forgotten after")
    func window() {
        let guardian = ReplayGuard(windowSeconds: 300)
        let start: UInt64 = 1_800_000_000_000
        #expect(guardian.admit(keyID: "k1", nonce: "n-0000000000000001", now: start))
        #expect(!guardian.admit(keyID: "k1", nonce: "n-0000000000000001", now: start + 1))
        #expect(guardian.admit(keyID: "k2", nonce: "n-0000000000000001", now: start + 1), "another key's nonce is its own")
        #expect(!guardian.admit(keyID: "k1", nonce: "n-0000000000000001", now: start + 600_000), "still refused at twice the skew")
        #expect(guardian.admit(keyID: "k1", nonce: "n-0000000000000001", now: start + 1_000_000), "forgotten once older than any acceptable replay")
    }
}
