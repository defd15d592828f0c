import Foundation
import Journal
import Ledger
@testable import journal_tool

/// The ledger audit as it was before it was pipelined (`8843c02`), one event at a time with
/// balances in a dictionary keyed by account name: the oracle the pipelined audit is held to.
/// Only `classify` (unchanged) is shared.
struct ReferenceAudit {
    let reader: any JournalStorageReader
    let first: UInt64
    let last: UInt64
    let compareWriteModel: Bool
    let snapshotAt: UInt64?
    private(set) var snapshot: [String: Int64]?
    private var report = LedgerAudit.Report()
    private var balances: [String: Int64] = [:]
    private var settledThrough: [String: UInt64] = [:]
    private var settledThroughByCurrency: [String: UInt64] = [:]
    private var refunds: RefundAudit
    private var pendingFunds: PendingFundsAudit
    private var referrals: ReferralAudit
    private var spending: SpendingAudit
    private var sites: [String: [String]] = [:]
    private var triggers = SettlementTriggers()
    private var creditLimits: [String: Int64] = [:]

    init(reader: any JournalStorageReader, first: UInt64, last: UInt64, compareWriteModel: Bool, snapshotAt: UInt64?) {
        self.reader = reader
        self.first = first
        self.last = last
        self.compareWriteModel = compareWriteModel
        self.snapshotAt = snapshotAt
        refunds = RefundAudit(first: first, last: last, readCapture: RefundAudit.captureReader(reader))
        pendingFunds = PendingFundsAudit(wholeHistory: first == 1)
        referrals = ReferralAudit(wholeHistory: first == 1)
        spending = SpendingAudit(wholeHistory: first == 1, readChange: SpendingAudit.changeReader(reader))
        if snapshotAt == 0 { snapshot = [:] }
    }

    var recomputesBalances: Bool { first == 1 }

    struct PreparedEvent {
        let event: LedgerEvent
        let postingsFailure: AuditFailure?
        let captureFailure: AuditFailure?
        let refundFailure: AuditFailure?
        let purchaseFailure: AuditFailure?
    }

    mutating func run() throws -> LedgerAudit.Report {
        var failure: AuditFailure?
        try reader.forEachEventRecord(from: first) { sequence, record in
            guard sequence <= last else { return false }
            guard case .success(let view) = EventRecord.parse(record) else { preconditionFailure("event \(sequence) does not parse") }
            let typeName = String(decoding: view.typeName, as: UTF8.self)
            let payload = Array(view.payload)
            do {
                let event = try LedgerEvent(typeName: typeName, payload: payload)
                let prepared = PreparedEvent(
                    event: event, postingsFailure: Self.postingsFailure(event, at: sequence),
                    captureFailure: Self.captureFailure(event, at: sequence), refundFailure: RefundAudit.ownFailure(event, at: sequence),
                    purchaseFailure: PurchaseAudit.failure(event, at: sequence) ?? FundsAudit.failure(event, at: sequence))
                failure = check(prepared, at: sequence)
            } catch {
                failure = LedgerAudit.classify(error, sequence: sequence, typeName: typeName, payload: payload)
            }
            if failure != nil { return false }
            report.eventsAudited += 1
            if sequence == snapshotAt { snapshot = balances }
            return true
        }
        if failure == nil { failure = refunds.finish() }
        report.record(refunds)
        report.pendingFundsNote = pendingFunds.note
        report.referralsNote = referrals.note
        report.spendingLimitsNote = spending.note
        if !recomputesBalances { report.sitesNote = LedgerAudit.sitesNotChecked }
        if failure == nil && compareWriteModel { failure = try compareWithWriteModel() }
        if recomputesBalances { report.accounts = balances.count }
        // Settlements are held against the payable (and the range they cover) only with the
        // whole history.
        report.settlementsAgainstPayable = recomputesBalances
        if !recomputesBalances {
            report.settlementsNote = "not checked against the payable or the range they cover: the range starts at \(first), and both need the history from sequence 1"
        }
        if !compareWriteModel {
            report.writeModelNote = "not compared: the range is not the whole journal (1 through its last event)"
        }
        report.failure = failure
        return report
    }

