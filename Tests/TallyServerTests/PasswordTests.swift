import Foundation
import Hummingbird
import Testing
@testable import TallyServer

/// Passwords changed by their user, or set by customer service: the other sessions end, with
/// their purchase tokens; every refusal changes nothing.
@Suite("Passwords")
struct PasswordTests {
    @Test("a user changes their password with name and current password: the old no longer logs in, the other sessions and their tokens end, this one stays")
    func change() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let vendor = try await client.registerVendor()
            let here = try await client.fundedUser("pat", amount: 1_000)
            harness.clock.advance(milliseconds: 5)
            let elsewhere = try await client.loginAs("pat")
            let elsewhereToken = try await client.purchaseToken(elsewhere)
            let other = try await client.fundedUser("quinn", amount: 1_000)
            let body: [String: Any] = ["login": "pat", "currentPassword": "correct horse battery", "newPassword": "a brand new passphrase"]

            // Refusals: each changes nothing (the old password still logs in).
            func refused(_ changes: [String: Any], as user: APIHarness.User = here) async throws -> APIHarness.Reply {
                try await client.user(user, .post, "/v1/me/password", body.merging(changes) { $1 })
            }
            let wrong = try await refused(["currentPassword": "not my password"])
            #expect(wrong.status == .forbidden && wrong.problemType == "password-check-failed" && wrong.json["field"] as? String == "currentPassword")
            let notMine = try await refused(["login": "quinn"])
            #expect(notMine.status == .forbidden && notMine.problemType == "password-check-failed")
            let otherUser = try await refused([:], as: other)
            #expect(otherUser.status == .forbidden, "quinn's session cannot change pat's password")
            let short = try await refused(["newPassword": "short"])
            #expect(short.status == .badRequest && short.json["field"] as? String == "newPassword")
            let unknownField = try await refused(["balance": 5])
            #expect(unknownField.status == .badRequest)
            let anonymous = try await client.send(.post, "/v1/me/password", body: client.json(body))
            #expect(anonymous.status == .unauthorized)
            #expect(try await client.send(.post, "/v1/login", body: client.json(["login": "pat", "password": "correct horse battery"])).status == .ok)

            let changed = try await client.user(here, .post, "/v1/me/password", body)
            #expect(changed.status == .ok, "\(changed.text)")
            // The other session (and the one just opened by the check above) ended; this one stays.
            #expect(changed.json["sessionsEnded"] as? Int == 2 && changed.json["user"] as? String == here.id, "\(changed.text)")
            #expect(try await client.user(here, .get, "/v1/me").status == .ok)
            #expect(try await client.user(elsewhere, .get, "/v1/me").status == .unauthorized)
            let head = harness.api.journal.head
            let stale = try await client.vendor(vendor, .post, "/v1/vendor/purchases", [
                "purchaseToken": elsewhereToken, "inline": APIHarness.Client.inlineContent(price: 10),
            ])
            #expect(stale.problemType == "purchase-token-revoked" && harness.api.journal.head == head, "\(stale.text)")
            let old = try await client.send(.post, "/v1/login", body: client.json(["login": "pat", "password": "correct horse battery"]))
            #expect(old.status == .unauthorized)
            _ = try await client.loginAs("pat", password: "a brand new passphrase")
            // Quinn is untouched.
            #expect(try await client.user(other, .get, "/v1/me").status == .ok)
        }
    }

    @Test("wrong current passwords count toward the login throttle")
    func throttled() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let user = try await client.fundedUser("rex", amount: 0)
            var last: APIHarness.Reply?
            for _ in 0..<(LoginThrottle.failuresMax + 1) {
                last = try await client.user(user, .post, "/v1/me/password",
                                             ["login": "rex", "currentPassword": "guess guess guess", "newPassword": "a brand new passphrase"])
            }
            #expect(last?.status == .tooManyRequests && last?.headers[.retryAfter] != nil, "\(last?.text ?? "")")
        }
    }

    @Test("customer service sets a caller's password: every session of the login ends; unknown logins and short passwords are refused")
    func reset() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let user = try await client.fundedUser("sue", amount: 0)
            let reset = try await client.admin(.post, "/v1/admin/password-resets", ["login": "sue", "newPassword": "set by the desk"])
            #expect(reset.status == .ok && reset.json["sessionsEnded"] as? Int == 1 && reset.json["user"] as? String == user.id, "\(reset.text)")
            #expect(try await client.user(user, .get, "/v1/me").status == .unauthorized)
            _ = try await client.loginAs("sue", password: "set by the desk")
            let unknown = try await client.admin(.post, "/v1/admin/password-resets", ["login": "nobody", "newPassword": "set by the desk"])
            #expect(unknown.status == .notFound && unknown.json["field"] as? String == "login")
            let short = try await client.admin(.post, "/v1/admin/password-resets", ["login": "sue", "newPassword": "short"])
            #expect(short.status == .badRequest && short.json["field"] as? String == "newPassword")
            let asUser = try await client.user(user, .post, "/v1/admin/password-resets", ["login": "sue", "newPassword": "taken over!!"])
            #expect(asUser.status == .unauthorized || asUser.status == .forbidden)
            _ = try await client.loginAs("sue", password: "set by the desk")
        }
    }
}
