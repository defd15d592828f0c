import Journal
import Ledger

/// The refund half of the ledger audit: no purchase gives back more than its buyer paid.
///
/// A refund (`PurchaseRefunded` by its vendor, or `DisputeResolved` refunding a dispute) states
/// what it gives back, and its postings must move exactly that much. With the capture in the
/// audited range, it must also give back no more than the buyer still pays (the captured price
/// less earlier refunds), say what remains truthfully (`remaining`; an older refund without it,
/// or a dispute's refund, gives back all that remains), and a purchase whose whole price is back
/// can be neither refunded nor disputed again; a dispute disputes what is still paid. A refund
/// and a dispute name the purchase's own buyer and vendor, and a refund's money comes only from
/// that vendor (its payable or dispute reserve), the rights holders and the provider's fees,
/// and goes only to that buyer (wallet, credit line, or an incentive lot issued to the buyer),
/// in the purchase's currency. What each party gives back, and each incentive lot that paid
/// gets back, is exactly the ledger's one split of a refund (``TransactionRecord/refundSplit(_:)``)
/// of the purchase as its capture and earlier refunds left it.
///
/// A dispute is opened once, of a purchase with no dispute open and none rejected, and moves
/// into the vendor's dispute reserve no more than the vendor's part of what is still paid;
/// it is resolved once: a refund takes from the reserve what the dispute reserved (up to the
/// vendor's part) and a rejection gives back to the payable exactly that, nothing else. A
/// vendor does not refund a purchase while it is disputed. A charge the rules mark
/// unauthorized is refunded by rule in the very next event, and only such a charge is.
///
/// The same in-order pass follows what else needs the history of a purchase (failing as
/// `purchase-inconsistent`, exit 38): a purchase draws only on incentive lots issued to its
/// buyer that may pay for it then (``IncentiveLot/unusable(vendor:terms:time:)``: not expired,
/// not restricted to other vendors, accepted by the content); each hold is authorized once and
/// captured (before it expires) or released (by expiry, not before it) once, for its price, by
/// its buyer and vendor; and a capture's fee is its vendor's rate at the time of the capture
/// (``ContentTerms/fee(price:basisPoints:)``), the vendor registered (``PurchaseAudit`` checks each
/// event's own shape). With the whole history, a purchase by a member is by an active member of
/// the buyer's account, and a dispute marks a charge unauthorized exactly when the ledger's rule
/// does (a member since removed made it). An incentive lot is issued once and expires (failing as
/// `funds-inconsistent`, exit 39) not before its time, back to its issuer, all that it held
/// (with the whole history).
///
/// The audit keeps one entry per captured purchase, one per lot, one per purchase partly
/// refunded, one per dispute and one per open hold; a refund or dispute reads its purchase's
/// capture back from the journal.
struct RefundAudit {
    /// What one event tells about a purchase's payment.
    enum Step: Equatable {
        /// A purchase was captured at `price` in `currency` from `user` by `vendor` (`parties`
        /// is ``RefundAudit/parties(user:vendor:)`` of the two) for a fee of `fee` (held to the
        /// vendor's rate); `oneStep` is false for the capture of a hold. What only some captures
        /// need checked (``CaptureDetail``: lots drawn, a member, a hold's terms and expiry) is
        /// boxed, nil for a one-step purchase paid by its buyer, so that every capture's step
        /// stays small.
        case capture(
            transaction: String, currency: String, price: Int64, parties: UInt64, oneStep: Bool, vendor: String, fee: Int64,
            detail: CaptureDetail?)
        /// A refund of `amount`; `remaining` is what the event says the buyer still pays after
        /// it (nil: all that remained went back).
        ///
        /// Refunds and disputes are rare and hold more; boxed (`indirect`), they leave a step,
        /// and the audit's per-event record that carries one, the size of a capture.
        /// `resolving` is the dispute a `DisputeResolved` refunds (nil: the vendor's own refund).
        indirect case refund(
            transaction: String, amount: Int64, remaining: Int64?, what: String, user: String, vendor: String, currency: String?,
            postings: [Posting], resolving: Resolution?)
        /// A dispute was opened of what the buyer still paid (`disputed`; nil in events from
        /// before partial refunds existed).
        indirect case dispute(transaction: String, disputed: Int64?, what: String, user: String, vendor: String, opening: Opening)
        /// A dispute was rejected, its reserve given back to the vendor by `postings`.
        indirect case rejection(transaction: String, what: String, user: String, vendor: String, resolution: Resolution, postings: [Posting])
        /// An incentive lot was issued.
        indirect case lot(IncentiveLot)
        /// What was left of a lot of `user`'s (`amount`, from the account `from`) went back to the
        /// account `to` at `time`, expired.
        indirect case lotExpired(lot: String, user: String, from: String, to: String, amount: Int64, time: UInt64)
        /// An authorization held `price` in `currency` for `parties` until `expiresAt`, drawn
        /// from `sources` (the lots among them: `drawn`), for the terms, sources and member
        /// `purchase` numbers.
        indirect case hold(
            transaction: String, user: String, drawn: Drawn?, price: Int64, parties: UInt64, expiresAt: UInt64, purchase: UInt64, byMember: ByMember?,
            sources: [FundingSource], currency: Currency)
        /// A member was added to a user's account (`active`) or removed from it.
        indirect case member(user: String, member: String, active: Bool)
        /// A hold was voided, or expired (`expired`), at `time`, its `postings` giving back
        /// `amount` from the held funds.
        indirect case release(transaction: String, user: String, vendor: String, amount: Int64, postings: [Posting], expired: Bool, time: UInt64)
        /// A vendor was registered at a fee rate, or its registration changed (`registered`
        /// false; a nil rate keeps the rate it had).
        indirect case vendor(vendor: String, feeBasisPoints: Int64?, registered: Bool)
    }

    /// The incentive lots a purchase draws on, and what they must be usable for: its buyer,
    /// vendor and terms, and its time.
    final class Drawn: Equatable {
        let user: String
        let vendor: String
        let terms: ContentTerms
        let time: UInt64
        let lots: [String]

