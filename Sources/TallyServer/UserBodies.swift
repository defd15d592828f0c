import Foundation
import Ledger
import Projections

struct SignupBody: Codable, Sendable {
    var login: String
    var password: String
    var name: String
    var email: String
    /// The vendor whose link brought the user (recorded for referral rewards).
    var referringVendor: String?
}

struct AdminAccountBody: Codable, Sendable {
    var login: String
    var password: String
    var name: String
    var email: String
    var representative: String
}

struct AccountCreated: Codable, Sendable {
    var user: String
    var sequence: UInt64
}

struct LoginBody: Codable, Sendable {
    var login: String
    var password: String
}

/// `POST /v1/me/password`: the login's name and current password again (a session alone,
/// perhaps left open on a shared screen, does not change a password), and the new one.
struct PasswordChangeBody: Codable, Sendable {
    var login: String
    var currentPassword: String
    var newPassword: String
}

/// `POST /v1/admin/password-resets`: customer service sets a login's password for a caller.
struct PasswordResetBody: Codable, Sendable {
    var login: String
    var newPassword: String
}

struct PasswordChanged: Codable, Sendable {
    var user: String
    var member: String?
    /// The login's other sessions, ended with their purchase tokens.
    var sessionsEnded: Int
}

struct SessionView: Codable, Sendable {
    var session: String
    var user: String
    var member: String?
    var expiresAtMilliseconds: UInt64
    var purchaseWindowEndsAtMilliseconds: UInt64
}

struct PurchaseTokenView: Codable, Sendable {
    var purchaseToken: String
    var expiresAtMilliseconds: UInt64
}

struct MeView: Codable, Sendable {
    var user: String
    var member: String?
    var name: String?
    var email: String?
    var channel: String
    var members: [String]
    var wallets: [String]
}

/// `PATCH /v1/me`: each field sent replaces the one kept; at least one.
struct DetailsBody: Codable, Sendable {
    var name: String?
    var email: String?
}

struct CurrencyBody: Codable, Sendable {
    var currency: Currency
}

struct FundsBody: Codable, Sendable {
    var currency: Currency
    var amount: Int64
    var method: FundingMethod
}

struct FundsView: Codable, Sendable {
    var funding: String
    var currency: String
    var amount: Int64
    var method: String
    var pending: Bool
    var sequence: UInt64

    /// The answer to an accepted `addFunds`: pending when the method is offline.
    init(funding: String, currency: Currency, amount: Int64, method: FundingMethod, result: LedgerResult) {
        self.funding = funding
        self.currency = currency.code
        self.amount = amount
        self.method = method.rawValue
        var pending = false
        if case .fundsAdded(let added)? = result.events.first { pending = added.pending }
        self.pending = pending
        self.sequence = result.sequences?.lowerBound ?? 0
    }
}

struct LimitBody: Codable, Sendable {
    var kind: SpendingLimit.Kind
    var currency: Currency
    var amount: Int64
    var member: String?
    var vendor: String?
}

/// `POST /v1/me/payout-requests`: tokens the holder wants paid back, and how.
struct PayoutRequestBody: Codable, Sendable {
    var currency: Currency
    var amount: Int64
    var method: FundingMethod
}

/// The answer to an accepted payout request: set aside, waiting for customer service.
struct PayoutRequestMade: Codable, Sendable {
    var payout: String
    var currency: String
    var amount: Int64
    var method: String
    var status: String
    var sequence: UInt64
}

struct TransferBody: Codable, Sendable {
    /// The recipient's login name.
    var toLogin: String
    var currency: Currency
    var amount: Int64
}

struct TransferView: Codable, Sendable {
    var currency: String
    var amount: Int64
    var sequence: UInt64
}

struct DisputeBody: Codable, Sendable {
    var transaction: String
    var reason: String
}

struct DisputeView: Codable, Sendable {
    var dispute: String
    var transaction: String
    var status: String
    /// What the buyer still paid for the purchase: what a refund gives back.
    var disputed: Int64
    var reserved: Int64
    var refunded: Int64
    var sequence: UInt64
}

struct MemberBody: Codable, Sendable {
    var login: String
    var password: String
}

struct MemberCreatedView: Codable, Sendable {
    var member: String
    var sequence: UInt64
}

struct AccessGrantView: Codable, Sendable {
    var grant: String
    var url: String
    var expiresAtMilliseconds: UInt64
}

/// A read with the sequence it reflects.
struct Snapshot<Value: Codable & Sendable>: Codable, Sendable {
    var sequence: UInt64
    var data: Value
}

/// A page of the purchase summary, newest first.
struct PurchaseSummary: Codable, Sendable {
    var purchases: [PurchaseView]
    /// Pass as `before` for the next (older) page; absent on the last page.
    var nextBefore: UInt64?

    /// Reads one page (`limit` + 1 to know whether more follow).
    static func page(_ reader: ProjectionReader, user: String, before: UInt64?, limit: Int) throws -> PurchaseSummary {
        let found = try reader.purchases(user: user, before: before, limit: limit + 1)
        let page = Array(found.prefix(limit))
        return PurchaseSummary(purchases: page, nextBefore: found.count > limit ? page.last?.sequence : nil)
    }
}

struct BalanceAt: Codable, Sendable {
    var account: String
    var currency: String
    var balance: Int64
    var asOfSequence: UInt64
}
