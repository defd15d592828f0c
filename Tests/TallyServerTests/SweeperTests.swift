import Foundation
import Hummingbird
import Journal
import Ledger
import Logging
import TallyCrypto
import Testing
@testable import TallyServer

@Suite("Sweeper: holds, lots and settlements driven by the clock")
struct SweeperTests {
    @Test("an expired hold is released, an expired lot returns to its issuer, a vendor whose period elapsed is settled; nothing early")
    func sweeps() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let reply = try await client.admin(.post, "/v1/admin/vendors", [
                "name": "Periodic", "sites": ["https://shop.example/"], "feeBasisPoints": 500, "settlement": ["periodSeconds": 3600],
            ])
            let vendor = APIHarness.Vendor(
                id: reply.json["vendor"] as! String, keyID: reply.json["keyId"] as! String, secret: Hex.decodeOrDie(reply.json["secret"] as! String))
            let user = try await client.fundedUser("quinn", amount: 1_000)
            let token = try await client.purchaseToken(user)
            let held = try await client.vendor(vendor, .post, "/v1/vendor/authorizations", [
                "purchaseToken": token, "inline": APIHarness.Client.inlineContent(price: 400), "holdSeconds": 60,
            ])
            let transaction = try #require(held.json["transaction"] as? String)
            _ = try await client.vendor(vendor, .post, "/v1/vendor/purchases", ["purchaseToken": token, "inline": APIHarness.Client.inlineContent("paid", price: 100)])
            let lot = try await client.admin(.post, "/v1/admin/incentives", [
                "user": user.id, "currency": "USD", "amount": 50, "expiresAtMilliseconds": harness.clock.now() + 120_000,
            ])
            #expect(lot.status == .created, "\(lot.text)")

            let sweeper = Sweeper(ledger: harness.api.ledger, clock: { harness.clock.now() }, logger: Logger(label: "test"))
            #expect(try await sweeper.sweep().isEmpty, "nothing is due yet")
            let wallet = LedgerAccount.wallet(user: user.id, currency: .usd)
            #expect(try harness.api.ledger.balance(wallet) == 500)

            harness.clock.advance(milliseconds: 61_000)
            let first = try await sweeper.sweep()
            #expect(first == [.expireHold(transaction: transaction)])
            #expect(try harness.api.ledger.balance(wallet) == 900, "the held 400 is back")
            let capture = try await client.vendor(vendor, .post, "/v1/vendor/authorizations/\(transaction)/capture")
            #expect(capture.status == .unprocessableContent)

            harness.clock.advance(milliseconds: 60_000)
            let second = try await sweeper.sweep()
            #expect(second.count == 1)
            if case .expireIncentive = second.first {} else { Issue.record("expected the lot to expire, got \(second)") }

            harness.clock.advance(milliseconds: 3_600_000)
            let third = try await sweeper.sweep()
            #expect(third == [.settle(vendor: vendor.id, currency: .usd, force: false)])
            #expect(try await sweeper.sweep().isEmpty, "settled once, nothing left")
        }
    }
}

extension Hex {
    static func decodeOrDie(_ text: String) -> [UInt8] { decode(text)! }
}