        init(user: String, vendor: String, terms: ContentTerms, time: UInt64, lots: [String]) {
            self.user = user
            self.vendor = vendor
            self.terms = terms
            self.time = time
            self.lots = lots
        }

        static func == (lhs: Drawn, rhs: Drawn) -> Bool {
            lhs.user == rhs.user && lhs.vendor == rhs.vendor && lhs.terms == rhs.terms && lhs.time == rhs.time && lhs.lots == rhs.lots
        }
    }

    /// What a capture needs checked beyond every capture's fields: the lots a one-step capture
    /// draws on and the member who made it, if any; for a capture of a hold, its time (against
    /// the hold's expiry) and ``purchaseNumber(terms:sources:member:)`` (against the hold's).
    final class CaptureDetail: Equatable {
        let drawn: Drawn?
        let byMember: ByMember?
        let time: UInt64
        let purchase: UInt64

        init(drawn: Drawn?, byMember: ByMember?, time: UInt64, purchase: UInt64) {
            self.drawn = drawn
            self.byMember = byMember
            self.time = time
            self.purchase = purchase
        }

        static func == (lhs: CaptureDetail, rhs: CaptureDetail) -> Bool {
            lhs.drawn == rhs.drawn && lhs.byMember == rhs.byMember && lhs.time == rhs.time && lhs.purchase == rhs.purchase
        }
    }

    /// A purchase made by a member of the buyer's account.
    final class ByMember: Equatable {
        let user: String
        let member: String

        init(user: String, member: String) {
            self.user = user
            self.member = member
        }

        static func == (lhs: ByMember, rhs: ByMember) -> Bool { lhs.user == rhs.user && lhs.member == rhs.member }

        static func of(_ user: String, _ member: String?) -> ByMember? { member.map { ByMember(user: user, member: $0) } }
    }

    /// What a `DisputeOpened` says of its dispute.
    struct Opening: Equatable {
        var dispute: String
        var currency: Currency
        var reserved: Int64
        var unauthorized: Bool
        var postings: [Posting]
    }

    /// Which dispute a `DisputeResolved` decides, and whether by rule (else by customer service).
    struct Resolution: Equatable {
        var dispute: String
        var byRule: Bool
    }

    /// A dispute opened in the range and not yet resolved.
    struct OpenDispute {
        var transaction: String
        var currency: Currency
        var reserved: Int64
        var unauthorized: Bool
        var openedAt: UInt64
    }

    /// What a captured purchase's buyer still pays, and in which currency (an index into
    /// `currencies`; `Paid.none` marks a transaction not captured).
    struct Paid {
        var amount: Int64
        var currency: Int32
        /// The buyer and the vendor, hashed (``RefundAudit/parties(user:vendor:)``).
        var parties: UInt64
        /// The capture's sequence, to read it back when a refund must be split.
        var captured: UInt64
        static let none = Paid(amount: 0, currency: -1, parties: 0, captured: 0)
    }

    /// Reads back the capture at a sequence (in `verify`, from the journal being audited).
    typealias CaptureReader = (UInt64) throws -> PurchaseCaptured?
    private let readCapture: CaptureReader
    /// Each purchase partly refunded, by its capture's sequence: its record with what the
    /// refunds so far took from each party and gave back to each source.
    private var partlyRefunded: [UInt64: TransactionRecord] = [:]
    /// Disputes open, by ID and by the transaction they dispute; disputes resolved; and the
    /// rejected dispute of each transaction whose dispute was rejected.
    private var openDisputes: [String: OpenDispute] = [:]
    private var openDisputeOf: [String: String] = [:]
    private var resolvedDisputes: Set<String> = []
    private var rejectedDisputeOf: [String: String] = [:]
    /// Holds authorized and not yet captured or released.
    private var held: [String: Held] = [:]

    /// The ledger's own transaction IDs (``ServerTransactionID``, `tx-<sequence>`) created in
    /// the range, by their sequence less `first`: one array slot, not a hashed string, per
    /// capture (a 10-million-event audit holds millions of them).
    private var bySequence: [Paid] = []
    /// Every other transaction ID: created before the range, or not made by the ledger.
    private var byID: [String: Paid] = [:]
    private var currencies: [String] = []
    /// Each user's active members (users with none are absent).
    private var activeMembers: [String: Set<String>] = [:]
    /// Each incentive lot issued in the range.
    private var lots: [String: IncentiveLot] = [:]
    /// Each vendor registered in the range, with its fee rate.
    private var feeRates: [String: Int64] = [:]
    /// The range's first and last sequence: a server-created ID names a sequence up to `last`.
    let first: UInt64
    let last: UInt64
    /// Every capture a refund can name has been seen (the range starts at sequence 1).
    var wholeHistory: Bool { first == 1 }
    /// Refunds checked against what the buyer paid, and per currency what they gave back.
    private(set) var checked: UInt64 = 0
    private(set) var refundedTotals: [String: Int64] = [:]
    /// Refunds and disputes of purchases captured before the range (not checked against it).
    private(set) var unchecked: UInt64 = 0

    init(first: UInt64, last: UInt64, readCapture: @escaping CaptureReader) {
        self.first = first
        self.last = last
        self.readCapture = readCapture
    }

    /// Reads the capture at a sequence of `reader`'s journal: nil when that event is not one.
    static func captureReader(_ reader: any JournalStorageReader) -> CaptureReader {
        let read = eventReader(reader)
        return { sequence in
            guard case .purchaseCaptured(let captured) = try read(sequence) else { return nil }
            return captured
        }
    }

    /// Reads the ledger event at a sequence of `reader`'s journal back (nil: there is none).
    static func eventReader(_ reader: any JournalStorageReader) -> (UInt64) throws -> LedgerEvent? {
        { sequence in
            let stored: (typeName: String, payload: [UInt8])? = try reader.withEventRecord(at: sequence) { record in
                guard let record, case .success(let view) = EventRecord.parse(record) else { return nil }
                return (String(decoding: view.typeName, as: UTF8.self), Array(view.payload))
            }
            guard let stored else { return nil }
            return try LedgerEvent(typeName: stored.typeName, payload: stored.payload)
        }
    }

