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
}
