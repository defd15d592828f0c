import Foundation
import Journal
import TallyTestSupport
import Testing
@testable import Ledger

/// A clock the test moves by hand.
final class ManualClock: @unchecked Sendable {
    private let lock = NSLock()
    private var milliseconds: UInt64 = 1_764_000_000_000

    var now: UInt64 {
        lock.lock()
        defer { lock.unlock() }
        return milliseconds
    }

    func advance(seconds: UInt64) {
        lock.lock()
        milliseconds += seconds * 1000
        lock.unlock()
    }
}

/// A ledger over a real journal on disk, with a few helpers for given/when/then tests.
final class LedgerFixture {
    let directory = TemporaryDirectory("tally-ledger")
    let clock = ManualClock()
    let journal: Journal
    let ledger: Ledger

    static let usd = Currency.usd
    static let site = "https://shop.example/"

    init() throws {
        var configuration = Journal.Configuration(directory: directory.path)
        let clock = self.clock
        configuration.clock = { clock.now }
        configuration.mapSize = 32 << 20
        journal = try Journal.open(configuration)
        ledger = Ledger(journal: journal)
    }

    deinit { journal.close() }

    @discardableResult
    func run(_ command: LedgerCommand, key: String? = nil, scope: String? = nil) async throws -> LedgerResult {
        try await ledger.execute(command, idempotencyKey: key, scope: scope)
    }

    /// Runs a command that must be refused for `rule`; checks that nothing was appended and the
    /// write model did not change. Returns the rejection.
    @discardableResult
    func reject(_ command: LedgerCommand, _ rule: LedgerRejection.Rule, key: String? = nil, scope: String? = nil,
                sourceLocation: SourceLocation = #_sourceLocation) async throws -> LedgerRejection? {
        let head = journal.head
        let before = try ledger.writeModel()
        do {
            try await ledger.execute(command, idempotencyKey: key, scope: scope)
            Issue.record("expected \(rule.name), the command was accepted", sourceLocation: sourceLocation)
            return nil
        } catch let rejection as LedgerRejection {
            #expect(rejection.rule == rule, "\(rejection)", sourceLocation: sourceLocation)
            #expect(journal.head == head, "a rejection appended events", sourceLocation: sourceLocation)
            #expect(try ledger.writeModel() == before, "a rejection changed the write model", sourceLocation: sourceLocation)
            return rejection
        }
    }

    func balance(_ account: LedgerAccount) throws -> Int64 { try ledger.balance(account) }

    func wallet(_ user: String) throws -> Int64 { try balance(.wallet(user: user, currency: Self.usd)) }

    /// A vendor `shop` (5% fee, settles at 10,000 or daily) and user `alice` with a funded USD wallet.
    func givenShopAndAlice(funds: Int64 = 10_000) async throws {
        try await run(.registerVendor(
            vendor: "shop", name: "Shop", sites: [Self.site], feeBasisPoints: 500,
            settlement: SettlementPolicy(thresholdAmount: 10_000, periodSeconds: 86_400)))
        try await givenUser("alice", funds: funds)
    }

    func givenUser(_ user: String, funds: Int64) async throws {
        try await run(.openAccount(user: user, channel: .providerSite))
        try await run(.openWallet(user: user, currency: Self.usd))
        if funds > 0 {
            try await run(.addFunds(funding: "f-\(user)", user: user, currency: Self.usd, amount: funds, method: .card))
        }
    }

    static func terms(_ content: String = "song-1", price: Int64 = 100, url: String = site + "songs/1",
                      royalties: [RoyaltyShare] = [RoyaltyShare(holder: "label", basisPoints: 1000)]) -> ContentTerms {
        ContentTerms(content: content, title: "A song", price: price, currency: usd, url: url,
                     access: AccessTerms(views: 3), royalties: royalties)
    }

    /// A purchase record as a capture at 400 from alice's wallet leaves it: fee 20, royalty 40.
    static func capturedRecord() -> TransactionRecord {
        TransactionRecord(
            user: "alice", member: nil, vendor: "shop", terms: terms(price: 400), status: .captured,
            holdExpiresAtMilliseconds: nil, sources: [FundingSource(account: "wallet:alice:USD", amount: 400)],
            fee: 20, royalties: [RoyaltyPayment(holder: "label", amount: 40)])
    }

    /// Per currency, the balances of all accounts sum to zero.
    func balancesSumToZero() throws -> Bool {
        var sums: [String: Int64] = [:]
        for (key, value) in try ledger.writeModel() where key.hasPrefix("bal/") {
            let balance = value.withUnsafeBytes { Int64(bigEndian: $0.loadUnaligned(as: Int64.self)) }
            let currency = String(key.split(separator: ":").last!)
            sums[currency, default: 0] += balance
        }
        return sums.values.allSatisfy { $0 == 0 }
    }
}