    /// The dense slot of a server-created ID in the range, or nil.
    private func slot(_ transaction: String) -> Int? {
        guard let sequence = ServerTransactionID.sequence(of: transaction), sequence >= first, sequence <= last else { return nil }
        return Int(sequence - first)
    }

    private func paid(_ transaction: String) -> Paid? {
        if let slot = slot(transaction) {
            guard slot < bySequence.count, bySequence[slot].currency >= 0 else { return nil }
            return bySequence[slot]
        }
        return byID[transaction]
    }

    /// A captured purchase as a referral reward counts it: its buyer, currency, what is still
    /// paid, when it was captured, and whether a dispute of it is open.
    struct Standing: Equatable {
        let user: String
        let currency: Currency
        let remaining: Int64
        let capturedAt: UInt64
        let disputed: Bool
    }

    /// `transaction`'s standing now, or nil when it was not captured in the range (never, or
    /// before it); its capture is read back from the journal.
    func standing(of transaction: String) throws -> Standing? {
        guard let paid = paid(transaction), let captured = try readCapture(paid.captured) else { return nil }
        return Standing(user: captured.user, currency: captured.terms.currency, remaining: paid.amount,
                        capturedAt: captured.timeMilliseconds, disputed: openDisputeOf[transaction] != nil)
    }

    /// The standing of each purchase a referral reward names (none for other events; a
    /// capture that cannot be read back counts as not known).
    func standings(of event: LedgerEvent) -> [String: Standing] {
        guard case .referralRewarded(let rewarded) = event else { return [:] }
        var standings: [String: Standing] = [:]
        for transaction in rewarded.qualifyingTransactions {
            if let standing = try? standing(of: transaction) { standings[transaction] = standing }
        }
        return standings
    }

    private mutating func setPaid(_ transaction: String, _ paid: Paid) {
        if let slot = slot(transaction) {
            if slot >= bySequence.count {
                bySequence.append(contentsOf: repeatElement(.none, count: slot + 1 - bySequence.count))
            }
            bySequence[slot] = paid
        } else {
            byID[transaction] = paid
        }
    }

    /// The payment step an event is, if any.
    static func step(of event: LedgerEvent) -> Step? {
        switch event {
        case .purchaseCaptured(let captured):
            return capture(captured)
        case .purchaseRefunded(let refunded):
            return .refund(transaction: refunded.transaction, amount: refunded.refunded, remaining: refunded.remaining, what: "the refund",
                           user: refunded.user, vendor: refunded.vendor, currency: refunded.currency.code, postings: refunded.postings,
                           resolving: nil)
        case .disputeResolved(let resolved):
            let resolution = Resolution(dispute: resolved.dispute, byRule: resolved.decidedBy == .rule)
            guard resolved.outcome == .refunded else {
                return .rejection(transaction: resolved.transaction, what: "dispute \(resolved.dispute)", user: resolved.user,
                                  vendor: resolved.vendor, resolution: resolution, postings: resolved.postings)
            }
            return .refund(transaction: resolved.transaction, amount: resolved.refunded, remaining: nil, what: "dispute \(resolved.dispute)",
                           user: resolved.user, vendor: resolved.vendor, currency: resolved.postings.first?.currency.code,
                           postings: resolved.postings, resolving: resolution)
        case .disputeOpened(let opened):
            return .dispute(transaction: opened.transaction, disputed: opened.disputed, what: "dispute \(opened.dispute)",
                            user: opened.user, vendor: opened.vendor, opening: Opening(
                                dispute: opened.dispute, currency: opened.currency, reserved: opened.reserved,
                                unauthorized: opened.unauthorized, postings: opened.postings))
        case .incentiveIssued(let issued):
            return .lot(IncentiveLot(issued: issued))
        case .incentiveExpired(let expired):
            // Its own shape (one posting out of the lot) was checked by ``FundsAudit``.
            return .lotExpired(lot: expired.lot, user: expired.user, from: expired.postings.first?.debit ?? "",
                               to: expired.postings.first?.credit ?? "", amount: expired.amount, time: expired.timeMilliseconds)
        case .purchaseAuthorized(let authorized):
            return .hold(transaction: authorized.transaction, user: authorized.user,
                         drawn: drawn(authorized.sources, by: authorized.user, from: authorized.vendor, of: authorized.terms, at: authorized.timeMilliseconds),
                         price: authorized.terms.price, parties: parties(user: authorized.user, vendor: authorized.vendor),
                         expiresAt: authorized.holdExpiresAtMilliseconds,
                         purchase: purchaseNumber(terms: authorized.terms, sources: authorized.sources, member: authorized.member),
                         byMember: .of(authorized.user, authorized.member), sources: authorized.sources, currency: authorized.terms.currency)
        case .memberAdded(let added):
            return .member(user: added.user, member: added.member, active: true)
        case .memberRemoved(let removed):
            return .member(user: removed.user, member: removed.member, active: false)
        case .purchaseVoided(let voided):
            return .release(transaction: voided.transaction, user: voided.user, vendor: voided.vendor,
                            amount: voided.postings.reduce(Int64(0)) { $0 &+ $1.amount }, postings: voided.postings,
                            expired: voided.reason == .expired, time: voided.timeMilliseconds)
        case .vendorRegistered(let registered):
            return .vendor(vendor: registered.vendor, feeBasisPoints: registered.feeBasisPoints, registered: true)
        case .vendorUpdated(let updated):
            return .vendor(vendor: updated.vendor, feeBasisPoints: updated.feeBasisPoints, registered: false)
        default:
            return nil
        }
    }

    /// The incentive lots `postings` credit.
    static func lots(_ postings: [Posting]) -> [String] {
        postings.compactMap { lotID($0.credit) }
    }

    /// The lot an account is (`lot:<lot>:<CUR>`; lot IDs hold no ':'), or nil.
    static func lotID(_ account: String) -> String? {
        guard LedgerAudit.starts(account, with: "lot:") else { return nil }
        let parts = account.split(separator: ":", omittingEmptySubsequences: false)
        return parts.count == 3 ? String(parts[1]) : nil
    }

