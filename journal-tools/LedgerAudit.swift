import Dispatch
import Foundation
import Journal
import Ledger

/// The ledger half of `journal-tool verify`: decodes every event of a verified range as a
/// ``LedgerEvent``, checks that its postings balance per currency, recomputes every account's
/// balance from postings alone, checks settlements and royalties against those postings, and
/// compares the recomputed balances with the write model kept beside the journal.
///
/// It trusts nothing but the events: the postings are summed by the currency each account
/// name ends with, not by the posting's own `currency` field, and the write model is only read
/// to be compared. Balances need the whole history, so they (and the settlement-versus-payable
/// check) are recomputed only when the range starts at sequence 1; the write model is compared
/// only when the range also ends at the journal's last event.
struct LedgerAudit {
    struct Report: Encodable {
        var eventsAudited: UInt64 = 0
        var postings: UInt64 = 0
        /// Accounts whose balance was recomputed (nil when the range does not start at 1).
        var accounts: Int?
        /// Write-model balances compared with the recomputed ones (nil when not compared, see
        /// `writeModelNote`).
        var writeModelBalancesCompared: Int?
        var writeModelNote: String?
        var settlements: UInt64 = 0
        /// Whether each settlement was checked against its vendor's payable and the sequence
        /// range it covers: only when the range starts at 1, as both need the whole history
        /// (`settlementsNote` says why not).
        var settlementsAgainstPayable = false
        var settlementsNote: String?
        /// Per currency: the total settled to vendors, royalties credited to rights holders, and
        /// fees credited to the provider.
        var settledTotals: [String: Int64] = [:]
        var royaltyTotals: [String: Int64] = [:]
        var feeTotals: [String: Int64] = [:]
        /// Royalty payouts (`RoyaltiesPaid`), each checked like a settlement against the
        /// holder's payable, and per currency what they paid out.
        var royaltyPayouts: UInt64 = 0
        var royaltiesPaidOut: [String: Int64] = [:]
        /// Refunds (by vendors, and of disputes) checked against what their buyers paid, per
        /// currency what they gave back, and why some were not checked (nil when all were).
        var refunds: UInt64 = 0
        var refundedTotals: [String: Int64] = [:]
        var refundsNote: String?
        /// Why some clearings, failures and payouts were not checked against what began them
        /// (nil when all were: ``PendingFundsAudit``).
        var pendingFundsNote: String?
        /// Why some referral rewards and reversals were not checked (``ReferralAudit``).
        var referralsNote: String?
        /// Why purchases were not held to their buyers' spending limits (``SpendingAudit``).
        var spendingLimitsNote: String?
        /// Why purchases' URLs were not held to their vendors' sites (``LedgerAudit/siteFailure(_:sites:at:)``).
        var sitesNote: String?
        var failure: AuditFailure?

        enum CodingKeys: String, CodingKey {
            case eventsAudited, postings, accounts, writeModelBalancesCompared, writeModelNote
            case settlements, settlementsAgainstPayable, settlementsNote, settledTotals, royaltyTotals, feeTotals
            case royaltyPayouts, royaltiesPaidOut, refunds, refundedTotals, refundsNote, pendingFundsNote, referralsNote, spendingLimitsNote, sitesNote
        }

        mutating func record(_ refunds: RefundAudit) {
            self.refunds = refunds.checked
            refundedTotals = refunds.refundedTotals
            refundsNote = refunds.note
        }

