// The write model's records: what the ledger keeps beside the journal to decide commands.
// Each is derived from events alone (see LedgerFold), so a rebuild from the journal gives
// exactly the live write model.

/// How an account was opened (claim 8).
public enum AccountChannel: String, Sendable, Codable, CaseIterable {
    /// On the provider's own site.
    case providerSite
    /// Through a link on a vendor's site; the referring vendor is recorded.
    case vendorLink
    /// By a customer-service representative.
    case customerService
}

/// A user account: opaque IDs only; personal data lives outside the journal.
public struct UserRecord: Sendable, Codable, Equatable {
    public var channel: AccountChannel
    public var referringVendor: String?
    public var representative: String?
    /// Members who share the account's privileges, and whether each is still active.
    public var members: [String: Bool]
    public var wallets: [Currency]
    /// Approved credit limits by currency code.
    public var creditLimits: [String: Int64]
    public var limits: [SpendingLimit]
    public var openedAtMilliseconds: UInt64
}

/// A spending limit (claims 23–24): on the whole account or on one member.
public struct SpendingLimit: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case perTransaction, perDay, perWeek, perMonth
        /// Per vendor site, over a rolling month.
        case perVendorMonth
    }

    public var kind: Kind
    public var currency: Currency
    public var amount: Int64
    /// When set, the limit applies to this member's purchases only.
    public var member: String?
    /// For `perVendorMonth`: the vendor.
    public var vendor: String?

    public init(kind: Kind, currency: Currency, amount: Int64, member: String? = nil, vendor: String? = nil) {
        self.kind = kind
        self.currency = currency
        self.amount = amount
        self.member = member
        self.vendor = vendor
    }

    /// The rolling window in milliseconds (nil for per-transaction limits).
    var windowMilliseconds: UInt64? {
        switch kind {
        case .perTransaction: return nil
        case .perDay: return 86_400_000
        case .perWeek: return 7 * 86_400_000
        case .perMonth, .perVendorMonth: return Self.longestWindowMilliseconds
        }
    }

    func applies(member purchaser: String?, vendor seller: String) -> Bool {
        if let member, member != purchaser { return false }
        if kind == .perVendorMonth, vendor != seller { return false }
        return true
    }

    /// The longest rolling window a limit counts (a month): spending older than this never
    /// counts again.
    public static let longestWindowMilliseconds: UInt64 = 30 * 86_400_000

    /// Whether `other` limits the same thing (kind, currency, member and vendor), so that
    /// setting it replaces this one and removing it removes this one.
    public func hasScope(of other: SpendingLimit) -> Bool {
        kind == other.kind && currency == other.currency && member == other.member && vendor == other.vendor
    }

    /// Those of `limits` that a purchase in `currency` by `member` (nil: the account holder)
    /// from `vendor` is held to.
    public static func applicable(_ limits: [SpendingLimit], currency: Currency, member: String?, vendor: String) -> [SpendingLimit] {
        limits.filter { $0.currency == currency && $0.applies(member: member, vendor: vendor) }
    }

    /// The one rule of claims 23–24, by which the decider refuses a purchase and the audit
    /// checks one: a purchase of `amount` at `time` stays within each of `applicable` (from
    /// ``applicable(_:currency:member:vendor:)``), counting the user's `spending` in the
    /// purchase's currency (``SpendEntry``: what each earlier purchase still costs) inside the
    /// limit's rolling window. Throws the rejection that names the first limit exceeded, with
    /// the headroom it leaves.
    public static func enforce(
        _ applicable: [SpendingLimit], amount: Int64, member: String?, vendor: String, time: UInt64,
        spending: some Sequence<SpendEntry>
    ) throws {
        for limit in applicable {
            guard let window = limit.windowMilliseconds else {
                if amount > limit.amount {
                    throw LedgerRejection(.exceedsPerTransactionLimit, "\(amount) is over the per-transaction limit of \(limit.amount)", headroom: limit.amount)
                }
                continue
            }
            let since = time > window ? time - window : 0
            var spent: Int64 = 0
            for entry in spending where entry.timeMilliseconds > since && entry.vendor != "" {
                if let member = limit.member, entry.member != member { continue }
                if limit.kind == .perVendorMonth, entry.vendor != limit.vendor { continue }
                spent = try Money.add(spent, entry.amount)
            }
            let total = try Money.add(spent, amount)
            if total > limit.amount {
                let rule: LedgerRejection.Rule = switch limit.kind {
                case .perDay: .exceedsDailyLimit
                case .perWeek: .exceedsWeeklyLimit
                case .perMonth: .exceedsMonthlyLimit
                case .perVendorMonth: .exceedsVendorLimit
                case .perTransaction: .exceedsPerTransactionLimit
                }
                throw LedgerRejection(rule, "\(amount) would bring spending to \(total), over the \(limit.kind.rawValue) limit of \(limit.amount)",
                                      headroom: max(limit.amount - spent, 0))
            }
        }
    }
}