    /// The lots `sources` draw on, with the purchase they pay for; nil when they draw on none.
    static func drawn(_ sources: [FundingSource], by user: String, from vendor: String, of terms: ContentTerms, at time: UInt64) -> Drawn? {
        let lots = sources.compactMap { lotID($0.account) }
        return lots.isEmpty ? nil : Drawn(user: user, vendor: vendor, terms: terms, time: time, lots: lots)
    }

    /// The payment step of a capture.
    static func capture(_ captured: PurchaseCaptured) -> Step {
        var detail: CaptureDetail?
        if captured.oneStep {
            let drawn = drawn(captured.sources, by: captured.user, from: captured.vendor, of: captured.terms, at: captured.timeMilliseconds)
            let byMember = ByMember.of(captured.user, captured.member)
            if drawn != nil || byMember != nil {
                detail = CaptureDetail(drawn: drawn, byMember: byMember, time: captured.timeMilliseconds, purchase: 0)
            }
        } else {
            detail = CaptureDetail(drawn: nil, byMember: nil, time: captured.timeMilliseconds,
                                   purchase: purchaseNumber(terms: captured.terms, sources: captured.sources, member: captured.member))
        }
        return .capture(transaction: captured.transaction, currency: captured.terms.currency.code, price: captured.terms.price,
                        parties: parties(user: captured.user, vendor: captured.vendor), oneStep: captured.oneStep,
                        vendor: captured.vendor, fee: captured.fee, detail: detail)
    }

    /// The checks a refund needs nothing but itself for: it gives back a positive amount, says
    /// a remainder that is not negative, and its postings move exactly what it gives back, from
    /// the vendor it names, the rights holders and the fees, to the buyer it names; a rejected
    /// dispute gives nothing back.
    static func ownFailure(_ event: LedgerEvent, at sequence: UInt64) -> AuditFailure? {
        func fail(_ message: String) -> AuditFailure {
            AuditFailure(kind: .refundInconsistent, sequence: sequence, message: message)
        }
        let transaction: String, amount: Int64, postings: [Posting], user: String, vendor: String
        var currency: Currency?
        switch event {
        case .purchaseRefunded(let refunded):
            if let remaining = refunded.remaining, remaining < 0 {
                return fail("the refund of \(refunded.transaction) says \(remaining) remains to be paid")
            }
            (transaction, amount, postings) = (refunded.transaction, refunded.refunded, refunded.postings)
            (user, vendor) = (refunded.user, refunded.vendor)
            currency = refunded.currency
        case .disputeResolved(let resolved):
            guard resolved.outcome == .refunded else {
                guard resolved.refunded == 0 else {
                    return fail("dispute \(resolved.dispute) of \(resolved.transaction) was rejected but says \(resolved.refunded) went back")
                }
                return nil
            }
            (transaction, amount, postings) = (resolved.transaction, resolved.refunded, resolved.postings)
            (user, vendor) = (resolved.user, resolved.vendor)
        default:
            return nil
        }
        guard amount > 0 else { return fail("a refund of \(transaction) gives back \(amount), not a positive amount") }
        var moved: Int64 = 0
        for posting in postings {
            let (sum, overflow) = moved.addingReportingOverflow(posting.amount)
            guard !overflow else { return fail("the postings of a refund of \(transaction) overflow") }
            moved = sum
        }
        guard moved == amount else {
            return fail("a refund of \(transaction) gives back \(amount) but its postings move \(moved)")
        }
        for posting in postings {
            let code = posting.currency
            guard code == (currency ?? code) else {
                return fail("a refund of \(transaction) in \(currency.map(\.code) ?? "") moves \(posting.amount) \(code.code)")
            }
            currency = code
            let from = [LedgerAccount.vendorPayable(vendor: vendor, currency: code).name, LedgerAccount.disputeReserve(vendor: vendor, currency: code).name,
                        LedgerAccount.providerFeeRevenue(currency: code).name]
            guard from.contains(posting.debit) || (posting.debit.hasPrefix("holder:") && posting.debit.hasSuffix(":" + code.code)) else {
                return fail("a refund of \(transaction) takes \(posting.amount) from \(posting.debit), not from \(vendor), its rights holders or the fees")
            }
            let to = [LedgerAccount.wallet(user: user, currency: code).name, LedgerAccount.creditLine(user: user, currency: code).name]
            guard to.contains(posting.credit) || (posting.credit.hasPrefix("lot:") && posting.credit.hasSuffix(":" + code.code)) else {
                return fail("a refund of \(transaction) gives \(posting.amount) to \(posting.credit), not to its buyer \(user)")
            }
        }
        return nil
    }

    /// The buyer and vendor of a purchase as one number: every capture keeps it, and a refund
    /// or dispute naming other parties gives another number. It is Swift's `Hasher` (SipHash,
    /// keyed with a random seed each run): whoever wrote the journal cannot choose IDs that give
    /// another pair's number, as they could with an unkeyed hash such as FNV-1a (an unkeyed
    /// 64-bit hash has easy second preimages); by chance, two pairs share a number with odds
    /// of about 2^-64.
    static func parties(user: String, vendor: String) -> UInt64 {
        var hasher = Hasher()
        hasher.combine(user)
        hasher.combine(vendor)
        return UInt64(bitPattern: Int64(hasher.finalize()))
    }

    /// What a hold's capture must repeat of its authorization (the terms, with their price and
    /// royalty schedule; the sources; the member) as one number, keyed as ``parties(user:vendor:)``.
    static func purchaseNumber(terms: ContentTerms, sources: [FundingSource], member: String?) -> UInt64 {
        var hasher = Hasher()
        hasher.combine(terms)
        hasher.combine(sources)
        hasher.combine(member)
        return UInt64(bitPattern: Int64(hasher.finalize()))
    }

    /// Checks `step` against what came before it and records it.
    ///
    /// `accountHeld` is what the account the step is held against held before it, from balances
    /// recomputed over the whole history (nil when that is not known): for a dispute's opening
    /// the vendor's payable (the ledger reserves the vendor's part of what is still paid, as far
    /// as the payable holds it); for a lot's expiry the lot (all of it goes back); for a refund
    /// or a release the buyer's credit line (credit goes back only as far as it is in use).
    mutating func apply(_ step: Step, at sequence: UInt64, accountHeld: Int64? = nil) -> AuditFailure? {
        do {
            try check(step, at: sequence, accountHeld: accountHeld)
            return nil
        } catch let failure as AuditFailure {
            return failure
        } catch {
            preconditionFailure("only audit failures are thrown: \(error)")
        }
    }

