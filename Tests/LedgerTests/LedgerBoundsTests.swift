import Journal
import Testing
@testable import Ledger

/// Bounds that keep every sum the ledger or its read models compute representable: no single
/// amount above 10^15 minor units, access terms within a century, lots a user holds adding up.
@Suite("Ledger: bounds on amounts and access terms")
struct LedgerBoundsTests {
    @Test("an amount above 10^15 minor units is refused as amountOverflow, wherever it is given")
    func amountCeiling() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 1_000)
        let huge = Money.amountMax + 1
        let head = fixture.ledger.journal.head
        try await fixture.reject(.addFunds(funding: "f-huge", user: "alice", currency: .usd, amount: huge, method: .card), .amountOverflow)
        try await fixture.reject(.addFunds(funding: "f-max", user: "alice", currency: .usd, amount: .max, method: .card), .amountOverflow)
        try await fixture.reject(.issueIncentive(lot: "l-huge", user: "alice", currency: .usd, amount: huge, issuer: nil,
                                                 expiresAtMilliseconds: nil, vendors: nil), .amountOverflow)
        try await fixture.reject(.transfer(from: "alice", to: "bob", currency: .usd, amount: huge), .amountOverflow)
        try await fixture.reject(.purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: huge))), .amountOverflow)
        #expect(fixture.ledger.journal.head == head)
        try await fixture.run(.addFunds(funding: "f-ok", user: "alice", currency: .usd, amount: Money.amountMax, method: .card))
    }

    @Test("a share of an amount is the 128-bit product over 10,000, rounded down, for every amount a 64-bit integer holds")
    func shares() {
        var random = SystemRandomNumberGenerator()
        let edges: [Int64] = [0, 1, 9_999, 10_000, Money.amountMax, Int64.max / 10_000 - 1, Int64.max / 10_000, Int64.max / 10_000 + 1, Int64.max]
        for amount in edges + (0..<2_000).map({ _ in Int64.random(in: 0...Int64.max, using: &random) }) {
            for basisPoints in [0, 1, 333, 9_999, 10_000, Int64.random(in: 0...10_000, using: &random)] {
                let exact = Int64(Int128(amount) * Int128(basisPoints) / 10_000)
                #expect(Money.share(of: amount, basisPoints: basisPoints) == exact, "\(amount) at \(basisPoints)")
                #expect(ContentTerms.fee(price: amount, basisPoints: basisPoints) == exact)
            }
        }
    }

    @Test("access terms beyond a million views, a century of hours or days, or the year 9999 are refused as invalidAccessTerms")
    func accessTermBounds() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 1_000)
        for access in [AccessTerms(views: 1_000_001), AccessTerms(hours: 876_001), AccessTerms(days: Int.max), AccessTerms(days: 0),
                       AccessTerms(views: -1), AccessTerms(expiresAtMilliseconds: .max)] {
            var terms = LedgerFixture.terms(price: 10)
            terms.access = access
            try await fixture.reject(.purchase(user: "alice", vendor: "shop", content: .inline(terms)), .invalidAccessTerms)
            try await fixture.reject(.registerContent(vendor: "shop", terms: terms), .invalidAccessTerms)
        }
        var fine = LedgerFixture.terms(price: 10)
        fine.access = AccessTerms(views: 1_000_000, hours: 876_000, days: 36_500)
        try await fixture.run(.purchase(user: "alice", vendor: "shop", content: .inline(fine)))
    }

    @Test("a credit line above 10^15 minor units is refused as amountOverflow; 10^15 is approved")
    func creditLineCeiling() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 0)
        let head = fixture.ledger.journal.head
        try await fixture.reject(.approveCreditLine(user: "alice", currency: .usd, limit: .max), .amountOverflow)
        try await fixture.reject(.approveCreditLine(user: "alice", currency: .usd, limit: Money.amountMax + 1), .amountOverflow)
        #expect(fixture.ledger.journal.head == head)
        try await fixture.run(.approveCreditLine(user: "alice", currency: .usd, limit: Money.amountMax))
    }

    @Test("a settlement period longer than a year is refused as invalidVendorPolicy; a year is accepted")
    func settlementPeriodCeiling() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 0)
        let head = fixture.ledger.journal.head
        for period: UInt64 in [0, 366 * 86_400 + 1, .max / 1000 + 1, .max] {
            try await fixture.reject(.registerVendor(vendor: "v2", name: "V", sites: [LedgerFixture.site], feeBasisPoints: 0,
                                                     settlement: .init(periodSeconds: period)), .invalidVendorPolicy)
        }
        #expect(fixture.ledger.journal.head == head)
        try await fixture.run(.registerVendor(vendor: "v2", name: "V", sites: [LedgerFixture.site], feeBasisPoints: 0,
                                              settlement: .init(periodSeconds: 366 * 86_400)))
    }

    @Test("a period's due time that a UInt64 cannot hold is never due (a journal from before the bound), not an overflow")
    func periodDueNeverOverflows() {
        #expect(SettlementPolicy(periodSeconds: 60).periodDue(after: 1_000) == 61_000)
        #expect(SettlementPolicy(thresholdAmount: 5).periodDue(after: 1_000) == nil)
        #expect(SettlementPolicy(periodSeconds: .max).periodDue(after: 0) == nil)
        #expect(SettlementPolicy(periodSeconds: UInt64.max / 1000).periodDue(after: 1_000_000) == nil)
        #expect(SettlementPolicy(periodSeconds: UInt64.max / 1000).periodDue(after: 0) == UInt64.max / 1000 * 1000)
    }

    @Test("a user holds at most 10^15 minor units in lots of one currency")
    func lotsAddUp() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 0)
        try await fixture.run(.issueIncentive(lot: "lot-1", user: "alice", currency: .usd, amount: Money.amountMax - 1, issuer: nil,
                                              expiresAtMilliseconds: nil, vendors: nil))
        try await fixture.run(.issueIncentive(lot: "lot-2", user: "alice", currency: .usd, amount: 1, issuer: nil,
                                              expiresAtMilliseconds: nil, vendors: nil))
        try await fixture.reject(.issueIncentive(lot: "lot-3", user: "alice", currency: .usd, amount: 1, issuer: nil,
                                                 expiresAtMilliseconds: nil, vendors: nil), .amountOverflow)
        #expect(try fixture.balancesSumToZero())
    }
}