/// One purchase in a user's recent spending, kept 30 days for rolling limits.
public struct SpendEntry: Sendable, Codable, Equatable {
    public var timeMilliseconds: UInt64
    public var amount: Int64
    public var vendor: String
    public var member: String?
    public var transaction: String

    public init(timeMilliseconds: UInt64, amount: Int64, vendor: String, member: String?, transaction: String) {
        self.timeMilliseconds = timeMilliseconds
        self.amount = amount
        self.vendor = vendor
        self.member = member
        self.transaction = transaction
    }
}

/// A vendor's settlement policy (claims 16, 30): each currency's payable is paid when it
/// reaches that currency's threshold, or when the period has elapsed since that currency's last
/// settlement, whichever comes first.
///
/// Thresholds are minor units of the currency they apply to, and a minor unit is worth very
/// different amounts from one currency to another (1,000 is ten dollars, but ten yen's worth
/// is 10): `currencyThresholds` gives a currency its own threshold, and `thresholdAmount`, when
/// set, applies to every currency without one.
public struct SettlementPolicy: Sendable, Codable, Equatable {
    public var thresholdAmount: Int64?
    public var periodSeconds: UInt64?
    /// Thresholds by currency code (`"JPY": 100000`), each overriding `thresholdAmount` for its
    /// currency. Absent when none is set (never empty).
    public var currencyThresholds: [String: Int64]?

    public init(thresholdAmount: Int64? = nil, periodSeconds: UInt64? = nil, currencyThresholds: [String: Int64]? = nil) {
        self.thresholdAmount = thresholdAmount
        self.periodSeconds = periodSeconds
        self.currencyThresholds = currencyThresholds
    }

    /// The threshold of `currency`'s payable: its own, or the policy's general one; nil when
    /// the currency is settled by period (or by command) only.
    public func threshold(for currency: Currency) -> Int64? {
        currencyThresholds?[currency.code] ?? thresholdAmount
    }

    /// Whether anything ever makes a settlement due (a threshold or a period).
    public var hasTrigger: Bool {
        thresholdAmount != nil || periodSeconds != nil || !(currencyThresholds ?? [:]).isEmpty
    }

    /// The longest period a vendor may register: a year.
    public static let periodSecondsRange: ClosedRange<UInt64> = 1...(366 * 86_400)

    /// When the period next falls due after a settlement (or registration) at `start`, in Unix
    /// milliseconds: nil without a period, or when the time is past what a `UInt64` holds (a
    /// period no registration accepts now; such a period is never due, never an overflow).
    public func periodDue(after start: UInt64) -> UInt64? {
        guard let periodSeconds else { return nil }
        let (milliseconds, overflow) = periodSeconds.multipliedReportingOverflow(by: 1000)
        let (due, overflowSum) = start.addingReportingOverflow(milliseconds)
        return overflow || overflowSum ? nil : due
    }

    /// Why a payable of `amount` in `currency` is due at `time`, its last settlement (or the
    /// vendor's registration) at `lastSettledAt`: its threshold reached, else its period
    /// elapsed; nil when neither (only a command settles it then). The one rule settlements are
    /// decided by and audited against.
    public func trigger(amount: Int64, currency: Currency, lastSettledAt: UInt64, time: UInt64) -> VendorSettled.Trigger? {
        if let threshold = threshold(for: currency), amount >= threshold { return .threshold }
        if let due = periodDue(after: lastSettledAt), time >= due { return .period }
        return nil
    }
}

