import Ledger

// The read models' public shapes. Every view is plain data in JSON-friendly types (amounts are
// Int64 minor units, times UInt64 milliseconds since 1970, sequences UInt64), so the HTTP API
// can encode them as they are. Collections are arrays in a fixed order (never dictionaries),
// so that the stored JSON, and the canonical dump, is deterministic.

/// One member of a user account.
public struct MemberView: Sendable, Codable, Equatable {
    public var member: String
    public var active: Bool
}

/// A user's position in one currency. `balance` is the wallet account, `held` the funds held by
/// authorised purchases, `pending` offline funds not yet cleared, `creditInUse` what the credit
/// line has lent (the negated `credit:` balance), `incentives` the sum of the user's lot balances,
/// `outgoing` the tokens set aside for payouts the user asked for.
public struct WalletView: Sendable, Codable, Equatable {
    public var currency: Currency
    /// True once `WalletOpened` was seen (a lot may exist in a currency without a wallet).
    public var opened: Bool
    public var balance: Int64
    public var held: Int64
    public var pending: Int64
    public var creditLimit: Int64
    public var creditInUse: Int64
    public var incentives: Int64
    /// Tokens the user asked to be paid back (`outgoing:`): out of the wallet and no longer
    /// spendable, not yet paid (or declined, when they return to the balance).
    public var outgoing: Int64 = 0
}

/// An incentive lot of the user.
public struct LotView: Sendable, Codable, Equatable {
    public var lot: String
    public var currency: Currency
    public var issuer: String
    public var balance: Int64
    public var expiresAtMilliseconds: UInt64?
    public var vendors: [String]?
    /// True once `IncentiveExpired` returned the lot's balance to its issuer.
    public var expired: Bool
}

/// Read model 1: a user's wallets and account status.
public struct WalletsView: Sendable, Codable, Equatable {
    public var user: String
    /// `open` (accounts are never closed by the ledger today).
    public var status: String
    public var channel: AccountChannel
    public var referringVendor: String?
    public var representative: String?
    public var openedAtMilliseconds: UInt64
    /// Sorted by member ID.
    public var members: [MemberView]
    /// Sorted by currency code.
    public var wallets: [WalletView]
    /// In the order issued.
    public var lots: [LotView]
    /// In the order set; a removal drops the matching limit.
    public var spendingLimits: [SpendingLimit]
    /// The sequence of the last event that changed this view.
    public var updatedAtSequence: UInt64
}

/// When the vendor is next due to be settled under its policy.
public struct SettlementDue: Sendable, Codable, Equatable {
    /// The policy's threshold, and what the unsettled payable still lacks to reach it (0 when reached).
    public var thresholdAmount: Int64?
    public var remainingToThreshold: Int64?
    /// The last settlement (or registration) time plus the policy's period.
    public var periodDueAtMilliseconds: UInt64?
}

/// Read model 2, one currency of a vendor. `earned` is the gross of captured prices, `fees` and
/// `royalties` what was taken from them at capture, `refunded` what refunds gave back to buyers,
/// `referralRewards` the net of referral rewards paid to the vendor, `settled` the sum paid out
/// by settlements; `reserved` is the dispute reserve's balance and `unsettled` the payable's
/// balance (negative when the vendor owes, after a refund of a settled sale).
public struct VendorCurrencySettlement: Sendable, Codable, Equatable {
    public var currency: Currency
    public var earned: Int64
    public var fees: Int64
    public var royalties: Int64
    public var refunded: Int64
    public var referralRewards: Int64
    public var reserved: Int64
    public var settled: Int64
    public var unsettled: Int64
    public var settlements: Int64
    public var lastSettledSequence: UInt64?
    /// When this currency was last settled (its period restarts then; until the first
    /// settlement it runs from the vendor's registration).
    public var lastSettledAtMilliseconds: UInt64?
    public var nextDue: SettlementDue
}

/// Read model 2: a vendor's settlement, per currency.
public struct VendorSettlementView: Sendable, Codable, Equatable {
    public var vendor: String
    public var name: String
    public var feeBasisPoints: Int64
    public var policy: SettlementPolicy
    public var registeredAtMilliseconds: UInt64
    /// Vendor-wide, as the ledger keeps it: the last settlement in any currency, or registration.
    public var lastSettledAtMilliseconds: UInt64
    /// Sorted by currency code.
    public var currencies: [VendorCurrencySettlement]
}

