import Foundation
import Journal

/// Marks an event as the effect of a vendor's idempotent request.
public struct IdempotencyMark: Sendable, Codable, Equatable {
    /// The key's scope (``IdempotencyScope``): the vendor's ID for a vendor's request (hence the
    /// name), `user:<account>` or `service:admin` for the others.
    public var vendor: String
    public var key: String
    /// SHA-256 of the request's canonical JSON, hex.
    public var requestDigest: String
}

/// A royalty paid to one rights holder out of a purchase.
/// What a vendor sends about its side of a purchase (claims 42–43): its own reference for the
/// order, and the parameters of the web form the purchase came from, for its internal tracking.
/// Opaque to Tally: recorded with the transaction (and so in the journal, for ever: a vendor
/// must put no personal data in it) and shown back only to the vendor.
public struct VendorData: Sendable, Codable, Equatable {
    public var reference: String?
    /// Parameter names are identifiers (A-Z a-z 0-9 . _ -), so their order is plain.
    public var parameters: [String: String]?

    public init(reference: String? = nil, parameters: [String: String]? = nil) {
        self.reference = reference
        self.parameters = parameters
    }

    /// At most this many form parameters, each value at most `valueBytesMax` bytes, and the
    /// reference at most `referenceBytesMax`.
    public static let parametersMax = 20
    public static let valueBytesMax = 500
    public static let referenceBytesMax = 200

    /// Why `reference` cannot be a vendor's reference, as the end of a sentence naming it
    /// ("is required", "is longer than 200 bytes", "holds a control character"), or nil. The
    /// ledger refuses such a `vendorData.reference`; the lookup by reference refuses it too.
    public static func referenceProblem(_ reference: String) -> String? {
        if reference.isEmpty { return "is required" }
        if reference.utf8.count > referenceBytesMax { return "is longer than \(referenceBytesMax) bytes" }
        if TextRules.containsControlCharacter(reference) { return "holds a control character" }
        return nil
    }
}

public struct RoyaltyPayment: Sendable, Codable, Equatable {
    public var holder: String
    public var amount: Int64

    public init(holder: String, amount: Int64) {
        self.holder = holder
        self.amount = amount
    }
}

/// The rounding rule of royalties and fees, recorded in every purchase event.
public let royaltyRoundingRule = "each share is floor(price * basisPoints / 10000); the remainder stays with the vendor"

public struct AccountOpened: Sendable, Codable, Equatable {
    public var user: String
    public var channel: AccountChannel
    public var referringVendor: String?
    public var representative: String?
    public var timeMilliseconds: UInt64
}

public struct MemberAdded: Sendable, Codable, Equatable {
    public var user: String
    public var member: String
    public var timeMilliseconds: UInt64
}

public struct MemberRemoved: Sendable, Codable, Equatable {
    public var user: String
    public var member: String
    public var timeMilliseconds: UInt64
}

public struct WalletOpened: Sendable, Codable, Equatable {
    public var user: String
    public var currency: Currency
    public var timeMilliseconds: UInt64
}

public struct CreditLineApproved: Sendable, Codable, Equatable {
    public var user: String
    public var currency: Currency
    public var limit: Int64
    public var timeMilliseconds: UInt64
}

public struct SpendingLimitSet: Sendable, Codable, Equatable {
    public var user: String
    public var limit: SpendingLimit
    /// True when the event removes the limit of that kind, currency, member and vendor.
    public var removed: Bool
    public var timeMilliseconds: UInt64
}

public struct FundsAdded: Sendable, Codable, Equatable {
    public var funding: String
    public var user: String
    public var currency: Currency
    public var amount: Int64
    public var method: FundingMethod
    /// The vendor site the tokens were bought through, if any (claims 6, 32).
    public var throughVendor: String?
    /// Offline funds stay pending until cleared.
    public var pending: Bool
    public var postings: [Posting]
    /// The idempotent request that made it, if it was sent with an Idempotency-Key.
    public var idempotency: IdempotencyMark?
    public var timeMilliseconds: UInt64
}

public struct FundsCleared: Sendable, Codable, Equatable {
    public var funding: String
    public var user: String
    public var postings: [Posting]
    public var timeMilliseconds: UInt64
}