public struct VendorRecord: Sendable, Codable, Equatable {
    public var name: String
    /// URL prefixes the vendor may sell from (`https://shop.example/`).
    public var sites: [String]
    /// The provider's fee, in basis points of the price.
    public var feeBasisPoints: Int64
    public var settlement: SettlementPolicy
    /// When the vendor was registered: where a currency's settlement period starts until its
    /// first settlement (then its ``SettlementMark`` says). Journals written before the marks
    /// existed left the last settlement of any currency here.
    public var lastSettledAtMilliseconds: UInt64
    /// The vendor's registration sequence: where a currency's first settlement starts
    /// covering (later ones start after their currency's ``SettlementMark``).
    public var settledThroughSequence: UInt64
}

/// How far a vendor is settled in one currency: each currency has its own period and its
/// own covered range, so settling dollars neither restarts the euro period nor skips euro
/// events. Stored as `settled/<vendor>/<CUR>`.
public struct SettlementMark: Sendable, Codable, Equatable {
    public var throughSequence: UInt64
    public var atMilliseconds: UInt64
}

/// Access terms of purchased content (claims 25, 44).
public struct AccessTerms: Sendable, Codable, Hashable {
    public var views: Int?
    public var hours: Int?
    public var days: Int?
    public var expiresAtMilliseconds: UInt64?

    public init(views: Int? = nil, hours: Int? = nil, days: Int? = nil, expiresAtMilliseconds: UInt64? = nil) {
        self.views = views
        self.hours = hours
        self.days = days
        self.expiresAtMilliseconds = expiresAtMilliseconds
    }
}

/// One rights holder's share of a price, in basis points.
public struct RoyaltyShare: Sendable, Codable, Hashable {
    public var holder: String
    public var basisPoints: Int64

    public init(holder: String, basisPoints: Int64) {
        self.holder = holder
        self.basisPoints = basisPoints
    }
}

/// Content a vendor sells (claims 42–44), from its catalog or sent inline with a purchase.
public struct ContentTerms: Sendable, Codable, Hashable {
    public var content: String
    public var title: String
    public var price: Int64
    public var currency: Currency
    public var description: String
    public var url: String
    public var access: AccessTerms
    public var incentiveIDs: [String]
    public var royalties: [RoyaltyShare]

    public init(
        content: String, title: String, price: Int64, currency: Currency, description: String = "", url: String,
        access: AccessTerms = .init(), incentiveIDs: [String] = [], royalties: [RoyaltyShare] = []
    ) {
        self.content = content
        self.title = title
        self.price = price
        self.currency = currency
        self.description = description
        self.url = url
        self.access = access
        self.incentiveIDs = incentiveIDs
        self.royalties = royalties
    }
}

/// A purchase transaction created by the server (claim 29).
public struct TransactionRecord: Sendable, Codable, Equatable {
    public enum Status: String, Sendable, Codable {
        case held, captured, voided, expired, disputed, refunded
    }

    public var user: String
    public var member: String?
    public var vendor: String
    public var terms: ContentTerms
    public var status: Status
    public var holdExpiresAtMilliseconds: UInt64?
    /// Where the held funds came from, to return them exactly on void, expiry or refund.
    public var sources: [FundingSource]
    /// Set at capture: the provider's fee and the royalties paid out of the price.
    public var fee: Int64?
    public var royalties: [RoyaltyPayment]?
    /// What the vendor's partial refunds have taken back so far, while some of the price is
    /// still paid: nil before the first, and nil again once the whole price is back (the
    /// status then says `refunded`).
    public var refundedParts: RefundedParts?
    /// What the vendor sent about its side of the purchase, if anything.
    public var vendorData: VendorData?
}

/// What partial refunds have taken back of a captured purchase from each party of the price
/// (the provider's fee, each royalty in the record's order; the vendor's part is the rest) and
/// gave back to each funding source (in the record's order), whose sum is the total.
public struct RefundedParts: Sendable, Codable, Equatable {
    public var fee: Int64
    public var royalties: [Int64]
    public var sources: [Int64]

    /// What the partial refunds gave back in all: every unit went back to a source.
    public var total: Int64 { sources.reduce(0, +) }
}

/// One refund's parts: what it takes back from each party of the price and gives back to
/// each funding source. Together each side is the refund's amount.
public struct RefundSplit: Sendable, Equatable {
    public var fee: Int64
    public var royalties: [Int64]
    public var vendor: Int64
    public var sources: [Int64]
}

extension ContentTerms {
    /// What each rights holder is paid of the price, in the schedule's order, by the one
    /// rounding rule (``royaltyRoundingRule``): each share is the price times its basis points
    /// over 10,000, rounded down; what the rounding leaves is the vendor's. The price is not
    /// negative and each share is 0 through 10,000 basis points (registration checks both).
    public var royaltyPayments: [RoyaltyPayment] {
        royalties.map { RoyaltyPayment(holder: $0.holder, amount: royalty($0)) }
    }

