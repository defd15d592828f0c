/// What a purchase pays for: content from the vendor's catalog, or terms sent inline.
public enum ContentReference: Sendable, Codable, Equatable {
    case catalog(String)
    case inline(ContentTerms)
}

/// Every command the ledger decides. Commands are imperative; their events are past tense.
public enum LedgerCommand: Sendable, Codable, Equatable {
    case openAccount(user: String, channel: AccountChannel, referringVendor: String? = nil, representative: String? = nil)
    case addMember(user: String, member: String)
    case removeMember(user: String, member: String)
    case openWallet(user: String, currency: Currency)
    case approveCreditLine(user: String, currency: Currency, limit: Int64)
    case setSpendingLimit(user: String, limit: SpendingLimit)
    case removeSpendingLimit(user: String, limit: SpendingLimit)
    case addFunds(funding: String, user: String, currency: Currency, amount: Int64, method: FundingMethod, throughVendor: String? = nil)
    case clearFunds(funding: String)
    case failFunds(funding: String)
    /// Customer service pays a user's tokens back out of Tally, through `method` (usually the
    /// way they came in): the holder's right to redeem them at par. Only the wallet's own
    /// balance can go back, never incentive tokens, held, pending or credit-line money.
    case returnFunds(payout: String, user: String, currency: Currency, amount: Int64, method: FundingMethod, representative: String)
    /// The user asks for tokens to be paid back through `method`: the amount leaves the
    /// wallet's own balance at once (it cannot be spent meanwhile) and waits for customer
    /// service to pay it (`completePayout`) or decline it (`declinePayout`, back to the wallet).
    case requestPayout(payout: String, user: String, currency: Currency, amount: Int64, method: FundingMethod)
    /// Customer service has sent the money a user asked for: the request is paid.
    case completePayout(payout: String, representative: String)
    /// Customer service declines a user's payout request, saying why: the amount goes back.
    case declinePayout(payout: String, representative: String, reason: String)
    case registerVendor(vendor: String, name: String, sites: [String], feeBasisPoints: Int64, settlement: SettlementPolicy)
    /// Changes what a registered vendor is: its name, sites, fee or settlement policy (each nil
    /// is kept). Applies from the event on: a purchase decided before it keeps the fee it had.
    case updateVendor(vendor: String, name: String? = nil, sites: [String]? = nil, feeBasisPoints: Int64? = nil, settlement: SettlementPolicy? = nil)
    case registerContent(vendor: String, terms: ContentTerms)
    /// One step: pay now. `vendorData`: what the vendor sends about its side (claims 42–43).
    case purchase(user: String, member: String? = nil, vendor: String, content: ContentReference, vendorData: VendorData? = nil)
    /// Hold the funds; the server creates the transaction ID.
    case authorize(user: String, member: String? = nil, vendor: String, content: ContentReference, holdSeconds: UInt64,
                   vendorData: VendorData? = nil)
    case capture(vendor: String, transaction: String)
    case void(vendor: String, transaction: String)
    /// The vendor gives a captured purchase's price back, by its own decision: `amount` minor
    /// units of it (nil: all that is still paid), never more than is still paid. A whole
    /// refund takes back the fee, the royalties and its share as a dispute's refund takes
    /// them; a partial one takes a proportional part of each (``TransactionRecord/refundSplit(_:)``).
    /// A disputed purchase is refunded only through its dispute.
    case refund(vendor: String, transaction: String, amount: Int64? = nil, reason: String)
    /// Releases a hold whose timeout has passed (run by the hold sweeper with its clock).
    case expireHold(transaction: String)
    case transfer(from: String, to: String, currency: Currency, amount: Int64)
    /// Settles a vendor's payable in a currency. `force` settles now (by command); otherwise
    /// only when its threshold is reached or its period has elapsed.
    case settle(vendor: String, currency: Currency, force: Bool)
    /// Customer service pays a rights holder its royalties in `currency`: the holder's whole
    /// payable balance leaves Tally (as a vendor's settlement does), under a payout ID never
    /// used twice (shared with `returnFunds`).
    case payRoyalties(payout: String, holder: String, currency: Currency, representative: String)
    /// A user disputes a captured purchase. A charge the rules mark unauthorized (made by a
    /// member whose access has since been revoked) is refunded at once.
    case openDispute(dispute: String, user: String, transaction: String, reason: String)
    /// Customer service resolves an open dispute: refund, or reject (the reserve goes back to the vendor).
    case resolveDispute(dispute: String, refund: Bool, representative: String)
    /// Promotional tokens issued by the provider (`issuer` nil) or a vendor, at its discretion.
    case issueIncentive(lot: String, user: String, currency: Currency, amount: Int64, issuer: String?,
                        expiresAtMilliseconds: UInt64?, vendors: [String]?)
    case setReferralPolicy(vendor: String, policy: ReferralPolicy)
    /// Pays the referring vendor of `user` once the user has really spent (run by a sweeper,
    /// or on demand); refused until the policy is met.
    case rewardReferral(user: String)
    /// Returns what is left of an expired lot to its issuer.
    case expireIncentive(lot: String)
    /// The user opens purchased content: one use of the entitlement (refused once the views
    /// granted are used up).
    case useEntitlement(user: String, transaction: String)

    /// The vendor a command is issued by, for idempotency scoping.
    public var issuingVendor: String? {
        switch self {
        case .registerContent(let vendor, _), .purchase(_, _, let vendor, _, _), .authorize(_, _, let vendor, _, _, _),
            .capture(let vendor, _), .void(let vendor, _), .refund(let vendor, _, _, _), .issueIncentive(_, _, _, _, let vendor?, _, _),
            .setReferralPolicy(let vendor, _):
            return vendor
        default:
            return nil
        }
    }

    /// Whether the command's events record an idempotency mark, so that it can be sent with an
    /// idempotency key: every vendor command, and the commands of users and customer service
    /// that move money and would move it twice if sent twice (funds, transfers, payouts,
    /// the provider's incentives).
    public var acceptsIdempotencyKey: Bool {
        if issuingVendor != nil { return true }
        switch self {
        case .addFunds, .transfer, .returnFunds, .requestPayout, .payRoyalties, .issueIncentive: return true
        default: return false
        }
    }
}

/// Who an idempotency key belongs to: keys are unique within a scope. A vendor command's scope
/// is its vendor's ID; `user:<account>` and `service:admin` (customer service) are the scopes
/// of user and customer-service requests. Both hold a colon, which no vendor ID does, so no
/// vendor's keys can meet them.
public enum IdempotencyScope {
    public static let customerService = "service:admin"
    public static func user(_ account: String) -> String { "user:" + account }
}