        /// Every key is present; absent values are `null`.
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(eventsAudited, forKey: .eventsAudited)
            try container.encode(postings, forKey: .postings)
            try container.encode(accounts, forKey: .accounts)
            try container.encode(writeModelBalancesCompared, forKey: .writeModelBalancesCompared)
            try container.encode(writeModelNote, forKey: .writeModelNote)
            try container.encode(settlements, forKey: .settlements)
            try container.encode(settlementsAgainstPayable, forKey: .settlementsAgainstPayable)
            try container.encode(settlementsNote, forKey: .settlementsNote)
            try container.encode(settledTotals, forKey: .settledTotals)
            try container.encode(royaltyTotals, forKey: .royaltyTotals)
            try container.encode(feeTotals, forKey: .feeTotals)
            try container.encode(royaltyPayouts, forKey: .royaltyPayouts)
            try container.encode(royaltiesPaidOut, forKey: .royaltiesPaidOut)
            try container.encode(refunds, forKey: .refunds)
            try container.encode(refundedTotals, forKey: .refundedTotals)
            try container.encode(refundsNote, forKey: .refundsNote)
            try container.encode(pendingFundsNote, forKey: .pendingFundsNote)
            try container.encode(referralsNote, forKey: .referralsNote)
            try container.encode(spendingLimitsNote, forKey: .spendingLimitsNote)
            try container.encode(sitesNote, forKey: .sitesNote)
        }
    }

    /// Events read before they are handed to the workers (decoded on every core, then folded
    /// in order on the reading thread while the workers decode the next chunk).
    static let chunkEvents = 8192
    /// A chunk is also handed off when its records reach this many bytes: two chunks are in
    /// memory at once (one decoded, one read), and 8,192 events of up to
    /// `JournalLimits.eventPayloadBytesMax` each would be gigabytes.
    static let chunkBytesMax = 32 << 20
    /// Events one worker takes at a time: small enough that a worker slowed down by another
    /// process does not hold up a chunk, large enough that handing them out costs nothing.
    static let sliceEvents = 256

    let reader: any JournalStorageReader
    let first: UInt64
    let last: UInt64
    /// Compare the recomputed balances with the write model (the range is 1 through the head).
    let compareWriteModel: Bool
    let progress: ToolProgress?
    /// Keep a copy of the recomputed balances as they are right after this sequence (to
    /// compare with read models that have folded that far).
    let snapshotAt: UInt64?
    /// How the events are read and folded (see ``Schedule``).
    let schedule: Schedule
    /// The recomputed balances right after `snapshotAt`.
    private(set) var snapshot: [String: Int64]?

    private var report = Report()
    private var balances = AccountBalances()
    /// Per currency, in the order first seen: royalties listed and fees of the captures so far
    /// (written to the report's totals at the end).
    private var captureTotals: [(currency: String, royalties: Int64, fees: Int64)] = []
    /// Per vendor, the last sequence its settlements have covered (its registration at first).
    /// Each vendor's registration sequence, and how far each (vendor, currency) is settled.
    private var settledThrough: [String: UInt64] = [:]
    private var settledThroughByCurrency: [String: UInt64] = [:]
    /// What each captured purchase's buyer still pays, to hold refunds against.
    private var refunds: RefundAudit
    /// Offline funds pending and payouts requested, to hold what ends them against them.
    private var pendingFunds: PendingFundsAudit
    /// Who brought each user, each vendor's referral policy and the rewards paid.
    private var referrals: ReferralAudit
    /// Each user's spending limits and recent purchases.
    private var spending: SpendingAudit
    /// Each vendor's settlement policy and last settlements (with the whole history).
    private var triggers = SettlementTriggers()
    /// Each vendor's sites (with the whole history), and the last event that changed any.
    private var sites: [String: [String]] = [:]
    private var sitesChangedAt: UInt64 = 0
    /// The last event folded (the workers check purchases against `sites` as they were then).
    private var foldedThrough: UInt64 = 0
    /// The bounded accounts (``BalanceBounds``) the event being folded posts to.
    private var bounded: [Int32] = []

    /// How the audit reads, decodes and folds. Both give the same report for the same journal;
    /// `oneByOne` is the plain form the pipelined one is tested against.
    struct Schedule: Sendable {
        /// Events per chunk.
        var chunkEvents: Int
        /// Decode the next chunk on the other cores while this one is folded.
        var pipelined: Bool
        /// Let the workers look up the index of each account already known before the chunk,
        /// so that the fold adds to a balance by index instead of hashing its name.
        var resolvesAccounts: Bool

        static let pipelined = Schedule(chunkEvents: LedgerAudit.chunkEvents, pipelined: true, resolvesAccounts: true)
        /// One event at a time, decoded and folded on the calling thread, every account by name.
        static let oneByOne = Schedule(chunkEvents: 1, pipelined: false, resolvesAccounts: false)
    }

    init(
        reader: any JournalStorageReader, first: UInt64, last: UInt64, compareWriteModel: Bool, progress: ToolProgress?,
        snapshotAt: UInt64? = nil, schedule: Schedule = .pipelined
    ) {
        self.reader = reader
        self.first = first
        self.last = last
        self.compareWriteModel = compareWriteModel
        self.progress = progress
        self.snapshotAt = snapshotAt
        self.schedule = schedule
        refunds = RefundAudit(first: first, last: last, readCapture: RefundAudit.captureReader(reader))
        pendingFunds = PendingFundsAudit(wholeHistory: first == 1)
        referrals = ReferralAudit(wholeHistory: first == 1)
        spending = SpendingAudit(wholeHistory: first == 1, readChange: SpendingAudit.changeReader(reader))
        if snapshotAt == 0 { snapshot = [:] }
    }

    var recomputesBalances: Bool { first == 1 }

    /// Runs the audit over `first...last` (already verified by ``JournalVerifier``).
    mutating func run() throws -> Report {
        var filling = RecordChunk()
        var spare: RecordChunk?
        var decoding: DecodingChunk?
        var failure: AuditFailure?
        let chunkEvents = max(1, schedule.chunkEvents)

        /// Hands the filled chunk to the workers, then folds the chunk decoded before it.
        func handOff() -> AuditFailure? {
            let next = DecodingChunk(records: filling, sliceEvents: Self.sliceEvents)
            next.start(known: schedule.resolvesAccounts && recomputesBalances ? balances.indices : nil,
                       foldsBalances: recomputesBalances, following: recomputesBalances ? spending.following : nil,
                       sites: recomputesBalances ? sites : nil, sitesAsOf: foldedThrough, pipelined: schedule.pipelined)
            filling = spare ?? RecordChunk()
            spare = nil
            defer { decoding = next }
            guard let previous = decoding else { return nil }
            previous.wait()
            let failure = fold(previous)
            spare = previous.recycled()
            return failure
        }

        try reader.forEachEventRecord(from: first) { sequence, record in
            guard sequence <= last else { return false }
            filling.append(sequence: sequence, record: record)
            if filling.count == chunkEvents || filling.bytes.count >= Self.chunkBytesMax {
                failure = handOff()
                if failure != nil { return false }
            }
            return true
        }
        if failure == nil && filling.count > 0 { failure = handOff() }
        if let decoding {
            decoding.wait()
            if failure == nil { failure = fold(decoding) }
        }
        for totals in captureTotals {
            report.royaltyTotals[totals.currency] = totals.royalties
            report.feeTotals[totals.currency] = totals.fees
        }
        if failure == nil { failure = refunds.finish() }
        report.record(refunds)
        report.pendingFundsNote = pendingFunds.note
        report.referralsNote = referrals.note
        report.spendingLimitsNote = spending.note
        if !recomputesBalances {
            report.sitesNote = Self.sitesNotChecked
        }
        if failure == nil && compareWriteModel { failure = try compareWithWriteModel() }
        if recomputesBalances { report.accounts = balances.count }
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

    // MARK: Per event

    /// Checks what needs the history, in order, for a decoded chunk (each event's own checks
    /// were made by the workers), and folds the postings into the balances.
    private mutating func fold(_ chunk: DecodingChunk) -> AuditFailure? {
        for slice in chunk.slices {
            var postingsStart = 0
            for event in slice.events {
                if let failure = fold(event, of: slice, postings: postingsStart..<event.postingsEnd, records: chunk.records,
                                      sitesAsOf: chunk.sitesAsOf) {
                    return failure
                }
                postingsStart = event.postingsEnd
            }
        }
        if let last = chunk.records.sequences.last {
            foldedThrough = last
            progress?.update(last)
        }
        return nil
    }

    private mutating func fold(
        _ decoded: DecodedEvent, of slice: DecodedSlice, postings: Range<Int>, records: RecordChunk, sitesAsOf: UInt64
    ) -> AuditFailure? {
        let sequence = decoded.sequence
        if case .undecodable(let error) = decoded.content {
            let record = records.record(decoded.recordIndex)
            return Self.classify(error, sequence: sequence, typeName: record.typeName, payload: record.payload)
        }
        if let failure = decoded.postingsFailure { return failure }
        report.postings += UInt64(decoded.postingCount)
        if let failure = decoded.ownFailure { return failure }
        if decoded.checksSite {
            // The workers held it to the sites as they were after `sitesAsOf`; a vendor's sites
            // changed since (rare): held again to the sites as they are now.
            if sitesChangedAt > sitesAsOf {
                let record = records.record(decoded.recordIndex)
                if let event = try? LedgerEvent(typeName: record.typeName, payload: record.payload),
                   let failure = Self.siteFailure(event, sites: sites, at: sequence) {
                    return failure
                }
            } else if let failure = decoded.siteFailure {
                return failure
            }
        }

        switch decoded.content {
        case .capture(let royalties, let fee, let payment):
            // Its royalties and fee were checked against its postings by `captureFailure`.
            guard case .capture(_, let currency, _, _, _, _, _, _) = payment else { preconditionFailure("a capture's payment is a capture") }
            if let index = captureTotals.firstIndex(where: { $0.currency == currency }) {
                captureTotals[index].royalties &+= royalties
                captureTotals[index].fees &+= fee
            } else {
                captureTotals.append((currency, royalties, fee))
            }
            if let failure = refunds.apply(payment, at: sequence) { return failure }
        case .payment(let step):
            // What the account the step draws on holds, when the whole history says.
            var held: Int64?
            if recomputesBalances {
                switch step {
                case .dispute(_, _, _, _, let vendor, let opening):
                    held = balances.balance(of: LedgerAccount.vendorPayable(vendor: vendor, currency: opening.currency).name)
                case .lotExpired(_, _, let from, _, _, _):
                    held = balances.balance(of: from)
                case .refund(_, _, _, _, let user, _, _, let postings, _), .release(_, let user, _, _, let postings, _, _):
                    // The buyer's credit line, in the currency its money goes back in.
                    if let currency = postings.first?.currency {
                        held = balances.balance(of: LedgerAccount.creditLine(user: user, currency: currency).name)
                    }
                default:
                    break
                }
            }
            if let failure = refunds.apply(step, at: sequence, accountHeld: held) { return failure }
        case .history(let event):
            if recomputesBalances { noteSites(event, at: sequence) }
            if let failure = checkSettlement(event, at: sequence) ?? (recomputesBalances ? triggers.failure(event, at: sequence) : nil)
                ?? pendingFunds.apply(event, at: sequence)
                ?? referrals.apply(event, at: sequence, standing: refunds.standings(of: event)) {
                return failure
            }
            // A registration's fee rate, for the captures after it.
            if let step = RefundAudit.step(of: event), let failure = refunds.apply(step, at: sequence) { return failure }
        case .creditLimit(let account, let limit):
            if recomputesBalances, let failure = balances.approveCreditLimit(limit, for: account, sequence: sequence) { return failure }
        case .plain, .undecodable:
            break
        }
        if let input = decoded.spending, let failure = spending.apply(input, at: sequence, change: {
            let record = records.record(decoded.recordIndex)
            return SpendingAudit.change(of: try LedgerEvent(typeName: record.typeName, payload: record.payload))
        }) {
            return failure
        }

        if recomputesBalances {
            bounded.removeAll(keepingCapacity: true)
            for index in postings {
                let posting = slice.postings[index]
                let debit = posting.debit >= 0 ? posting.debit : balances.index(of: slice.name(posting.debit))
                guard balances.add(0 &- posting.amount, at: debit) else {
                    return overflow(posting, debit: debit, of: slice, at: sequence)
                }
                let credit = posting.credit >= 0 ? posting.credit : balances.index(of: slice.name(posting.credit))
                guard balances.add(posting.amount, at: credit) else {
                    return overflow(posting, debit: debit, of: slice, at: sequence)
                }
                if balances.isBounded(debit) { bounded.append(debit) }
                if balances.isBounded(credit) { bounded.append(credit) }
            }
            // Bounds hold after the whole event, in the order its postings name the accounts.
            for index in bounded where !balances.isSurelyWithinBounds(index) {
                if let failure = balances.boundsFailure(at: index, sequence: sequence) { return failure }
            }
        }
        report.eventsAudited += 1
        if sequence == snapshotAt { snapshot = balances.dictionary }
        return nil
    }

    /// A vendor's sites as its registration or an update sets them.
    private mutating func noteSites(_ event: LedgerEvent, at sequence: UInt64) {
        switch event {
        case .vendorRegistered(let registered):
            sites[registered.vendor] = registered.sites
        case .vendorUpdated(let updated):
            guard let changed = updated.sites else { return }
            sites[updated.vendor] = changed
        default:
            return
        }
        sitesChangedAt = sequence
    }

    /// Claim 28, with the whole history: a purchase (an authorization, or a one-step capture)
    /// sells content whose URL is under one of its vendor's sites at that time
    /// (``ContentTerms/isSold(under:)``, the ledger's one rule; the capture of a hold repeats its
    /// authorization's terms). A vendor never registered is refused by the fee check.
    static func siteFailure(_ event: LedgerEvent, sites: [String: [String]], at sequence: UInt64) -> AuditFailure? {
        // Only the strings the rule needs, not the whole terms (a copy of each of their fields).
        switch event {
        case .purchaseAuthorized(let authorized):
            return siteFailure(authorized.transaction, vendor: authorized.vendor, url: authorized.terms.url, sites: sites, at: sequence)
        case .purchaseCaptured(let captured) where captured.oneStep:
            return siteFailure(captured.transaction, vendor: captured.vendor, url: captured.terms.url, sites: sites, at: sequence)
        default:
            return nil
        }
    }

    private static func siteFailure(
        _ transaction: String, vendor: String, url: String, sites: [String: [String]], at sequence: UInt64
    ) -> AuditFailure? {
        guard let vendorSites = sites[vendor], !ContentTerms.isSold(url: url, under: vendorSites) else { return nil }
        return AuditFailure(
            kind: .purchaseInconsistent, sequence: sequence,
            message: "\(transaction) sells \(url), which is not under \(vendor)'s sites then (\(vendorSites.joined(separator: ", ")))")
    }

    /// Why a range that does not start at 1 holds no purchase to its vendor's sites.
    static let sitesNotChecked = "not checked: the vendors' sites need the history from sequence 1"

    /// Whether ``siteFailure(_:sites:at:)`` looks at `event`.
    static func checksSite(_ event: LedgerEvent) -> Bool {
        switch event {
        case .purchaseAuthorized: return true
        case .purchaseCaptured(let captured): return captured.oneStep
        default: return false
        }
    }

    private func overflow(_ posting: FoldPosting, debit: Int32, of slice: DecodedSlice, at sequence: UInt64) -> AuditFailure {
        // The credit account is named without being added: a debit that overflows stops the
        // fold before the credit is touched.
        let credit = posting.credit >= 0 ? balances.names[Int(posting.credit)] : slice.name(posting.credit)
        return AuditFailure(
            kind: .unbalancedPostings, sequence: sequence,
            message: "posting \(balances.names[Int(debit)]) -> \(credit) of \(posting.amount) overflows a 64-bit balance")
    }

    /// Postings balance per currency, by the currency each account name ends with, and each
    /// moves a positive amount in the currency it names.
    static func postingsFailure(_ event: LedgerEvent, at sequence: UInt64) -> AuditFailure? {
        // A posting that passes takes its amount from one currency's account and adds it to an
        // account of the same currency, so every currency's sum stays zero (wrapping or not):
        // refusing the postings that mix currencies is what checks the sums.
        for posting in event.postings {
            guard posting.amount > 0, movesOneCurrency(posting) else {
                return AuditFailure(
                    kind: .unbalancedPostings, sequence: sequence,
                    message: "posting \(posting.debit) -> \(posting.credit) of \(posting.amount) \(posting.currency) moves a non-positive amount or mixes currencies")
            }
        }
        return nil
    }

    /// Both accounts name the posting's currency (the text after their last ':'), compared as
    /// strings are (canonical equivalence); the same bytes are the common, quick case.
    @inline(__always)
    static func movesOneCurrency(_ posting: Posting) -> Bool {
        let quick = withBytes(posting.currency.code) { code in
            withBytes(posting.debit) { endsWithCurrency($0, code) } && withBytes(posting.credit) { endsWithCurrency($0, code) }
        }
        if quick { return true }
        let debit = currency(of: posting.debit)
        return debit == currency(of: posting.credit) && debit == Substring(posting.currency.code)
    }

    /// The bytes after the last ':' of `account` are `code` (which holds no ':').
    @inline(__always)
    static func endsWithCurrency(_ account: UnsafeBufferPointer<UInt8>, _ code: UnsafeBufferPointer<UInt8>) -> Bool {
        guard account.count > code.count, account[account.count - code.count - 1] == UInt8(ascii: ":") else { return false }
        for index in 0..<code.count where code[index] == UInt8(ascii: ":") || account[account.count - code.count + index] != code[index] {
            return false
        }
        return true
    }

    /// Calls `body` with the UTF-8 bytes of `text`, without copying them when they are stored
    /// contiguously (as native strings are).
    @inline(__always)
    static func withBytes<R>(_ text: String, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        if let result = text.utf8.withContiguousStorageIfAvailable(body) { return result }
        var copy = text
        return copy.withUTF8(body)
    }

    /// `text` starts with `prefix`, compared byte for byte.
    @inline(__always)
    static func starts(_ text: String, with prefix: StaticString) -> Bool {
        withBytes(text) { $0.starts(with: UnsafeBufferPointer(start: prefix.utf8Start, count: prefix.utf8CodeUnitCount)) }
    }

    /// A capture's postings credit each rights holder exactly its listed royalty and the
    /// provider exactly the listed fee, and nothing else of those kinds.
    static func captureFailure(_ event: LedgerEvent, at sequence: UInt64) -> AuditFailure? {
        guard case .purchaseCaptured(let captured) = event else { return nil }
        return captureFailure(captured, at: sequence)
    }

    static func captureFailure(_ captured: PurchaseCaptured, at sequence: UInt64) -> AuditFailure? {
        if capturePaysAsListed(captured) { return nil }
        return listedFailure(captured, at: sequence)
    }

    /// The common case of ``captureFailure(_:at:)``, without building a name or an array: true
    /// only when each royalty is paid to a holder named once, and the fee, exactly what is
    /// listed, and nothing else to a holder or the fees (names compared byte for byte). False
    /// means "look closer": `listedFailure` decides, and names what is wrong.
    static func capturePaysAsListed(_ captured: PurchaseCaptured) -> Bool {
        let royalties = captured.royalties, code = captured.terms.currency.code
        guard royalties.count <= 16 else { return false }
        for (index, royalty) in royalties.enumerated() {
            guard royalty.amount >= 0 else { return false }
            for other in royalties[..<index] where other.holder == royalty.holder { return false }
        }
        return withUnsafeTemporaryAllocation(of: Int64.self, capacity: royalties.count + 1) { credited in
            credited.initialize(repeating: 0)
            let fees = royalties.count
            for posting in captured.postings {
                if starts(posting.credit, with: "fees:") {
                    guard PurchaseAudit.isFees(posting.credit, code) else { return false }
                    credited[fees] &+= posting.amount
                } else if starts(posting.credit, with: "holder:") {
                    guard let index = royalties.firstIndex(where: { PurchaseAudit.isAccount(posting.credit, "holder", of: $0.holder, code) }) else {
                        return false
                    }
                    credited[index] &+= posting.amount
                }
            }
            for (index, royalty) in royalties.enumerated() where credited[index] != royalty.amount { return false }
            // A fee is listed only when positive; nothing may be credited to the fees otherwise.
            return credited[fees] == max(captured.fee, 0)
        }
    }

    /// ``captureFailure(_:at:)`` in full: sums what each holder and the fees are listed and
    /// credited, by account name (names equal as strings are one account).
    static func listedFailure(_ captured: PurchaseCaptured, at sequence: UInt64) -> AuditFailure? {
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

    /// The checks of a registration, settlement or royalty payout that need the history: a
    /// settlement covers the events since the vendor's previous one, and neither pays more
    /// than the payable holds.
    private mutating func checkSettlement(_ event: LedgerEvent, at sequence: UInt64) -> AuditFailure? {
        func fail(_ message: String) -> AuditFailure {
            AuditFailure(kind: .settlementInconsistent, sequence: sequence, message: message)
        }
        switch event {
        case .vendorRegistered(let registered):
            settledThrough[registered.vendor] = sequence
        case .vendorSettled(let settled):
            let payable = LedgerAccount.vendorPayable(vendor: settled.vendor, currency: settled.currency).name
            if let failure = paysOut(settled.amount, settled.currency, from: payable, settled.postings, "settlement of \(settled.vendor)") {
                return fail(failure)
            }
            if recomputesBalances {
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
            if let failure = paysOut(paid.amount, paid.currency, from: payable, paid.postings, "royalty payout \(paid.payout)") {
                return fail(failure)
            }
            report.royaltyPayouts += 1
            report.royaltiesPaidOut[paid.currency.code, default: 0] &+= paid.amount
        default:
            break
        }
        return nil
    }

    /// Why a payout out of a payable (a settlement, a royalty payout) is wrong, or nil: it must
    /// be one positive posting of its stated amount out of `payable` into the settlement
    /// clearing account of its currency, and (with the whole history) exactly what the payable
    /// held: the ledger pays out a payable's whole balance.
    private func paysOut(_ amount: Int64, _ currency: Currency, from payable: String, _ postings: [Posting], _ what: String) -> String? {
        let clearing = LedgerAccount.settlementClearing(currency: currency).name
        guard amount > 0, RefundAudit.movesOnly(postings, amount, from: payable, to: clearing) else {
            return "\(what) states \(amount) but its postings move \(RefundAudit.describe(postings)), not \(payable) -> \(clearing) \(amount)"
        }
        if recomputesBalances {
            let held = balances.balance(of: payable)
            guard amount == held else { return "\(what) pays \(amount) \(currency), but \(payable) held \(held)" }
        }
        return nil
    }

    static func currency(of account: String) -> Substring {
        // On the UTF-8 view: `lastIndex(of: Character)` walks grapheme clusters and showed in
        // the profile. A ':' byte is always a whole character in UTF-8, so the answer is the same.
        guard let colon = account.utf8.lastIndex(of: UInt8(ascii: ":")) else { return "" }
        return account[account.utf8.index(after: colon)...]
    }

    /// Names the failure of an event that does not decode: unbalanced postings when a lenient
    /// reading of its postings shows why, else the decoding error.
    static func classify(_ error: any Error, sequence: UInt64, typeName: String, payload: [UInt8]) -> AuditFailure {
        if let lenient = try? JSONDecoder().decode(LenientPostings.self, from: Data(payload)), let postings = lenient.postings {
            var sums: [Substring: Int64] = [:]
            for posting in postings {
                if posting.amount <= 0 {
                    return AuditFailure(kind: .unbalancedPostings, sequence: sequence, message: "a posting of \(typeName) moves \(posting.amount), not a positive amount")
                }
                sums[currency(of: posting.debit), default: 0] &-= posting.amount
                sums[currency(of: posting.credit), default: 0] &+= posting.amount
            }
            if let (currency, sum) = sums.sorted(by: { $0.key < $1.key }).first(where: { $0.value != 0 }) {
                return AuditFailure(kind: .unbalancedPostings, sequence: sequence, message: "the postings of \(typeName) sum to \(sum) \(currency), not zero")
            }
            if let mixed = postings.first(where: { currency(of: $0.debit) != Substring($0.currency) }) {
                return AuditFailure(
                    kind: .unbalancedPostings, sequence: sequence,
                    message: "a posting of \(typeName) says \(mixed.currency) but moves between \(mixed.debit) and \(mixed.credit)")
            }
        }
        let reason: String
        if !LedgerEvent.typeNames.contains(typeName) {
            reason = "type \(typeName) is not a ledger event"
        } else {
            reason = "the payload does not decode as \(typeName): \(Self.describe(error))"
        }
        return AuditFailure(kind: .undecodableEvent, sequence: sequence, message: reason)
    }

    static func describe(_ error: any Error) -> String {
        guard let decoding = error as? DecodingError else { return "\(error)" }
        switch decoding {
        case .dataCorrupted(let context), .keyNotFound(_, let context), .typeMismatch(_, let context), .valueNotFound(_, let context):
            let path = context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
            return (path.isEmpty ? "" : path + ": ") + context.debugDescription
        @unknown default:
            return "\(decoding)"
        }
    }

    struct LenientPostings: Decodable {
        struct Entry: Decodable {
            let debit: String
            let credit: String
            let amount: Int64
            let currency: String
        }
        let postings: [Entry]?
    }

    // MARK: The write model

    static let balancePrefix = Array("bal/".utf8)

    /// Compares every recomputed balance with the write model's `bal/<account>` (absent = 0),
    /// and every `bal/` entry of the write model with the recomputed balance.
    private mutating func compareWithWriteModel() throws -> AuditFailure? {
        var compared = 0
        let recomputed = balances.dictionary
        for (account, balance) in recomputed.sorted(by: { $0.key < $1.key }) {
            let stored = try reader.state(Self.balancePrefix + Array(account.utf8))
            compared += 1
            switch Self.balance(stored) {
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
            if key.lexicographicallyPrecedes(Self.balancePrefix) { return true }
            guard key.starts(with: Self.balancePrefix) else { return false }
            let account = String(decoding: key.dropFirst(Self.balancePrefix.count), as: UTF8.self)
            if recomputed[account] == nil {
                let value = Self.balance(value)
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

    /// A stored balance (8 bytes, big-endian two's complement); nil when malformed; 0 when absent.
    static func balance(_ bytes: [UInt8]?) -> Int64? {
        guard let bytes else { return 0 }
        guard bytes.count == 8 else { return nil }
        return bytes.reduce(Int64(0)) { $0 << 8 | Int64($1) }
    }
}
