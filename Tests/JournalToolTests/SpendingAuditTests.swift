import Foundation
import Ledger
import TallyTestSupport
import Testing
@testable import journal_tool

@Suite("journal-tool verify: purchases held to their buyers' spending limits")
struct SpendingAuditTests {
    static let day: UInt64 = 86_400_000

    static func limit(
        _ kind: SpendingLimit.Kind, _ amount: Int64, currency: Currency = .usd, member: String? = nil, vendor: String? = nil,
        removed: Bool = false, user: String = "u"
    ) -> SpendingAudit.Change {
        .limit(user: user, limit: SpendingLimit(kind: kind, currency: currency, amount: amount, member: member, vendor: vendor), removed: removed)
    }

    static func spend(
        _ transaction: String, _ amount: Int64, at time: UInt64, vendor: String = "shop", member: String? = nil,
        currency: Currency = .usd, user: String = "u"
    ) -> SpendingAudit.Change {
        .spend(user: user, currency: currency, entry: SpendEntry(
            timeMilliseconds: time, amount: amount, vendor: vendor, member: member, transaction: transaction))
    }

    /// The message of the first failure, or nil; each failure is `purchase-inconsistent` at the
    /// change's place.
    static func audit(_ changes: [SpendingAudit.Change], wholeHistory: Bool = true, sourceLocation: SourceLocation = #_sourceLocation) -> String? {
        var audit = SpendingAudit(wholeHistory: wholeHistory) { changes[Int($0) - 1] }
        for (index, change) in changes.enumerated() {
            if let failure = audit.apply(change, at: UInt64(index + 1)) {
                #expect(failure.kind == .purchaseInconsistent && failure.sequence == UInt64(index + 1), sourceLocation: sourceLocation)
                return failure.message
            }
        }
        return nil
    }