    private mutating func check(_ step: Step, at sequence: UInt64, accountHeld: Int64?) throws {
        func fail(_ message: String) -> AuditFailure {
            AuditFailure(kind: .refundInconsistent, sequence: sequence, message: message)
        }
        /// What the buyer still pays for the purchase a refund or dispute names, once it is
        /// known to name that purchase's buyer and vendor; nil when the purchase was captured
        /// before the range (counted as unchecked).
        func purchase(_ transaction: String, user: String, vendor: String, what: String) throws -> Paid? {
            guard let paid = paid(transaction) else {
                if wholeHistory { throw fail("\(what) is of \(transaction), which was never captured") }
                unchecked += 1
                return nil
            }
            guard Self.parties(user: user, vendor: vendor) == paid.parties else {
                throw fail("\(what) of \(transaction) names buyer \(user) and vendor \(vendor), who did not make that purchase")
            }
            return paid
        }
        switch step {
        case .capture(let transaction, let currency, let price, let parties, let oneStep, let vendor, let fee, let detail):
            if let drawn = detail?.drawn { try checkDrawn(drawn, by: transaction, at: sequence) }
            if let byMember = detail?.byMember { try checkMember(byMember, of: transaction, at: sequence) }
            try checkFee(fee, of: price, by: vendor, for: transaction, at: sequence)
            try takeHold(transaction, price: price, parties: parties, what: oneStep ? nil : "captures", time: detail?.time ?? 0, expiring: false,
                         purchase: detail?.purchase, at: sequence)
            let index: Int32
            if let known = currencies.firstIndex(of: currency) {
                index = Int32(known)
            } else {
                index = Int32(currencies.count)
                currencies.append(currency)
            }
            guard paid(transaction) == nil else { throw fail("\(transaction) is captured a second time") }
            setPaid(transaction, Paid(amount: price, currency: index, parties: parties, captured: sequence))
        case .refund(let transaction, let amount, let remaining, let what, let user, let vendor, let currency, let postings, let resolving):
            for lot in Self.lots(postings) {
                if let problem = lotProblem(lot, user: user) { throw fail("\(what) of \(transaction) gives back to lot \(lot), \(problem)") }
            }
            // The dispute it resolves (nil: the vendor's refund, or a dispute opened before the range).
            let dispute = try resolving.flatMap { try resolve($0, of: transaction, what: what, refunds: true, at: sequence, fail: fail) }
            if resolving == nil, let open = openDisputeOf[transaction] {
                throw fail("\(what) of \(transaction) is made by its vendor while dispute \(open) of it is open")
            }
            guard let paid = try purchase(transaction, user: user, vendor: vendor, what: what) else {
                if let resolving, dispute != nil { close(resolving.dispute, of: transaction, rejected: false) }
                return
            }
            let paidIn = currencies[Int(paid.currency)]
            if let currency, currency != paidIn {
                throw fail("\(what) of \(transaction) gives back \(currency), but the purchase was paid in \(paidIn)")
            }
            guard amount <= paid.amount else {
                throw fail("\(what) gives back \(amount) of \(transaction), whose buyer pays only \(paid.amount)")
            }
            let left = paid.amount - amount
            guard (remaining ?? 0) == left else {
                throw fail("\(what) of \(transaction) says \(remaining ?? 0) remains to be paid, but \(paid.amount) less \(amount) is \(left)")
            }
            try checkSplit(of: paid, transaction: transaction, amount: amount, postings: postings, reserved: dispute?.reserved, what: what,
                           creditBalance: accountHeld, fail: fail)
            setPaid(transaction, Paid(amount: left, currency: paid.currency, parties: paid.parties, captured: paid.captured))
            if let resolving, dispute != nil { close(resolving.dispute, of: transaction, rejected: false) }
            checked += 1
            refundedTotals[paidIn, default: 0] &+= amount
        case .dispute(let transaction, let disputed, let what, let user, let vendor, let opening):
            let id = opening.dispute
            guard openDisputes[id] == nil && !resolvedDisputes.contains(id) else { throw fail("\(what) is opened a second time") }
            if let open = openDisputeOf[transaction] { throw fail("\(what) is of \(transaction), which dispute \(open) disputes already") }
            if let rejected = rejectedDisputeOf[transaction] {
                throw fail("\(what) is of \(transaction), whose dispute \(rejected) was rejected: that decision is final")
            }
            // What it reserves moves from the vendor's payable to its reserve, and nothing else.
            let payable = LedgerAccount.vendorPayable(vendor: vendor, currency: opening.currency).name
            let reserve = LedgerAccount.disputeReserve(vendor: vendor, currency: opening.currency).name
            guard opening.reserved >= 0, Self.movesOnly(opening.postings, opening.reserved, from: payable, to: reserve) else {
                throw fail("\(what) reserves \(opening.reserved) but its postings move \(Self.describe(opening.postings)), not that much from \(payable) to \(reserve)")
            }
            let paid = try purchase(transaction, user: user, vendor: vendor, what: what)
            if let paid {
                guard paid.amount > 0 else { throw fail("\(what) is of \(transaction), whose whole price went back already") }
                if let disputed, disputed != paid.amount {
                    throw fail("\(what) says it disputes \(disputed) of \(transaction), whose buyer still pays \(paid.amount)")
                }
                let purchase = try record(of: paid, transaction: transaction, what: what, fail: fail)
                let share = purchase.remainingVendorShare
                guard opening.reserved <= share else {
                    throw fail("\(what) reserves \(opening.reserved), more than the vendor's part \(share) of what \(transaction)'s buyer still pays")
                }
                if let payableHeld = accountHeld, opening.reserved != min(share, max(payableHeld, 0)) {
                    throw fail("\(what) reserves \(opening.reserved), where the vendor's part \(share) of what is still paid, as far as "
                               + "\(payable) holds it (\(payableHeld)), is \(min(share, max(payableHeld, 0)))")
                }
                // The rule: a charge by a member whose access has since been revoked is unauthorized.
                if wholeHistory {
                    let revoked = purchase.member.map { activeMembers[user]?.contains($0) != true } ?? false
                    guard opening.unauthorized == revoked else {
                        let by = purchase.member.map { "by \($0), \(revoked ? "no longer" : "still") a member of \(user)'s account" } ?? "by \(user) itself"
                        throw fail("\(what) marks the charge \(opening.unauthorized ? "unauthorized" : "authorized"), but it was made \(by)")
                    }
                }
            }
            openDisputes[id] = OpenDispute(
                transaction: transaction, currency: opening.currency, reserved: opening.reserved, unauthorized: opening.unauthorized, openedAt: sequence)
            openDisputeOf[transaction] = id
        case .rejection(let transaction, let what, let user, let vendor, let resolution, let postings):
            _ = try purchase(transaction, user: user, vendor: vendor, what: what)
            guard let dispute = try resolve(resolution, of: transaction, what: what, refunds: false, at: sequence, fail: fail) else { return }
            // Customer service gives the reserve back to the vendor's payable, all of it.
            let payable = LedgerAccount.vendorPayable(vendor: vendor, currency: dispute.currency).name
            let reserve = LedgerAccount.disputeReserve(vendor: vendor, currency: dispute.currency).name
            guard Self.movesOnly(postings, dispute.reserved, from: reserve, to: payable) else {
                throw fail("\(what) rejects the dispute of \(transaction) moving \(Self.describe(postings)), where \(dispute.reserved) reserved goes back to \(vendor)'s payable")
            }
            close(resolution.dispute, of: transaction, rejected: true)
        case .lot(let lot):
            guard lots[lot.lot] == nil else {
                throw AuditFailure(kind: .fundsInconsistent, sequence: sequence, message: "incentive lot \(lot.lot) is issued a second time")
            }
            lots[lot.lot] = lot
        case .member(let user, let member, let active):
            if active {
                activeMembers[user, default: []].insert(member)
            } else {
                activeMembers[user]?.remove(member)
            }
        case .lotExpired(let id, let user, _, let to, let amount, let time):
            func fail(_ message: String) -> AuditFailure {
                AuditFailure(kind: .fundsInconsistent, sequence: sequence, message: "the expiry of incentive lot \(id) " + message)
            }
            guard let lot = lots[id] else {
                if wholeHistory { throw fail("comes for a lot never issued") }
                return
            }
            guard lot.user == user else { throw fail("names \(user), but the lot was issued to \(lot.user)") }
            guard let expiry = lot.expiresAtMilliseconds, time >= expiry else {
                throw fail("comes at \(time), but the lot expires \(lot.expiresAtMilliseconds.map { "at \($0)" } ?? "never")")
            }
            let source = LedgerAccount.incentiveSource(issuer: lot.issuer, currency: lot.currency).name
            guard to == source else { throw fail("gives what was left to \(to), not back to its issuer \(lot.issuer)'s \(source)") }
            if let lotHeld = accountHeld, amount != lotHeld {
                throw fail("gives back \(amount), where the lot held \(lotHeld): an expiry gives back all that is left")
            }
        case .hold(let transaction, _, let drawn, let price, let parties, let expiresAt, let purchase, let byMember, let sources, let currency):
            if let drawn { try checkDrawn(drawn, by: transaction, at: sequence) }
            if let byMember { try checkMember(byMember, of: transaction, at: sequence) }
            guard held[transaction] == nil && paid(transaction) == nil else {
                throw AuditFailure(kind: .purchaseInconsistent, sequence: sequence, message: "\(transaction) is authorized a second time")
            }
            held[transaction] = Held(price: price, parties: parties, expiresAt: expiresAt, purchase: purchase, sources: sources, currency: currency)
        case .vendor(let vendor, let feeBasisPoints, let registered):
            func fail(_ message: String) -> AuditFailure {
                AuditFailure(kind: .purchaseInconsistent, sequence: sequence, message: "vendor \(vendor) " + message)
            }
            if registered, feeRates[vendor] != nil { throw fail("is registered a second time") }
            if !registered, wholeHistory, feeRates[vendor] == nil { throw fail("is changed, but was never registered") }
            if let feeBasisPoints {
                guard (0...10_000).contains(feeBasisPoints) else { throw fail("is given a fee of \(feeBasisPoints) basis points, outside 0-10,000") }
                feeRates[vendor] = feeBasisPoints
            }
        case .release(let transaction, let user, let vendor, let amount, let postings, let expired, let time):
            for lot in Self.lots(postings) {
                if let problem = lotProblem(lot, user: user) {
                    throw AuditFailure(kind: .purchaseInconsistent, sequence: sequence, message: "the release of \(transaction) gives back to lot \(lot), \(problem)")
                }
            }
            let hold = held[transaction]
            try takeHold(transaction, price: amount, parties: Self.parties(user: user, vendor: vendor), what: expired ? "expires" : "releases",
                         time: time, expiring: expired, purchase: nil, at: sequence)
            if let hold, let creditBalance = accountHeld,
               let problem = Self.returnProblem(postings, sources: hold.sources, user: user, currency: hold.currency, creditBalance: creditBalance) {
                throw AuditFailure(kind: .purchaseInconsistent, sequence: sequence, message: "the release of \(transaction) \(problem)")
            }
        }
    }