public struct FundsFailed: Sendable, Codable, Equatable {
    public var funding: String
    public var user: String
    public var postings: [Posting]
    public var timeMilliseconds: UInt64
}

/// Tokens paid back out of a user's wallet (redemption), through `method`, by `representative`:
/// at once, or (`requested`) the payout the user asked for, out of `outgoing:`.
public struct FundsReturned: Sendable, Codable, Equatable {
    public var payout: String
    public var user: String
    public var currency: Currency
    public var amount: Int64
    public var method: FundingMethod
    public var representative: String
    /// True when this pays the user's own request (`PayoutRequested`); omitted otherwise.
    public var requested: Bool?
    public var postings: [Posting]
    /// The idempotent request that made it, if it was sent with an Idempotency-Key.
    public var idempotency: IdempotencyMark?
    public var timeMilliseconds: UInt64
}

/// A rights holder's royalties paid out of Tally: the holder's whole payable balance in a
/// currency, by `representative`, under a payout ID never used twice.
public struct RoyaltiesPaid: Sendable, Codable, Equatable {
    public var payout: String
    public var holder: String
    public var currency: Currency
    public var amount: Int64
    public var representative: String
    public var postings: [Posting]
    /// The idempotent request that made it, if it was sent with an Idempotency-Key.
    public var idempotency: IdempotencyMark?
    public var timeMilliseconds: UInt64
}

/// A user asked for tokens to be paid back out of Tally, through `method`: the amount leaves
/// the wallet for `outgoing:` until customer service pays it (`FundsReturned`, `requested`)
/// or declines it (`PayoutDeclined`).
public struct PayoutRequested: Sendable, Codable, Equatable {
    public var payout: String
    public var user: String
    public var currency: Currency
    public var amount: Int64
    public var method: FundingMethod
    public var postings: [Posting]
    /// The idempotent request that made it, if it was sent with an Idempotency-Key.
    public var idempotency: IdempotencyMark?
    public var timeMilliseconds: UInt64
}

/// Customer service declined a user's payout request: the amount goes back to the wallet.
public struct PayoutDeclined: Sendable, Codable, Equatable {
    public var payout: String
    public var user: String
    public var currency: Currency
    public var amount: Int64
    /// The way the user asked for the money to travel.
    public var method: FundingMethod
    public var representative: String
    public var reason: String
    public var postings: [Posting]
    public var timeMilliseconds: UInt64
}

public struct VendorRegistered: Sendable, Codable, Equatable {
    public var vendor: String
    public var name: String
    public var sites: [String]
    public var feeBasisPoints: Int64
    public var settlement: SettlementPolicy
    public var timeMilliseconds: UInt64
}

/// A vendor's registration changed: each field present is its new value, each absent is kept.
public struct VendorUpdated: Sendable, Codable, Equatable {
    public var vendor: String
    public var name: String?
    public var sites: [String]?
    public var feeBasisPoints: Int64?
    public var settlement: SettlementPolicy?
    public var timeMilliseconds: UInt64
}

public struct ContentRegistered: Sendable, Codable, Equatable {
    public var vendor: String
    public var terms: ContentTerms
    public var idempotency: IdempotencyMark?
    public var timeMilliseconds: UInt64
}

public struct PurchaseAuthorized: Sendable, Codable, Equatable {
    public var transaction: String
    public var user: String
    public var member: String?
    public var vendor: String
    public var terms: ContentTerms
    public var holdExpiresAtMilliseconds: UInt64
    public var sources: [FundingSource]
    public var postings: [Posting]
    public var idempotency: IdempotencyMark?
    public var timeMilliseconds: UInt64
    /// What the vendor sent about its side of the purchase, if anything.
    public var vendorData: VendorData?
}

