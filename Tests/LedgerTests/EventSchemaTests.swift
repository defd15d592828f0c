import Foundation
import Journal
import TallyTestSupport
import Testing
@testable import Ledger

/// Every event type the ledger writes matches its JSON Schema in Schemas/events/.
@Suite("Event schemas")
struct EventSchemaTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// A scenario that produces every event type at least once.
    static func everyEventType(_ fixture: LedgerFixture) async throws {
        try await fixture.givenShopAndAlice(funds: 5_000)
        try await fixture.run(.registerVendor(
            vendor: "yen-shop", name: "Yen shop", sites: [LedgerFixture.site], feeBasisPoints: 0,
            settlement: SettlementPolicy(thresholdAmount: 1_000, currencyThresholds: ["JPY": 100_000, "EUR": 800])))
        try await fixture.run(.updateVendor(vendor: "yen-shop", name: "Yen & co", sites: [LedgerFixture.site, "https://yen.example/"],
                                            feeBasisPoints: 250, settlement: SettlementPolicy(periodSeconds: 3_600)))
        try await fixture.run(.updateVendor(vendor: "yen-shop", feeBasisPoints: 300))
        try await fixture.givenUser("bob", funds: 0)
        try await fixture.run(.openAccount(user: "carol", channel: .vendorLink, referringVendor: "shop"))
        try await fixture.run(.addMember(user: "alice", member: "kid"))
        try await fixture.run(.removeMember(user: "alice", member: "kid"))
        try await fixture.run(.approveCreditLine(user: "alice", currency: .usd, limit: 500))
        try await fixture.run(.setSpendingLimit(user: "alice", limit: SpendingLimit(kind: .perDay, currency: .usd, amount: 4_000)))
        try await fixture.run(.addFunds(funding: "chk", user: "alice", currency: .usd, amount: 70, method: .check, throughVendor: "shop"))
        try await fixture.run(.clearFunds(funding: "chk"))
        try await fixture.run(.addFunds(funding: "bill", user: "alice", currency: .usd, amount: 30, method: .mailedBill))
        try await fixture.run(.failFunds(funding: "bill"))
        try await fixture.run(.returnFunds(payout: "back-1", user: "alice", currency: .usd, amount: 15, method: .bankDebit, representative: "rep-9"),
                              key: "payout-1", scope: IdempotencyScope.customerService)
        try await fixture.run(.requestPayout(payout: "ask-1", user: "alice", currency: .usd, amount: 12, method: .card),
                              key: "ask-1", scope: IdempotencyScope.user("alice"))
        try await fixture.run(.completePayout(payout: "ask-1", representative: "rep-9"))
        try await fixture.run(.requestPayout(payout: "ask-2", user: "alice", currency: .usd, amount: 8, method: .bankDebit))
        try await fixture.run(.declinePayout(payout: "ask-2", representative: "rep-9", reason: "no bank account on file"))
        try await fixture.run(.addFunds(funding: "keyed", user: "alice", currency: .usd, amount: 15, method: .card),
                              key: "funds-1", scope: IdempotencyScope.user("alice"))
        try await fixture.run(.registerContent(vendor: "shop", terms: LedgerFixture.terms("catalogued")), key: "content-1")
        let catalogued = try await fixture.run(.purchase(user: "alice", vendor: "shop", content: .catalog("catalogued")), key: "buy-1")
        try await fixture.run(.useEntitlement(user: "alice", transaction: catalogued.transaction!))
        let tracked = VendorData(reference: "order #1/2", parameters: ["campaign": "winter", "form.page": "checkout"])
        try await fixture.run(.purchase(user: "alice", vendor: "shop", content: .catalog("catalogued"), vendorData: tracked), key: "buy-tracked")
        try await fixture.run(.purchase(user: "alice", vendor: "shop", content: .catalog("catalogued"), vendorData: VendorData(reference: "r-2")))
        let held = try await fixture.run(.authorize(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 20)), holdSeconds: 60,
                                                    vendorData: VendorData(parameters: ["sku": "A-1"])))
        try await fixture.run(.capture(vendor: "shop", transaction: held.transaction!))
        let voided = try await fixture.run(.authorize(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 20)), holdSeconds: 60))
        try await fixture.run(.void(vendor: "shop", transaction: voided.transaction!))
        let returned = try await fixture.run(.purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 25))))
        try await fixture.run(.refund(vendor: "shop", transaction: returned.transaction!, reason: "sent the wrong file"), key: "refund-1")
        try await fixture.run(.transfer(from: "alice", to: "bob", currency: .usd, amount: 10))
        try await fixture.run(.transfer(from: "alice", to: "bob", currency: .usd, amount: 5), key: "gift-1", scope: IdempotencyScope.user("alice"))
        try await fixture.run(.issueIncentive(lot: "promo", user: "alice", currency: .usd, amount: 25, issuer: "shop",
                                              expiresAtMilliseconds: fixture.clock.now + 60_000, vendors: ["shop"]), key: "promo-1")
        try await fixture.run(.issueIncentive(lot: "gift", user: "bob", currency: .usd, amount: 5, issuer: nil,
                                              expiresAtMilliseconds: nil, vendors: nil))
        let disputed = try await fixture.run(.purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 40))))
        try await fixture.run(.openDispute(dispute: "d1", user: "alice", transaction: disputed.transaction!, reason: "never arrived"))
        try await fixture.run(.resolveDispute(dispute: "d1", refund: true, representative: "rep-9"))
        try await fixture.run(.addMember(user: "alice", member: "guest"))
        let byGuest = try await fixture.run(.purchase(user: "alice", member: "guest", vendor: "shop", content: .inline(LedgerFixture.terms(price: 30))))
        try await fixture.run(.removeMember(user: "alice", member: "guest"))
        try await fixture.run(.openDispute(dispute: "d2", user: "alice", transaction: byGuest.transaction!, reason: "not me"))
        fixture.clock.advance(seconds: 60)
        try await fixture.run(.issueIncentive(lot: "promo2", user: "alice", currency: .usd, amount: 5, issuer: nil,
                                              expiresAtMilliseconds: fixture.clock.now + 1_000, vendors: nil))
        fixture.clock.advance(seconds: 1)
        try await fixture.run(.expireIncentive(lot: "promo2"))
        try await fixture.run(.setReferralPolicy(vendor: "shop", policy: ReferralPolicy(
            currency: .usd, rewardAmount: 5, minimumSpend: 10, confirmationSeconds: 60)))
        try await fixture.run(.openWallet(user: "carol", currency: .usd))
        try await fixture.run(.addFunds(funding: "cf", user: "carol", currency: .usd, amount: 100, method: .card))
        let carols = try await fixture.run(.purchase(user: "carol", vendor: "shop", content: .inline(LedgerFixture.terms(price: 20))))
        fixture.clock.advance(seconds: 60)
        try await fixture.run(.rewardReferral(user: "carol"))
        try await fixture.run(.openDispute(dispute: "d3", user: "carol", transaction: carols.transaction!, reason: "refund"))
        try await fixture.run(.resolveDispute(dispute: "d3", refund: true, representative: "rep-9"))
        try await fixture.run(.settle(vendor: "shop", currency: .usd, force: true))
        try await fixture.run(.payRoyalties(payout: "roy-1", holder: "label", currency: .usd, representative: "rep-9"),
                              key: "royalties-1", scope: IdempotencyScope.customerService)
    }

    @Test("a scenario's events, one file each, validate against Schemas/events (checked with Python's jsonschema)")
    func eventsMatchSchemas() async throws {
        let fixture = try LedgerFixture()
        try await Self.everyEventType(fixture)
        let output = TemporaryDirectory("tally-events")
        // TALLY_EVENT_DUMP=DIR keeps a copy of the payloads, for working on the schemas.
        let dump = ProcessInfo.processInfo.environment["TALLY_EVENT_DUMP"]
        var seen = Set<String>()
        for stored in try fixture.journal.events(from: 1, limit: 1_000) {
            seen.insert(stored.typeName)
            try Data(stored.payload).write(to: URL(fileURLWithPath: "\(output.path)/\(stored.sequence)-\(stored.typeName).json"))
            if let dump {
                try? FileManager.default.createDirectory(atPath: dump, withIntermediateDirectories: true)
                try Data(stored.payload).write(to: URL(fileURLWithPath: "\(dump)/\(stored.sequence)-\(stored.typeName).json"))
            }
        }
        #expect(seen == Set(LedgerEvent.typeNames), "the scenario misses \(Set(LedgerEvent.typeNames).subtracting(seen))")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Self.repositoryRoot + "/scripts/check-event-schemas.py", output.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(text)")
    }
}
