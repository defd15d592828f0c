import Foundation
import Journal
import Ledger
@testable import Projections
import TallyTestSupport
import Testing

/// A clock the test moves by hand.
final class ManualClock: @unchecked Sendable {
    private let lock = NSLock()
    private var milliseconds: UInt64 = 1_764_000_000_000

    var now: UInt64 { lock.withLock { milliseconds } }

    func advance(seconds: UInt64) {
        lock.withLock { milliseconds += seconds * 1000 }
    }
}

/// A ledger over a real journal in a temporary data directory, and its read models at
/// `<data>/projections` (the same layout as the service).
final class ProjectionFixture {
    let directory = TemporaryDirectory("tally-projections")
    let clock = ManualClock()
    let journal: Journal
    let ledger: Ledger
    let batchEvents: Int
    private(set) var projections: Projections

    static let usd = Currency.usd
    static let site = "https://shop.example/"

    init(batchEvents: Int = Projections.batchEvents) throws {
        var configuration = Journal.Configuration(directory: directory.path)
        let clock = self.clock
        configuration.clock = { clock.now }
        configuration.mapSize = 32 << 20
        journal = try Journal.open(configuration)
        ledger = Ledger(journal: journal)
        self.batchEvents = batchEvents
        projections = try Self.openProjections(directory.path, journal: journal, batchEvents: batchEvents)
    }

    deinit { journal.close() }

    static func openProjections(_ dataDirectory: String, journal: Journal, batchEvents: Int) throws -> Projections {
        var configuration = Projections.Configuration(dataDirectory: dataDirectory)
        configuration.mapSize = 16 << 20
        configuration.batchEvents = batchEvents
        return try Projections.open(configuration, journal: journal.storage)
    }

    /// Drops the projections object (closing its environment) and opens it again, as a restart does.
    func reopenProjections() throws {
        projections = try Self.openProjections(directory.path, journal: journal, batchEvents: batchEvents)
    }

    /// Opens the read models again as a process of boot `bootID` would (nil: a system that
    /// cannot tell its boots apart).
    func reopenProjections(bootID: String?) throws {
        projections = try Projections.open(
            at: Projections.path(in: directory.path), journal: journal.storage, logger: projections.logger,
            mapSize: 16 << 20, batchEvents: batchEvents, bootID: bootID)
    }

    @discardableResult
    func run(_ command: LedgerCommand) async throws -> LedgerResult {
        try await ledger.execute(command)
    }

    func balance(_ account: LedgerAccount) throws -> Int64 { try ledger.balance(account) }

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
                      access: AccessTerms = AccessTerms(views: 3),
                      royalties: [RoyaltyShare] = [RoyaltyShare(holder: "label", basisPoints: 1000)]) -> ContentTerms {
        ContentTerms(content: content, title: "A song", price: price, currency: usd, url: url,
                     access: access, royalties: royalties)
    }

    /// A fresh fold of the whole journal into a separate directory: its canonical dump.
    func freshDump() throws -> String {
        let other = TemporaryDirectory("tally-projections-fresh")
        let fresh = try Projections.open(directory: other.path + "/replay", journal: journal.storage)
        try fresh.catchUp()
        return try fresh.canonicalDump()
    }

    /// Every balance of the write model (`bal/<account>`), by account name.
    func writeModelBalances() throws -> [String: Int64] {
        var balances: [String: Int64] = [:]
        for (key, value) in try ledger.writeModel() where key.hasPrefix("bal/") {
            balances[String(key.dropFirst(4))] = value.withUnsafeBytes { Int64(bigEndian: $0.loadUnaligned(as: Int64.self)) }
        }
        return balances
    }
}