    /// A hold, from its authorization to its capture or release.
    struct Held {
        var price: Int64
        var parties: UInt64
        var expiresAt: UInt64
        var purchase: UInt64
        var sources: [FundingSource]
        var currency: Currency
    }

    /// How `postings` give money back to `user` other than the ledger's rule returns what came
    /// from `sources` (``FundingSource/returnTargets(_:user:currency:creditInUse:)``: each lot
    /// its own, credit as far as it is in use, given `creditBalance` before the event, the rest
    /// to the wallet), or nil.
    static func returnProblem(
        _ postings: [Posting], sources: [FundingSource], user: String, currency: Currency, creditBalance: Int64
    ) -> String? {
        let creditInUse = max(0 &- creditBalance, 0)
        var expected: [String: Int64] = [:], given: [String: Int64] = [:]
        for (account, amount) in FundingSource.returnTargets(sources, user: user, currency: currency, creditInUse: creditInUse) {
            expected[account.name, default: 0] &+= amount
        }
        for posting in postings { given[posting.credit, default: 0] &+= posting.amount }
        for account in Set(expected.keys).union(given.keys).sorted() where given[account] ?? 0 != expected[account] ?? 0 {
            return "gives back \(given[account] ?? 0) to \(account), where the ledger's rule gives it \(expected[account] ?? 0) (\(creditInUse) of \(user)'s credit in use)"
        }
        return nil
    }