    /// What `share` is paid of the price (one of ``royaltyPayments``).
    public func royalty(_ share: RoyaltyShare) -> Int64 {
        Money.share(of: price, basisPoints: share.basisPoints)
    }

    /// The provider's fee on a sale at `price` by a vendor whose rate is `basisPoints`
    /// (0...10,000): the price times the rate over 10,000, rounded down, as royalties are. The
    /// one rule captures are decided by and audited against.
    public static func fee(price: Int64, basisPoints: Int64) -> Int64 {
        Money.share(of: price, basisPoints: basisPoints)
    }

    /// Whether the content's URL lies under one of a vendor's registered `sites` (URL prefixes
    /// ending in `/`): claim 28's rule, checked on every purchase, catalog or inline, against the
    /// sites the vendor has then, and audited against them.
    public func isSold(under sites: [String]) -> Bool {
        Self.isSold(url: url, under: sites)
    }

    /// The same for a URL alone.
    public static func isSold(url: String, under sites: [String]) -> Bool {
        sites.contains { url.hasPrefix($0) }
    }
}

extension TransactionRecord {
    /// A purchase as its capture leaves it: captured, paid from the capture's sources, with its
    /// fee and royalties (a one-step purchase's record, and what an audit splits refunds by).
    public init(captured event: PurchaseCaptured) {
        self.init(
            user: event.user, member: event.member, vendor: event.vendor, terms: event.terms, status: .captured,
            holdExpiresAtMilliseconds: nil, sources: event.sources, fee: event.fee, royalties: event.royalties,
            vendorData: event.vendorData)
    }

    /// What has been given back of the price: all of it once refunded, else what partial
    /// refunds took.
    public var refunded: Int64 { status == .refunded ? terms.price : refundedParts?.total ?? 0 }

    /// What the buyer still pays: the price less what was refunded.
    public var remaining: Int64 { terms.price - refunded }

    /// The part of the remaining price that is the vendor's: what remains less the fee and
    /// royalties not yet taken back.
    public var remainingVendorShare: Int64 {
        let parts = remainingParts()
        return remaining - parts.fee - parts.royalties.reduce(0, +)
    }

    /// What is left of the fee, of each royalty and of each funding source.
    func remainingParts() -> (fee: Int64, royalties: [Int64], sources: [Int64]) {
        let taken = refundedParts
        let fee = (self.fee ?? 0) - (taken?.fee ?? 0)
        let royalties = (self.royalties ?? []).enumerated().map { index, royalty in
            royalty.amount - (taken.map { index < $0.royalties.count ? $0.royalties[index] : 0 } ?? 0)
        }
        let sources = self.sources.enumerated().map { index, source in
            source.amount - (taken.map { index < $0.sources.count ? $0.sources[index] : 0 } ?? 0)
        }
        return (fee, royalties, sources)
    }

    /// How a refund of `amount` (1 through ``remaining``) is split, the one rounding rule of
    /// partial refunds:
    /// - Parties. A refund of all that remains takes exactly what is left of each part. Any
    ///   other takes from each party (the fee, each royalty, the vendor) its remaining part
    ///   times `amount` over the remaining price, rounded down; the units this leaves go one
    ///   each to the parties with the largest remainders of that division, ties to the
    ///   earlier party (fee, royalties in order, vendor). No party gives more than it has
    ///   left, so successive refunds add up to the capture's split exactly.
    /// - Sources. The money goes back to what paid last first: the sources are taken from the
    ///   last (the credit line, then the wallet) to the first (the incentive lots, in reverse
    ///   spending order), each up to what is left of it.
    public func refundSplit(_ amount: Int64) -> RefundSplit {
        let left = remainingParts()
        let total = remaining
        let vendor = max(total - left.fee - left.royalties.reduce(0, +), 0)
        let parts = [max(left.fee, 0)] + left.royalties.map { max($0, 0) } + [vendor]
        var taken: [Int64]
        if amount >= total {
            taken = parts
        } else {
            var remainders: [Int128] = []
            taken = parts.map { part in
                let (quotient, remainder) = (Int128(part) * Int128(amount)).quotientAndRemainder(dividingBy: Int128(total))
                remainders.append(remainder)
                return Int64(quotient)
            }
            var units = amount - taken.reduce(0, +)
            let order = remainders.indices.filter { remainders[$0] > 0 }.sorted { remainders[$0] != remainders[$1] ? remainders[$0] > remainders[$1] : $0 < $1 }
            for index in order where units > 0 {
                taken[index] += 1
                units -= 1
            }
        }
        var sources = Array(repeating: Int64(0), count: left.sources.count)
        var owed = amount
        for index in left.sources.indices.reversed() where owed > 0 {
            let back = min(max(left.sources[index], 0), owed)
            sources[index] = back
            owed -= back
        }
        return RefundSplit(fee: taken[0], royalties: Array(taken[1 ..< taken.count - 1]), vendor: taken[taken.count - 1], sources: sources)
    }

