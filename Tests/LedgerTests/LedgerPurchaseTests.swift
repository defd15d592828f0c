import Journal
import Testing
@testable import Ledger

@Suite("Ledger: vendors, content, purchases, settlement")
struct LedgerPurchaseTests {
    @Test("a one-step purchase pays the vendor, the rights holders and the fee, and grants the entitlement")
    func oneStepPurchase() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice()
        let terms = LedgerFixture.terms(price: 199, royalties: [
            RoyaltyShare(holder: "author", basisPoints: 700), RoyaltyShare(holder: "publisher", basisPoints: 333),
        ])
        let result = try await fixture.run(.purchase(user: "alice", vendor: "shop", content: .inline(terms)))
        guard case .purchaseCaptured(let event) = result.events.first else {
            Issue.record("no PurchaseCaptured")
            return
        }
        // fee = floor(199 * 500 / 10000) = 9; author floor(199*700/10000) = 13; publisher floor(199*333/10000) = 6
        #expect(event.fee == 9)
        #expect(event.royalties == [RoyaltyPayment(holder: "author", amount: 13), RoyaltyPayment(holder: "publisher", amount: 6)])
        #expect(event.rounding == royaltyRoundingRule)
        #expect(event.entitlement == terms.access)
        #expect(try fixture.wallet("alice") == 10_000 - 199)
        #expect(try fixture.balance(.vendorPayable(vendor: "shop", currency: .usd)) == 199 - 9 - 13 - 6)
        #expect(try fixture.balance(.rightsHolderPayable(holder: "author", currency: .usd)) == 13)
        #expect(try fixture.balance(.providerFeeRevenue(currency: .usd)) == 9)
        #expect(result.transaction == "tx-\(result.sequences!.lowerBound)")
        #expect(try fixture.balancesSumToZero())
        let publicKey = try SigningKeyStore(directory: Journal.keysPath(in: fixture.directory.path)).loadSigningKey()!.key.publicKey
        #expect(result.receipts.first?.violation(publicKey: publicKey) == nil)
    }

    @Test("catalog content is bought by its ID; vendor and content rejections")
    func catalogAndVendorRejections() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice()
        try await fixture.run(.registerContent(vendor: "shop", terms: LedgerFixture.terms("album")))
        try await fixture.run(.purchase(user: "alice", vendor: "shop", content: .catalog("album")))
        #expect(try fixture.wallet("alice") == 9_900)
        try await fixture.reject(.registerContent(vendor: "shop", terms: LedgerFixture.terms("album")), .contentExists)
        try await fixture.reject(.purchase(user: "alice", vendor: "shop", content: .catalog("missing")), .unknownContent)
        try await fixture.reject(.purchase(user: "alice", vendor: "nobody", content: .catalog("album")), .unknownVendor)
        try await fixture.reject(
            .purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(url: "https://evil.example/x"))),
            .urlOutsideVendorSites)
        try await fixture.reject(
            .purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(royalties: [RoyaltyShare(holder: "x", basisPoints: 9_600)]))),
            .invalidRoyaltySchedule)
        try await fixture.reject(.purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 0))), .amountNotPositive)
        try await fixture.reject(
            .purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(royalties: [
                RoyaltyShare(holder: "twice", basisPoints: 100), RoyaltyShare(holder: "twice", basisPoints: 100),
            ]))), .invalidRoyaltySchedule)
        try await fixture.reject(
            .purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(url: LedgerFixture.site + String(repeating: "a", count: 2_100)))),
            .invalidText)
        try await fixture.reject(.purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: -3))), .amountNotPositive)
        let short = try await fixture.reject(
            .purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 10_000))), .insufficientFunds)
        #expect(short?.headroom == 9_900)
        try await fixture.reject(.registerVendor(vendor: "shop", name: "Again", sites: [LedgerFixture.site], feeBasisPoints: 0,
                                                 settlement: .init(thresholdAmount: 1)), .vendorExists)
        try await fixture.reject(.registerVendor(vendor: "provider", name: "P", sites: [LedgerFixture.site], feeBasisPoints: 0,
                                                 settlement: .init(thresholdAmount: 1)), .invalidIdentifier)
        try await fixture.reject(.registerVendor(vendor: "v2", name: "V", sites: ["ftp://x/"], feeBasisPoints: 0,
                                                 settlement: .init(thresholdAmount: 1)), .invalidVendorPolicy)
        try await fixture.reject(.registerVendor(vendor: "v2", name: "V", sites: [LedgerFixture.site], feeBasisPoints: 10_001,
                                                 settlement: .init(thresholdAmount: 1)), .invalidVendorPolicy)
        try await fixture.reject(.registerVendor(vendor: "v2", name: "V", sites: [LedgerFixture.site], feeBasisPoints: 0,
                                                 settlement: .init()), .invalidVendorPolicy)
        try await fixture.reject(.registerVendor(vendor: "v2", name: "", sites: [LedgerFixture.site], feeBasisPoints: 0,
                                                 settlement: .init(periodSeconds: 60)), .invalidText)
        // Control characters in text, and a space or a control character in a URL.
        try await fixture.reject(.registerVendor(vendor: "v2", name: "V\u{0}", sites: [LedgerFixture.site], feeBasisPoints: 0,
                                                 settlement: .init(periodSeconds: 60)), .invalidText)
        var terms = LedgerFixture.terms()
        terms.title = "A song\u{1B}[2J"
        try await fixture.reject(.purchase(user: "alice", vendor: "shop", content: .inline(terms)), .invalidText)
        terms = LedgerFixture.terms()
        terms.description = "line\u{85}break"
        try await fixture.reject(.purchase(user: "alice", vendor: "shop", content: .inline(terms)), .invalidText)
        for url in [LedgerFixture.site + "a b", LedgerFixture.site + "a\u{7F}", LedgerFixture.site + "a\nb"] {
            try await fixture.reject(.purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(url: url))), .invalidText)
        }
    }

    @Test("authorize holds funds; capture pays exactly once; void returns them; capture after void is refused")
    func authorizeCaptureVoid() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 1_000)
        let held = try await fixture.run(.authorize(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 300)), holdSeconds: 600))
        let transaction = try #require(held.transaction)
        #expect(try fixture.wallet("alice") == 700)
        #expect(try fixture.balance(.holds(user: "alice", currency: .usd)) == 300)
        try await fixture.run(.capture(vendor: "shop", transaction: transaction))
        #expect(try fixture.balance(.holds(user: "alice", currency: .usd)) == 0)
        #expect(try fixture.balance(.vendorPayable(vendor: "shop", currency: .usd)) == 300 - 15 - 30)
        try await fixture.reject(.capture(vendor: "shop", transaction: transaction), .transactionNotHeld)
        try await fixture.reject(.void(vendor: "shop", transaction: transaction), .transactionNotHeld)

        let second = try #require(try await fixture.run(.authorize(
            user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 200)), holdSeconds: 600)).transaction)
        try await fixture.run(.void(vendor: "shop", transaction: second))
        #expect(try fixture.wallet("alice") == 700)
        try await fixture.reject(.capture(vendor: "shop", transaction: second), .transactionNotHeld)
        try await fixture.reject(.capture(vendor: "other", transaction: second), .unknownTransaction)
        try await fixture.reject(.capture(vendor: "shop", transaction: "tx-999"), .unknownTransaction)
        try await fixture.reject(.authorize(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms()), holdSeconds: 0), .holdTimeoutOutOfRange)
        #expect(try fixture.balancesSumToZero())
    }

    @Test("an expired hold cannot be captured and is released by the sweeper, deterministically by the clock")
    func holdExpiry() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 1_000)
        let transaction = try #require(try await fixture.run(.authorize(
            user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 400)), holdSeconds: 60)).transaction)
        try await fixture.reject(.expireHold(transaction: transaction), .transactionNotHeld)
        fixture.clock.advance(seconds: 60)
        try await fixture.reject(.capture(vendor: "shop", transaction: transaction), .holdExpired)
        let released = try await fixture.run(.expireHold(transaction: transaction))
        guard case .purchaseVoided(let event) = released.events.first else { Issue.record("no PurchaseVoided"); return }
        #expect(event.reason == .expired)
        #expect(try fixture.wallet("alice") == 1_000)
    }

    @Test("spending limits: per transaction, rolling day, per vendor and per member, with the headroom left")
    func spendingLimits() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 100_000)
        try await fixture.run(.addMember(user: "alice", member: "kid"))
        try await fixture.run(.setSpendingLimit(user: "alice", limit: SpendingLimit(kind: .perTransaction, currency: .usd, amount: 500)))
        try await fixture.run(.setSpendingLimit(user: "alice", limit: SpendingLimit(kind: .perDay, currency: .usd, amount: 1_000)))
        try await fixture.run(.setSpendingLimit(user: "alice", limit: SpendingLimit(kind: .perDay, currency: .usd, amount: 100, member: "kid")))
        let kid = try await fixture.reject(
            .purchase(user: "alice", member: "kid", vendor: "shop", content: .inline(LedgerFixture.terms(price: 101))), .exceedsDailyLimit)
        #expect(kid?.headroom == 100)
        let big = try await fixture.reject(
            .purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 501))), .exceedsPerTransactionLimit)
        #expect(big?.headroom == 500)
        try await fixture.run(.purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 500))))
        try await fixture.run(.purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 450))))
        let daily = try await fixture.reject(
            .purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 60))), .exceedsDailyLimit)
        #expect(daily?.headroom == 50)
        fixture.clock.advance(seconds: 86_400)
        try await fixture.run(.purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 60))))
        try await fixture.run(.setSpendingLimit(user: "alice", limit: SpendingLimit(kind: .perVendorMonth, currency: .usd, amount: 1_000, vendor: "shop")))
        try await fixture.reject(
            .purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 1))), .exceedsVendorLimit)
        try await fixture.reject(
            .setSpendingLimit(user: "alice", limit: SpendingLimit(kind: .perVendorMonth, currency: .usd, amount: 1, vendor: "nobody")), .unknownVendor)
        try await fixture.reject(
            .setSpendingLimit(user: "alice", limit: SpendingLimit(kind: .perDay, currency: .usd, amount: 0)), .amountNotPositive)
        try await fixture.run(.removeSpendingLimit(user: "alice", limit: SpendingLimit(kind: .perVendorMonth, currency: .usd, amount: 0, vendor: "shop")))
        try await fixture.run(.purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 1))))
        // Removed once, it is gone: a second removal names no limit. Only a per-vendor limit
        // names a vendor; each refusal names the command's field.
        let gone = try await fixture.reject(
            .removeSpendingLimit(user: "alice", limit: SpendingLimit(kind: .perVendorMonth, currency: .usd, amount: 0, vendor: "shop")), .unknownLimit)
        #expect(gone?.message.contains("alice") == false)
        let vendorOnDaily = try await fixture.reject(
            .setSpendingLimit(user: "alice", limit: SpendingLimit(kind: .perDay, currency: .usd, amount: 5, vendor: "shop")), .limitVendorNotAllowed)
        #expect(vendorOnDaily?.field == "limit.vendor")
        let zero = try await fixture.reject(
            .setSpendingLimit(user: "alice", limit: SpendingLimit(kind: .perDay, currency: .usd, amount: 0)), .amountNotPositive)
        #expect(zero?.field == "limit.amount")
    }

    @Test("a limit counts spending in its own currency only: a purchase in euros leaves the dollar headroom as it was")
    func limitsPerCurrency() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 100_000)
        try await fixture.run(.openWallet(user: "alice", currency: .eur))
        try await fixture.run(.addFunds(funding: "f-eur", user: "alice", currency: .eur, amount: 100_000, method: .card))
        try await fixture.run(.setSpendingLimit(user: "alice", limit: SpendingLimit(kind: .perDay, currency: .usd, amount: 1_000)))
        try await fixture.run(.setSpendingLimit(user: "alice", limit: SpendingLimit(kind: .perDay, currency: .eur, amount: 5_000)))
        var euros = LedgerFixture.terms("song-eu", price: 5_000)
        euros.currency = .eur
        try await fixture.run(.purchase(user: "alice", vendor: "shop", content: .inline(euros)))
        // Two-step in dollars: the authorization counts like a one-step purchase.
        try await fixture.run(.authorize(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 400)), holdSeconds: 60))
        try await fixture.run(.purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 600))))
        let usd = try await fixture.reject(.purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 1))), .exceedsDailyLimit)
        #expect(usd?.headroom == 0)
        euros.price = 1
        let eur = try await fixture.reject(.purchase(user: "alice", vendor: "shop", content: .inline(euros)), .exceedsDailyLimit)
        #expect(eur?.headroom == 0)
    }

    @Test("weekly and monthly limits count a rolling window of spending", arguments: [
        (SpendingLimit.Kind.perWeek, UInt64(7 * 86_400), LedgerRejection.Rule.exceedsWeeklyLimit),
        (SpendingLimit.Kind.perMonth, UInt64(30 * 86_400), LedgerRejection.Rule.exceedsMonthlyLimit),
    ])
    func rollingWindows(kind: SpendingLimit.Kind, window: UInt64, rule: LedgerRejection.Rule) async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 100_000)
        try await fixture.run(.setSpendingLimit(user: "alice", limit: SpendingLimit(kind: kind, currency: .usd, amount: 1_000)))
        try await fixture.run(.purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 700))))
        fixture.clock.advance(seconds: window / 2)
        let refused = try await fixture.reject(.purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 400))), rule)
        #expect(refused?.headroom == 300)
        fixture.clock.advance(seconds: window / 2)
        try await fixture.run(.purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 400))))
    }

    @Test("settlement pays a vendor when its threshold is reached or its period elapses, or by command")
    func settlement() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 100_000)
        try await fixture.reject(.settle(vendor: "shop", currency: .usd, force: true), .nothingToSettle)
        try await fixture.run(.purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 1_000))))
        let below = try await fixture.reject(.settle(vendor: "shop", currency: .usd, force: false), .nothingToSettle)
        #expect(below?.headroom == Int64(9_150))
        fixture.clock.advance(seconds: 86_400)
        let byPeriod = try await fixture.run(.settle(vendor: "shop", currency: .usd, force: false))
        guard case .vendorSettled(let event) = byPeriod.events.first else { Issue.record("no VendorSettled"); return }
        #expect(event.trigger == .period)
        #expect(event.amount == 850)
        #expect(event.coversThroughSequence == byPeriod.sequences!.lowerBound - 1)
        let registered = try #require(try fixture.journal.events(from: 1, limit: 1).first)
        #expect(event.coversFromSequence == registered.sequence + 1, "the first settlement covers everything since registration")
        #expect(try fixture.balance(.vendorPayable(vendor: "shop", currency: .usd)) == 0)
        #expect(try fixture.balance(.settlementClearing(currency: .usd)) == 850)
        try await fixture.run(.purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 9_000, royalties: []))))
        try await fixture.run(.purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 3_000, royalties: []))))
        let byThreshold = try await fixture.run(.settle(vendor: "shop", currency: .usd, force: false))
        guard case .vendorSettled(let second) = byThreshold.events.first else { Issue.record("no VendorSettled"); return }
        #expect(second.trigger == .threshold)
        #expect(second.coversFromSequence == event.coversThroughSequence + 1)
        #expect(try fixture.balancesSumToZero())
    }

    @Test("idempotency: the same key and request return the first answer; a different request is a conflict")
    func idempotency() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice()
        let command = LedgerCommand.purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms()))
        let first = try await fixture.run(command, key: "order-1")
        let head = fixture.journal.head
        let again = try await fixture.run(command, key: "order-1")
        #expect(again.replayed)
        #expect(again.events == first.events)
        #expect(again.sequences == first.sequences)
        #expect(fixture.journal.head == head)
        #expect(try fixture.wallet("alice") == 9_900)
        try await fixture.reject(.purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 5))),
                                 .idempotencyConflict, key: "order-1")
        try await fixture.reject(.openAccount(user: "x", channel: .providerSite), .invalidIdentifier, key: "k")
        try await fixture.reject(command, .invalidIdentifier, key: "has space")
        // Keys are scoped per vendor and survive a restart (they live in the write model).
        fixture.journal.close()
        var configuration = Journal.Configuration(directory: fixture.directory.path)
        let clock = fixture.clock
        configuration.clock = { clock.now }
        let reopened = try Journal.open(configuration)
        let ledger = Ledger(journal: reopened)
        let afterRestart = try await ledger.execute(command, idempotencyKey: "order-1")
        #expect(afterRestart.replayed)
        #expect(afterRestart.events == first.events)
        reopened.close()
    }
}
