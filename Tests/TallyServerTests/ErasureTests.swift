import Foundation
import Hummingbird
import Testing
@testable import TallyServer

/// Customer service erases a person: their personal data can never be read again and their
/// logins are gone, while the journal and the money in the ledger are untouched.
@Suite("Erasing a person")
struct ErasureTests {
    @Test("an account holding money is erased only when asked to; after erasure no personal datum reads back, no login of the account works, its sessions and purchase tokens end; the journal and balances are as before")
    func erase() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let vendor = try await client.registerVendor()
            let user = try await client.fundedUser("vera", amount: 1_000)
            let token = try await client.purchaseToken(user)
            let member = try await client.user(user, .post, "/v1/me/members", ["login": "vera-kid", "password": "another long password"])
            #expect(member.status == .created, "\(member.text)")
            let kid = try await client.loginAs("vera-kid", password: "another long password")
            let other = try await client.fundedUser("walt", amount: 1_000)
            #expect(try harness.api.identity.personalData(of: user.id)?.email == "vera@example.org")
            let head = harness.api.journal.head
            #expect(await harness.api.projections.waitUntil(sequence: head, timeout: .seconds(10)))
            let walletsBefore = try await client.admin(.get, "/v1/admin/users/\(user.id)/wallets")

            #expect(try await client.user(user, .post, "/v1/admin/users/\(user.id)/erase").status == .forbidden)
            // Her wallet holds 10.00: refused, naming it, and nothing is erased.
            let holdsMoney = try await client.admin(.post, "/v1/admin/users/\(user.id)/erase")
            #expect(holdsMoney.status == .conflict && holdsMoney.problemType == "account-holds-money", "\(holdsMoney.text)")
            #expect((holdsMoney.json["detail"] as? String)?.contains("wallet:\(user.id):USD 1000") == true, "\(holdsMoney.text)")
            #expect(try harness.api.identity.personalData(of: user.id) != nil)
            #expect(try await client.user(user, .get, "/v1/me").status == .ok)
            let erased = try await client.admin(.post, "/v1/admin/users/\(user.id)/erase", ["evenWithMoney": true])
            #expect(erased.status == .ok, "\(erased.text)")
            #expect(erased.json["loginsRemoved"] as? Int == 2 && erased.json["sessionsEnded"] as? Int == 2, "\(erased.text)")

            // Nothing personal reads back; nobody of the account logs in; its sessions and tokens are dead.
            #expect(try harness.api.identity.personalData(of: user.id) == nil)
            for (login, password) in [("vera", "correct horse battery"), ("vera-kid", "another long password")] {
                let refused = try await client.send(.post, "/v1/login", body: client.json(["login": login, "password": password]))
                #expect(refused.status == .unauthorized, "\(login)")
            }
            #expect(try await client.user(user, .get, "/v1/me").status == .unauthorized)
            #expect(try await client.user(kid, .get, "/v1/me").status == .unauthorized)
            let bought = try await client.vendor(vendor, .post, "/v1/vendor/purchases", ["purchaseToken": token, "inline": APIHarness.Client.inlineContent()])
            #expect(bought.problemType == "purchase-token-revoked", "\(bought.text)")