/// A purchase paid: by capture of a hold, or in one step. Grants the entitlement.
public struct PurchaseCaptured: Sendable, Codable, Equatable {
    public var transaction: String
    public var user: String
    public var member: String?
    public var vendor: String
    public var terms: ContentTerms
    /// True for a one-step purchase (no hold before it).
    public var oneStep: Bool
    public var sources: [FundingSource]
    public var fee: Int64
    public var royalties: [RoyaltyPayment]
    public var rounding: String
    public var entitlement: AccessTerms
    public var postings: [Posting]
    public var idempotency: IdempotencyMark?
    public var timeMilliseconds: UInt64
    /// What the vendor sent about its side of a one-step purchase, if anything (a capture of a
    /// hold carries none: its authorization has it).
    public var vendorData: VendorData?
}

public struct PurchaseVoided: Sendable, Codable, Equatable {
    public enum Reason: String, Sendable, Codable { case voided, expired }
    public var transaction: String
    public var user: String
    public var vendor: String
    public var reason: Reason
    public var postings: [Posting]
    public var idempotency: IdempotencyMark?
    public var timeMilliseconds: UInt64
}

/// A vendor gave a captured purchase's price back, whole or in part, by its own decision (a
/// refund that settles a dispute is a `DisputeResolved`): a whole refund has the same postings
/// as a dispute's refund with nothing reserved; a partial one takes from each party and gives
/// back to each source as ``TransactionRecord/refundSplit(_:)`` says.
public struct PurchaseRefunded: Sendable, Codable, Equatable {
    public var transaction: String
    public var user: String
    public var vendor: String
    public var currency: Currency
    /// What went back to the user with this refund.
    public var refunded: Int64
    /// What the buyer still pays after it: 0 when the whole price is back. Absent from the
    /// events written before partial refunds existed, each of which gave the whole price back.
    public var remaining: Int64?
    /// The vendor's reason, as given (may be empty).
    public var reason: String
    public var postings: [Posting]
    public var idempotency: IdempotencyMark?
    public var timeMilliseconds: UInt64
}

public struct TokensTransferred: Sendable, Codable, Equatable {
    public var from: String
    public var to: String
    public var currency: Currency
    public var amount: Int64
    public var postings: [Posting]
    /// The idempotent request that made it, if it was sent with an Idempotency-Key.
    public var idempotency: IdempotencyMark?
    public var timeMilliseconds: UInt64
}

public struct VendorSettled: Sendable, Codable, Equatable {
    public enum Trigger: String, Sendable, Codable { case threshold, period, command }
    public var vendor: String
    public var currency: Currency
    public var amount: Int64
    public var trigger: Trigger
    /// The settlement covers the vendor's payable from the sequence after its last settlement
    /// (or its registration) up to and including `coversThroughSequence`.
    public var coversFromSequence: UInt64
    public var coversThroughSequence: UInt64
    public var postings: [Posting]
    public var timeMilliseconds: UInt64
}

