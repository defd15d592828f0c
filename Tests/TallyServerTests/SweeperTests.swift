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
            let vendor = try await periodicVendor(client)
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

extension SweeperTests {
    @Test("a referral refused because the purchase is too recent is tried again once the confirmation window has passed, without another purchase")
    func referralRetried() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let vendor = try await client.registerVendor()
            let policy = try await client.vendor(vendor, .put, "/v1/vendor/referral-policy", [
                "currency": "USD", "rewardAmount": 25, "minimumSpend": 100, "confirmationSeconds": 600,
            ])
            #expect(policy.status == .ok, "\(policy.text)")
            let user = try await client.fundedUser("rita", amount: 1_000, referringVendor: vendor.id)
            let token = try await client.purchaseToken(user)
            let bought = try await client.vendor(vendor, .post, "/v1/vendor/purchases", ["purchaseToken": token, "inline": APIHarness.Client.inlineContent(price: 100)])
            #expect(bought.status == .created, "\(bought.text)")

            let sweeper = Sweeper(ledger: harness.api.ledger, clock: { harness.clock.now() }, logger: Logger(label: "test"))
            #expect(try await sweeper.sweep().isEmpty, "the purchase is not confirmed yet: the reward is refused")
            harness.clock.advance(milliseconds: 300_000)
            #expect(try await sweeper.sweep().isEmpty, "halfway through the window: no retry yet")
            harness.clock.advance(milliseconds: 302_000)
            #expect(try await sweeper.sweep() == [.rewardReferral(user: user.id)], "retried once the window passed")
            #expect(try harness.api.ledger.read { try $0.referral(user: user.id) }?.status == .rewarded)
            harness.clock.advance(milliseconds: 3_600_000)
            #expect(try await sweeper.sweep().isEmpty, "rewarded once")
        }
    }
}

extension SweeperTests {
    @Test("tokens voided back to a lot that has already expired go to its issuer too: expired again, nothing stranded")
    func tokensBackAfterExpiry() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let vendor = try await client.registerVendor()
            let user = try await client.fundedUser("tess", amount: 0)
            let issued = try await client.admin(.post, "/v1/admin/incentives", [
                "user": user.id, "currency": "USD", "amount": 50, "expiresAtMilliseconds": harness.clock.now() + 120_000,
            ])
            #expect(issued.status == .created, "\(issued.text)")
            let lot = try #require(issued.json["lot"] as? String)
            let token = try await client.purchaseToken(user)
            let held = try await client.vendor(vendor, .post, "/v1/vendor/authorizations", [
                "purchaseToken": token, "inline": APIHarness.Client.inlineContent(price: 40), "holdSeconds": 600,
            ])
            #expect(held.status == .created, "\(held.text)")
            let transaction = try #require(held.json["transaction"] as? String)
            let lotAccount = LedgerAccount.incentiveLot(lot: lot, currency: .usd)
            let provider = LedgerAccount.incentiveFunding(issuer: "provider", currency: .usd)

            let sweeper = Sweeper(ledger: harness.api.ledger, clock: { harness.clock.now() }, logger: Logger(label: "test"))
            harness.clock.advance(milliseconds: 121_000)
            #expect(try await sweeper.sweep() == [.expireIncentive(lot: lot)])
            #expect(try harness.api.ledger.balance(lotAccount) == 0)
            #expect(try harness.api.ledger.balance(provider) == -40, "the 10 not held came back")

            let voided = try await client.vendor(vendor, .post, "/v1/vendor/authorizations/\(transaction)/void")
            #expect(voided.status == .ok, "\(voided.text)")
            #expect(try harness.api.ledger.balance(lotAccount) == 40, "the void gave the expired lot its 40 back")
            #expect(try await sweeper.sweep() == [.expireIncentive(lot: lot)])
            #expect(try harness.api.ledger.balance(lotAccount) == 0)
            #expect(try harness.api.ledger.balance(provider) == 0, "every token is back with the provider")
            #expect(try await sweeper.sweep().isEmpty)
        }
    }
}

extension SweeperTests {
    @Test("tokens a vendor's refund gives back to an expired lot go to its issuer too")
    func refundBackAfterExpiry() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let vendor = try await client.registerVendor()
            let user = try await client.fundedUser("ike", amount: 0)
            let issued = try await client.admin(.post, "/v1/admin/incentives", [
                "user": user.id, "currency": "USD", "amount": 50, "expiresAtMilliseconds": harness.clock.now() + 120_000,
            ])
            let lot = try #require(issued.json["lot"] as? String, "\(issued.text)")
            let bought = try await client.vendor(vendor, .post, "/v1/vendor/purchases", [
                "purchaseToken": try await client.purchaseToken(user), "inline": APIHarness.Client.inlineContent(price: 30),
            ])
            let transaction = try #require(bought.json["transaction"] as? String, "\(bought.text)")
            let lotAccount = LedgerAccount.incentiveLot(lot: lot, currency: .usd)
            let provider = LedgerAccount.incentiveFunding(issuer: "provider", currency: .usd)

            let sweeper = Sweeper(ledger: harness.api.ledger, clock: { harness.clock.now() }, logger: Logger(label: "test"))
            harness.clock.advance(milliseconds: 121_000)
            #expect(try await sweeper.sweep() == [.expireIncentive(lot: lot)])
            #expect(try harness.api.ledger.balance(provider) == -30)

            let refunded = try await client.vendor(vendor, .post, "/v1/vendor/purchases/\(transaction)/refund", ["reason": "broken"])
            #expect(refunded.status == .ok, "\(refunded.text)")
            #expect(try harness.api.ledger.balance(lotAccount) == 30, "the refund gave the expired lot its 30 back")
            #expect(try await sweeper.sweep() == [.expireIncentive(lot: lot)])
            #expect(try harness.api.ledger.balance(provider) == 0, "every token is back with the provider")
            #expect(try await sweeper.sweep().isEmpty)
        }
    }
}