/// A purchase's state. `voided` covers holds voided by the vendor and holds that expired
/// (`voidReason` tells which).
public enum PurchaseStatus: String, Sendable, Codable, Equatable {
    case authorized, captured, voided, refunded, disputed
}

/// What remains of an entitlement: the views granted less those used (`EntitlementUsed`, never
/// below zero), the hours and days granted, and `expiresAtMilliseconds`, the earliest of the
/// terms' fixed expiry and the capture time plus the hours or days granted.
public struct EntitlementRemaining: Sendable, Codable, Equatable {
    public var views: Int?
    public var hours: Int?
    public var days: Int?
    public var expiresAtMilliseconds: UInt64?
}

/// Read model 3: one purchase and its entitlement.
public struct PurchaseView: Sendable, Codable, Equatable {
    public var transaction: String
    public var user: String
    public var member: String?
    public var vendor: String
    public var content: String
    public var title: String
    public var url: String
    public var price: Int64
    public var currency: Currency
    /// What the buyer paid and still pays: the price, less what partial refunds gave back, or
    /// 0 once voided or refunded in full.
    public var amount: Int64
    public var status: PurchaseStatus
    public var voidReason: String?
    public var access: AccessTerms
    /// Present while the entitlement stands (captured or disputed).
    public var remaining: EntitlementRemaining?
    public var fee: Int64?
    public var royalties: [RoyaltyPayment]?
    public var purchasedAtMilliseconds: UInt64
    public var capturedAtMilliseconds: UInt64?
    /// The sequence that created the transaction, and the one that last changed it.
    public var sequence: UInt64
    public var updatedAtSequence: UInt64
}

/// Read model 4: one entry of a wallet's or a vendor's history.
public struct HistoryEntry: Sendable, Codable, Equatable {
    public var sequence: UInt64
    public var timeMilliseconds: UInt64
    public var eventType: String
    public var currency: Currency
    /// The net change of the account holder's money in the event, signed from its view: for a
    /// wallet the user's wallet, holds, pending, credit line and lots together; for a vendor its
    /// payable and dispute reserve together.
    public var amount: Int64
    /// The change of the part set aside: the user's holds, or the vendor's dispute reserve.
    public var held: Int64
    /// The kind of account on the other side: `user`, `vendor`, `provider`, `rightsHolder`,
    /// `funding`, `incentive`, `settlement`, `payout` (tokens the user asked to be paid back,
    /// until paid or declined), or `self` for a move between the holder's own accounts.
    public var counterparty: String
    public var transaction: String?
}

/// A page of history, newest first. Pass `nextBefore` as `before` to get the next page; it is
/// nil on the last page.
public struct HistoryPage: Sendable, Codable, Equatable {
    public var entries: [HistoryEntry]
    public var nextBefore: UInt64?
}

/// Read model 5: one royalty paid to (positive) or taken back from (negative, on a refund) a
/// rights holder.
public struct RoyaltyEntry: Sendable, Codable, Equatable {
    public var sequence: UInt64
    public var timeMilliseconds: UInt64
    public var transaction: String
    public var vendor: String
    public var currency: Currency
    public var amount: Int64
}

public struct RoyaltyCurrencyTotal: Sendable, Codable, Equatable {
    public var currency: Currency
    /// Royalties paid at capture.
    public var paid: Int64
    /// Royalties taken back by refunds (a positive number).
    public var reversed: Int64
    /// The rights holder's payable balance (`holder:<holder>:<CUR>`).
    public var balance: Int64
}

/// A page of a royalty statement: the totals, and entries newest first.
public struct RoyaltyStatementPage: Sendable, Codable, Equatable {
    public var holder: String
    public var totals: [RoyaltyCurrencyTotal]
    public var entries: [RoyaltyEntry]
    /// Pass as `before` for the next (older) page; nil when there is none.
    public var nextBefore: UInt64?
}

public struct RoyaltyStatement: Sendable, Codable, Equatable {
    public var holder: String
    /// Sorted by currency code.
    public var totals: [RoyaltyCurrencyTotal]
    /// Oldest first.
    public var entries: [RoyaltyEntry]
}

/// Read model 6: an account's balance as of a sequence.
public struct AccountBalance: Sendable, Codable, Equatable {
    public var account: String
    public var balance: Int64
    /// The sequence the balance is as of (0: before the first event).
    public var sequence: UInt64
}

