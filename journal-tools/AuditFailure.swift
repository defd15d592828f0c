/// What the ledger audit of `journal-tool verify` found wrong, beyond the journal's own
/// checks (``VerificationFailure``): the events' meaning, their postings, and the write model.
struct AuditFailure: Error, Equatable, CustomStringConvertible {
    enum Kind: String, CaseIterable {
        /// An event's payload does not decode as the ledger event its type names, or the type
        /// is not a ledger event.
        case undecodableEvent = "undecodable-event"
        /// An event's postings do not balance: per currency, debits and credits differ, a posting
        /// moves a non-positive amount or mixes currencies, or a balance overflows.
        case unbalancedPostings = "unbalanced-postings"
        /// A balance recomputed from postings alone differs from the write model's.
        case balanceMismatch = "balance-mismatch"
        /// Settlements or royalties disagree with the postings: a settlement or royalty payout
        /// paid elsewhere than the settlement clearing account or of another amount than the
        /// payable held, a settlement not covering the sequence range it should, a royalty or
        /// fee listed in a purchase but not posted (or posted but not listed).
        case settlementInconsistent = "settlement-inconsistent"
        /// A balance in the read models (`DIR/projections`) differs from the one recomputed
        /// from postings at the sequence the read models have folded through.
        case projectionMismatch = "projection-mismatch"
        /// A refund disagrees with the purchase it refunds or with its own postings: it gives
        /// back more than the buyer still paid, misstates what remains, refunds or disputes a
        /// purchase never captured or already wholly refunded, its postings move another amount,
        /// or take from a party (or give back to a lot) other than its part of the ledger's split;
        /// or a dispute is opened, reserved, resolved or released against the ledger's rules.
        case refundInconsistent = "refund-inconsistent"
        /// A balance recomputed from postings leaves the bounds the ledger keeps it in
        /// (``BalanceBounds``): a wallet, hold, pending funds, tokens to pay back, an incentive
        /// lot or a dispute reserve below zero, a credit line in credit or beyond its limit, or
        /// a limit approved below the credit in use.
        case balanceOutOfBounds = "balance-out-of-bounds"
        /// A purchase's payment disagrees with the ledger's rules (``PurchaseAudit``): its
        /// sources do not pay the price or are not its buyer's (a lot issued to someone else),
        /// its postings take other money or pay another vendor, or its royalties are not what
        /// its schedule gives; a lot it draws on may not pay for it then; its fee is not its
        /// vendor's rate; or a hold is captured or released other than once, for its price,
        /// back to its buyer, captured after it expired or expired before its time; or it goes
        /// over a spending limit its buyer had set (``SpendingAudit``), or sells content from
        /// outside its vendor's sites at the time.
        case purchaseInconsistent = "purchase-inconsistent"
        /// Funds added, cleared, failed, transferred or paid back move money other than the
        /// rules allow (``FundsAudit``): to or from another user than the event names, or another
        /// amount; or what ends a wait is not what began it (``PendingFundsAudit``); or an
        /// incentive lot or a referral reward goes elsewhere than its rules say
        /// (``ReferralAudit``).
        case fundsInconsistent = "funds-inconsistent"

        /// Stable exit codes, after the journal's 10-23; never renumbered.
        var exitCode: ToolExitCode {
            switch self {
            case .undecodableEvent: return ToolExitCode(rawValue: 24)
            case .unbalancedPostings: return ToolExitCode(rawValue: 25)
            case .balanceMismatch: return ToolExitCode(rawValue: 26)
            case .settlementInconsistent: return ToolExitCode(rawValue: 27)
            // 28 is `replay --compare-live`'s write-model-mismatch.
            case .projectionMismatch: return ToolExitCode(rawValue: 29)
            // 30-35 are `import`'s.
            case .refundInconsistent: return ToolExitCode(rawValue: 36)
            case .balanceOutOfBounds: return ToolExitCode(rawValue: 37)
            case .purchaseInconsistent: return ToolExitCode(rawValue: 38)
            case .fundsInconsistent: return ToolExitCode(rawValue: 39)
            }
        }

        var exitCodeSummary: String {
            switch self {
            case .undecodableEvent: return "an event is not a ledger event its type names"
            case .unbalancedPostings: return "an event's postings do not sum to zero per currency"
            case .balanceMismatch: return "a write-model balance differs from the postings'"
            case .settlementInconsistent: return "a settlement or royalty payout is paid elsewhere or of another amount, or royalty totals disagree with postings"
            case .projectionMismatch: return "a read-model balance differs from the postings'"
            case .refundInconsistent: return "a refund or dispute disagrees with the purchase, its postings, its split or the dispute rules"
            case .balanceOutOfBounds: return "a balance goes below zero, or a credit line beyond its limit"
            case .purchaseInconsistent: return "a purchase is paid by other than its buyer, for other than its price, to another vendor, from a lot it may not use, at another fee than its vendor's rate, over its buyer's spending limit, or outside its vendor's sites"
            case .fundsInconsistent: return "funds, incentive tokens or referral rewards reach or leave another party or amount than the event or its rules name, or end another wait than theirs"
            }
        }
    }

    let kind: Kind
    let sequence: UInt64
    let message: String

    var description: String { "\(kind.rawValue) at sequence \(sequence): \(message)" }

    var reported: ReportedFailure { ReportedFailure(self) }
}