            // The journal is as it was, and verifies; the money is still in the ledger.
            #expect(harness.api.journal.head == head)
            _ = try harness.api.journal.verify()
            let walletsAfter = try await client.admin(.get, "/v1/admin/users/\(user.id)/wallets")
            #expect(walletsAfter.status == .ok && walletsAfter.json["data"] as? NSDictionary == walletsBefore.json["data"] as? NSDictionary)
            // Another person is untouched; erasing again changes nothing; an unknown user is 404.
            #expect(try await client.user(other, .get, "/v1/me").status == .ok)
            let again = try await client.admin(.post, "/v1/admin/users/\(user.id)/erase", ["evenWithMoney": true])
            #expect(again.status == .ok && again.json["loginsRemoved"] as? Int == 0 && again.json["sessionsEnded"] as? Int == 0)
            #expect(try await client.admin(.post, "/v1/admin/users/u_none/erase").status == .notFound)
        }
    }

    @Test("customer service pays a wallet back (once per payout ID, never more than it holds); the user and customer service see the payout; the emptied account is erased without an override")
    func payBackThenErase() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let user = try await client.fundedUser("yara", amount: 1_000)
            let payout: [String: Any] = ["payout": "pb-1", "user": user.id, "currency": "USD", "amount": 400, "method": "card", "representative": "rep-7"]
            #expect(try await client.user(user, .post, "/v1/admin/payouts", payout).status == .forbidden)
            let paid = try await client.admin(.post, "/v1/admin/payouts", payout)
            #expect(paid.status == .created, "\(paid.text)")
            #expect(paid.json["payout"] as? String == "pb-1" && paid.json["amount"] as? Int == 400 && paid.json["method"] as? String == "card")
            let sequence = try #require(paid.json["sequence"] as? Int)

            // Sent again (an answer lost on the way): refused, and nothing more leaves.
            let again = try await client.admin(.post, "/v1/admin/payouts", payout)
            #expect(again.status == .conflict && again.problemType == "ledger/payout-exists", "\(again.text)")
            var more = payout
            more["payout"] = "pb-2"
            more["amount"] = 601
            let tooMuch = try await client.admin(.post, "/v1/admin/payouts", more)
            #expect(tooMuch.status == .unprocessableContent && tooMuch.problemType == "ledger/insufficient-funds", "\(tooMuch.text)")
            #expect(tooMuch.json["headroom"] as? Int == 600 && tooMuch.json["field"] as? String == "amount", "\(tooMuch.text)")
            more["amount"] = 1
            more["method"] = "providerIssue"
            let byIssue = try await client.admin(.post, "/v1/admin/payouts", more)
            #expect(byIssue.problemType == "ledger/payout-method-not-allowed" && byIssue.json["field"] as? String == "method", "\(byIssue.text)")
            more["method"] = "card"
            more["balance"] = 0
            #expect(try await client.admin(.post, "/v1/admin/payouts", more).problemType == "unknown-field")
            more["balance"] = nil

            // Both sides see it once the read models reach it.
            let own = try await client.user(user, .get, "/v1/me/payouts?minSequence=\(sequence)")
            let listed = try #require((own.json["data"] as? [String: Any])?["payouts"] as? [[String: Any]], "\(own.text)")
            #expect(listed.map { $0["payout"] as? String } == ["pb-1"])
            #expect(listed.first?["representative"] as? String == "rep-7" && listed.first?["amount"] as? Int == 400)
            let record = try await client.admin(.get, "/v1/admin/payouts/pb-1?minSequence=\(sequence)")
            #expect(record.status == .ok && (record.json["data"] as? [String: Any])?["user"] as? String == user.id, "\(record.text)")
            #expect(try await client.admin(.get, "/v1/admin/payouts/pb-none").status == .notFound)
            let theirs = try await client.admin(.get, "/v1/admin/users/\(user.id)/payouts?minSequence=\(sequence)")
            #expect(((theirs.json["data"] as? [String: Any])?["payouts"] as? [[String: Any]])?.count == 1, "\(theirs.text)")
            #expect(try await client.admin(.get, "/v1/admin/users/u_none/payouts").status == .notFound)

            // The erasure refusal says how to empty the account; once emptied, no override is needed.
            let holdsMoney = try await client.admin(.post, "/v1/admin/users/\(user.id)/erase")
            #expect(holdsMoney.status == .conflict && (holdsMoney.json["title"] as? String)?.contains("/v1/admin/payouts") == true, "\(holdsMoney.text)")
            more["amount"] = 600
            #expect(try await client.admin(.post, "/v1/admin/payouts", more).status == .created)
            let erased = try await client.admin(.post, "/v1/admin/users/\(user.id)/erase")
            #expect(erased.status == .ok, "\(erased.text)")
            _ = try harness.api.journal.verify()
        }
    }

    @Test("a holder asks for a payout: set aside at once, queued for customer service, paid by the method asked for or declined with a reason; members may not ask")
    func payoutRequests() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let user = try await client.fundedUser("zoe", amount: 1_000)
            let path = "/v1/me/payout-requests"
            // Refusals change nothing: too much (with the headroom), providerIssue, a member, an unknown field.
            let head = harness.api.journal.head
            let tooMuch = try await client.user(user, .post, path, ["currency": "USD", "amount": 1_001, "method": "card"])
            #expect(tooMuch.status == .unprocessableContent && tooMuch.problemType == "ledger/insufficient-funds", "\(tooMuch.text)")
            #expect(tooMuch.json["headroom"] as? Int == 1_000 && tooMuch.json["field"] as? String == "amount")
            let byIssue = try await client.user(user, .post, path, ["currency": "USD", "amount": 1, "method": "providerIssue"])
            #expect(byIssue.problemType == "ledger/payout-method-not-allowed" && byIssue.json["field"] as? String == "method", "\(byIssue.text)")
            #expect(try await client.user(user, .post, path, ["currency": "USD", "amount": 1, "method": "card", "payout": "mine"]).problemType == "unknown-field")
            let added = try await client.user(user, .post, "/v1/me/members", ["login": "zoe-kid", "password": "another long password"])
            #expect(added.status == .created, "\(added.text)")
            let kid = try await client.loginAs("zoe-kid", password: "another long password")
            #expect(try await client.user(kid, .post, path, ["currency": "USD", "amount": 1, "method": "card"]).status == .forbidden)
            #expect(harness.api.journal.head == head + 1, "only the member was added")

            // Asked twice with one key: one request, 300 set aside.
            var keyed = client.bearer(user.session)
            keyed[.idempotencyKey] = "ask-1"
            let body = client.json(["currency": "USD", "amount": 300, "method": "bankDebit"])
            let asked = try await client.send(.post, path, headers: keyed, body: body)
            #expect(asked.status == .created && asked.json["status"] as? String == "requested", "\(asked.text)")
            let again = try await client.send(.post, path, headers: keyed, body: body)
            #expect(again.text == asked.text && again.headers[.idempotentReplay] == "true")
            let first = try #require(asked.json["payout"] as? String)
            let second = try await client.user(user, .post, path, ["currency": "USD", "amount": 200, "method": "card"])
            let secondID = try #require(second.json["payout"] as? String, "\(second.text)")
            #expect(try harness.api.ledger.balance(.wallet(user: user.id, currency: .usd)) == 500)
            // Money set aside for a payout is still the account's: no erasure without the override.
            let erase = try await client.admin(.post, "/v1/admin/users/\(user.id)/erase")
            #expect(erase.status == .conflict && (erase.json["detail"] as? String)?.contains("outgoing:\(user.id):USD 500") == true, "\(erase.text)")

            // Customer service sees the queue, oldest first, and decides each once.
            let sequence = try #require(second.json["sequence"] as? Int)
            let queue = try await client.admin(.get, "/v1/admin/payout-requests?minSequence=\(sequence)")
            let queued = ((queue.json["data"] as? [String: Any])?["requests"] as? [[String: Any]])?.map { $0["payout"] as? String }
            #expect(queued == [first, secondID], "\(queue.text)")
            let withReason = try await client.admin(.post, "/v1/admin/payout-requests/\(first)/pay", ["representative": "rep-7", "reason": "x"])
            #expect(withReason.status == .badRequest && withReason.json["field"] as? String == "reason", "\(withReason.text)")
            let paid = try await client.admin(.post, "/v1/admin/payout-requests/\(first)/pay", ["representative": "rep-7"])
            #expect(paid.status == .ok && paid.json["status"] as? String == "paid" && paid.json["method"] as? String == "bankDebit", "\(paid.text)")
            let paidTwice = try await client.admin(.post, "/v1/admin/payout-requests/\(first)/pay", ["representative": "rep-7"])
            #expect(paidTwice.status == .unprocessableContent && paidTwice.problemType == "ledger/payout-not-pending", "\(paidTwice.text)")
            let noReason = try await client.admin(.post, "/v1/admin/payout-requests/\(secondID)/decline", ["representative": "rep-7"])
            #expect(noReason.problemType == "ledger/invalid-text" && noReason.json["field"] as? String == "reason", "\(noReason.text)")
            let declined = try await client.admin(.post, "/v1/admin/payout-requests/\(secondID)/decline", ["representative": "rep-7", "reason": "card closed"])
            #expect(declined.status == .ok && declined.json["status"] as? String == "declined" && declined.json["reason"] as? String == "card closed", "\(declined.text)")
            #expect(try await client.admin(.post, "/v1/admin/payout-requests/p_none/pay", ["representative": "rep-7"]).problemType == "ledger/unknown-payout")
            #expect(try harness.api.ledger.balance(.wallet(user: user.id, currency: .usd)) == 700)

            // Both sides see where each stands; the queue is empty; the paid one is a payout too.
            let decided = try #require(declined.json["sequence"] as? Int)
            let mine = try await client.user(user, .get, "/v1/me/payout-requests?minSequence=\(decided)")
            let statuses = ((mine.json["data"] as? [String: Any])?["requests"] as? [[String: Any]])?.map { $0["status"] as? String }
            #expect(statuses == ["declined", "paid"], "\(mine.text)")
            let drained = try await client.admin(.get, "/v1/admin/payout-requests")
            #expect(((drained.json["data"] as? [String: Any])?["requests"] as? [[String: Any]])?.isEmpty == true, "\(drained.text)")
            let one = try await client.admin(.get, "/v1/admin/payout-requests/\(first)")
            #expect((one.json["data"] as? [String: Any])?["representative"] as? String == "rep-7", "\(one.text)")
            let payouts = try await client.user(user, .get, "/v1/me/payouts")
            #expect(((payouts.json["data"] as? [String: Any])?["payouts"] as? [[String: Any]])?.map { $0["payout"] as? String } == [first])
            let theirs = try await client.admin(.get, "/v1/admin/users/\(user.id)/payout-requests")
            #expect(((theirs.json["data"] as? [String: Any])?["requests"] as? [[String: Any]])?.count == 2)
            let history = try await client.user(user, .get, "/v1/me/history/USD?limit=2")
            let counterparties = ((history.json["data"] as? [String: Any])?["entries"] as? [[String: Any]])?.map { $0["counterparty"] as? String }
            #expect(counterparties == ["payout", "payout"], "\(history.text)")
        }
    }
}
