import Foundation
import Journal
import Ledger
import PropertyBased
import Testing
@testable import Projections

/// Random command sequences (accepted or refused, in any order) through the real ledger: the
/// projection agrees with the write model, now and as of earlier sequences, and a rebuild gives
/// the same read models as the incremental fold.
@Suite("Projection properties")
struct ProjectionPropertyTests {
    static let users = ["u0", "u1", "u2"]
    static let vendors = ["v0", "v1"]

    struct World {
        var held: [String] = []
        var pending: [String] = []
        var captured: [(user: String, vendor: String, transaction: String)] = []
        var disputes: [String] = []
        var lots: [String] = []
    }

    static func command(_ code: Int, step: Int, world: World, fixture: ProjectionFixture) -> LedgerCommand? {
        let user = users[code % users.count]
        let other = users[(code / 3) % users.count]
        let vendor = vendors[(code / 7) % vendors.count]
        let amount = Int64(1 + (code / 11) % 300)
        let url = "https://\(vendor).example/item"
        switch code % 16 {
        case 0: return .addFunds(funding: "f\(step)", user: user, currency: .usd, amount: amount, method: .card)
        case 1, 2:
            return .purchase(user: user, vendor: vendor, content: .inline(ProjectionFixture.terms(
                "c\(step)", price: amount, url: url, access: AccessTerms(views: code % 4, days: code % 3),
                royalties: [RoyaltyShare(holder: "h-\(vendor)", basisPoints: Int64(code % 2500))])))
        case 3:
            return .authorize(user: user, vendor: vendor, content: .inline(ProjectionFixture.terms("c\(step)", price: amount, url: url)),
                              holdSeconds: 120)
        case 4: return world.held.isEmpty ? nil : .capture(vendor: vendor, transaction: world.held[code % world.held.count])
        case 5: return world.held.isEmpty ? nil : .void(vendor: vendor, transaction: world.held[code % world.held.count])
        case 6:
            if code % 4 == 3 {
                return .returnFunds(payout: "r\(step)", user: user, currency: .usd, amount: amount, method: .bankDebit, representative: "rep")
            }
            if code % 4 == 2 { return .requestPayout(payout: "q\(code % 7)", user: user, currency: .usd, amount: amount, method: .card) }
            if code % 8 == 1 { return .completePayout(payout: "q\(code % 7)", representative: "rep") }
            if code % 8 == 5 { return .declinePayout(payout: "q\(code % 7)", representative: "rep", reason: "property") }
            return .transfer(from: user, to: other, currency: .usd, amount: amount)
        case 7:
            if code % 5 == 4 { return .payRoyalties(payout: "h\(step)", holder: "h-\(vendor)", currency: .usd, representative: "rep") }
            return .settle(vendor: vendor, currency: .usd, force: code % 2 == 0)
        case 8:
            if code % 3 == 0, !world.pending.isEmpty { return .clearFunds(funding: world.pending[code % world.pending.count]) }
            if code % 3 == 1, !world.pending.isEmpty { return .failFunds(funding: world.pending[code % world.pending.count]) }
            return .addFunds(funding: "p\(step)", user: user, currency: .usd, amount: amount, method: .check)
        case 9:
            fixture.clock.advance(seconds: UInt64(code % 300))
            return world.held.isEmpty ? nil : .expireHold(transaction: world.held[code % world.held.count])
        case 10: return .approveCreditLine(user: user, currency: .usd, limit: Int64(code % 400))
        case 11:
            guard !world.captured.isEmpty else { return nil }
            let purchase = world.captured[code % world.captured.count]
            if code % 3 == 2 {
                // All that is still paid, or a part (refused when more than is still paid).
                let amount: Int64? = code % 2 == 0 ? Int64(1 + (code / 33) % 300) : nil
                return .refund(vendor: purchase.vendor, transaction: purchase.transaction, amount: amount, reason: "property")
            }
            return .openDispute(dispute: "d\(step)", user: purchase.user, transaction: purchase.transaction, reason: "property")
        case 12:
            guard !world.disputes.isEmpty else { return nil }
            return .resolveDispute(dispute: world.disputes[code % world.disputes.count], refund: code % 2 == 0, representative: "rep")
        case 13:
            return .issueIncentive(lot: "l\(step)", user: user, currency: .usd, amount: amount, issuer: code % 3 == 0 ? vendor : nil,
                                   expiresAtMilliseconds: code % 2 == 0 ? fixture.clock.now + UInt64(code % 200_000) + 1 : nil,
                                   vendors: code % 5 == 0 ? [vendor] : nil)
        case 14:
            fixture.clock.advance(seconds: 120)
            return world.lots.isEmpty ? nil : .expireIncentive(lot: world.lots[code % world.lots.count])
        default:
            return code % 2 == 0 ? .addMember(user: user, member: "m\(code % 4)") : .removeMember(user: user, member: "m\(code % 4)")
        }
    }

