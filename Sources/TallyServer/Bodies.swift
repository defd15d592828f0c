import Foundation
import Ledger
import Projections

// Request and response bodies of the API (described in Schemas/openapi.yaml). Requests are
// decoded strictly (see `RequestBodies.decode`): optional fields may be omitted, unknown ones
// are refused.

struct AccessBody: Codable, Sendable, Equatable {
    var views: Int?
    var hours: Int?
    var days: Int?
    var expiresAtMilliseconds: UInt64?
}

struct RoyaltyShareBody: Codable, Sendable, Equatable {
    var holder: String
    var basisPoints: Int64
}

/// Content as a vendor describes it (claims 43–44): registered in the catalog, or inline.
struct ContentBody: Codable, Sendable, Equatable {
    var content: String
    var title: String
    var price: Int64
    var currency: Currency
    var description: String?
    var url: String
    var access: AccessBody?
    var incentiveIDs: [String]?
    var royalties: [RoyaltyShareBody]?

    var terms: ContentTerms {
        ContentTerms(
            content: content, title: title, price: price, currency: currency, description: description ?? "", url: url,
            access: AccessTerms(views: access?.views, hours: access?.hours, days: access?.days, expiresAtMilliseconds: access?.expiresAtMilliseconds),
            incentiveIDs: incentiveIDs ?? [], royalties: (royalties ?? []).map { RoyaltyShare(holder: $0.holder, basisPoints: $0.basisPoints) })
    }
}

/// A purchase or authorisation: the user's purchase token, and either a catalog content ID
/// (`content`) or the content inline (`inline`), exactly one.
struct PurchaseBody: Codable, Sendable, Equatable {
    var purchaseToken: String
    var content: String?
    var inline: ContentBody?
    var holdSeconds: UInt64?
    /// The vendor's reference and form parameters (claims 42–43), kept with the purchase.
    var vendorData: VendorData?
}

struct BatchPurchaseItem: Codable, Sendable, Equatable {
    var idempotencyKey: String
    var purchaseToken: String
    var content: String?
    var inline: ContentBody?
    var vendorData: VendorData?
}

struct BatchPurchaseBody: Codable, Sendable, Equatable {
    var purchases: [BatchPurchaseItem]
}

struct RoyaltyView: Codable, Sendable, Equatable {
    var holder: String
    var amount: Int64
}

/// A dispute of a vendor's sale as the vendor sees it (`GET /v1/vendor/disputes`).
struct VendorDisputeView: Codable, Sendable {
    var dispute: String
    var transaction: String
    /// The buyer, by this vendor's pseudonym.
    var customer: String
    var currency: String
    var price: Int64
    var disputed: Int64
    var reserved: Int64
    var unauthorized: Bool
    var status: String
    var decidedBy: String?
    var refunded: Int64?
    var openedAtMilliseconds: UInt64
    var resolvedAtMilliseconds: UInt64?
    var sequence: UInt64
    var updatedAtSequence: UInt64

    init(_ dispute: DisputeCase, customer: String) {
        self.dispute = dispute.dispute
        transaction = dispute.transaction
        self.customer = customer
        currency = dispute.currency.code
        price = dispute.price
        disputed = dispute.disputed
        reserved = dispute.reserved
        unauthorized = dispute.unauthorized
        status = dispute.status.rawValue
        decidedBy = dispute.decidedBy
        refunded = dispute.refunded
        openedAtMilliseconds = dispute.openedAtMilliseconds
        resolvedAtMilliseconds = dispute.resolvedAtMilliseconds
        sequence = dispute.sequence
        updatedAtSequence = dispute.updatedAtSequence
    }
}

/// A vendor's purchases under one of its references (`GET /v1/vendor/purchases?reference=`).
struct VendorPurchasesPage: Codable, Sendable {
    var purchases: [VendorPurchaseView]
    /// Pass as `before` for the next (older) page; absent on the last page.
    var nextBefore: UInt64?
}

struct VendorDisputesPage: Codable, Sendable {
    var disputes: [VendorDisputeView]
    /// Pass as `before` for the next (older) page; absent on the last page.
    var nextBefore: UInt64?
}

/// A purchase as its vendor sees it: the customer only by pseudonym.
struct VendorPurchaseView: Codable, Sendable, Equatable {
    var transaction: String
    var customer: String
    var vendor: String
    var content: String
    var title: String
    var url: String
    var currency: String
    var amount: Int64
    var status: String
    var fee: Int64?
    var royalties: [RoyaltyView]?
    var vendorNet: Int64?
    var holdExpiresAtMilliseconds: UInt64?
    var timeMilliseconds: UInt64?
    /// The journal sequence of the event that put the purchase in this state.
    var sequence: UInt64?
    /// What the vendor's refunds (or a dispute's) gave back of the price, once any did.
    var refunded: Int64?
    /// What the vendor sent about its side of the purchase, if anything.
    var vendorData: VendorData?
}