    /// Records a partial refund of `amount` (less than ``remaining``), split as ``refundSplit(_:)`` splits it.
    public mutating func recordPartialRefund(_ amount: Int64) {
        let split = refundSplit(amount)
        var parts = refundedParts ?? RefundedParts(
            fee: 0, royalties: Array(repeating: 0, count: royalties?.count ?? 0), sources: Array(repeating: 0, count: sources.count))
        parts.fee += split.fee
        for index in split.royalties.indices where index < parts.royalties.count { parts.royalties[index] += split.royalties[index] }
        for index in split.sources.indices where index < parts.sources.count { parts.sources[index] += split.sources[index] }
        refundedParts = parts
    }
}

/// A user's dispute of a captured purchase (claim 14).
public struct DisputeRecord: Sendable, Codable, Equatable {
    public enum Status: String, Sendable, Codable { case open, refunded, rejected }
    public var transaction: String
    public var user: String
    public var vendor: String
    public var currency: Currency
    /// What the vendor's payable moved into its dispute reserve.
    public var reserved: Int64
    public var status: Status
    /// What the buyer still paid when it was opened (`DisputeOpened.disputed`); nil in records
    /// written before partial refunds existed and for disputes whose event does not say it.
    public var disputed: Int64?
}

/// An incentive lot (claims 7, 44): promotional tokens with an issuer, an optional expiry and
/// an optional list of vendors where they may be spent. Its balance is the lot account's.
public struct IncentiveLot: Sendable, Codable, Equatable {
    public var lot: String
    public var user: String
    public var currency: Currency
    /// `provider`, or the issuing vendor's ID.
    public var issuer: String
    public var expiresAtMilliseconds: UInt64?
    public var vendors: [String]?

    /// Spending order: lots that expire first are spent first; lots without expiry last; then by ID.
    static func spendingOrder(_ lhs: IncentiveLot, _ rhs: IncentiveLot) -> Bool {
        let left = lhs.expiresAtMilliseconds ?? .max
        let right = rhs.expiresAtMilliseconds ?? .max
        return left != right ? left < right : lhs.lot < rhs.lot
    }

    /// Whether the lot may pay for `terms` sold by `vendor` at `time`: not expired, not
    /// restricted to other vendors, named by the content's accepted incentive IDs when it has
    /// any, and in its currency (``unusable(vendor:terms:time:)`` is nil).
    public func usable(vendor: String, terms: ContentTerms, time: UInt64) -> Bool {
        unusable(vendor: vendor, terms: terms, time: time) == nil
    }

    /// Why the lot may not pay for `terms` sold by `vendor` at `time`, or nil when it may: the
    /// one rule the decider draws lots by and an audit holds purchases to.
    public func unusable(vendor: String, terms: ContentTerms, time: UInt64) -> String? {
        if let expiry = expiresAtMilliseconds, time >= expiry { return "it expired at \(expiry), and the purchase is at \(time)" }
        if let vendors, !vendors.contains(vendor) { return "it may be spent only at \(vendors.joined(separator: ", ")), not at \(vendor)" }
        if !terms.incentiveIDs.isEmpty && !terms.incentiveIDs.contains(lot) {
            return "\(terms.content) accepts only incentives \(terms.incentiveIDs.joined(separator: ", "))"
        }
        return currency == terms.currency ? nil : "it holds \(currency.code), not \(terms.currency.code)"
    }
}