@Suite("Ledger: entitlement uses")
struct LedgerEntitlementTests {
    @Test("each use counts against the views bought; past them, or for another user or an uncaptured purchase, it is refused; content whose access has expired is no longer sold")
    func views() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 1_000)
        try await fixture.givenUser("bob", funds: 0)
        var terms = LedgerFixture.terms(price: 10)
        terms.access = AccessTerms(views: 2)
        let bought = try await fixture.run(.purchase(user: "alice", vendor: "shop", content: .inline(terms)))
        let transaction = try #require(bought.transaction)
        let first = try await fixture.run(.useEntitlement(user: "alice", transaction: transaction))
        #expect(first.events == [.entitlementUsed(EntitlementUsed(transaction: transaction, user: "alice", vendor: "shop", use: 1, timeMilliseconds: fixture.clock.now))])
        try await fixture.run(.useEntitlement(user: "alice", transaction: transaction))
        let head = fixture.ledger.journal.head
        try await fixture.reject(.useEntitlement(user: "alice", transaction: transaction), .entitlementExhausted)
        try await fixture.reject(.useEntitlement(user: "bob", transaction: transaction), .unknownTransaction)
        let held = try await fixture.run(.authorize(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 5)), holdSeconds: 60))
        try await fixture.reject(.useEntitlement(user: "alice", transaction: held.transaction!), .transactionNotCaptured)
        #expect(fixture.ledger.journal.head == head + 1, "only the authorization was appended")
        var expiring = LedgerFixture.terms("later", price: 10)
        expiring.access = AccessTerms(expiresAtMilliseconds: fixture.clock.now + 1_000)
        let timed = try await fixture.run(.purchase(user: "alice", vendor: "shop", content: .inline(expiring)))
        try await fixture.run(.useEntitlement(user: "alice", transaction: timed.transaction!))
        fixture.clock.advance(seconds: 2)
        try await fixture.reject(.useEntitlement(user: "alice", transaction: timed.transaction!), .entitlementExhausted)

        // Content whose access has expired is neither sold (inline or from the catalog) nor registered.
        try await fixture.reject(.purchase(user: "alice", vendor: "shop", content: .inline(expiring)), .expiryNotInFuture)
        try await fixture.reject(.authorize(user: "alice", vendor: "shop", content: .inline(expiring), holdSeconds: 60), .expiryNotInFuture)
        try await fixture.reject(.registerContent(vendor: "shop", terms: expiring), .expiryNotInFuture)
        var catalogued = LedgerFixture.terms("until-soon", price: 10)
        catalogued.access = AccessTerms(expiresAtMilliseconds: fixture.clock.now + 1_000)
        try await fixture.run(.registerContent(vendor: "shop", terms: catalogued))
        try await fixture.run(.purchase(user: "alice", vendor: "shop", content: .catalog("until-soon")))
        fixture.clock.advance(seconds: 1)
        let late = try await fixture.reject(.purchase(user: "alice", vendor: "shop", content: .catalog("until-soon")), .expiryNotInFuture)
        #expect(late?.message.contains("until-soon") == true)
    }
}