extension VendorPurchaseView: HandWrittenJSON {
    /// The reply to every purchase, written by hand: exactly `JSONResponse.encoder`'s bytes
    /// (sorted keys, absent optionals omitted, slashes unescaped), without its cost on the
    /// purchase route (tested against it).
    func writeJSON(to writer: inout JSONWriter) {
        writer.object { writer in
            writer.key("amount", first: true); writer.signed(amount)
            writer.key("content"); writer.string(content)
            writer.key("currency"); writer.string(currency)
            writer.key("customer"); writer.string(customer)
            if let fee { writer.key("fee"); writer.signed(fee) }
            if let holdExpiresAtMilliseconds { writer.key("holdExpiresAtMilliseconds"); writer.unsigned(holdExpiresAtMilliseconds) }
            if let refunded { writer.key("refunded"); writer.signed(refunded) }
            if let royalties {
                writer.key("royalties")
                writer.array(royalties) { writer, royalty in
                    writer.object {
                        $0.key("amount", first: true); $0.signed(royalty.amount)
                        $0.key("holder"); $0.string(royalty.holder)
                    }
                }
            }
            if let sequence { writer.key("sequence"); writer.unsigned(sequence) }
            writer.key("status"); writer.string(status)
            if let timeMilliseconds { writer.key("timeMilliseconds"); writer.unsigned(timeMilliseconds) }
            writer.key("title"); writer.string(title)
            writer.key("transaction"); writer.string(transaction)
            writer.key("url"); writer.string(url)
            writer.key("vendor"); writer.string(vendor)
            if let vendorData {
                writer.key("vendorData")
                writer.object { writer in
                    var first = true
                    if let parameters = vendorData.parameters {
                        writer.key("parameters", first: true)
                        first = false
                        writer.object { writer in
                            for (index, name) in parameters.keys.sorted().enumerated() {
                                if index > 0 { writer.raw(",") }
                                writer.string(name)
                                writer.raw(":")
                                writer.string(parameters[name]!)
                            }
                        }
                    }
                    if let reference = vendorData.reference { writer.key("reference", first: first); writer.string(reference) }
                }
            }
            if let vendorNet { writer.key("vendorNet"); writer.signed(vendorNet) }
        }
    }
}

struct BatchItemResult: Codable, Sendable {
    var status: Int
    var purchase: VendorPurchaseView?
    var problem: ProblemDocument?
}

struct BatchPurchaseResult: Codable, Sendable {
    var results: [BatchItemResult]
    var accepted: Int
    var rejected: Int
}

extension BatchPurchaseResult: HandWrittenJSON {
    /// The batch reply, written by hand like the single purchase's (`JSONEncoder` was 7 % of
    /// the server's CPU in batched mode): exactly `JSONResponse.encoder`'s bytes (tested).
    func writeJSON(to writer: inout JSONWriter) {
        writer.object { writer in
            writer.key("accepted", first: true); writer.signed(Int64(accepted))
            writer.key("rejected"); writer.signed(Int64(rejected))
            writer.key("results")
            writer.array(results) { writer, result in
                writer.object { writer in
                    var first = true
                    if let problem = result.problem { writer.key("problem", first: true); problem.writeJSON(to: &writer); first = false }
                    if let purchase = result.purchase { writer.key("purchase", first: first); purchase.writeJSON(to: &writer); first = false }
                    writer.key("status", first: first); writer.signed(Int64(result.status))
                }
            }
        }
    }
}


struct VendorIncentiveBody: Codable, Sendable {
    var customer: String
    var currency: Currency
    var amount: Int64
    var expiresAtMilliseconds: UInt64?
}

struct IncentiveView: Codable, Sendable {
    var lot: String
    var customer: String?
    var user: String?
    var currency: String
    var amount: Int64
    var issuer: String
    var expiresAtMilliseconds: UInt64?
    var vendors: [String]?
    var sequence: UInt64
}

struct ReferralPolicyBody: Codable, Sendable {
    var currency: Currency
    var rewardAmount: Int64
    var minimumSpend: Int64
    var confirmationSeconds: UInt64
}

struct SettlementPolicyBody: Codable, Sendable {
    var thresholdAmount: Int64?
    var periodSeconds: UInt64?
    var currencyThresholds: [String: Int64]?

    init(thresholdAmount: Int64?, periodSeconds: UInt64?, currencyThresholds: [String: Int64]?) {
        self.thresholdAmount = thresholdAmount
        self.periodSeconds = periodSeconds
        self.currencyThresholds = currencyThresholds
    }

    init(_ policy: SettlementPolicy) {
        self.init(thresholdAmount: policy.thresholdAmount, periodSeconds: policy.periodSeconds, currencyThresholds: policy.currencyThresholds)
    }

    var policy: SettlementPolicy {
        SettlementPolicy(thresholdAmount: thresholdAmount, periodSeconds: periodSeconds, currencyThresholds: currencyThresholds)
    }
}

struct VendorProfile: Codable, Sendable {
    var vendor: String
    var name: String
    var sites: [String]
    var feeBasisPoints: Int64
    var settlement: SettlementPolicyBody
    var referralPolicy: ReferralPolicyBody?
}

struct ContentView: Codable, Sendable {
    var content: String
    var sequence: UInt64
}

struct AccessGrantCheck: Codable, Sendable {
    var valid: Bool
    var transaction: String
    var customer: String
    var url: String
    var expiresAtMilliseconds: UInt64
}

struct SequenceView: Codable, Sendable {
    var sequence: UInt64
}