    @Test("a purchase over a per-transaction, daily, weekly or monthly limit is refused; at the limit it passes")
    func windows() {
        let start = 100 * Self.day
        #expect(Self.audit([Self.limit(.perTransaction, 300), Self.spend("t1", 300, at: start)]) == nil)
        #expect(Self.audit([Self.limit(.perTransaction, 300), Self.spend("t1", 301, at: start)])
            == "t1 of u at shop breaks a spending limit set before it: 301 is over the per-transaction limit of 300")
        for (kind, window) in [(SpendingLimit.Kind.perDay, Self.day), (.perWeek, 7 * Self.day), (.perMonth, 30 * Self.day)] {
            let within = start + window - 1
            #expect(Self.audit([Self.limit(kind, 500), Self.spend("t1", 200, at: start), Self.spend("t2", 300, at: within)]) == nil)
            #expect(Self.audit([Self.limit(kind, 500), Self.spend("t1", 200, at: start), Self.spend("t2", 301, at: within)])
                == "t2 of u at shop breaks a spending limit set before it: 301 would bring spending to 501, over the \(kind.rawValue) limit of 500")
            // Once the window has passed, the first purchase no longer counts.
            #expect(Self.audit([Self.limit(kind, 500), Self.spend("t1", 200, at: start), Self.spend("t2", 500, at: start + window)]) == nil)
        }
    }

    @Test("spending before a limit was set counts against it; a limit removed or replaced no longer holds")
    func limitsSetLater() {
        let start = 10 * Self.day
        #expect(Self.audit([Self.spend("t1", 400, at: start), Self.limit(.perDay, 500), Self.spend("t2", 200, at: start + 1)])?
            .contains("200 would bring spending to 600, over the perDay limit of 500") == true)
        #expect(Self.audit([Self.limit(.perDay, 500), Self.limit(.perDay, 500, removed: true), Self.spend("t1", 900, at: start)]) == nil)
        #expect(Self.audit([Self.limit(.perDay, 500), Self.limit(.perDay, 1_000), Self.spend("t1", 900, at: start)]) == nil)
        #expect(Self.audit([Self.limit(.perDay, 1_000), Self.limit(.perDay, 500), Self.spend("t1", 900, at: start)]) != nil)
        // Another user's limit, or a limit in another currency, does not hold.
        #expect(Self.audit([Self.limit(.perDay, 100, user: "w"), Self.spend("t1", 900, at: start)]) == nil)
        #expect(Self.audit([Self.limit(.perDay, 100, currency: .eur), Self.spend("t1", 900, at: start)]) == nil)
    }

    @Test("a per-vendor limit counts that vendor's purchases; a member's limit that member's; other currencies never count")
    func scopes() {
        let start = 10 * Self.day
        let vendor = Self.limit(.perVendorMonth, 500, vendor: "news")
        #expect(Self.audit([vendor, Self.spend("t1", 400, at: start, vendor: "shop"), Self.spend("t2", 500, at: start, vendor: "news")]) == nil)
        #expect(Self.audit([vendor, Self.spend("t1", 400, at: start, vendor: "news"), Self.spend("t2", 101, at: start, vendor: "news")])?
            .contains("over the perVendorMonth limit of 500") == true)
        let kid = Self.limit(.perDay, 100, member: "kid")
        #expect(Self.audit([kid, Self.spend("t1", 900, at: start), Self.spend("t2", 100, at: start, member: "kid")]) == nil)
        #expect(Self.audit([kid, Self.spend("t1", 60, at: start, member: "kid"), Self.spend("t2", 41, at: start, member: "kid")])
            == "t2 of u by member kid at shop breaks a spending limit set before it: 41 would bring spending to 101, over the perDay limit of 100")
        // An account-wide limit counts the members' purchases too.
        #expect(Self.audit([Self.limit(.perDay, 100), Self.spend("t1", 60, at: start, member: "kid"), Self.spend("t2", 41, at: start)]) != nil)
        #expect(Self.audit([Self.limit(.perDay, 100), Self.spend("t1", 900, at: start, currency: .eur), Self.spend("t2", 100, at: start)]) == nil)
    }

    @Test("a purchase voided, expired or wholly refunded no longer counts; a partial refund lowers what it counts")
    func lowered() {
        let start = 10 * Self.day
        let limit = Self.limit(.perDay, 500)
        #expect(Self.audit([limit, Self.spend("t1", 400, at: start), .lower(user: "u", transaction: "t1", by: nil, time: start), Self.spend("t2", 500, at: start)]) == nil)
        #expect(Self.audit([limit, Self.spend("t1", 400, at: start), .lower(user: "u", transaction: "t1", by: 300, time: start), Self.spend("t2", 400, at: start)]) == nil)
        #expect(Self.audit([limit, Self.spend("t1", 400, at: start), .lower(user: "u", transaction: "t1", by: 299, time: start), Self.spend("t2", 400, at: start)]) != nil)
        // Another purchase's refund, or another user's, changes nothing here.
        #expect(Self.audit([limit, Self.spend("t1", 400, at: start), .lower(user: "u", transaction: "t9", by: nil, time: start), Self.spend("t2", 101, at: start)]) != nil)
        #expect(Self.audit([limit, Self.spend("t1", 400, at: start), .lower(user: "w", transaction: "t1", by: nil, time: start), Self.spend("t2", 101, at: start)]) != nil)
    }

    /// Every user's limits and spending kept whole, for ever: what the audit's lists must agree with.
    struct EveryPurchaseKept {
        var limits: [String: [SpendingLimit]] = [:]
        var spending: [String: [(currency: Currency, entry: SpendEntry)]] = [:]

        /// Whether the change is a purchase over a limit.
        mutating func apply(_ change: SpendingAudit.Change) -> Bool {
            switch change {
            case .limit(let user, let limit, let removed):
                limits[user, default: []].removeAll { $0.hasScope(of: limit) }
                if !removed { limits[user, default: []].append(limit) }
            case .spend(let user, let currency, let entry):
                let applicable = SpendingLimit.applicable(limits[user] ?? [], currency: currency, member: entry.member, vendor: entry.vendor)
                let kept = (spending[user] ?? []).filter { $0.currency == currency }.map(\.entry)
                spending[user, default: []].append((currency, entry))
                do {
                    try SpendingLimit.enforce(applicable, amount: entry.amount, member: entry.member, vendor: entry.vendor,
                                              time: entry.timeMilliseconds, spending: kept)
                } catch {
                    return true
                }
            case .lower(let user, let transaction, let amount, _):
                guard var list = spending[user] else { return false }
                if let amount {
                    for index in list.indices where list[index].entry.transaction == transaction {
                        list[index].entry.amount = max(list[index].entry.amount - amount, 0)
                    }
                } else {
                    list.removeAll { $0.entry.transaction == transaction }
                }
                spending[user] = list
            }
            return false
        }
    }

    @Test("over months of random purchases, refunds and limits of up to 80 users (few or all of them limited), handed over as the pipelined or the one-by-one audit does, the audit finds exactly the purchases over a limit that keeping every purchase for ever finds",
          arguments: UInt64(1)...12)
    func agreesWithKeepingEverything(_ seed: UInt64) {
        var random = TestValues(seed: seed)
        var journal: [SpendingAudit.Change] = []
        var audit = SpendingAudit(wholeHistory: true) { journal[Int($0) - 1] }
        var reference = EveryPurchaseKept()
        // The users followed as the workers saw them when the current "chunk" began.
        var snapshot: Set<String> = []
        let users = (0..<80).map { "u\($0)" }
        // Odd seeds limit a few users, even ones any of them: most purchases are of users followed.
        let limitedUsers = seed % 2 == 1 ? 5 : 80
        var time = 30 * Self.day
        var transactions: [String: [String]] = [:]
        var breaches = 0
        for step in 0..<6_000 {
            time += UInt64(random.below(3_600_000))
            let user = random.pick(users)
            let change: SpendingAudit.Change
            switch random.below(20) {
            case 0:
                let kind = SpendingLimit.Kind.allCases[random.below(SpendingLimit.Kind.allCases.count)]
                let limited = users[random.below(limitedUsers)]
                change = .limit(user: limited, limit: SpendingLimit(
                    kind: kind, currency: random.below(4) == 0 ? .eur : .usd, amount: Int64(100 + random.below(20_000)),
                    member: random.below(3) == 0 ? "kid" : nil, vendor: kind == .perVendorMonth ? random.pick(["shop", "news"]) : nil),
                    removed: random.below(4) == 0)
            case 1, 2, 3:
                guard let own = transactions[user], !own.isEmpty else { continue }
                change = .lower(user: user, transaction: random.pick(own), by: random.bool() ? nil : Int64(random.below(300)), time: time)
            default:
                let transaction = "t\(step)"
                transactions[user, default: []].append(transaction)
                change = .spend(user: user, currency: random.below(4) == 0 ? .eur : .usd, entry: SpendEntry(
                    timeMilliseconds: time, amount: Int64(1 + random.below(500)), vendor: random.pick(["shop", "news"]),
                    member: random.below(3) == 0 ? "kid" : nil, transaction: transaction))
            }
            journal.append(change)
            let sequence = UInt64(journal.count)
            if random.below(50) == 0 { snapshot = audit.following }
            let expected = reference.apply(change)
            // As the pipelined audit hands it over (a mark of a user not followed when the
            // chunk began, the whole change otherwise), or whole (the one-by-one audit).
            let found = random.bool()
                ? audit.apply(SpendingAudit.input(of: change, following: snapshot), at: sequence, change: { change })
                : audit.apply(change, at: sequence)
            #expect((found != nil) == expected, "seed \(seed), step \(step): \(found?.message ?? "no breach found")")
            #expect(found == nil || found?.sequence == sequence)
            if expected { breaches += 1 }
        }
        #expect(breaches > 10, "seed \(seed): only \(breaches) purchases over a limit")
    }

    @Test("in a range that does not start at sequence 1 nothing is checked, and the report says so")
    func ranges() {
        var audit = SpendingAudit(wholeHistory: false) { _ in nil }
        #expect(audit.apply(Self.limit(.perTransaction, 1), at: 1) == nil)
        #expect(audit.apply(Self.spend("t1", 900, at: 5), at: 2) == nil)
        #expect(audit.note == "not checked: the limits set and the spending they count need the history from sequence 1")
        #expect(SpendingAudit(wholeHistory: true) { _ in nil }.note == nil)
    }
}