extension IncentiveLot {
    /// The lot an `IncentiveIssued` issues (what the write model keeps of it, and what an audit
    /// holds the purchases drawing on it to).
    public init(issued event: IncentiveIssued) {
        self.init(lot: event.lot, user: event.user, currency: event.currency, issuer: event.issuer,
                  expiresAtMilliseconds: event.expiresAtMilliseconds, vendors: event.vendors)
    }
}

/// An amount drawn from one account to pay for a purchase.
public struct FundingSource: Sendable, Codable, Hashable {
    public var account: String
    public var amount: Int64

    public init(account: String, amount: Int64) {
        self.account = account
        self.amount = amount
    }

    /// Where money going back to a user (a hold released, a purchase refunded) lands, for
    /// amounts drawn from `sources`: a lot gets its tokens back, credit goes back only as far
    /// as `creditInUse` (funds added since may have repaid it), the rest goes to the wallet, so
    /// a credit line never turns positive. In the sources' order, the wallet last. The one rule
    /// the decider returns money by and the audit holds releases and refunds to.
    public static func returnTargets(
        _ sources: [FundingSource], user: String, currency: Currency, creditInUse: Int64
    ) -> [(account: LedgerAccount, amount: Int64)] {
        let credit = LedgerAccount.creditLine(user: user, currency: currency)
        var targets: [(account: LedgerAccount, amount: Int64)] = []
        var toWallet: Int64 = 0
        var creditLeft = creditInUse
        for source in sources {
            if source.account == credit.name {
                let back = min(source.amount, creditLeft)
                creditLeft -= back
                if back > 0 { targets.append((credit, back)) }
                toWallet += source.amount - back
            } else if source.account.hasPrefix("lot:"), let lot = LedgerDecider.lotID(source.account) {
                targets.append((.incentiveLot(lot: lot, currency: currency), source.amount))
            } else {
                toWallet += source.amount
            }
        }
        if toWallet > 0 { targets.append((.wallet(user: user, currency: currency), toWallet)) }
        return targets
    }
}

/// Offline funds awaiting clearance (claims 37–39).
public struct FundingRecord: Sendable, Codable, Equatable {
    public enum Status: String, Sendable, Codable { case pending, cleared, failed }
    public var user: String
    public var currency: Currency
    public var amount: Int64
    public var method: FundingMethod
    public var status: Status
}

/// Tokens paid back to a user (`FundsReturned`).
public struct PayoutRecord: Sendable, Codable, Equatable {
    public var user: String
    public var currency: Currency
    public var amount: Int64
    public var method: FundingMethod
    public var representative: String
    public var timeMilliseconds: UInt64
}

/// A user's payout request (`PayoutRequested`) and where it stands.
public struct PayoutRequestRecord: Sendable, Codable, Equatable {
    public enum Status: String, Sendable, Codable { case requested, paid, declined }
    public var user: String
    public var currency: Currency
    public var amount: Int64
    public var method: FundingMethod
    public var status: Status
    public var timeMilliseconds: UInt64
}

/// A rights holder's royalties paid out (`RoyaltiesPaid`).
public struct RoyaltyPayoutRecord: Sendable, Codable, Equatable {
    public var holder: String
    public var currency: Currency
    public var amount: Int64
    public var representative: String
    public var timeMilliseconds: UInt64
}

/// A vendor's idempotency key: the request's digest and the first sequence it appended.
public struct IdempotencyRecord: Sendable, Codable, Equatable {
    public var requestDigest: String
    public var sequence: UInt64
}

/// How a vendor is rewarded for bringing a user (claim 12): a fixed amount, paid by the
/// provider once the referred user's captured purchases, each older than the confirmation
/// window, add up to the minimum spend. Reversed if a qualifying purchase is refunded.
public struct ReferralPolicy: Sendable, Codable, Equatable {
    public var currency: Currency
    public var rewardAmount: Int64
    public var minimumSpend: Int64
    public var confirmationSeconds: UInt64

    public init(currency: Currency, rewardAmount: Int64, minimumSpend: Int64, confirmationSeconds: UInt64) {
        self.currency = currency
        self.rewardAmount = rewardAmount
        self.minimumSpend = minimumSpend
        self.confirmationSeconds = confirmationSeconds
    }
}

/// A referral reward paid (or reversed) for one referred user.
public struct ReferralRecord: Sendable, Codable, Equatable {
    public enum Status: String, Sendable, Codable { case rewarded, reversed }
    public var vendor: String
    public var currency: Currency
    public var amount: Int64
    public var qualifyingTransactions: [String]
    public var status: Status
}