/// Every ledger event. The journal stores `typeName` and the payload's JSON bytes.
/// (Indirect: a purchase event is ~400 bytes inline, and events are copied and moved often.)
public indirect enum LedgerEvent: Sendable, Equatable {
    case accountOpened(AccountOpened)
    case memberAdded(MemberAdded)
    case memberRemoved(MemberRemoved)
    case walletOpened(WalletOpened)
    case creditLineApproved(CreditLineApproved)
    case spendingLimitSet(SpendingLimitSet)
    case fundsAdded(FundsAdded)
    case fundsCleared(FundsCleared)
    case fundsFailed(FundsFailed)
    case fundsReturned(FundsReturned)
    case payoutRequested(PayoutRequested)
    case payoutDeclined(PayoutDeclined)
    case vendorRegistered(VendorRegistered)
    case vendorUpdated(VendorUpdated)
    case contentRegistered(ContentRegistered)
    case purchaseAuthorized(PurchaseAuthorized)
    case purchaseCaptured(PurchaseCaptured)
    case purchaseVoided(PurchaseVoided)
    case purchaseRefunded(PurchaseRefunded)
    case tokensTransferred(TokensTransferred)
    case vendorSettled(VendorSettled)
    case royaltiesPaid(RoyaltiesPaid)
    case disputeOpened(DisputeOpened)
    case disputeResolved(DisputeResolved)
    case incentiveIssued(IncentiveIssued)
    case incentiveExpired(IncentiveExpired)
    case referralPolicySet(ReferralPolicySet)
    case referralRewarded(ReferralRewarded)
    case referralReversed(ReferralReversed)
    case entitlementUsed(EntitlementUsed)

    public var typeName: String {
        switch self {
        case .accountOpened: return "AccountOpened"
        case .memberAdded: return "MemberAdded"
        case .memberRemoved: return "MemberRemoved"
        case .walletOpened: return "WalletOpened"
        case .creditLineApproved: return "CreditLineApproved"
        case .spendingLimitSet: return "SpendingLimitSet"
        case .fundsAdded: return "FundsAdded"
        case .fundsCleared: return "FundsCleared"
        case .fundsFailed: return "FundsFailed"
        case .fundsReturned: return "FundsReturned"
        case .payoutRequested: return "PayoutRequested"
        case .payoutDeclined: return "PayoutDeclined"
        case .vendorRegistered: return "VendorRegistered"
        case .vendorUpdated: return "VendorUpdated"
        case .contentRegistered: return "ContentRegistered"
        case .purchaseAuthorized: return "PurchaseAuthorized"
        case .purchaseCaptured: return "PurchaseCaptured"
        case .purchaseVoided: return "PurchaseVoided"
        case .purchaseRefunded: return "PurchaseRefunded"
        case .tokensTransferred: return "TokensTransferred"
        case .vendorSettled: return "VendorSettled"
        case .royaltiesPaid: return "RoyaltiesPaid"
        case .disputeOpened: return "DisputeOpened"
        case .disputeResolved: return "DisputeResolved"
        case .incentiveIssued: return "IncentiveIssued"
        case .incentiveExpired: return "IncentiveExpired"
        case .referralPolicySet: return "ReferralPolicySet"
        case .referralRewarded: return "ReferralRewarded"
        case .referralReversed: return "ReferralReversed"
        case .entitlementUsed: return "EntitlementUsed"
        }
    }

    public static let typeNames = [
        "AccountOpened", "MemberAdded", "MemberRemoved", "WalletOpened", "CreditLineApproved", "SpendingLimitSet",
        "FundsAdded", "FundsCleared", "FundsFailed", "VendorRegistered", "ContentRegistered", "PurchaseAuthorized",
        "PurchaseCaptured", "PurchaseVoided", "TokensTransferred", "VendorSettled", "DisputeOpened", "DisputeResolved",
        "IncentiveIssued", "IncentiveExpired", "ReferralPolicySet", "ReferralRewarded", "ReferralReversed",
        "EntitlementUsed", "VendorUpdated", "FundsReturned", "PurchaseRefunded", "RoyaltiesPaid", "PayoutRequested", "PayoutDeclined",
    ]

    /// The event's double-entry postings (empty for events that move no money).
    public var postings: [Posting] {
        switch self {
        case .fundsAdded(let event): return event.postings
        case .fundsCleared(let event): return event.postings
        case .fundsFailed(let event): return event.postings
        case .fundsReturned(let event): return event.postings
        case .payoutRequested(let event): return event.postings
        case .payoutDeclined(let event): return event.postings
        case .purchaseAuthorized(let event): return event.postings
        case .purchaseCaptured(let event): return event.postings
        case .purchaseVoided(let event): return event.postings
        case .purchaseRefunded(let event): return event.postings
        case .tokensTransferred(let event): return event.postings
        case .vendorSettled(let event): return event.postings
        case .royaltiesPaid(let event): return event.postings
        case .disputeOpened(let event): return event.postings
        case .disputeResolved(let event): return event.postings
        case .incentiveIssued(let event): return event.postings
        case .incentiveExpired(let event): return event.postings
        case .referralRewarded(let event): return event.postings
        case .referralReversed(let event): return event.postings
        default: return []
        }
    }

    var idempotency: IdempotencyMark? {
        switch self {
        case .contentRegistered(let event): return event.idempotency
        case .purchaseAuthorized(let event): return event.idempotency
        case .purchaseCaptured(let event): return event.idempotency
        case .purchaseVoided(let event): return event.idempotency
        case .purchaseRefunded(let event): return event.idempotency
        case .royaltiesPaid(let event): return event.idempotency
        case .incentiveIssued(let event): return event.idempotency
        case .referralPolicySet(let event): return event.idempotency
        case .fundsAdded(let event): return event.idempotency
        case .tokensTransferred(let event): return event.idempotency
        case .fundsReturned(let event): return event.idempotency
        case .payoutRequested(let event): return event.idempotency
        default: return nil
        }
    }

    // MARK: Bytes

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()

    /// The journal draft: the type name and the payload's JSON. These bytes are hashed and
    /// signed as stored; they are never re-encoded to verify anything.
    public func draft() throws -> EventDraft {
        let encoder = LedgerEvent.encoder
        let payload: Data
        switch self {
        case .accountOpened(let event): payload = try encoder.encode(event)
        case .memberAdded(let event): payload = try encoder.encode(event)
        case .memberRemoved(let event): payload = try encoder.encode(event)
        case .walletOpened(let event): payload = try encoder.encode(event)
        case .creditLineApproved(let event): payload = try encoder.encode(event)
        case .spendingLimitSet(let event): payload = try encoder.encode(event)
        case .fundsAdded(let event): payload = try encoder.encode(event)
        case .fundsCleared(let event): payload = try encoder.encode(event)
        case .fundsFailed(let event): payload = try encoder.encode(event)
        case .fundsReturned(let event): payload = try encoder.encode(event)
        case .payoutRequested(let event): payload = try encoder.encode(event)
        case .payoutDeclined(let event): payload = try encoder.encode(event)
        case .vendorRegistered(let event): payload = try encoder.encode(event)
        case .vendorUpdated(let event): payload = try encoder.encode(event)
        case .contentRegistered(let event): payload = try encoder.encode(event)
        // The purchase events are written by hand (EventJSON.swift): the same JSON, 20x faster.
        // A purchase with vendor data (rare, and a free-form dictionary) takes the encoder.
        case .purchaseAuthorized(let event) where event.vendorData == nil:
            return EventDraft(typeName: typeName, payload: EventJSON.purchaseAuthorized(event))
        case .purchaseCaptured(let event) where event.vendorData == nil:
            return EventDraft(typeName: typeName, payload: EventJSON.purchaseCaptured(event))
        case .purchaseAuthorized(let event): payload = try encoder.encode(event)
        case .purchaseCaptured(let event): payload = try encoder.encode(event)
        case .purchaseVoided(let event): payload = try encoder.encode(event)
        case .purchaseRefunded(let event): payload = try encoder.encode(event)
        case .tokensTransferred(let event): payload = try encoder.encode(event)
        case .vendorSettled(let event): payload = try encoder.encode(event)
        case .royaltiesPaid(let event): payload = try encoder.encode(event)
        case .disputeOpened(let event): payload = try encoder.encode(event)
        case .disputeResolved(let event): payload = try encoder.encode(event)
        case .incentiveIssued(let event): payload = try encoder.encode(event)
        case .incentiveExpired(let event): payload = try encoder.encode(event)
        case .referralPolicySet(let event): payload = try encoder.encode(event)
        case .referralRewarded(let event): payload = try encoder.encode(event)
        case .referralReversed(let event): payload = try encoder.encode(event)
        case .entitlementUsed(let event): payload = try encoder.encode(event)
        }
        return EventDraft(typeName: typeName, payload: Array(payload))
    }

    /// Decodes a stored event from bytes it does not copy (a reader that holds the records
    /// in a buffer of its own, such as `journal-tool verify`'s audit). The same answer as
    /// `init(typeName:payload:)`: the hand-written reader first, then `JSONDecoder` when the
    /// reader declines.
    public init(typeName: String, payload: UnsafeBufferPointer<UInt8>) throws {
        if let event = Self.readByHand(typeName: typeName, payload: payload) { self = event; return }
        try self.init(decoding: typeName, payload: Array(payload))
    }

    /// Decodes a stored event; an unknown type or a payload that does not decode is an error.
    public init(typeName: String, payload: [UInt8]) throws {
        if let event = payload.withUnsafeBufferPointer({ Self.readByHand(typeName: typeName, payload: $0) }) { self = event; return }
        try self.init(decoding: typeName, payload: payload)
    }

    /// The most common events (the purchases, most of any journal, and the funding and opening
    /// of accounts) read by hand (EventJSONReader.swift); nil for other types and for anything
    /// the reader declines, which `JSONDecoder` then answers with authority.
    static func readByHand(typeName: String, payload: UnsafeBufferPointer<UInt8>) -> LedgerEvent? {
        switch typeName {
        case "PurchaseCaptured": return (try? EventJSONReader.purchaseCaptured(payload)).map { .purchaseCaptured($0) }
        case "PurchaseAuthorized": return (try? EventJSONReader.purchaseAuthorized(payload)).map { .purchaseAuthorized($0) }
        case "FundsAdded": return (try? EventJSONReader.fundsAdded(payload)).map { .fundsAdded($0) }
        case "AccountOpened": return (try? EventJSONReader.accountOpened(payload)).map { .accountOpened($0) }
        case "WalletOpened": return (try? EventJSONReader.walletOpened(payload)).map { .walletOpened($0) }
        default: return nil
        }
    }

    /// `JSONDecoder`'s answer for `payload`.
    private init(decoding typeName: String, payload: [UInt8]) throws {
        let decoder = JSONDecoder()
        let data = Data(payload)
        switch typeName {
        case "AccountOpened": self = .accountOpened(try decoder.decode(AccountOpened.self, from: data))
        case "MemberAdded": self = .memberAdded(try decoder.decode(MemberAdded.self, from: data))
        case "MemberRemoved": self = .memberRemoved(try decoder.decode(MemberRemoved.self, from: data))
        case "WalletOpened": self = .walletOpened(try decoder.decode(WalletOpened.self, from: data))
        case "CreditLineApproved": self = .creditLineApproved(try decoder.decode(CreditLineApproved.self, from: data))
        case "SpendingLimitSet": self = .spendingLimitSet(try decoder.decode(SpendingLimitSet.self, from: data))
        case "FundsAdded": self = .fundsAdded(try decoder.decode(FundsAdded.self, from: data))
        case "FundsCleared": self = .fundsCleared(try decoder.decode(FundsCleared.self, from: data))
        case "FundsFailed": self = .fundsFailed(try decoder.decode(FundsFailed.self, from: data))
        case "FundsReturned": self = .fundsReturned(try decoder.decode(FundsReturned.self, from: data))
        case "PayoutRequested": self = .payoutRequested(try decoder.decode(PayoutRequested.self, from: data))
        case "PayoutDeclined": self = .payoutDeclined(try decoder.decode(PayoutDeclined.self, from: data))
        case "VendorRegistered": self = .vendorRegistered(try decoder.decode(VendorRegistered.self, from: data))
        case "VendorUpdated": self = .vendorUpdated(try decoder.decode(VendorUpdated.self, from: data))
        case "ContentRegistered": self = .contentRegistered(try decoder.decode(ContentRegistered.self, from: data))
        case "PurchaseAuthorized": self = .purchaseAuthorized(try decoder.decode(PurchaseAuthorized.self, from: data))
        case "PurchaseCaptured": self = .purchaseCaptured(try decoder.decode(PurchaseCaptured.self, from: data))
        case "PurchaseVoided": self = .purchaseVoided(try decoder.decode(PurchaseVoided.self, from: data))
        case "PurchaseRefunded": self = .purchaseRefunded(try decoder.decode(PurchaseRefunded.self, from: data))
        case "TokensTransferred": self = .tokensTransferred(try decoder.decode(TokensTransferred.self, from: data))
        case "VendorSettled": self = .vendorSettled(try decoder.decode(VendorSettled.self, from: data))
        case "RoyaltiesPaid": self = .royaltiesPaid(try decoder.decode(RoyaltiesPaid.self, from: data))
        case "DisputeOpened": self = .disputeOpened(try decoder.decode(DisputeOpened.self, from: data))
        case "DisputeResolved": self = .disputeResolved(try decoder.decode(DisputeResolved.self, from: data))
        case "IncentiveIssued": self = .incentiveIssued(try decoder.decode(IncentiveIssued.self, from: data))
        case "IncentiveExpired": self = .incentiveExpired(try decoder.decode(IncentiveExpired.self, from: data))
        case "ReferralPolicySet": self = .referralPolicySet(try decoder.decode(ReferralPolicySet.self, from: data))
        case "ReferralRewarded": self = .referralRewarded(try decoder.decode(ReferralRewarded.self, from: data))
        case "ReferralReversed": self = .referralReversed(try decoder.decode(ReferralReversed.self, from: data))
        case "EntitlementUsed": self = .entitlementUsed(try decoder.decode(EntitlementUsed.self, from: data))
        default: throw LedgerDecodingError(typeName: typeName, reason: "unknown event type")
        }
    }
}

