import Foundation
import Journal
import PropertyBased
import Testing
@testable import Ledger

/// Invariants over random command sequences (accepted or rejected, in any order).
@Suite("Ledger properties")
struct LedgerPropertyTests {
    static let users = ["u0", "u1", "u2"]
    static let vendors = ["v0", "v1"]
    static let onlineMethods: [FundingMethod] = [.card, .bankDebit, .electronicCheck]
    static let offlineMethods: [FundingMethod] = [.check, .mailedBill, .isp]

    /// Turns a list of random numbers into commands over a small world.
    static func command(_ code: Int, step: Int, held: [String], pending: [String], captured: [(user: String, vendor: String, transaction: String)],
                        disputes: [String], fixture: LedgerFixture) -> LedgerCommand? {
        if code % 13 == 0 {
            // Disputes and incentives, mixed in.
            switch (code / 13) % 4 {
            case 0:
                guard !captured.isEmpty else { return nil }
                let (user, vendor, transaction) = captured[code % captured.count]
                if code % 3 == 2 {
                    // The vendor refunds by its own decision (refused once disputed or refunded):
                    // all that is still paid, or a part (refused when more than is still paid).
                    let amount: Int64? = code % 2 == 0 ? Int64(1 + (code / 39) % 250) : nil
                    return .refund(vendor: vendor, transaction: transaction, amount: amount, reason: "property")
                }
                return .openDispute(dispute: "d\(step)", user: user, transaction: transaction, reason: "property")
            case 1:
                guard !disputes.isEmpty else { return nil }
                return .resolveDispute(dispute: disputes[code % disputes.count], refund: code % 2 == 0, representative: "rep")
            case 2:
                return .issueIncentive(lot: "l\(step)", user: users[code % users.count], currency: .usd, amount: Int64(1 + code % 90),
                                       issuer: code % 3 == 0 ? vendors[code % 2] : nil,
                                       expiresAtMilliseconds: code % 2 == 0 ? fixture.clock.now + UInt64(code % 100_000) + 1 : nil,
                                       vendors: code % 5 == 0 ? [vendors[code % 2]] : nil)
            default:
                fixture.clock.advance(seconds: 60)
                return .expireIncentive(lot: "l\(max(step - 1, 0))")
            }
        }
        let user = users[code % users.count]
        let other = users[(code / 3) % users.count]
        let vendor = vendors[(code / 7) % vendors.count]
        let amount = Int64(1 + (code / 11) % 400)
        switch code % 10 {
        case 0: return .addFunds(funding: "f\(step)", user: user, currency: .usd, amount: amount, method: onlineMethods[code % 3])
        case 1, 2:
            return .purchase(user: user, vendor: vendor, content: .inline(LedgerFixture.terms(
                price: amount, url: "https://\(vendor).example/item",
                royalties: [RoyaltyShare(holder: "h-\(vendor)", basisPoints: Int64(code % 3000))])))
        case 3: return .authorize(user: user, vendor: vendor, content: .inline(LedgerFixture.terms(price: amount, url: "https://\(vendor).example/item")), holdSeconds: 120)
        case 4: return held.isEmpty ? nil : .capture(vendor: vendor, transaction: held[code % held.count])
        case 5: return held.isEmpty ? nil : .void(vendor: vendor, transaction: held[code % held.count])
        case 6:
            if code % 4 == 3 {
                // Paid back out of Tally (refused when the wallet holds less).
                return .returnFunds(payout: "r\(step)", user: user, currency: .usd, amount: amount, method: onlineMethods[code % 3], representative: "rep")
            }
            // Payouts users ask for, then paid or declined (IDs from a small set, so that some
            // are asked for twice and some decided twice or never asked for).
            if code % 4 == 2 { return .requestPayout(payout: "q\(code % 7)", user: user, currency: .usd, amount: amount, method: onlineMethods[code % 3]) }
            if code % 8 == 1 { return .completePayout(payout: "q\(code % 7)", representative: "rep") }
            if code % 8 == 5 { return .declinePayout(payout: "q\(code % 7)", representative: "rep", reason: "property") }
            return .transfer(from: user, to: other, currency: .usd, amount: amount)
        case 7:
            if code % 5 == 4 {
                // The vendor's rights holder is paid its royalties (refused when it holds none).
                return .payRoyalties(payout: "h\(step)", holder: "h-\(vendor)", currency: .usd, representative: "rep")
            }
            return .settle(vendor: vendor, currency: .usd, force: code % 2 == 0)
        case 8:
            if code % 3 == 0, !pending.isEmpty { return .clearFunds(funding: pending[code % pending.count]) }
            if code % 3 == 1, !pending.isEmpty { return .failFunds(funding: pending[code % pending.count]) }
            return .addFunds(funding: "p\(step)", user: user, currency: .usd, amount: amount, method: offlineMethods[code % 3])
        default:
            if code % 2 == 0 {
                fixture.clock.advance(seconds: UInt64(code % 200))
                return held.isEmpty ? nil : .expireHold(transaction: held[code % held.count])
            }
            return .approveCreditLine(user: user, currency: .usd, limit: Int64(code % 300))
        }
    }