    /// Ends the hold of `transaction` by a capture of it or its release (`what`), which must
    /// name its buyer and vendor and move its price; a one-step capture (`what` nil) must not
    /// be of a held transaction. A hold authorized before the range is not known: with the
    /// whole history, a capture or release of no hold is refused. A capture must come before the
    /// hold expires, for the hold's own terms, sources and member (`purchase`, nil for a
    /// release), and an expiry (`expiring`) not before.
    private mutating func takeHold(
        _ transaction: String, price: Int64, parties: UInt64, what: String?, time: UInt64, expiring: Bool, purchase: UInt64?, at sequence: UInt64
    ) throws {
        func fail(_ message: String) -> AuditFailure {
            AuditFailure(kind: .purchaseInconsistent, sequence: sequence, message: message)
        }
        guard let what else {
            // Every capture comes here: no hash of its ID while no hold is open.
            if !held.isEmpty, held[transaction] != nil { throw fail("\(transaction) is held, and captured as a one-step purchase") }
            return
        }
        guard let hold = held[transaction] else {
            if wholeHistory { throw fail("\(transaction) \(what) a hold, but none is open: never authorized, or captured or released already") }
            return
        }
        guard hold.parties == parties else { throw fail("\(transaction) \(what) a hold of another buyer or vendor") }
        guard hold.price == price else { throw fail("\(transaction) \(what) \(price) of a hold of \(hold.price)") }
        if expiring {
            guard time >= hold.expiresAt else { throw fail("\(transaction) expires at \(time), before its hold's expiry at \(hold.expiresAt)") }
        } else if what == "captures" {
            guard time < hold.expiresAt else { throw fail("\(transaction) is captured at \(time), but its hold expired at \(hold.expiresAt)") }
            guard purchase == hold.purchase else {
                throw fail("\(transaction) captures other terms, sources or member than its authorization held")
            }
        }
        held[transaction] = nil
    }

    /// Why `user` may not have `lot`'s tokens, or nil: the lot was issued to someone else, or
    /// (with the whole history) never issued.
    private func lotProblem(_ lot: String, user: String) -> String? {
        if let issued = lots[lot] { return issued.user == user ? nil : "which was issued to \(issued.user), not to its buyer \(user)" }
        return wholeHistory ? "which was never issued" : nil
    }

    /// A purchase draws only on lots issued to its buyer that may pay for it then (a lot
    /// issued before the range is checked for neither).
    private func checkDrawn(_ drawn: Drawn, by transaction: String, at sequence: UInt64) throws {
        for lot in drawn.lots {
            var problem = lotProblem(lot, user: drawn.user)
            if problem == nil, let issued = lots[lot], let unusable = issued.unusable(vendor: drawn.vendor, terms: drawn.terms, time: drawn.time) {
                problem = "which may not pay for it: " + unusable
            }
            if let problem {
                throw AuditFailure(kind: .purchaseInconsistent, sequence: sequence, message: "\(transaction) draws on lot \(lot), \(problem)")
            }
        }
    }

    /// With the whole history, a purchase by a member is by an active member of the buyer's
    /// account (members added before a range are not known).
    private func checkMember(_ byMember: ByMember, of transaction: String, at sequence: UInt64) throws {
        guard wholeHistory, activeMembers[byMember.user]?.contains(byMember.member) != true else { return }
        throw AuditFailure(kind: .purchaseInconsistent, sequence: sequence,
                           message: "\(transaction) is bought by \(byMember.member), not an active member of \(byMember.user)'s account")
    }

    /// A capture's fee is what its vendor's rate gives on its price; with the whole history, its
    /// vendor was registered (a vendor registered before the range is not checked).
    private func checkFee(_ fee: Int64, of price: Int64, by vendor: String, for transaction: String, at sequence: UInt64) throws {
        guard let rate = feeRates[vendor] else {
            guard !wholeHistory else {
                throw AuditFailure(kind: .purchaseInconsistent, sequence: sequence, message: "\(transaction) is sold by \(vendor), which was never registered")
            }
            return
        }
        // A negative price was refused by the capture's own checks (``PurchaseAudit``).
        let due = price >= 0 ? ContentTerms.fee(price: price, basisPoints: rate) : fee
        guard fee == due else {
            throw AuditFailure(kind: .purchaseInconsistent, sequence: sequence,
                               message: "\(transaction) pays a fee of \(fee), where \(vendor)'s rate of \(rate) basis points gives \(due) of \(price)")
        }
    }

    /// The dispute `resolution` decides; nil when it was opened before the range (its purchase
    /// is counted as unchecked). It must be open, of `transaction`, decided by rule exactly when
    /// the rules marked the charge unauthorized (then refunded, in the next event).
    private mutating func resolve(
        _ resolution: Resolution, of transaction: String, what: String, refunds: Bool, at sequence: UInt64, fail: (String) -> AuditFailure
    ) throws -> OpenDispute? {
        let id = resolution.dispute
        guard let open = openDisputes[id] else {
            // Opened before the range: its purchase was captured before it too, and counted.
            if wholeHistory || resolvedDisputes.contains(id) { throw fail("\(what) is resolved, but it is not open") }
            return nil
        }
        guard open.transaction == transaction else { throw fail("\(what) is of \(open.transaction), not of \(transaction)") }
        if resolution.byRule {
            guard open.unauthorized, refunds, sequence == open.openedAt + 1 else {
                throw fail("\(what) is decided by rule, but only an unauthorized charge's dispute is, refunded in the event after it opens")
            }
        } else if open.unauthorized {
            throw fail("\(what) disputes a charge the rules mark unauthorized: it is refunded by rule, not decided by customer service")
        }
        return open
    }