/// A vendor settled every hour.
func periodicVendor(_ client: APIHarness.Client) async throws -> APIHarness.Vendor {
    let reply = try await client.admin(.post, "/v1/admin/vendors", [
        "name": "Periodic", "sites": ["https://shop.example/"], "feeBasisPoints": 500, "settlement": ["periodSeconds": 3600],
    ])
    return APIHarness.Vendor(
        id: reply.json["vendor"] as! String, keyID: reply.json["keyId"] as! String, secret: Hex.decodeOrDie(reply.json["secret"] as! String))
}

extension Hex {
    static func decodeOrDie(_ text: String) -> [UInt8] { decode(text)! }
}

@Suite("Sweeper checkpoint")
struct SweeperCheckpointTests {
    @Test("a sweeper resumes from its checkpoint and folds only what follows; a damaged, foreign or too-new checkpoint is set aside")
    func resumes() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let vendor = try await periodicVendor(client)
            let user = try await client.fundedUser("rowan", amount: 1_000)
            func hold(_ title: String) async throws -> String {
                let held = try await client.vendor(vendor, .post, "/v1/vendor/authorizations", [
                    "purchaseToken": try await client.purchaseToken(user), "inline": APIHarness.Client.inlineContent(title, price: 100),
                    "holdSeconds": 60,
                ])
                return try #require(held.json["transaction"] as? String)
            }
            let early = try await hold("early")
            _ = try await client.admin(.post, "/v1/admin/incentives", [
                "user": user.id, "currency": "USD", "amount": 50, "expiresAtMilliseconds": harness.clock.now() + 600_000,
            ])
            let ledger = harness.api.ledger
            let path = harness.directory.path + "/sweeper.state"
            func sweeper() -> Sweeper {
                Sweeper(ledger: ledger, clock: { harness.clock.now() }, logger: Logger(label: "test"), statePath: path, checkpointEvents: 1)
            }

            // A full read saves a checkpoint; a new sweeper resumes from it with the same state.
            let first = sweeper()
            try first.catchUp()
            let full = first.state.withLock { $0 }
            #expect((try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue == 0o600)
            #expect(full.holds[early] != nil && full.lots.count == 1 && full.policies[vendor.id] != nil)
            let saved = try first.checkpoint(from: Array(try #require(FileManager.default.contents(atPath: path))))
            #expect(saved.through == full.next - 1 && saved.state == full)
            let resumed = sweeper()
            try resumed.catchUp()
            #expect(resumed.state.withLock { $0 } == full)

            // It really starts from the checkpoint: a state planted in a well-formed checkpoint
            // is what a new sweeper has, and it folds only the events after it.
            var planted = saved
            planted.state.holds["planted"] = 1
            try Data(try Sweeper.bytes(of: planted)).write(to: URL(fileURLWithPath: path))
            let late = try await hold("late")
            let fromPlanted = sweeper()
            try fromPlanted.catchUp()
            let state = fromPlanted.state.withLock { $0 }
            #expect(state.holds["planted"] == 1 && state.holds[early] != nil && state.holds[late] != nil)
            #expect(state.next == (try ledger.journal.events(from: 1, limit: 10_000).last!.sequence) + 1)

            // Set aside, and the journal read from the start (no planted hold): a changed byte, a
            // checkpoint of another journal (another hash at its event), one past the journal's end.
            let good = try Sweeper.bytes(of: planted)
            var changed = good
            changed[changed.count / 2] ^= 0x01
            var foreign = planted
            foreign.eventHash = String(repeating: "0", count: 64)
            var ahead = planted
            ahead.through += 1_000
            ahead.state.next = ahead.through + 1
            var last = planted
            last.through = .max
            last.state.next = .max
            for bytes in [changed, try Sweeper.bytes(of: foreign), try Sweeper.bytes(of: ahead), try Sweeper.bytes(of: last), Array("{}".utf8)] {
                try Data(bytes).write(to: URL(fileURLWithPath: path))
                let fresh = sweeper()
                try fresh.catchUp()
                let state = fresh.state.withLock { $0 }
                #expect(state.holds["planted"] == nil && state.holds[early] != nil && state.holds[late] != nil)
            }

            // A resumed sweeper acts on what it resumed with: both holds expire. When settlements
            // were last tried is taken from the clock, not from the checkpoint.
            var resumedFrom = saved
            resumedFrom.state.lastSettleAttempt = .max
            try Data(try Sweeper.bytes(of: resumedFrom)).write(to: URL(fileURLWithPath: path))
            harness.clock.advance(milliseconds: 61_000)
            let swept = try await sweeper().sweep()
            #expect(swept.count == 2 && swept.contains(.expireHold(transaction: early)) && swept.contains(.expireHold(transaction: late)))
        }
    }
}

extension SweeperCheckpointTests {
    @Test("a checkpoint written before referral retries were kept still reads, with none")
    func olderCheckpoint() throws {
        var state = Sweeper.State()
        state.next = 42
        state.holds = ["tx-7": 1_000]
        state.referred = ["u1": true]
        state.referralRetries = ["u2": 5_000]
        var object = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(state)) as? [String: Any])
        #expect(object.removeValue(forKey: "referralRetries") != nil)
        let older = try JSONDecoder().decode(Sweeper.State.self, from: JSONSerialization.data(withJSONObject: object))
        state.referralRetries = [:]
        #expect(older == state)
    }
}