    static func givenWorld(_ fixture: LedgerFixture) async throws {
        for vendor in vendors {
            // v1's dollars settle at their own threshold, below the general one.
            try await fixture.run(.registerVendor(
                vendor: vendor, name: vendor, sites: ["https://\(vendor).example/"], feeBasisPoints: 500,
                settlement: SettlementPolicy(thresholdAmount: 2_000, periodSeconds: 600, currencyThresholds: vendor == "v1" ? ["USD": 300] : nil)))
        }
        for user in users { try await fixture.givenUser(user, funds: 1_000) }
    }

    @Test("balances sum to zero per currency, wallets and credit lines stay in bounds, holds match held purchases, and replay equals the live write model")
    func invariants() async throws {
        await propertyCheck(count: 20, input: Gen.int(in: 0...1_000_000).array(of: 5...70)) { codes in
            do {
                let fixture = try LedgerFixture()
                try await Self.givenWorld(fixture)
                var held: [String] = []
                var pending: [String] = []
                var captured: [(user: String, vendor: String, transaction: String)] = []
                var disputes: [String] = []
                for (step, code) in codes.enumerated() {
                    guard let command = Self.command(
                        code, step: step, held: held, pending: pending, captured: captured, disputes: disputes, fixture: fixture)
                    else { continue }
                    var payableBefore: Int64 = 0
                    var reserveBefore: Int64 = 0
                    if case .settle(let vendor, _, _) = command {
                        payableBefore = try fixture.balance(.vendorPayable(vendor: vendor, currency: .usd))
                        reserveBefore = try fixture.balance(.disputeReserve(vendor: vendor, currency: .usd))
                    }
                    // Half of the money-moving commands of users and customer service go with an
                    // idempotency key, and are sent again: the retry is the first answer and changes
                    // nothing (or, after a refusal, is refused again by the same rule).
                    let keyed = command.acceptsIdempotencyKey && command.issuingVendor == nil && code % 2 == 0
                    let key = keyed ? "k\(step)" : nil
                    let scope: String?
                    switch command {
                    case .transfer(let from, _, _, _): scope = keyed ? IdempotencyScope.user(from) : nil
                    case .requestPayout(_, let user, _, _, _): scope = keyed ? IdempotencyScope.user(user) : nil
                    default: scope = keyed ? IdempotencyScope.customerService : nil
                    }
                    do {
                        let result = try await fixture.run(command, key: key, scope: scope)
                        if keyed {
                            let head = fixture.journal.head
                            let model = try fixture.ledger.writeModel()
                            let retry = try await fixture.run(command, key: key, scope: scope)
                            #expect(retry.replayed && retry.events == result.events && retry.sequences == result.sequences)
                            #expect(fixture.journal.head == head)
                            #expect(try fixture.ledger.writeModel() == model)
                        }
                        if case .authorize = command, let transaction = result.transaction { held.append(transaction) }
                        if case .addFunds(let funding, _, _, _, let method, _) = command, method.isOffline { pending.append(funding) }
                        if case .openDispute(let dispute, _, _, _) = command { disputes.append(dispute) }
                        for event in result.events {
                            if case .purchaseCaptured(let paid) = event { captured.append((paid.user, paid.vendor, paid.transaction)) }
                            // Settlement never pays out reserved or held funds: it pays at most the
                            // unsettled payable, and leaves the dispute reserve as it was.
                            if case .vendorSettled(let settled) = event {
                                #expect(settled.amount <= payableBefore)
                                #expect(try fixture.balance(.disputeReserve(vendor: settled.vendor, currency: .usd)) == reserveBefore)
                            }
                        }
                    } catch let rejection as LedgerRejection {
                        if keyed { try await fixture.reject(command, rejection.rule, key: key, scope: scope) }
                        continue
                    }
                }
                try Self.checkInvariants(fixture)
            } catch {
                Issue.record(error)
            }
        }
    }