/// A customer-service case that waits in a queue until decided (`Folder.closeCase`): the
/// sequence that opened it keys its queue entry.
protocol QueuedCase: ViewRecord {
    var sequence: UInt64 { get }
    var updatedAtSequence: UInt64 { get set }
}

extension FundingCase: QueuedCase {}
extension DisputeCase: QueuedCase {}
extension PayoutRequestCase: QueuedCase {}

/// Where an addition of funds stands: `completed` (online: credited at once), `pending`
/// (offline: waiting for customer service to clear or fail it), `cleared` or `failed`.
public enum FundingStatus: String, Sendable, Codable, Equatable {
    case completed, pending, cleared, failed
}

/// Read model 7 (customer-service cases): one addition of funds, from `FundsAdded` on.
public struct FundingCase: Sendable, Codable, Equatable {
    public var funding: String
    public var user: String
    public var currency: Currency
    public var amount: Int64
    public var method: FundingMethod
    public var throughVendor: String?
    public var status: FundingStatus
    public var addedAtMilliseconds: UInt64
    /// When a pending funding was cleared or failed.
    public var settledAtMilliseconds: UInt64?
    /// The sequence of `FundsAdded`, and of the event that last changed the funding.
    public var sequence: UInt64
    public var updatedAtSequence: UInt64
}

/// Read model 7 (customer-service cases): tokens paid back out of a user's wallet, from
/// `FundsReturned` (it never changes after).
public struct PayoutCase: Sendable, Codable, Equatable {
    public var payout: String
    public var user: String
    public var currency: Currency
    public var amount: Int64
    /// How the money went back (usually the way it came in).
    public var method: FundingMethod
    public var representative: String
    public var returnedAtMilliseconds: UInt64
    /// The sequence of `FundsReturned`.
    public var sequence: UInt64
}

/// Where a user's payout request stands: `requested` until customer service pays it or
/// declines it.
public enum PayoutRequestStatus: String, Sendable, Codable, Equatable {
    case requested, paid, declined
}

/// Read model 7 (customer-service cases): a user's request for tokens to be paid back, from
/// `PayoutRequested` on.
public struct PayoutRequestCase: Sendable, Codable, Equatable {
    public var payout: String
    public var user: String
    public var currency: Currency
    public var amount: Int64
    public var method: FundingMethod
    public var status: PayoutRequestStatus
    /// Who paid or declined it, and (declined) why.
    public var representative: String?
    public var reason: String?
    public var requestedAtMilliseconds: UInt64
    public var decidedAtMilliseconds: UInt64?
    /// The sequence of `PayoutRequested`.
    public var sequence: UInt64
    /// The sequence of the last event that changed it.
    public var updatedAtSequence: UInt64
}

/// A page of a user's payout requests, newest first (`nextBefore` as `before` for the next).
public struct PayoutRequestPage: Sendable, Codable, Equatable {
    public var requests: [PayoutRequestCase]
    public var nextBefore: UInt64?
}

/// A page of the payout requests waiting, oldest first (`nextAfter` as `after` for the next).
public struct PayoutRequestQueuePage: Sendable, Codable, Equatable {
    public var requests: [PayoutRequestCase]
    public var nextAfter: UInt64?
}

/// Read model 5 (royalties): a rights holder's royalties paid out of Tally, from
/// `RoyaltiesPaid` (it never changes after).
public struct RoyaltyPayoutCase: Sendable, Codable, Equatable {
    public var payout: String
    public var holder: String
    public var currency: Currency
    public var amount: Int64
    public var representative: String
    public var paidAtMilliseconds: UInt64
    /// The sequence of `RoyaltiesPaid`.
    public var sequence: UInt64
}

/// A page of a rights holder's royalty payouts, newest first. Pass `nextBefore` as `before`
/// for the next page; nil on the last page.
public struct RoyaltyPayoutPage: Sendable, Codable, Equatable {
    public var payouts: [RoyaltyPayoutCase]
    public var nextBefore: UInt64?
}

/// Where a dispute stands: `open` until a `DisputeResolved` refunds or rejects it.
public enum DisputeStatus: String, Sendable, Codable, Equatable {
    case open, refunded, rejected
}