    /// Postings balance per currency, by the currency each account name ends with, and each
    /// moves a positive amount in the currency it names.
    static func postingsFailure(_ event: LedgerEvent, at sequence: UInt64) -> AuditFailure? {
        // An event has a handful of postings in one or two currencies: a small list, not a table.
        var sums: [(currency: Substring, sum: Int64)] = []
        func add(_ currency: Substring, _ amount: Int64) {
            if let index = sums.firstIndex(where: { $0.currency == currency }) {
                sums[index].sum &+= amount
            } else {
                sums.append((currency, amount))
            }
        }
        for posting in event.postings {
            let debitCurrency = Self.currency(of: posting.debit)
            let creditCurrency = Self.currency(of: posting.credit)
            guard posting.amount > 0, debitCurrency == creditCurrency, debitCurrency == Substring(posting.currency.code) else {
                return AuditFailure(
                    kind: .unbalancedPostings, sequence: sequence,
                    message: "posting \(posting.debit) -> \(posting.credit) of \(posting.amount) \(posting.currency) moves a non-positive amount or mixes currencies")
            }
            add(debitCurrency, 0 &- posting.amount)
            add(creditCurrency, posting.amount)
        }
        if let unbalanced = sums.first(where: { $0.sum != 0 }) {
            return AuditFailure(
                kind: .unbalancedPostings, sequence: sequence,
                message: "the postings of \(event.typeName) sum to \(unbalanced.sum) \(unbalanced.currency), not zero")
        }
        return nil
    }

    /// A capture's postings credit each rights holder exactly its listed royalty and the
    /// provider exactly the listed fee, and nothing else of those kinds.
    static func captureFailure(_ event: LedgerEvent, at sequence: UInt64) -> AuditFailure? {
        guard case .purchaseCaptured(let captured) = event else { return nil }
        func fail(_ message: String) -> AuditFailure {
            AuditFailure(kind: .settlementInconsistent, sequence: sequence, message: message)
        }
        let currency = captured.terms.currency
        var credited: [(account: String, amount: Int64)] = []
        for posting in captured.postings where posting.credit.hasPrefix("holder:") || posting.credit.hasPrefix("fees:") {
            if let index = credited.firstIndex(where: { $0.account == posting.credit }) {
                credited[index].amount &+= posting.amount
            } else {
                credited.append((posting.credit, posting.amount))
            }
        }
        var listed: [(account: String, amount: Int64)] = []
        func list(_ account: String, _ amount: Int64) {
            if let index = listed.firstIndex(where: { $0.account == account }) {
                listed[index].amount &+= amount
            } else {
                listed.append((account, amount))
            }
        }
        for royalty in captured.royalties {
            guard royalty.amount >= 0 else { return fail("royalty of \(royalty.holder) is negative (\(royalty.amount))") }
            list(LedgerAccount.rightsHolderPayable(holder: royalty.holder, currency: currency).name, royalty.amount)
        }
        if captured.fee > 0 { list(LedgerAccount.providerFeeRevenue(currency: currency).name, captured.fee) }
        func creditedAmount(_ account: String) -> Int64 { credited.first(where: { $0.account == account })?.amount ?? 0 }
        for (account, amount) in listed where creditedAmount(account) != amount {
            return fail("\(captured.transaction) lists \(amount) for \(account) but its postings credit \(creditedAmount(account))")
        }
        for (account, amount) in credited where !listed.contains(where: { $0.account == account }) {
            return fail("\(captured.transaction) credits \(amount) to \(account), which its royalties and fee do not list")
        }
        return nil
    }