@Suite("journal-tool verify: every journal the ledger writes under spending limits passes")
struct SpendingAuditLedgerTests {
    @Test("random limits of every kind (on the account or a member, set, replaced, removed), purchases and holds by the buyer and a member at two vendors, voids, expiries, partial and whole refunds and disputes over weeks: the ledger refuses what goes over, and the audit passes the rest",
          arguments: UInt64(1)...8)
    func ledgerJournalsPass(_ seed: UInt64) async throws {
        var random = TestValues(seed: seed)
        let root = TemporaryDirectory()
        let directory = root.path + "/data"
        var refusedBy: Set<String> = []
        var limitsSet = 0
        var purchases = 0
        do {
            let clock = LedgerJournal.SteppedClock()
            let (journal, ledger) = try LedgerJournal.open(directory, clock: clock)
            defer { journal.close() }
            func run(_ command: LedgerCommand) async -> [LedgerEvent] {
                do {
                    return try await ledger.execute(command).events
                } catch {
                    if let rejection = error as? LedgerRejection { refusedBy.insert(rejection.rule.name) }
                    return []
                }
            }
            for vendor in ["shop", "news"] {
                _ = await run(.registerVendor(
                    vendor: vendor, name: vendor, sites: ["https://\(vendor).example/"], feeBasisPoints: 500,
                    settlement: SettlementPolicy(thresholdAmount: 10_000_000)))
            }
            _ = await run(.openAccount(user: "alice", channel: .providerSite))
            _ = await run(.openWallet(user: "alice", currency: .usd))
            _ = await run(.openWallet(user: "alice", currency: .eur))
            _ = await run(.addFunds(funding: "f-usd", user: "alice", currency: .usd, amount: 1_000_000, method: .card))
            _ = await run(.addFunds(funding: "f-eur", user: "alice", currency: .eur, amount: 1_000_000, method: .card))
            _ = await run(.addMember(user: "alice", member: "kid"))
            var captured: [String] = []
            var held: [String] = []
            var vendorOf: [String: String] = [:]
            for step in 0..<150 {
                // Up to six hours a step: daily windows pass, weekly and monthly ones fill.
                clock.now += UInt64(random.below(6 * 3_600_000))
                let vendor = random.bool() ? "shop" : "news"
                let currency: Currency = random.below(4) == 0 ? .eur : .usd
                let member = random.below(3) == 0 ? "kid" : nil
                var events: [LedgerEvent] = []
                switch random.below(10) {
                case 0, 1, 2:
                    let terms = LedgerJournal.terms("c\(step)", vendor: vendor, price: Int64(1 + random.below(400)), currency: currency, holders: ["label"])
                    events = await run(.purchase(user: "alice", member: member, vendor: vendor, content: .inline(terms)))
                case 3:
                    let terms = LedgerJournal.terms("h\(step)", vendor: vendor, price: Int64(1 + random.below(400)), currency: currency, holders: [])
                    events = await run(.authorize(user: "alice", member: member, vendor: vendor, content: .inline(terms), holdSeconds: 600))
                    if case .purchaseAuthorized(let hold)? = events.first { held.append(hold.transaction) }
                case 4:
                    if !held.isEmpty {
                        let transaction = held.remove(at: random.below(held.count))
                        let holdVendor = vendorOf[transaction] ?? ""
                        switch random.below(3) {
                        case 0: events = await run(.capture(vendor: holdVendor, transaction: transaction))
                        case 1: events = await run(.void(vendor: holdVendor, transaction: transaction))
                        default: events = await run(.expireHold(transaction: transaction))
                        }
                    }
                case 5:
                    if !captured.isEmpty {
                        let transaction = random.pick(captured)
                        let amount: Int64? = random.bool() ? Int64(1 + random.below(200)) : nil
                        events = await run(.refund(vendor: vendorOf[transaction] ?? "", transaction: transaction, amount: amount, reason: "r"))
                    }
                case 6:
                    if !captured.isEmpty {
                        let dispute = "d\(step)"
                        if !(await run(.openDispute(dispute: dispute, user: "alice", transaction: random.pick(captured), reason: "d"))).isEmpty {
                            events = await run(.resolveDispute(dispute: dispute, refund: random.bool(), representative: "rep"))
                        }
                    }
                default:
                    let kind = SpendingLimit.Kind.allCases[random.below(SpendingLimit.Kind.allCases.count)]
                    let limit = SpendingLimit(
                        kind: kind, currency: currency, amount: Int64(200 + random.below(2_500)), member: member,
                        vendor: kind == .perVendorMonth ? vendor : nil)
                    events = await run(random.below(3) == 0 ? .removeSpendingLimit(user: "alice", limit: limit) : .setSpendingLimit(user: "alice", limit: limit))
                    if !events.isEmpty { limitsSet += 1 }
                }
                for event in events {
                    switch event {
                    case .purchaseCaptured(let capture):
                        captured.append(capture.transaction)
                        vendorOf[capture.transaction] = capture.vendor
                        if capture.oneStep { purchases += 1 }
                    case .purchaseAuthorized(let hold):
                        vendorOf[hold.transaction] = hold.vendor
                        purchases += 1
                    default: break
                    }
                }
            }
        }
        #expect(limitsSet > 5 && purchases > 20, "seed \(seed): \(limitsSet) limits, \(purchases) purchases")
        #expect(refusedBy.contains { $0.hasPrefix("exceeds") }, "seed \(seed): no purchase went over a limit (\(refusedBy.sorted()))")
        let run = try ToolRun.run(["verify", "--data", directory, "--json"])
        #expect(run.status == 0, "seed \(seed): \(run.summary)")
        #expect((run.json["audit"] as? [String: Any])?["report"].flatMap { ($0 as? [String: Any])?["spendingLimitsNote"] } is NSNull)
    }
}