    @Test("random commands: projection balances equal Ledger.balance now and as of earlier sequences; rebuilt == incremental == fresh")
    func agreesWithWriteModel() async throws {
        await propertyCheck(count: 12, input: Gen.int(in: 0...1_000_000).array(of: 5...80)) { codes in
            do {
                let fixture = try ProjectionFixture(batchEvents: 5)
                for vendor in Self.vendors {
                    try await fixture.run(.registerVendor(
                        vendor: vendor, name: vendor, sites: ["https://\(vendor).example/"], feeBasisPoints: 500,
                        settlement: SettlementPolicy(thresholdAmount: 2_000, periodSeconds: 600)))
                }
                for user in Self.users { try await fixture.givenUser(user, funds: 1_000) }
                var world = World()
                var snapshots: [(sequence: UInt64, balances: [String: Int64])] = []
                for (step, code) in codes.enumerated() {
                    guard let command = Self.command(code, step: step, world: world, fixture: fixture) else { continue }
                    do {
                        let result = try await fixture.run(command)
                        if case .authorize = command, let transaction = result.transaction { world.held.append(transaction) }
                        if case .addFunds(let funding, _, _, _, let method, _) = command, method.isOffline { world.pending.append(funding) }
                        if case .openDispute(let dispute, _, _, _) = command { world.disputes.append(dispute) }
                        if case .issueIncentive(let lot, _, _, _, _, _, _) = command { world.lots.append(lot) }
                        for event in result.events {
                            if case .purchaseCaptured(let paid) = event { world.captured.append((paid.user, paid.vendor, paid.transaction)) }
                        }
                    } catch is LedgerRejection {
                        continue
                    }
                    if code % 5 == 0 {
                        // Fold part-way, and remember the write model as it is at this sequence.
                        try fixture.projections.catchUp()
                        snapshots.append((fixture.journal.head, try fixture.writeModelBalances()))
                    }
                }
                #expect(try fixture.projections.catchUp() == fixture.journal.head)
                #expect(fixture.projections.status.failure == nil)

                let live = try fixture.writeModelBalances()
                try fixture.projections.read { (reader: ProjectionReader) throws in
                    for (account, balance) in live {
                        #expect(try reader.balance(account: account).balance == balance, "\(account)")
                    }
                    for snapshot in snapshots {
                        for (account, balance) in snapshot.balances {
                            #expect(try reader.balance(account: account, atSequence: snapshot.sequence).balance == balance,
                                    "\(account) at \(snapshot.sequence)")
                        }
                    }
                    for user in Self.users {
                        let view = try #require(try reader.wallets(user: user))
                        let wallet = try #require(view.wallets.first { $0.currency == .usd })
                        #expect(wallet.balance == live["wallet:\(user):USD", default: 0])
                        #expect(wallet.held == live["holds:\(user):USD", default: 0])
                        #expect(wallet.pending == live["pending:\(user):USD", default: 0])
                        #expect(wallet.creditInUse == -live["credit:\(user):USD", default: 0])
                        #expect(wallet.outgoing == live["outgoing:\(user):USD", default: 0])
                        let lots = view.lots.reduce(Int64(0)) { $0 + $1.balance }
                        #expect(wallet.incentives == lots)
                        // The wallet's history adds up to what the user holds in all its accounts.
                        var entries: [HistoryEntry] = []
                        var before: UInt64? = nil
                        repeat {
                            let page = try reader.walletHistory(user: user, currency: .usd, before: before, limit: 7)
                            entries += page.entries
                            before = page.nextBefore
                        } while before != nil
                        #expect(entries.reduce(Int64(0)) { $0 + $1.amount }
                                == wallet.balance + wallet.held + wallet.pending - wallet.creditInUse + lots)
                    }
                    var settled: Int64 = 0
                    for vendor in Self.vendors {
                        let view = try #require(try reader.vendorSettlement(vendor: vendor))
                        for currency in view.currencies {
                            #expect(currency.unsettled == live["vendor:\(vendor):USD", default: 0])
                            #expect(currency.reserved == live["reserve:\(vendor):USD", default: 0])
                            settled += currency.settled
                        }
                    }
                    // Every settlement is counted once, at its vendor, and every royalty payout once,
                    // at its holder.
                    for vendor in Self.vendors {
                        settled += try reader.royaltyPayouts(holder: "h-\(vendor)", limit: 1_000).payouts.reduce(Int64(0)) { $0 + $1.amount }
                    }
                    #expect(settled == live["settlement:USD", default: 0])

                    // The work queues hold exactly the cases still waiting: what the pending
                    // fundings add up to is each user's pending balance, what the open disputes
                    // reserved is each vendor's dispute reserve, and every other case is settled.
                    var queuedFunds: [String: Int64] = [:]
                    var after: UInt64? = nil
                    repeat {
                        let page = try reader.pendingFundings(after: after, limit: 3)
                        for funding in page.fundings {
                            #expect(funding.status == .pending)
                            queuedFunds[funding.user, default: 0] += funding.amount
                        }
                        after = page.nextAfter
                    } while after != nil
                    for user in Self.users {
                        #expect(queuedFunds[user, default: 0] == live["pending:\(user):USD", default: 0], "\(user)'s queued funds")
                    }
                    let queuedFundings = Set(try reader.pendingFundings(limit: 500).fundings.map(\.funding))
                    for funding in world.pending {
                        let record = try #require(try reader.funding(funding))
                        #expect((record.status == .pending) == queuedFundings.contains(funding), "\(funding)")
                    }
                    let open = try reader.openDisputes(limit: 500).disputes
                    for vendor in Self.vendors {
                        let reserved = open.filter { $0.vendor == vendor }.reduce(Int64(0)) { $0 + $1.reserved }
                        #expect(reserved == live["reserve:\(vendor):USD", default: 0], "\(vendor)'s open disputes")
                    }
                    for dispute in world.disputes {
                        let record = try #require(try reader.dispute(dispute))
                        #expect((record.status == .open) == open.contains { $0.dispute == dispute }, "\(dispute)")
                    }
                    // What the payout requests still waiting add up to is each user's outgoing balance.
                    let requested = try reader.requestedPayouts(limit: 500).requests
                    for user in Self.users {
                        let waiting = requested.filter { $0.user == user }
                        #expect(waiting.allSatisfy { $0.status == .requested })
                        #expect(waiting.reduce(Int64(0)) { $0 + $1.amount } == live["outgoing:\(user):USD", default: 0], "\(user)'s payout requests")
                    }
                }
                let incremental = try fixture.projections.canonicalDump()
                #expect(try fixture.freshDump() == incremental)
                try fixture.projections.rebuild(progress: nil)
                #expect(try fixture.projections.canonicalDump() == incremental)
            } catch {
                Issue.record(error)
            }
        }
    }
}