    /// Checks one decoded event (its own checks were made by ```run```) and folds its
    /// postings into the recomputed balances.
    mutating func check(_ prepared: PreparedEvent, at sequence: UInt64) -> AuditFailure? {
        if let failure = prepared.postingsFailure { return failure }
        let event = prepared.event
        let postings = event.postings
        report.postings += UInt64(postings.count)
        if let failure = prepared.captureFailure ?? prepared.refundFailure ?? prepared.purchaseFailure { return failure }
        if recomputesBalances {
            if let failure = LedgerAudit.siteFailure(event, sites: sites, at: sequence) { return failure }
            switch event {
            case .vendorRegistered(let registered): sites[registered.vendor] = registered.sites
            case .vendorUpdated(let updated): if let changed = updated.sites { sites[updated.vendor] = changed }
            default: break
            }
        }

        if let failure = checkSettlementAndRoyalties(event, at: sequence) { return failure }
        if recomputesBalances, let failure = triggers.failure(event, at: sequence) { return failure }
        if let step = RefundAudit.step(of: event) {
            var held: Int64?
            if recomputesBalances, case .disputeOpened(let opened) = event {
                held = balances[LedgerAccount.vendorPayable(vendor: opened.vendor, currency: opened.currency).name] ?? 0
            }
            if recomputesBalances, case .incentiveExpired(let expired) = event, let lot = expired.postings.first?.debit {
                held = balances[lot] ?? 0
            }
            if recomputesBalances, let currency = event.postings.first?.currency {
                switch event {
                case .purchaseRefunded(let refunded):
                    held = balances[LedgerAccount.creditLine(user: refunded.user, currency: currency).name] ?? 0
                case .disputeResolved(let resolved) where resolved.outcome == .refunded:
                    held = balances[LedgerAccount.creditLine(user: resolved.user, currency: currency).name] ?? 0
                case .purchaseVoided(let voided):
                    held = balances[LedgerAccount.creditLine(user: voided.user, currency: currency).name] ?? 0
                default:
                    break
                }
            }
            if let failure = refunds.apply(step, at: sequence, accountHeld: held) { return failure }
        }
        if let failure = pendingFunds.apply(event, at: sequence) ?? referrals.apply(event, at: sequence, standing: refunds.standings(of: event)) {
            return failure
        }
        if let change = SpendingAudit.change(of: event), let failure = spending.apply(change, at: sequence) { return failure }

        if recomputesBalances, case .creditLineApproved(let approved) = event {
            let account = LedgerAccount.creditLine(user: approved.user, currency: approved.currency).name
            if let failure = BalanceBounds.approvalFailure(account, limit: approved.limit, balance: balances[account] ?? 0, at: sequence) {
                return failure
            }
            creditLimits[account] = approved.limit
        }
        if recomputesBalances {
            for posting in postings {
                guard add(-posting.amount, to: posting.debit), add(posting.amount, to: posting.credit) else {
                    return AuditFailure(
                        kind: .unbalancedPostings, sequence: sequence,
                        message: "posting \(posting.debit) -> \(posting.credit) of \(posting.amount) overflows a 64-bit balance")
                }
            }
            for account in postings.flatMap({ [$0.debit, $0.credit] }) {
                if let failure = BalanceBounds.failure(account, balance: balances[account] ?? 0, kind: BalanceBounds.kind(of: account),
                                                       creditLimit: creditLimits[account] ?? 0, at: sequence) {
                    return failure
                }
            }
        }
        return nil
    }

    /// Adds `delta` to `account`'s recomputed balance with one hash of its name; false, changing
    /// nothing, when the sum overflows.
    mutating func add(_ delta: Int64, to account: String) -> Bool {
        guard let index = balances.index(forKey: account) else {
            balances[account] = delta
            return true
        }
        let (sum, overflow) = balances.values[index].addingReportingOverflow(delta)
        if overflow { return false }
        balances.values[index] = sum
        return true
    }

