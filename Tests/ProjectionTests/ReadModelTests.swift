import Foundation
import Journal
import Ledger
import Testing
@testable import Projections

@Suite("Read models")
struct ReadModelTests {
    @Test("a vendor's update shows in its settlement view: name, fee, and the next settlement under the new policy")
    func vendorUpdated() async throws {
        let fixture = try ProjectionFixture()
        try await fixture.givenShopAndAlice()
        try await fixture.run(.purchase(user: "alice", vendor: "shop", content: .inline(ProjectionFixture.terms(price: 2_000, royalties: []))))
        try await fixture.run(.updateVendor(vendor: "shop", name: "Shop, renamed", feeBasisPoints: 700,
                                            settlement: SettlementPolicy(thresholdAmount: 5_000, periodSeconds: 3_600)))
        try fixture.projections.catchUp()
        let shop = try #require(try fixture.projections.read { try $0.vendorSettlement(vendor: "shop") })
        #expect(shop.name == "Shop, renamed" && shop.feeBasisPoints == 700)
        #expect(shop.policy == SettlementPolicy(thresholdAmount: 5_000, periodSeconds: 3_600))
        let usd = try #require(shop.currencies.first)
        #expect(usd.nextDue == SettlementDue(
            thresholdAmount: 5_000, remainingToThreshold: 5_000 - usd.unsettled, periodDueAtMilliseconds: shop.registeredAtMilliseconds + 3_600_000))
        #expect(try fixture.freshDump() == (try fixture.projections.canonicalDump()))
    }

    @Test("a vendor's next settlement shows each currency's own threshold: its entry by currency, else the general one")
    func thresholdsByCurrency() async throws {
        let fixture = try ProjectionFixture()
        let jpy = try #require(Currency(code: "JPY"))
        try await fixture.run(.registerVendor(
            vendor: "shop", name: "Shop", sites: [ProjectionFixture.site], feeBasisPoints: 0,
            settlement: SettlementPolicy(thresholdAmount: 10_000, currencyThresholds: ["JPY": 100_000])))
        try await fixture.givenUser("alice", funds: 10_000)
        try await fixture.run(.openWallet(user: "alice", currency: jpy))
        try await fixture.run(.addFunds(funding: "yen", user: "alice", currency: jpy, amount: 50_000, method: .card))
        var yen = ProjectionFixture.terms("manga", price: 30_000, royalties: [])
        yen.currency = jpy
        try await fixture.run(.purchase(user: "alice", vendor: "shop", content: .inline(yen)))
        try await fixture.run(.purchase(user: "alice", vendor: "shop", content: .inline(ProjectionFixture.terms(price: 2_500, royalties: []))))
        try fixture.projections.catchUp()
        let shop = try #require(try fixture.projections.read { try $0.vendorSettlement(vendor: "shop") })
        #expect(shop.policy.currencyThresholds == ["JPY": 100_000])
        #expect(shop.currencies.map(\.currency) == [jpy, .usd])
        #expect(shop.currencies[0].nextDue == SettlementDue(thresholdAmount: 100_000, remainingToThreshold: 70_000, periodDueAtMilliseconds: nil))
        #expect(shop.currencies[1].nextDue == SettlementDue(thresholdAmount: 10_000, remainingToThreshold: 7_500, periodDueAtMilliseconds: nil))
        // Folded again from empty, the same.
        let dump = try fixture.projections.canonicalDump()
        #expect(try fixture.freshDump() == dump)
    }

    /// Funding, incentive lot, one-step purchase with royalties, authorize/capture, authorize/void,
    /// transfer, dispute with refund, settlement, offline funding, credit line.
    @Test("each read model after a scenario of every kind of money movement")
    func scenario() async throws {
        let fixture = try ProjectionFixture()
        let usd = ProjectionFixture.usd
        try await fixture.givenShopAndAlice()
        try await fixture.givenUser("bob", funds: 0)
        try await fixture.run(.issueIncentive(lot: "promo", user: "alice", currency: usd, amount: 50, issuer: nil,
                                              expiresAtMilliseconds: nil, vendors: nil))
        let bought = try await fixture.run(.purchase(user: "alice", vendor: "shop", content: .inline(ProjectionFixture.terms())))
        let oneStep = try #require(bought.transaction)
        fixture.clock.advance(seconds: 10)
        let held = try await fixture.run(.authorize(
            user: "alice", vendor: "shop",
            content: .inline(ProjectionFixture.terms("song-2", price: 200, url: ProjectionFixture.site + "songs/2",
                                                     access: AccessTerms(views: 5, hours: 2), royalties: [])),
            holdSeconds: 120))
        let captured = try #require(held.transaction)
        let capture = try await fixture.run(.capture(vendor: "shop", transaction: captured))
        let captureTime: UInt64 = {
            if case .purchaseCaptured(let event) = capture.events[0] { return event.timeMilliseconds }
            return 0
        }()
        let voidable = try #require(try await fixture.run(.authorize(
            user: "alice", vendor: "shop", content: .inline(ProjectionFixture.terms("song-3", price: 300, url: ProjectionFixture.site + "songs/3")),
            holdSeconds: 120)).transaction)
        try await fixture.run(.void(vendor: "shop", transaction: voidable))
        let transfer = try await fixture.run(.transfer(from: "alice", to: "bob", currency: usd, amount: 1_000))
        try await fixture.run(.openDispute(dispute: "d1", user: "alice", transaction: oneStep, reason: "never arrived"))
        try await fixture.run(.resolveDispute(dispute: "d1", refund: true, representative: "rep-1"))
        fixture.clock.advance(seconds: 60)
        let settlement = try await fixture.run(.settle(vendor: "shop", currency: usd, force: true))
        guard case .vendorSettled(let settled) = settlement.events[0] else { Issue.record("no settlement"); return }
        try await fixture.run(.addFunds(funding: "chk", user: "bob", currency: usd, amount: 500, method: .check))
        try await fixture.run(.approveCreditLine(user: "alice", currency: usd, limit: 1_000))

        let reached = try fixture.projections.catchUp()
        #expect(reached == fixture.journal.head)
        #expect(fixture.projections.status.sequence == reached)
        #expect(fixture.projections.status.failure == nil)

        try fixture.projections.read { (reader: ProjectionReader) throws in
            #expect(reader.sequence == reached)

            // 1. Wallets.
            let alice = try #require(try reader.wallets(user: "alice"))
            #expect(alice.channel == .providerSite)
            #expect(alice.status == "open")
            let aliceUSD = try #require(alice.wallets.first)
            #expect(aliceUSD.opened)
            #expect(aliceUSD.balance == (try fixture.balance(.wallet(user: "alice", currency: usd))))
            #expect(aliceUSD.balance == 10_000 - 50 - 200 - 1_000 + 50)
            #expect(aliceUSD.held == 0)
            #expect(aliceUSD.creditLimit == 1_000)
            #expect(aliceUSD.creditInUse == 0)
            #expect(aliceUSD.incentives == 50)
            #expect(alice.lots == [LotView(lot: "promo", currency: usd, issuer: "provider", balance: 50,
                                          expiresAtMilliseconds: nil, vendors: nil, expired: false)])
            let bob = try #require(try reader.wallets(user: "bob"))
            #expect(bob.wallets.first?.balance == 1_000)
            #expect(bob.wallets.first?.pending == 500)

            // 2. Vendor settlement.
            let shop = try #require(try reader.vendorSettlement(vendor: "shop"))
            let shopUSD = try #require(shop.currencies.first)
            #expect(shopUSD.earned == 300)
            #expect(shopUSD.fees == 5 + 10)
            #expect(shopUSD.royalties == 10)
            #expect(shopUSD.refunded == 100)
            #expect(shopUSD.reserved == 0)
            #expect(shopUSD.settled == settled.amount)
            #expect(shopUSD.settled == 190)
            #expect(shopUSD.unsettled == (try fixture.balance(.vendorPayable(vendor: "shop", currency: usd))))
            #expect(shopUSD.unsettled == 0)
            #expect(shopUSD.settlements == 1)
            #expect(shop.lastSettledAtMilliseconds == settled.timeMilliseconds)
            #expect(shopUSD.nextDue == SettlementDue(
                thresholdAmount: 10_000, remainingToThreshold: 10_000, periodDueAtMilliseconds: settled.timeMilliseconds + 86_400_000))

            // 3. Purchases and entitlements, newest first.
            let purchases = try reader.purchases(user: "alice")
            #expect(purchases.map(\.transaction) == [voidable, captured, oneStep])
            #expect(purchases.map(\.status) == [.voided, .captured, .refunded])
            #expect(purchases[0].voidReason == "voided")
            #expect(purchases[0].amount == 0)
            let song2 = purchases[1]
            #expect(song2.vendor == "shop" && song2.title == "A song" && song2.url == ProjectionFixture.site + "songs/2")
            #expect(song2.price == 200 && song2.amount == 200 && song2.fee == 10)
            #expect(song2.remaining == EntitlementRemaining(views: 5, hours: 2, days: nil, expiresAtMilliseconds: captureTime + 7_200_000))
            #expect(song2.capturedAtMilliseconds == captureTime)
            #expect(purchases[2].remaining == nil)
            #expect(purchases[2].royalties?.map(\.holder) == ["label"] && purchases[2].royalties?.map(\.amount) == [10])
            #expect(try reader.purchase(transaction: captured) == song2)
            #expect(try reader.purchases(user: "bob").isEmpty)

            // 4. History from each side.
            let history = try reader.walletHistory(user: "alice", currency: usd, limit: 100)
            #expect(history.nextBefore == nil)
            #expect(history.entries.map(\.sequence) == history.entries.map(\.sequence).sorted(by: >))
            let transferEntry = try #require(history.entries.first { $0.eventType == "TokensTransferred" })
            #expect(transferEntry.sequence == transfer.sequences?.lowerBound)
            #expect(transferEntry.amount == -1_000 && transferEntry.counterparty == "user")
            let authorizeEntry = try #require(history.entries.first { $0.transaction == captured && $0.eventType == "PurchaseAuthorized" })
            #expect(authorizeEntry.amount == 0 && authorizeEntry.held == 200 && authorizeEntry.counterparty == "self")
            let captureEntry = try #require(history.entries.first { $0.transaction == captured && $0.eventType == "PurchaseCaptured" })
            #expect(captureEntry.amount == -200 && captureEntry.held == -200 && captureEntry.counterparty == "vendor")
            let refundEntry = try #require(history.entries.first { $0.eventType == "DisputeResolved" })
            #expect(refundEntry.amount == 100)
            // The user's net over its history is what it holds now (wallet + lots + pending + holds - credit).
            #expect(history.entries.reduce(0) { $0 + $1.amount } == aliceUSD.balance + aliceUSD.incentives)
            let bobHistory = try reader.walletHistory(user: "bob", currency: usd)
            #expect(bobHistory.entries.map(\.amount) == [500, 1_000])
            #expect(bobHistory.entries.map(\.counterparty) == ["funding", "user"])

            let vendorHistory = try reader.vendorHistory(vendor: "shop", limit: 100)
            #expect(vendorHistory.entries.first?.eventType == "VendorSettled")
            #expect(vendorHistory.entries.first?.amount == -190)
            #expect(vendorHistory.entries.first?.counterparty == "settlement")
            let dispute = try #require(vendorHistory.entries.first { $0.eventType == "DisputeOpened" })
            #expect(dispute.amount == 0 && dispute.held == 85 && dispute.counterparty == "self")
            #expect(vendorHistory.entries.reduce(0) { $0 + $1.amount } == shopUSD.unsettled + shopUSD.reserved)

            // 5. Royalty statement.
            let label = try #require(try reader.royaltyStatement(holder: "label"))
            #expect(label.totals == [RoyaltyCurrencyTotal(currency: usd, paid: 10, reversed: 10, balance: 0)])
            #expect(label.entries.map(\.amount) == [10, -10])
            #expect(label.entries.allSatisfy { $0.transaction == oneStep && $0.vendor == "shop" })
            #expect(try reader.royaltyStatement(holder: "nobody") == nil)

            // 6. Every balance equals the write model's.
            for (account, balance) in try fixture.writeModelBalances() {
                #expect(try reader.balance(account: account).balance == balance, "\(account)")
            }
        }
    }

    @Test("a vendor's refund shows in the purchase, the vendor's settlement, the royalty statement and both histories")
    func vendorRefund() async throws {
        let fixture = try ProjectionFixture()
        let usd = ProjectionFixture.usd
        try await fixture.givenShopAndAlice()
        let bought = try #require(try await fixture.run(.purchase(
            user: "alice", vendor: "shop", content: .inline(ProjectionFixture.terms(price: 200)))).transaction)
        let refund = try await fixture.run(.refund(vendor: "shop", transaction: bought, reason: "wrong file"))
        _ = try fixture.projections.catchUp()
        try fixture.projections.read { (reader: ProjectionReader) throws in
            let purchase = try #require(try reader.purchase(transaction: bought))
            #expect(purchase.status == .refunded)
            #expect(purchase.amount == 0 && purchase.price == 200)
            #expect(purchase.remaining == nil)
            let shopUSD = try #require(try reader.vendorSettlement(vendor: "shop")?.currencies.first)
            #expect(shopUSD.earned == 200 && shopUSD.refunded == 200)
            #expect(shopUSD.unsettled == 0)
            let label = try #require(try reader.royaltyStatement(holder: "label"))
            #expect(label.entries.map(\.amount) == [20, -20])
            #expect(label.totals == [RoyaltyCurrencyTotal(currency: usd, paid: 20, reversed: 20, balance: 0)])
            let entry = try #require(try reader.walletHistory(user: "alice", currency: usd).entries.first)
            #expect(entry.eventType == "PurchaseRefunded" && entry.transaction == bought && entry.amount == 200)
            #expect(entry.sequence == refund.sequences?.lowerBound)
            let vendorEntry = try #require(try reader.vendorHistory(vendor: "shop").entries.first)
            #expect(vendorEntry.eventType == "PurchaseRefunded" && vendorEntry.amount == -170)
            #expect(try reader.wallets(user: "alice")?.wallets.first?.balance == 10_000)
        }
    }

    @Test("partial refunds lower what the purchase costs, keep it captured with its access, and count in the vendor's, the holder's and the wallet's figures")
    func partialVendorRefunds() async throws {
        let fixture = try ProjectionFixture()
        let usd = ProjectionFixture.usd
        try await fixture.givenShopAndAlice()
        let bought = try #require(try await fixture.run(.purchase(
            user: "alice", vendor: "shop", content: .inline(ProjectionFixture.terms(price: 200)))).transaction)
        try await fixture.run(.refund(vendor: "shop", transaction: bought, amount: 50, reason: "late"))
        _ = try fixture.projections.catchUp()
        try fixture.projections.read { (reader: ProjectionReader) throws in
            let purchase = try #require(try reader.purchase(transaction: bought))
            #expect(purchase.status == .captured && purchase.amount == 150 && purchase.price == 200)
            #expect(purchase.remaining != nil)
            let shopUSD = try #require(try reader.vendorSettlement(vendor: "shop")?.currencies.first)
            #expect(shopUSD.earned == 200 && shopUSD.refunded == 50)
            let label = try #require(try reader.royaltyStatement(holder: "label"))
            #expect(label.entries.map(\.amount) == [20, -5])
            let entry = try #require(try reader.walletHistory(user: "alice", currency: usd).entries.first)
            #expect(entry.eventType == "PurchaseRefunded" && entry.amount == 50)
            #expect(try reader.wallets(user: "alice")?.wallets.first?.balance == 9_850)
        }
        try await fixture.run(.refund(vendor: "shop", transaction: bought, reason: "the rest"))
        _ = try fixture.projections.catchUp()
        try fixture.projections.read { (reader: ProjectionReader) throws in
            let purchase = try #require(try reader.purchase(transaction: bought))
            #expect(purchase.status == .refunded && purchase.amount == 0 && purchase.remaining == nil)
            #expect(try reader.vendorSettlement(vendor: "shop")?.currencies.first?.refunded == 200)
            let label = try #require(try reader.royaltyStatement(holder: "label"))
            #expect(label.totals == [RoyaltyCurrencyTotal(currency: usd, paid: 20, reversed: 20, balance: 0)])
            #expect(try reader.wallets(user: "alice")?.wallets.first?.balance == 10_000)
        }
    }

    @Test("a rights holder's royalty payouts: a record each, listed newest first and paged; the statement's balance falls to zero",
          arguments: [1, 64])
    func royaltyPayouts(batchEvents: Int) async throws {
        let fixture = try ProjectionFixture(batchEvents: batchEvents)
        let usd = ProjectionFixture.usd
        try await fixture.givenShopAndAlice()
        try await fixture.run(.purchase(user: "alice", vendor: "shop", content: .inline(ProjectionFixture.terms(price: 200))))
        let first = try await fixture.run(.payRoyalties(payout: "roy-1", holder: "label", currency: usd, representative: "rep-1"))
        try fixture.projections.catchUp()
        fixture.clock.advance(seconds: 5)
        try await fixture.run(.purchase(user: "alice", vendor: "shop", content: .inline(ProjectionFixture.terms(price: 300))))
        let second = try await fixture.run(.payRoyalties(payout: "roy-2", holder: "label", currency: usd, representative: "rep-2"))
        try fixture.projections.catchUp()
        try fixture.projections.read { (reader: ProjectionReader) throws in
            #expect(try reader.royaltyPayout("roy-2") == RoyaltyPayoutCase(
                payout: "roy-2", holder: "label", currency: usd, amount: 30, representative: "rep-2",
                paidAtMilliseconds: fixture.clock.now, sequence: try #require(second.sequences?.lowerBound)))
            #expect(try reader.royaltyPayout("nobody") == nil)
            let page = try reader.royaltyPayouts(holder: "label", limit: 1)
            #expect(page.payouts.map(\.payout) == ["roy-2"])
            let rest = try reader.royaltyPayouts(holder: "label", before: page.nextBefore)
            #expect(rest.payouts.map(\.amount) == [20])
            #expect(rest.payouts.first?.sequence == first.sequences?.lowerBound)
            #expect(rest.nextBefore == nil)
            #expect(try reader.royaltyPayouts(holder: "writer").payouts.isEmpty)
            let statement = try #require(try reader.royaltyStatement(holder: "label"))
            #expect(statement.totals == [RoyaltyCurrencyTotal(currency: usd, paid: 50, reversed: 0, balance: 0)])
        }
        #expect(try fixture.projections.canonicalDump() == (try fixture.freshDump()))
    }

    @Test("history pages run newest first, and the cursor walks every entry once")
    func pagination() async throws {
        let fixture = try ProjectionFixture()
        try await fixture.givenShopAndAlice(funds: 1)
        var fundings: [UInt64] = []
        for index in 0..<11 {
            let result = try await fixture.run(.addFunds(
                funding: "top-\(index)", user: "alice", currency: .usd, amount: Int64(index + 1), method: .card))
            fundings.append(try #require(result.sequences?.lowerBound))
        }
        try fixture.projections.catchUp()
        try fixture.projections.read { (reader: ProjectionReader) throws in
            var seen: [HistoryEntry] = []
            var before: UInt64? = nil
            var pages = 0
            repeat {
                let page = try reader.walletHistory(user: "alice", currency: .usd, before: before, limit: 4)
                #expect(page.entries.count <= 4)
                seen += page.entries
                before = page.nextBefore
                pages += 1
            } while before != nil && pages < 10
            #expect(pages == 3)
            #expect(seen.map(\.sequence) == (fundings.reversed() + [fundings[0] - 1]))
            #expect(seen.map(\.amount) == (1...11).reversed().map { Int64($0) } + [1])
            // A cursor in the middle, and pages that end exactly at the last entry.
            let middle = try reader.walletHistory(user: "alice", currency: .usd, before: fundings[5], limit: 5)
            #expect(middle.entries.map(\.sequence) == Array(fundings[0..<5].reversed()))
            #expect(middle.nextBefore == fundings[0])
            let rest = try reader.walletHistory(user: "alice", currency: .usd, before: fundings[0], limit: 1)
            #expect(rest.entries.count == 1 && rest.nextBefore == nil)
            #expect(try reader.walletHistory(user: "alice", currency: .eur).entries.isEmpty)
            #expect(try reader.walletHistory(user: "nobody", currency: .usd).entries.isEmpty)
        }
    }

    @Test("point-in-time balances by sequence and by time match the write model as it was")
    func pointInTime() async throws {
        let fixture = try ProjectionFixture()
        try await fixture.givenShopAndAlice(funds: 1_000)
        let wallet = LedgerAccount.wallet(user: "alice", currency: .usd)
        var snapshots: [(sequence: UInt64, time: UInt64, balance: Int64)] = []
        for index in 0..<8 {
            fixture.clock.advance(seconds: 100)
            if index % 2 == 0 {
                try await fixture.run(.purchase(user: "alice", vendor: "shop", content: .inline(ProjectionFixture.terms(
                    "item-\(index)", price: Int64(10 + index)))))
            } else {
                try await fixture.run(.addFunds(funding: "more-\(index)", user: "alice", currency: .usd, amount: 7, method: .card))
            }
            snapshots.append((fixture.journal.head, fixture.clock.now, try fixture.balance(wallet)))
            // An event of another account at the same time must not move alice's history.
            try await fixture.run(.registerVendor(vendor: "v\(index)", name: "V", sites: ["https://v\(index).example/"],
                                                  feeBasisPoints: 0, settlement: SettlementPolicy(thresholdAmount: 1)))
        }
        try fixture.projections.catchUp()
        try fixture.projections.read { (reader: ProjectionReader) throws in
            for snapshot in snapshots {
                #expect(try reader.balance(account: wallet.name, atSequence: snapshot.sequence).balance == snapshot.balance)
                #expect(try reader.balance(account: wallet.name, atSequence: snapshot.sequence + 1).balance == snapshot.balance)
                #expect(try reader.balance(account: wallet.name, atTimeMilliseconds: snapshot.time).balance == snapshot.balance)
                #expect(try reader.balance(account: wallet.name, atTimeMilliseconds: snapshot.time + 99_999).balance == snapshot.balance)
            }
            #expect(try reader.balance(account: wallet.name, atSequence: 0).balance == 0)
            #expect(try reader.balance(account: wallet.name, atTimeMilliseconds: 0) == AccountBalance(account: wallet.name, balance: 0, sequence: 0))
            #expect(try reader.balance(account: wallet.name).balance == (try fixture.balance(wallet)))
            #expect(try reader.balance(account: "wallet:nobody:USD", atSequence: reader.sequence).balance == 0)
            #expect(throws: ProjectionError.notYetFolded(requested: reader.sequence + 1, reached: reader.sequence)) {
                try reader.balance(account: wallet.name, atSequence: reader.sequence + 1)
            }
        }
    }
}