    /// Records that dispute `id` of `transaction` was decided (once every check held).
    private mutating func close(_ id: String, of transaction: String, rejected: Bool) {
        openDisputes[id] = nil
        openDisputeOf[transaction] = nil
        resolvedDisputes.insert(id)
        if rejected { rejectedDisputeOf[transaction] = id }
    }

    /// The purchase a refund or dispute names as its capture and earlier refunds left it.
    private func record(of paid: Paid, transaction: String, what: String, fail: (String) -> AuditFailure) throws -> TransactionRecord {
        if let partly = partlyRefunded[paid.captured] { return partly }
        guard let captured = try? readCapture(paid.captured), captured.transaction == transaction else {
            throw fail("the capture of \(transaction) at \(paid.captured) cannot be read back for \(what)")
        }
        return TransactionRecord(captured: captured)
    }

    /// `postings` move exactly `amount` from `debit` to `credit` in one posting, or nothing
    /// when `amount` is 0.
    static func movesOnly(_ postings: [Posting], _ amount: Int64, from debit: String, to credit: String) -> Bool {
        guard amount != 0 else { return postings.isEmpty }
        return postings.count == 1 && postings[0].debit == debit && postings[0].credit == credit && postings[0].amount == amount
    }

    /// Postings as `debit -> credit amount`, for a failure's message.
    static func describe(_ postings: [Posting]) -> String {
        postings.isEmpty ? "nothing" : postings.map { "\($0.debit) -> \($0.credit) \($0.amount)" }.joined(separator: ", ")
    }

    /// Holds a refund of `amount` (no more than is still paid) to the ledger's split of it: from
    /// the fee, each rights holder and the vendor it must take exactly that party's part, and to
    /// each incentive lot that paid give back exactly that lot's part (the rest goes to the
    /// buyer's wallet or credit line, already held to the buyer). The vendor's part comes from
    /// its dispute reserve as far as the dispute it resolves reserved (`reserved`), the rest
    /// from its payable; with no dispute known (a vendor's refund, or a dispute opened before
    /// the range) payable and reserve count together.
    private mutating func checkSplit(
        of paid: Paid, transaction: String, amount: Int64, postings: [Posting], reserved: Int64?, what: String, creditBalance: Int64?,
        fail: (String) -> AuditFailure
    ) throws {
        var record = try record(of: paid, transaction: transaction, what: what, fail: fail)
        let split = record.refundSplit(amount)
        let currency = record.terms.currency
        let payable = LedgerAccount.vendorPayable(vendor: record.vendor, currency: currency).name
        let reserve = LedgerAccount.disputeReserve(vendor: record.vendor, currency: currency).name
        let fromReserve = reserved.map { min($0, split.vendor) }
        var parts: [String: Int64] = [LedgerAccount.providerFeeRevenue(currency: currency).name: split.fee, payable: split.vendor - (fromReserve ?? 0)]
        if let fromReserve { parts[reserve] = fromReserve }
        for (royalty, part) in zip(record.royalties ?? [], split.royalties) {
            parts[LedgerAccount.rightsHolderPayable(holder: royalty.holder, currency: currency).name, default: 0] &+= part
        }
        var lots: [String: Int64] = [:]
        for (source, back) in zip(record.sources, split.sources) where source.account.hasPrefix("lot:") {
            lots[source.account, default: 0] &+= back
        }
        var taken: [String: Int64] = [:], given: [String: Int64] = [:]
        for posting in postings {
            taken[posting.debit == reserve && reserved == nil ? payable : posting.debit, default: 0] &+= posting.amount
            if posting.credit.hasPrefix("lot:") { given[posting.credit, default: 0] &+= posting.amount }
        }
        for account in Set(parts.keys).union(taken.keys).sorted() where taken[account] ?? 0 != parts[account] ?? 0 {
            let from = account == payable && reserved == nil ? "\(payable) and \(reserve)" : account
            throw fail("\(what) of \(transaction) takes \(taken[account] ?? 0) from \(from), but its split of \(amount) takes \(parts[account] ?? 0)")
        }
        for lot in Set(lots.keys).union(given.keys).sorted() where given[lot] ?? 0 != lots[lot] ?? 0 {
            throw fail("\(what) of \(transaction) gives back \(given[lot] ?? 0) to \(lot), but its split of \(amount) gives it \(lots[lot] ?? 0)")
        }
        // With the whole history, the credit in use is known: what goes to the credit line and
        // what to the wallet is the ledger's rule too.
        if let creditBalance {
            let back = zip(record.sources, split.sources).compactMap { source, back in
                back > 0 ? FundingSource(account: source.account, amount: back) : nil
            }
            if let problem = Self.returnProblem(postings, sources: back, user: record.user, currency: currency, creditBalance: creditBalance) {
                throw fail("\(what) of \(transaction) \(problem)")
            }
        }
        if amount < record.remaining {
            record.recordPartialRefund(amount)
            partlyRefunded[paid.captured] = record
        } else {
            partlyRefunded[paid.captured] = nil
        }
    }

    /// What must hold once the whole range is checked: every dispute of a charge the rules mark
    /// unauthorized and opened before the range's last event was refunded by rule in the next.
    func finish() -> AuditFailure? {
        guard let (id, open) = openDisputes.filter({ $0.value.unauthorized && $0.value.openedAt < last }).min(by: { $0.value.openedAt < $1.value.openedAt })
        else { return nil }
        return AuditFailure(kind: .refundInconsistent, sequence: open.openedAt + 1,
                            message: "dispute \(id) of \(open.transaction) disputes a charge the rules mark unauthorized, but no refund by rule follows it")
    }

    /// What the report says when some refunds could not be checked, or nil.
    var note: String? {
        unchecked == 0 ? nil
            : "\(unchecked) refunds or disputes of purchases captured before the range were not checked against what was paid"
    }
}