@Suite("Ledger: updating a vendor")
struct LedgerVendorUpdateTests {
    @Test("given a vendor, when customer service changes its fee, sites and policy, then later purchases (catalog ones too) and settlements follow the new terms and earlier ones keep theirs")
    func update() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 10_000)   // shop: fee 5 %, threshold 10,000, period a day
        let before = try await fixture.run(.purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 1_000, royalties: []))))
        guard case .purchaseCaptured(let first)? = before.events.first else { Issue.record("no capture"); return }
        #expect(first.fee == 50)
        try await fixture.run(.registerContent(vendor: "shop", terms: LedgerFixture.terms("album", price: 500, royalties: [])))
        let moved = "https://shop.example.org/"
        let updated = try await fixture.run(.updateVendor(
            vendor: "shop", name: "Shop, renamed", sites: [moved], feeBasisPoints: 1_000, settlement: SettlementPolicy(thresholdAmount: 1_500)))
        guard case .vendorUpdated(let event)? = updated.events.first else { Issue.record("no update"); return }
        #expect(event.name == "Shop, renamed" && event.sites == [moved] && event.feeBasisPoints == 1_000)
        let record = try #require(try fixture.ledger.read { try $0.vendor("shop") })
        #expect(record.name == "Shop, renamed" && record.sites == [moved] && record.feeBasisPoints == 1_000)
        #expect(record.settlement == SettlementPolicy(thresholdAmount: 1_500))
        // The old site is no longer the vendor's; the new one is, at the new fee.
        try await fixture.reject(.purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 100))), .urlOutsideVendorSites)
        // So is the catalog's content registered under it (claim 28: checked on every purchase).
        try await fixture.reject(.purchase(user: "alice", vendor: "shop", content: .catalog("album")), .urlOutsideVendorSites)
        try await fixture.reject(.authorize(user: "alice", vendor: "shop", content: .catalog("album"), holdSeconds: 60), .urlOutsideVendorSites)
        let after = try await fixture.run(.purchase(user: "alice", vendor: "shop",
                                                    content: .inline(LedgerFixture.terms("moved", price: 1_000, url: moved + "a", royalties: []))))
        guard case .purchaseCaptured(let second)? = after.events.first else { Issue.record("no capture"); return }
        #expect(second.fee == 100)
        // The new threshold (1,500) is reached by the two purchases' 950 + 900 payable.
        let settled = try await fixture.run(.settle(vendor: "shop", currency: .usd, force: false))
        guard case .vendorSettled(let payout)? = settled.events.first else { Issue.record("no settlement"); return }
        #expect(payout.trigger == .threshold && payout.amount == 1_850)
        // A partial update keeps the rest.
        try await fixture.run(.updateVendor(vendor: "shop", feeBasisPoints: 0))
        let kept = try #require(try fixture.ledger.read { try $0.vendor("shop") })
        #expect(kept.name == "Shop, renamed" && kept.sites == [moved] && kept.feeBasisPoints == 0 && kept.settlement == SettlementPolicy(thresholdAmount: 1_500))
        #expect(try Ledger.replay(fixture.ledger.journal.storage) == fixture.ledger.writeModel())
    }

    @Test("after a fee is raised, catalog content and held purchases whose royalties and fee would exceed the price are refused, never paid out of the vendor's own money")
    func raisedFeeCannotOverpay() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 10_000)   // shop: fee 5 %
        let royalties = [RoyaltyShare(holder: "label", basisPoints: 9_000)]
        try await fixture.run(.registerContent(vendor: "shop", terms: LedgerFixture.terms("album", price: 1_000, royalties: royalties)))
        let held = try #require(try await fixture.run(.authorize(
            user: "alice", vendor: "shop", content: .catalog("album"), holdSeconds: 600)).transaction)
        try await fixture.run(.updateVendor(vendor: "shop", feeBasisPoints: 2_000))
        let bought = try await fixture.reject(.purchase(user: "alice", vendor: "shop", content: .catalog("album")), .invalidRoyaltySchedule)
        #expect(bought?.field == "royalties")
        #expect(bought?.message.contains("1100") == true)
        try await fixture.reject(.capture(vendor: "shop", transaction: held), .invalidRoyaltySchedule)
        // The hold can still be voided, and once the fee is lowered the content sells again.
        try await fixture.run(.void(vendor: "shop", transaction: held))
        try await fixture.run(.updateVendor(vendor: "shop", feeBasisPoints: 1_000))
        try await fixture.run(.purchase(user: "alice", vendor: "shop", content: .catalog("album")))
        #expect(try fixture.balance(.vendorPayable(vendor: "shop", currency: .usd)) == 0)
        #expect(try fixture.balancesSumToZero())
    }

    @Test("an update of no field, of an unknown vendor, or with a bad name, site, fee or policy is refused with its field, and nothing is appended")
    func rejections() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 0)
        try await fixture.reject(.updateVendor(vendor: "shop"), .invalidVendorPolicy)
        try await fixture.reject(.updateVendor(vendor: "nobody", feeBasisPoints: 1), .unknownVendor)
        let name = try await fixture.reject(.updateVendor(vendor: "shop", name: ""), .invalidText)
        #expect(name?.field == "name")
        let sites = try await fixture.reject(.updateVendor(vendor: "shop", sites: []), .invalidVendorPolicy)
        #expect(sites?.field == "sites")
        try await fixture.reject(.updateVendor(vendor: "shop", sites: ["ftp://x/"]), .invalidVendorPolicy)
        let fee = try await fixture.reject(.updateVendor(vendor: "shop", feeBasisPoints: 10_001), .invalidVendorPolicy)
        #expect(fee?.field == "feeBasisPoints")
        try await fixture.reject(.updateVendor(vendor: "shop", feeBasisPoints: -1), .invalidVendorPolicy)
        let policy = try await fixture.reject(.updateVendor(vendor: "shop", settlement: SettlementPolicy()), .invalidVendorPolicy)
        #expect(policy?.field == "settlement")
        let threshold = try await fixture.reject(.updateVendor(vendor: "shop", settlement: SettlementPolicy(currencyThresholds: ["EUR": 0])), .amountNotPositive)
        #expect(threshold?.field == "settlement.currencyThresholds.EUR")
    }
}