    static func checkInvariants(_ fixture: LedgerFixture) throws {
        let live = try fixture.ledger.writeModel()
        // Replaying the journal from empty gives exactly the live write model.
        #expect(try Ledger.replay(fixture.journal.storage) == live)
        // Balances recomputed from postings alone equal the write model's, and sum to zero.
        var fromPostings: [String: Int64] = [:]
        var settledTotal: Int64 = 0
        for stored in try fixture.journal.events(from: 1, limit: 100_000) {
            let event = try LedgerEvent(typeName: stored.typeName, payload: stored.payload)
            for posting in event.postings {
                #expect(posting.amount > 0)
                fromPostings[posting.debit, default: 0] -= posting.amount
                fromPostings[posting.credit, default: 0] += posting.amount
            }
            if case .vendorSettled(let settled) = event {
                settledTotal += settled.amount
                #expect(settled.amount > 0)
            }
            if case .royaltiesPaid(let paid) = event {
                settledTotal += paid.amount
                #expect(paid.amount > 0)
            }
        }
        var sum: Int64 = 0
        for (key, value) in live where key.hasPrefix("bal/") {
            let balance = value.withUnsafeBytes { Int64(bigEndian: $0.loadUnaligned(as: Int64.self)) }
            let account = String(key.dropFirst(4))
            #expect(fromPostings[account, default: 0] == balance, "\(account)")
            sum += balance
            // No wallet, hold, pending or vendor payable below zero: settlement never paid out
            // more than the vendor had earned, and nothing was spent twice.
            // (A vendor payable may go below zero: a refund after the vendor was settled leaves
            // the vendor owing, recovered from later sales.)
            if account.hasPrefix("wallet:") || account.hasPrefix("holds:") || account.hasPrefix("pending:")
                || account.hasPrefix("lot:") || account.hasPrefix("reserve:") || account.hasPrefix("outgoing:") {
                #expect(balance >= 0, "\(account) is \(balance)")
            }
        }
        #expect(sum == 0)
        #expect(try fixture.balance(.settlementClearing(currency: .usd)) == settledTotal)
        for user in users {
            let record = try #require(try fixture.ledger.read { try $0.user(user) })
            let limit = record.creditLimits["USD"] ?? 0
            let credit = try fixture.balance(.creditLine(user: user, currency: .usd))
            // A credit line is never positive, and credit in use never exceeds the largest limit
            // ever approved (a lower limit cannot be approved below the credit in use).
            #expect(credit <= 0, "credit line of \(user) is \(credit)")
            #expect(-credit <= max(limit, 299), "credit line of \(user) is \(credit) with limit \(limit)")
            // Held funds equal the prices of the user's purchases still held.
            var heldTotal: Int64 = 0
            for (key, value) in live where key.hasPrefix("txn/") {
                let transaction = try TransactionRecord.decodeStored(value)
                if transaction.user == user && transaction.status == .held { heldTotal += transaction.terms.price }
            }
            #expect(try fixture.balance(.holds(user: user, currency: .usd)) == heldTotal)
        }
        // What partial refunds took stays within the capture's split and its sources: no party
        // gives back more than it received, no source gets back more than it paid, and the
        // refunds never exceed the price.
        for (key, value) in live where key.hasPrefix("txn/") {
            let transaction = try TransactionRecord.decodeStored(value)
            #expect(transaction.refunded >= 0 && transaction.refunded <= transaction.terms.price, "\(key)")
            guard let parts = transaction.refundedParts else { continue }
            #expect(transaction.status == .captured || transaction.status == .disputed, "\(key) is \(transaction.status)")
            #expect(parts.total > 0 && parts.total < transaction.terms.price, "\(key)")
            #expect(parts.fee >= 0 && parts.fee <= transaction.fee ?? 0, "\(key)")
            for (part, royalty) in zip(parts.royalties, transaction.royalties ?? []) {
                #expect(part >= 0 && part <= royalty.amount, "\(key)")
            }
            #expect(parts.fee + parts.royalties.reduce(0, +) <= parts.total, "\(key)")
            for (part, source) in zip(parts.sources, transaction.sources) { #expect(part >= 0 && part <= source.amount, "\(key)") }
            #expect(transaction.remainingVendorShare >= 0, "\(key)")
        }
    }

    @Test("a partial refund's split: each side sums to the amount, no part exceeds what is left of it, and successive refunds add up to the capture's split")
    func refundSplitProperty() async {
        await propertyCheck(
            count: 200, input: Gen.int(in: 1...100_000), Gen.int(in: 0...4_000), Gen.int(in: 0...4_500), Gen.int(in: 1...1_000_000).array(of: 1...8)
        ) { price64, feeBasis, royaltyBasis, cuts in
            let price = Int64(price64)
            // The fee and royalties are at most the price, as the ledger's rules keep them.
            let fee = Money.share(of: price, basisPoints: Int64(feeBasis))
            let royalty = Money.share(of: price, basisPoints: Int64(royaltyBasis))
            let lot = price / 3
            var record = TransactionRecord(
                user: "u", member: nil, vendor: "v", terms: LedgerFixture.terms(price: price), status: .captured,
                holdExpiresAtMilliseconds: nil,
                sources: [FundingSource(account: "lot:l:USD", amount: lot), FundingSource(account: "wallet:u:USD", amount: price - lot)],
                fee: fee, royalties: [RoyaltyPayment(holder: "a", amount: royalty), RoyaltyPayment(holder: "b", amount: royalty / 3)])
            let vendorShare = price - fee - royalty - royalty / 3
            var taken = (fee: Int64(0), royalties: [Int64(0), 0], vendor: Int64(0), sources: [Int64(0), 0])
            for cut in cuts where record.remaining > 0 {
                let amount = min(Int64(cut) % record.remaining + 1, record.remaining)
                let split = record.refundSplit(amount)
                #expect(split.fee + split.royalties.reduce(0, +) + split.vendor == amount)
                #expect(split.sources.reduce(0, +) == amount)
                let left = record.remainingParts()
                #expect(split.fee >= 0 && split.fee <= left.fee)
                for (part, remaining) in zip(split.royalties, left.royalties) { #expect(part >= 0 && part <= remaining) }
                #expect(split.vendor >= 0 && split.vendor <= record.remainingVendorShare)
                taken.fee += split.fee
                taken.vendor += split.vendor
                for index in 0 ..< 2 { taken.royalties[index] += split.royalties[index]; taken.sources[index] += split.sources[index] }
                if amount == record.remaining { record.status = .refunded; record.refundedParts = nil } else { record.recordPartialRefund(amount) }
            }
            if record.remaining > 0 {
                let last = record.refundSplit(record.remaining)
                taken.fee += last.fee
                taken.vendor += last.vendor
                for index in 0 ..< 2 { taken.royalties[index] += last.royalties[index]; taken.sources[index] += last.sources[index] }
            }
            #expect(taken.fee == fee && taken.royalties == [royalty, royalty / 3] && taken.vendor == vendorShare)
            #expect(taken.sources == [lot, price - lot])
        }
    }
}
