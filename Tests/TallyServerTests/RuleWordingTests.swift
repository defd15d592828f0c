import Foundation
import Hummingbird
import Testing
@testable import TallyServer

@Suite("Rules that say what was refused: missing limits, query integers, a resolution's reserve")
struct RuleWordingTests {
    @Test("removing a limit that is not set is 404 unknown-limit, without the user's ID")
    func unknownLimit() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let user = try await client.fundedUser("lia")
            let head = harness.api.journal.head
            let reply = try await client.user(user, .post, "/v1/me/limits/remove", ["kind": "perDay", "currency": "USD", "amount": 100])
            #expect(reply.status == .notFound, "\(reply.text)")
            #expect(reply.problemType == "ledger/unknown-limit")
            #expect(!reply.text.contains(user.id))
            #expect(harness.api.journal.head == head)
            let set = try await client.user(user, .post, "/v1/me/limits", ["kind": "perDay", "currency": "USD", "amount": 100])
            #expect(set.status == .created, "\(set.text)")
            let removed = try await client.user(user, .post, "/v1/me/limits/remove", ["kind": "perDay", "currency": "USD", "amount": 100])
            #expect(removed.status == .ok, "\(removed.text)")
        }
    }

    @Test("query integers are plain digits within the range their error states: a sign, 0 for a limit, or too much is refused")
    func queryIntegers() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let user = try await client.fundedUser("quin")
            let cases: [(String, String, String)] = [
                ("/v1/me/purchases?limit=0", "limit", "from 1 to 500"),
                ("/v1/me/purchases?limit=501", "limit", "from 1 to 500"),
                ("/v1/me/purchases?limit=+5", "limit", "from 1 to 500"),
                ("/v1/me/purchases?limit=", "limit", "from 1 to 500"),
                ("/v1/me/history/USD?limit=-0", "limit", "from 1 to 500"),
                ("/v1/me/purchases?before=+1", "before", "from 0 to"),
                ("/v1/me/wallets?minSequence=-0", "minSequence", "from 0 to"),
                ("/v1/me/wallets?minSequence=+1", "minSequence", "from 0 to"),
                ("/v1/me/balances/USD?atTime=%2B1", "atTime", "from 0 to"),
            ]
            for (uri, field, range) in cases {
                let reply = try await client.user(user, .get, uri)
                #expect(reply.status == .badRequest, "\(uri): \(reply.text)")
                #expect(reply.problemType == "invalid-field", "\(uri)")
                #expect(reply.json["field"] as? String == field, "\(uri)")
                #expect((reply.json["detail"] as? String)?.contains(range) == true, "\(uri): \(reply.text)")
            }
            for uri in ["/v1/me/purchases?limit=1", "/v1/me/purchases?limit=500", "/v1/me/wallets?minSequence=0"] {
                let reply = try await client.user(user, .get, uri)
                #expect(reply.status == .ok, "\(uri): \(reply.text)")
            }
            let auditor = try await client.auditor(.get, "/v1/audit/events?from=0")
            #expect(auditor.status == .badRequest)
            #expect((auditor.json["detail"] as? String)?.contains("from 1 to") == true, "\(auditor.text)")
        }
    }

    @Test("a rejected dispute's resolution answers the reserve it held, not 0")
    func resolvedReserve() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let vendor = try await client.registerVendor()
            let user = try await client.fundedUser("rex", amount: 1_000)
            let token = try await client.purchaseToken(user)
            let bought = try await client.vendor(vendor, .post, "/v1/vendor/purchases", ["purchaseToken": token, "inline": APIHarness.Client.inlineContent(price: 100)])
            let transaction = try #require(bought.json["transaction"] as? String, "\(bought.text)")
            let opened = try await client.user(user, .post, "/v1/me/disputes", ["transaction": transaction, "reason": "not as described"])
            #expect(opened.status == .created, "\(opened.text)")
            let reserved = try #require(opened.json["reserved"] as? Int)
            #expect(reserved > 0, "\(opened.text)")
            let id = try #require(opened.json["dispute"] as? String)
            let resolved = try await client.admin(.post, "/v1/admin/disputes/\(id)/resolve", ["refund": false, "representative": "rep-2"])
            #expect(resolved.status == .ok, "\(resolved.text)")
            #expect(resolved.json["status"] as? String == "rejected")
            #expect(resolved.json["reserved"] as? Int == reserved, "\(resolved.text)")
        }
    }
}