public struct LedgerDecodingError: Error, Sendable, CustomStringConvertible {
    public let typeName: String
    public let reason: String
    public var description: String { "cannot decode \(typeName): \(reason)" }
}

public struct DisputeOpened: Sendable, Codable, Equatable {
    public var dispute: String
    public var transaction: String
    public var user: String
    public var vendor: String
    public var currency: Currency
    public var price: Int64
    /// What the buyer still paid when the dispute was opened: the price less the vendor's
    /// partial refunds before it, and what a refund of the dispute gives back. Absent from the
    /// events written before partial refunds existed, each of which disputed the whole price.
    public var disputed: Int64?
    /// Moved from the vendor's unsettled payable into its dispute reserve.
    public var reserved: Int64
    /// True when the rules mark the charge unauthorized; a DisputeResolved refund follows at once.
    public var unauthorized: Bool
    public var reason: String
    public var postings: [Posting]
    public var timeMilliseconds: UInt64
}

public struct DisputeResolved: Sendable, Codable, Equatable {
    public enum Outcome: String, Sendable, Codable { case refunded, rejected }
    public enum Decider: String, Sendable, Codable { case rule, customerService }
    public var dispute: String
    public var transaction: String
    public var user: String
    public var vendor: String
    public var outcome: Outcome
    public var decidedBy: Decider
    public var representative: String?
    /// What went back to the user (the whole price for a refund, zero for a rejection).
    public var refunded: Int64
    public var postings: [Posting]
    public var timeMilliseconds: UInt64
}

