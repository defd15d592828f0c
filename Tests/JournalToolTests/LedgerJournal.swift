import Foundation
import Journal
import Ledger
import TallyTestSupport

/// Ledger journals built through the `Ledger` API, the way `tally serve` writes them.
enum LedgerJournal {
    static let usd = Currency.usd
    static let eur = Currency.eur
    static let startMilliseconds: UInt64 = 1_764_000_000_000

    /// A clock a test moves on between commands (the journal reads it on its writer's thread,
    /// while the test awaits the command: never at the same time).
    final class SteppedClock: @unchecked Sendable {
        var now = LedgerJournal.startMilliseconds
    }

    static func open(_ directory: String, clock: SteppedClock? = nil) throws -> (Journal, Ledger) {
        var configuration = Journal.Configuration(directory: directory)
        let time = startMilliseconds
        if let clock {
            configuration.clock = { clock.now }
        } else {
            configuration.clock = { time }
        }
        configuration.logger.logLevel = .warning
        configuration.mapSize = 64 << 20
        let journal = try Journal.open(configuration)
        return (journal, Ledger(journal: journal))
    }

    static func terms(_ content: String, vendor: String, price: Int64, currency: Currency = usd, holders: [String]) -> ContentTerms {
        ContentTerms(
            content: content, title: "Item \(content)", price: price, currency: currency,
            url: "https://\(vendor).example/\(content)", access: AccessTerms(views: 3),
            royalties: holders.map { RoyaltyShare(holder: $0, basisPoints: 1000) })
    }

    /// A small journal with every money path the audit checks: funding (card, and offline
    /// cleared, and failed), payouts, an incentive lot spent and expired, a referral rewarded,
    /// two currencies, one-step purchases and authorize/capture with fees and
    /// royalties to two holders, a void, a transfer, and settlements. Closed when it returns.
    static func buildSmall(_ directory: String, rotateKey: Bool = false) async throws {
        let clock = SteppedClock()
        let (journal, ledger) = try open(directory, clock: clock)
        defer { journal.close() }
        func run(_ command: LedgerCommand) async throws {
            _ = try await ledger.execute(command)
        }
        for vendor in ["shop", "news"] {
            try await run(.registerVendor(
                vendor: vendor, name: vendor.capitalized, sites: ["https://\(vendor).example/"], feeBasisPoints: 500,
                settlement: SettlementPolicy(thresholdAmount: 100_000, periodSeconds: 86_400)))
            try await run(.registerContent(vendor: vendor, terms: terms("song", vendor: vendor, price: 250, holders: ["label", "writer"])))
            try await run(.registerContent(vendor: vendor, terms: terms("film", vendor: vendor, price: 900, currency: eur, holders: ["studio"])))
        }
        for user in ["alice", "bob", "carol"] {
            try await run(.openAccount(user: user, channel: .providerSite))
            try await run(.openWallet(user: user, currency: usd))
            try await run(.openWallet(user: user, currency: eur))
            try await run(.addFunds(funding: "card-\(user)", user: user, currency: usd, amount: 50_000, method: .card))
            try await run(.addFunds(funding: "eur-\(user)", user: user, currency: eur, amount: 20_000, method: .card))
        }
        try await run(.addFunds(funding: "check-alice", user: "alice", currency: usd, amount: 7_000, method: .check))
        try await run(.clearFunds(funding: "check-alice"))
        if rotateKey { _ = try await journal.rotateSigningKey() }
        for round in 0..<4 {
            for user in ["alice", "bob", "carol"] {
                try await run(.purchase(user: user, vendor: round % 2 == 0 ? "shop" : "news", content: .catalog("song")))
                try await run(.purchase(user: user, vendor: "shop", content: .catalog("film")))
            }
        }
        let held = try await ledger.execute(.authorize(user: "bob", vendor: "news", content: .catalog("song"), holdSeconds: 600))
        try await run(.capture(vendor: "news", transaction: held.transaction!))
        let voided = try await ledger.execute(.authorize(user: "carol", vendor: "shop", content: .catalog("song"), holdSeconds: 600))
        try await run(.void(vendor: "shop", transaction: voided.transaction!))
        try await run(.transfer(from: "alice", to: "bob", currency: usd, amount: 1_234))
        try await run(.settle(vendor: "shop", currency: usd, force: true))
        try await run(.settle(vendor: "shop", currency: eur, force: true))
        try await run(.purchase(user: "alice", vendor: "shop", content: .catalog("song")))
        try await run(.settle(vendor: "news", currency: usd, force: true))
        try await run(.purchase(user: "carol", vendor: "news", content: .catalog("song")))
        try await run(.payRoyalties(payout: "roy-label", holder: "label", currency: usd, representative: "rep-1"))
        // Refunds: one purchase given back in two parts; one partly refunded, then disputed and
        // refunded by customer service; one disputed and the dispute rejected.
        let returned = try await ledger.execute(.purchase(user: "alice", vendor: "shop", content: .catalog("song")))
        try await run(.refund(vendor: "shop", transaction: returned.transaction!, amount: 100, reason: "late"))
        try await run(.refund(vendor: "shop", transaction: returned.transaction!, reason: "cancelled"))
        let disputed = try await ledger.execute(.purchase(user: "bob", vendor: "shop", content: .catalog("film")))
        try await run(.refund(vendor: "shop", transaction: disputed.transaction!, amount: 300, reason: "scratched"))
        try await run(.openDispute(dispute: "d-bob", user: "bob", transaction: disputed.transaction!, reason: "unwatchable"))
        try await run(.resolveDispute(dispute: "d-bob", refund: true, representative: "rep-1"))
        let kept = try await ledger.execute(.purchase(user: "carol", vendor: "news", content: .catalog("song")))
        try await run(.openDispute(dispute: "d-carol", user: "carol", transaction: kept.transaction!, reason: "changed my mind"))
        try await run(.resolveDispute(dispute: "d-carol", refund: false, representative: "rep-1"))
        // Money that waits: offline funds that fail, and payouts paid at once, asked for and
        // paid, and asked for and declined.
        try await run(.addFunds(funding: "order-carol", user: "carol", currency: usd, amount: 3_000, method: .moneyOrder))
        try await run(.failFunds(funding: "order-carol"))
        try await run(.returnFunds(payout: "back-alice", user: "alice", currency: usd, amount: 500, method: .bankDebit, representative: "rep-1"))
        try await run(.requestPayout(payout: "ask-bob", user: "bob", currency: usd, amount: 700, method: .bankDebit))
        try await run(.completePayout(payout: "ask-bob", representative: "rep-1"))
        try await run(.requestPayout(payout: "ask-carol", user: "carol", currency: eur, amount: 400, method: .bankDebit))
        try await run(.declinePayout(payout: "ask-carol", representative: "rep-1", reason: "account closed"))
        // An incentive lot only for shop, partly spent there, then expired; a user referred by
        // news, whose reward is paid.
        try await run(.issueIncentive(lot: "promo-alice", user: "alice", currency: usd, amount: 300, issuer: nil,
                                      expiresAtMilliseconds: startMilliseconds + 60_000, vendors: ["shop"]))
        try await run(.purchase(user: "alice", vendor: "shop", content: .catalog("song")))
        try await run(.setReferralPolicy(vendor: "news", policy: ReferralPolicy(currency: usd, rewardAmount: 40, minimumSpend: 100, confirmationSeconds: 60)))
        try await run(.openAccount(user: "referred", channel: .vendorLink, referringVendor: "news"))
        try await run(.openWallet(user: "referred", currency: usd))
        try await run(.addFunds(funding: "card-referred", user: "referred", currency: usd, amount: 1_000, method: .card))
        try await run(.purchase(user: "referred", vendor: "news", content: .catalog("song")))
        clock.now += 120_000
        try await run(.expireIncentive(lot: "promo-alice"))
        try await run(.rewardReferral(user: "referred"))
        // A daily spending limit that a hold voided no longer counts against: 250 spent, 250
        // held then voided, 250 spent again, all under 600.
        try await run(.setSpendingLimit(user: "referred", limit: SpendingLimit(kind: .perDay, currency: usd, amount: 600)))
        let released = try await ledger.execute(.authorize(user: "referred", vendor: "news", content: .catalog("song"), holdSeconds: 600))
        try await run(.void(vendor: "news", transaction: released.transaction!))
        try await run(.purchase(user: "referred", vendor: "news", content: .catalog("song")))
        // news moves to a second site and sells from it.
        try await run(.updateVendor(vendor: "news", sites: ["https://news.example.org/"]))
        var clip = terms("clip", vendor: "news", price: 40, holders: [])
        clip.url = "https://news.example.org/clip"
        try await run(.purchase(user: "carol", vendor: "news", content: .inline(clip)))
    }