    mutating func checkSettlementAndRoyalties(_ event: LedgerEvent, at sequence: UInt64) -> AuditFailure? {
        func fail(_ message: String) -> AuditFailure {
            AuditFailure(kind: .settlementInconsistent, sequence: sequence, message: message)
        }
        switch event {
        case .vendorRegistered(let registered):
            settledThrough[registered.vendor] = sequence
        case .purchaseCaptured(let captured):
            // Its royalties and fee were checked against its postings by `captureFailure`.
            let currency = captured.terms.currency
            report.royaltyTotals[currency.code, default: 0] &+= captured.royalties.reduce(0) { $0 &+ $1.amount }
            report.feeTotals[currency.code, default: 0] &+= captured.fee
        case .vendorSettled(let settled):
            let payable = LedgerAccount.vendorPayable(vendor: settled.vendor, currency: settled.currency).name
            let clearing = "settlement:" + settled.currency.code
            guard settled.amount > 0, settled.postings.count == 1, settled.postings[0].debit == payable, settled.postings[0].credit == clearing,
                  settled.postings[0].amount == settled.amount else {
                return fail("settlement of \(settled.vendor) states \(settled.amount) but its postings move \(RefundAudit.describe(settled.postings)), not \(payable) -> \(clearing) \(settled.amount)")
            }
            if recomputesBalances {
                let held = balances[payable, default: 0]
                guard settled.amount == held else {
                    return fail("settlement of \(settled.vendor) pays \(settled.amount) \(settled.currency), but \(payable) held \(held)")
                }
                // Each currency is settled on its own: its first settlement covers from the
                // vendor's registration, later ones from its previous settlement.
                guard let registered = settledThrough[settled.vendor] else {
                    return fail("settlement of \(settled.vendor), which was never registered")
                }
                let currencyKey = settled.vendor + " " + settled.currency.code
                let previous = settledThroughByCurrency[currencyKey] ?? registered
                guard settled.coversFromSequence == previous + 1, settled.coversThroughSequence == sequence - 1 else {
                    return fail("settlement of \(settled.vendor) covers \(settled.coversFromSequence)...\(settled.coversThroughSequence), expected \(previous + 1)...\(sequence - 1)")
                }
                settledThroughByCurrency[currencyKey] = settled.coversThroughSequence
            }
            report.settlements += 1
            report.settledTotals[settled.currency.code, default: 0] &+= settled.amount
        case .royaltiesPaid(let paid):
            let payable = LedgerAccount.rightsHolderPayable(holder: paid.holder, currency: paid.currency).name
            let clearing = "settlement:" + paid.currency.code
            guard paid.amount > 0, paid.postings.count == 1, paid.postings[0].debit == payable, paid.postings[0].credit == clearing,
                  paid.postings[0].amount == paid.amount else {
                return fail("royalty payout \(paid.payout) states \(paid.amount) but its postings move \(RefundAudit.describe(paid.postings)), not \(payable) -> \(clearing) \(paid.amount)")
            }
            if recomputesBalances {
                let held = balances[payable, default: 0]
                guard paid.amount == held else {
                    return fail("royalty payout \(paid.payout) pays \(paid.amount) \(paid.currency), but \(payable) held \(held)")
                }
            }
            report.royaltyPayouts += 1
            report.royaltiesPaidOut[paid.currency.code, default: 0] &+= paid.amount
        default:
            break
        }
        return nil
    }

    /// Compares every recomputed balance with the write model's `bal/<account>` (absent = 0),
    /// and every `bal/` entry of the write model with the recomputed balance.
    mutating func compareWithWriteModel() throws -> AuditFailure? {
        var compared = 0
        for (account, balance) in balances.sorted(by: { $0.key < $1.key }) {
            let stored = try reader.state(LedgerAudit.balancePrefix + Array(account.utf8))
            compared += 1
            switch LedgerAudit.balance(stored) {
            case .none:
                return AuditFailure(
                    kind: .balanceMismatch, sequence: last,
                    message: "the write model's balance of \(account) is not 8 bytes (\(stored?.count ?? 0))")
            case .some(let value) where value != balance:
                return AuditFailure(
                    kind: .balanceMismatch, sequence: last,
                    message: "the write model says \(account) holds \(value), the postings give \(balance)")
            default:
                break
            }
        }
        var extra: AuditFailure?
        try reader.forEachState { key, value in
            if key.lexicographicallyPrecedes(LedgerAudit.balancePrefix) { return true }
            guard key.starts(with: LedgerAudit.balancePrefix) else { return false }
            let account = String(decoding: key.dropFirst(LedgerAudit.balancePrefix.count), as: UTF8.self)
            if balances[account] == nil {
                let value = LedgerAudit.balance(value)
                if value != 0 {
                    extra = AuditFailure(
                        kind: .balanceMismatch, sequence: last,
                        message: "the write model says \(account) holds \(value.map(String.init) ?? "a malformed value"), but no posting touches it")
                    return false
                }
            }
            return true
        }
        report.writeModelBalancesCompared = compared
        return extra
    }

    static func currency(of account: String) -> Substring {
        guard let colon = account.utf8.lastIndex(of: UInt8(ascii: ":")) else { return "" }
        return account[account.utf8.index(after: colon)...]
    }
}