public struct IncentiveIssued: Sendable, Codable, Equatable {
    public var lot: String
    public var user: String
    public var currency: Currency
    public var amount: Int64
    public var issuer: String
    public var expiresAtMilliseconds: UInt64?
    public var vendors: [String]?
    public var postings: [Posting]
    /// Present when a vendor issued the lot with an `Idempotency-Key`.
    public var idempotency: IdempotencyMark?
    public var timeMilliseconds: UInt64
}

public struct IncentiveExpired: Sendable, Codable, Equatable {
    public var lot: String
    public var user: String
    public var amount: Int64
    public var postings: [Posting]
    public var timeMilliseconds: UInt64
}

public struct ReferralPolicySet: Sendable, Codable, Equatable {
    public var vendor: String
    public var policy: ReferralPolicy
    /// Present when the vendor sent an idempotency key (absent in events of earlier versions,
    /// which took none).
    public var idempotency: IdempotencyMark?
    public var timeMilliseconds: UInt64
}

public struct ReferralRewarded: Sendable, Codable, Equatable {
    public var vendor: String
    public var user: String
    public var currency: Currency
    public var amount: Int64
    /// The referred user's captured purchases that met the policy.
    public var qualifyingTransactions: [String]
    public var postings: [Posting]
    public var timeMilliseconds: UInt64
}

public struct ReferralReversed: Sendable, Codable, Equatable {
    public var vendor: String
    public var user: String
    public var amount: Int64
    /// The refunded purchase that undid the qualification.
    public var transaction: String
    public var postings: [Posting]
    public var timeMilliseconds: UInt64
}

/// One use (a view) of a purchased entitlement: the user opened the content, and the vendor's
/// site was given an access grant for it. Counted against the purchase's `access.views`; moves
/// no money.
public struct EntitlementUsed: Sendable, Codable, Equatable {
    public var transaction: String
    public var user: String
    public var vendor: String
    /// Which use this is (1 for the first); never more than the views granted.
    public var use: Int
    public var timeMilliseconds: UInt64
}