    /// A large journal: `users` funded users and one-step purchases in batches (one block of
    /// up to 2,500 purchases each), with a settlement after each batch, until about `events`.
    static func buildLarge(_ directory: String, events: Int, users: Int = 500) async throws {
        let (journal, ledger) = try open(directory)
        defer { journal.close() }
        var commands: [(command: LedgerCommand, idempotencyKey: String?)] = []
        for vendor in 0..<10 {
            commands.append((.registerVendor(
                vendor: "v\(vendor)", name: "Vendor \(vendor)", sites: ["https://v\(vendor).example/"], feeBasisPoints: 500,
                settlement: SettlementPolicy(thresholdAmount: 1_000_000_000)), nil))
            commands.append((.registerContent(vendor: "v\(vendor)", terms: terms("item", vendor: "v\(vendor)", price: 37, holders: ["h\(vendor)"])), nil))
        }
        for user in 0..<users {
            commands.append((.openAccount(user: "u\(user)", channel: .providerSite), nil))
            commands.append((.openWallet(user: "u\(user)", currency: usd), nil))
            commands.append((.addFunds(funding: "f\(user)", user: "u\(user)", currency: usd, amount: 100_000_000, method: .card), nil))
        }
        var written = 0
        var purchase = 0
        while written < events {
            while commands.count < Ledger.batchCommandsMax && written + commands.count < events {
                commands.append((.purchase(user: "u\(purchase % users)", vendor: "v\(purchase % 10)", content: .catalog("item")), nil))
                purchase += 1
            }
            if written + commands.count < events {
                commands[commands.count - 1] = (.settle(vendor: "v\(purchase % 10)", currency: usd, force: true), nil)
            }
            let results = try await ledger.executeBatch(commands)
            for result in results {
                if case .failure(let rejection) = result { throw rejection }
            }
            written += results.reduce(0) { count, result in
                if case .success(let accepted) = result { return count + accepted.events.count }
                return count
            }
            commands.removeAll(keepingCapacity: true)
        }
    }
}
