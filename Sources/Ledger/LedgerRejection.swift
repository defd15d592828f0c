/// Why the ledger refused a command. A rejection appends nothing and changes nothing.
///
/// Rules have stable numbers that are never reused, and names that read as the broken rule
/// (TigerBeetle style). `headroom` says, for limits and funds, how much was still allowed.
public struct LedgerRejection: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Rule: Int, Sendable, Codable, CaseIterable {
        case amountNotPositive = 1
        case amountOverflow = 2
        case unknownCurrency = 3
        case unknownAccount = 4
        case accountExists = 5
        case walletExists = 6
        case walletNotOpen = 7
        case memberExists = 8
        case unknownMember = 9
        case insufficientFunds = 10
        case unknownVendor = 11
        case vendorExists = 12
        case contentExists = 13
        case unknownContent = 14
        case urlOutsideVendorSites = 15
        case invalidRoyaltySchedule = 16
        case invalidVendorPolicy = 17
        case unknownTransaction = 18
        case transactionNotHeld = 19
        case holdExpired = 20
        case selfTransfer = 21
        // 22 is retired (was currencyMismatch, which no command could produce); never reuse it.
        case exceedsPerTransactionLimit = 23
        case exceedsDailyLimit = 24
        case exceedsWeeklyLimit = 25
        case exceedsMonthlyLimit = 26
        case exceedsVendorLimit = 27
        case unknownFunding = 28
        case fundingNotPending = 29
        case idempotencyConflict = 30
        case nothingToSettle = 31
        case invalidIdentifier = 32
        case invalidText = 33
        case unknownReferringVendor = 34
        case creditLimitNegative = 35
        case holdTimeoutOutOfRange = 36
        case transactionNotCaptured = 37
        case disputeExists = 38
        case unknownDispute = 39
        case disputeNotOpen = 40
        case incentiveExists = 41
        case unknownIncentive = 42
        case incentiveNotExpired = 43
        /// An expiry that is not after now: a new incentive lot's, or the access of content
        /// registered or sold (content whose access has expired is no longer sold).
        case expiryNotInFuture = 44
        case noReferralPolicy = 45
        case referralAlreadyRewarded = 46
        case referralNotQualified = 47
        /// Access terms out of range: views, hours and days are positive and at most a
        /// million views, 100 years of hours or days; an absolute expiry before year 10000.
        case invalidAccessTerms = 48
        /// The entitlement is used up: every view granted has been used, or its expiry passed.
        case entitlementExhausted = 49
        /// Removing a spending limit that is not set (none of that kind, currency, member and
        /// vendor).
        case unknownLimit = 50
        /// A spending limit names a vendor, but only a per-vendor monthly limit may.
        case limitVendorNotAllowed = 51
        /// The purchase was disputed before and customer service rejected that dispute: the
        /// decision stands, so the vendor's earnings cannot be reserved again and again.
        case disputeAlreadyDecided = 52
        /// A payout ID already used: a retried payout is refused, so money never leaves twice.
        case payoutExists = 53
        /// Money is paid back only through a way it can travel (`providerIssue` is none).
        case payoutMethodNotAllowed = 54
        /// No payout request has that ID.
        case unknownPayout = 55
        /// The payout request was paid or declined already: it is decided once.
        case payoutNotPending = 56
        /// A refund of more than the buyer still pays for the purchase (its price less what
        /// was refunded before); the headroom is what may still be refunded.
        case refundExceedsPurchase = 57

        /// The rule's stable name (`exceedsDailyLimit`), as APIs report it.
        public var name: String { String(describing: self) }
    }

    public let rule: Rule
    public let message: String
    /// For funds and limits: how much the command could still have used, in minor units.
    public let headroom: Int64?
    /// The command's field the rule refused, when it concerns one (`amount`, `limit.amount`,
    /// `access.hours`, `idempotencyKey`), named as the command names it: an API names its own
    /// request's field from this.
    public let field: String?

    public init(_ rule: Rule, _ message: String, headroom: Int64? = nil, field: String? = nil) {
        self.rule = rule
        self.message = message
        self.headroom = headroom
        self.field = field
    }

    public var description: String {
        var text = "\(rule.name) (\(rule.rawValue)): \(message)"
        if let headroom { text += " [headroom \(headroom)]" }
        return text
    }
}