@Suite("Ledger: settlement per currency")
struct LedgerSettlementCurrencyTests {
    @Test("each currency is settled on its own: its own covered range from registration, its own period")
    func perCurrency() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 1_000)   // shop: threshold 10,000, period one day
        let registered = UInt64(1)
        let eur = Currency.eur
        try await fixture.run(.openWallet(user: "alice", currency: eur))
        try await fixture.run(.addFunds(funding: "f-eur", user: "alice", currency: eur, amount: 1_000, method: .card))
        try await fixture.run(.purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 100))))
        var euroTerms = LedgerFixture.terms("lied", price: 200)
        euroTerms.currency = eur
        try await fixture.run(.purchase(user: "alice", vendor: "shop", content: .inline(euroTerms)))
        fixture.clock.advance(seconds: 43_200)
        let dollars = try await fixture.run(.settle(vendor: "shop", currency: .usd, force: true))
        guard case .vendorSettled(let usd)? = dollars.events.first else { Issue.record("no settlement"); return }
        #expect(usd.coversFromSequence == registered + 1)
        // Half a day later the euro period (from registration) has elapsed; the dollar one (from
        // its settlement at noon) has not.
        fixture.clock.advance(seconds: 43_200)
        let euros = try await fixture.run(.settle(vendor: "shop", currency: eur, force: false))
        guard case .vendorSettled(let settledEuros)? = euros.events.first else { Issue.record("no settlement"); return }
        #expect(settledEuros.trigger == .period)
        #expect(settledEuros.coversFromSequence == registered + 1, "euros cover from registration, not from the dollar settlement")
        try await fixture.run(.purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms("more", price: 50))))
        try await fixture.reject(.settle(vendor: "shop", currency: .usd, force: false), .nothingToSettle)
        fixture.clock.advance(seconds: 43_200)
        let again = try await fixture.run(.settle(vendor: "shop", currency: .usd, force: false))
        guard case .vendorSettled(let second)? = again.events.first else { Issue.record("no settlement"); return }
        #expect(second.trigger == .period)
        #expect(second.coversFromSequence == usd.coversThroughSequence + 1)
        #expect(try fixture.balancesSumToZero())
        // Replaying the journal gives the same write model, marks included.
        #expect(try Ledger.replay(fixture.ledger.journal.storage) == fixture.ledger.writeModel())
    }

    @Test("a currency with its own threshold settles at it; the others at the general threshold, or by period only without one")
    func thresholdsByCurrency() async throws {
        let fixture = try LedgerFixture()
        // Yen settle at 100,000 yen, euros at 50.00; dollars by period only (no general threshold).
        try await fixture.run(.registerVendor(
            vendor: "shop", name: "Shop", sites: [LedgerFixture.site], feeBasisPoints: 0,
            settlement: SettlementPolicy(periodSeconds: 86_400, currencyThresholds: ["JPY": 100_000, "EUR": 5_000])))
        let jpy = try #require(Currency(code: "JPY"))
        try await fixture.givenUser("alice", funds: 1_000_000)
        for currency in [jpy, Currency.eur] {
            try await fixture.run(.openWallet(user: "alice", currency: currency))
            try await fixture.run(.addFunds(funding: "f-\(currency.code)", user: "alice", currency: currency, amount: 1_000_000, method: .card))
        }
        func buy(_ currency: Currency, _ price: Int64, _ id: String) async throws {
            var terms = LedgerFixture.terms(id, price: price, royalties: [])
            terms.currency = currency
            try await fixture.run(.purchase(user: "alice", vendor: "shop", content: .inline(terms)))
        }
        try await buy(.usd, 900_000, "big-dollars")
        try await buy(.eur, 4_999, "euros")
        try await buy(jpy, 99_999, "yen")
        // Dollars have no threshold: however much is payable, only the period (or a command) pays it.
        let dollars = try await fixture.reject(.settle(vendor: "shop", currency: .usd, force: false), .nothingToSettle)
        #expect(dollars?.headroom == nil)
        let euros = try await fixture.reject(.settle(vendor: "shop", currency: .eur, force: false), .nothingToSettle)
        #expect(euros?.headroom == 1)
        let yen = try await fixture.reject(.settle(vendor: "shop", currency: jpy, force: false), .nothingToSettle)
        #expect(yen?.headroom == 1)
        try await buy(.eur, 1, "one-cent")
        try await buy(jpy, 1, "one-yen")
        for (currency, amount) in [(Currency.eur, Int64(5_000)), (jpy, Int64(100_000))] {
            let settled = try await fixture.run(.settle(vendor: "shop", currency: currency, force: false))
            guard case .vendorSettled(let event)? = settled.events.first else { Issue.record("no settlement"); continue }
            #expect(event.trigger == .threshold && event.amount == amount && event.currency == currency)
        }
        fixture.clock.advance(seconds: 86_400)
        let period = try await fixture.run(.settle(vendor: "shop", currency: .usd, force: false))
        guard case .vendorSettled(let event)? = period.events.first else { Issue.record("no settlement"); return }
        #expect(event.trigger == .period && event.amount == 900_000)

        // A general threshold applies to every currency without its own.
        let general = SettlementPolicy(thresholdAmount: 10_000, currencyThresholds: ["JPY": 100_000])
        #expect(general.threshold(for: .usd) == 10_000 && general.threshold(for: jpy) == 100_000 && general.threshold(for: .eur) == 10_000)
        #expect(try Ledger.replay(fixture.ledger.journal.storage) == fixture.ledger.writeModel())
    }

    @Test("thresholds by currency are refused when empty, for a currency that is none, or when not positive: each with its field")
    func thresholdRejections() async throws {
        let fixture = try LedgerFixture()
        func register(_ thresholds: [String: Int64], periodSeconds: UInt64? = nil) -> LedgerCommand {
            .registerVendor(vendor: "v2", name: "V", sites: [LedgerFixture.site], feeBasisPoints: 0,
                            settlement: SettlementPolicy(periodSeconds: periodSeconds, currencyThresholds: thresholds))
        }
        let empty = try await fixture.reject(register([:], periodSeconds: 60), .invalidVendorPolicy)
        #expect(empty?.field == "settlement.currencyThresholds")
        let unknown = try await fixture.reject(register(["USD": 5, "XYZ": 5]), .unknownCurrency)
        #expect(unknown?.field == "settlement.currencyThresholds.XYZ")
        let lower = try await fixture.reject(register(["usd": 5]), .unknownCurrency)
        #expect(lower?.field == "settlement.currencyThresholds.usd")
        let zero = try await fixture.reject(register(["EUR": 0]), .amountNotPositive)
        #expect(zero?.field == "settlement.currencyThresholds.EUR")
        try await fixture.reject(register(["EUR": -1]), .amountNotPositive)
        try await fixture.reject(register(["EUR": Int64.max]), .amountOverflow)
        // Thresholds alone are a policy.
        try await fixture.run(register(["EUR": 1]))
        #expect(try fixture.ledger.read { try $0.vendor("v2") }?.settlement.currencyThresholds == ["EUR": 1])
    }
}