/// Read model 7 (customer-service cases): one dispute, from `DisputeOpened` on.
public struct DisputeCase: Sendable, Codable, Equatable {
    public var dispute: String
    public var transaction: String
    public var user: String
    public var vendor: String
    public var currency: Currency
    public var price: Int64
    /// What the buyer still paid when it was opened: the price less the vendor's partial
    /// refunds before it (what a refund of the dispute gives back).
    public var disputed: Int64
    /// What was moved into the vendor's dispute reserve.
    public var reserved: Int64
    /// The rules marked the charge unauthorized (it is refunded at once).
    public var unauthorized: Bool
    public var reason: String
    public var status: DisputeStatus
    /// `rule` or `customerService`, once resolved.
    public var decidedBy: String?
    public var representative: String?
    /// What went back to the user, once resolved (0 for a rejection).
    public var refunded: Int64?
    public var openedAtMilliseconds: UInt64
    public var resolvedAtMilliseconds: UInt64?
    /// The sequence of `DisputeOpened`, and of the event that last changed the dispute.
    public var sequence: UInt64
    public var updatedAtSequence: UInt64
}

/// A page of the pending offline fundings, oldest first (the order they were added). Pass
/// `nextAfter` as `after` for the next page; nil on the last page.
public struct FundingQueuePage: Sendable, Codable, Equatable {
    public var fundings: [FundingCase]
    public var nextAfter: UInt64?
}

/// A page of the open disputes, oldest first (the order they were opened). Pass `nextAfter` as
/// `after` for the next page; nil on the last page.
public struct DisputeQueuePage: Sendable, Codable, Equatable {
    public var disputes: [DisputeCase]
    public var nextAfter: UInt64?
}

/// How much customer service has waiting: the lengths of the queues and when the oldest
/// case in each was opened (nil when the queue is empty).
public struct CaseBacklog: Sendable, Equatable {
    public var pendingFundings: Int
    public var openDisputes: Int
    public var requestedPayouts: Int
    public var oldestPendingFundingMilliseconds: UInt64?
    public var oldestOpenDisputeMilliseconds: UInt64?
    public var oldestRequestedPayoutMilliseconds: UInt64?
}

/// A page of fundings, newest first. Pass `nextBefore` as `before` for the next page;
/// nil on the last page.
public struct FundingPage: Sendable, Codable, Equatable {
    public var fundings: [FundingCase]
    public var nextBefore: UInt64?
}

/// A page of a user's payouts, newest first. Pass `nextBefore` as `before` for the next page;
/// nil on the last page.
public struct PayoutPage: Sendable, Codable, Equatable {
    public var payouts: [PayoutCase]
    public var nextBefore: UInt64?
}

/// A page of disputes (a user's, or of a vendor's sales), newest first. Pass `nextBefore` as `before` for the next page;
/// nil on the last page.
public struct DisputePage: Sendable, Codable, Equatable {
    public var disputes: [DisputeCase]
    public var nextBefore: UInt64?
}

/// A purchase listed under its vendor's reference: its transaction and the sequence that
/// created it.
public struct ReferencedPurchase: Sendable, Codable, Equatable {
    public var transaction: String
    public var sequence: UInt64
}

/// A page of a vendor's purchases under one reference, newest first. Pass `nextBefore` as
/// `before` for the next page; nil on the last page.
public struct ReferencedPurchasesPage: Sendable, Codable, Equatable {
    public var purchases: [ReferencedPurchase]
    public var nextBefore: UInt64?
}

/// Why a projection stopped.
public struct ProjectionFailure: Sendable, Codable, Equatable {
    public var sequence: UInt64
    public var reason: String
}

public struct ReadModelCheckpoint: Sendable, Codable, Equatable {
    public var model: String
    public var sequence: UInt64
}

public struct ProjectionStatus: Sendable, Codable, Equatable {
    /// The sequence every read model has reached (what a read reflects).
    public var sequence: UInt64
    /// Each read model's checkpoint, stored with its data.
    public var models: [ReadModelCheckpoint]
    /// The live version (it goes up by one with each rebuild).
    public var version: UInt64
    /// The read models' schema (format) version this code folds.
    public var schemaVersion: UInt64
    /// A rebuild in progress: the version being built and the sequence it has reached.
    public var rebuilding: ReadModelCheckpoint?
    /// The event the live fold could not handle; it stopped before it.
    public var failure: ProjectionFailure?
}
