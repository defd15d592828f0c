import Foundation
import Ledger

// Binary layouts of the read-model records (schema 2).
//
// Encoding every changed record as Foundation JSON at each batch, and decoding it again when
// the next batch touched it, was about a quarter of the server's CPU during catch-up. The
// records are now stored in the write model's binary layout (Ledger's `ByteWriter` /
// `ByteReader`): a tag byte naming the record kind and layout version, then the fields in
// declaration order; integers are LEB128 varints (signed ones zigzag-encoded), strings a varint
// byte count and UTF-8, optionals a presence byte, arrays a varint count. Currencies are their
// code, enums their raw value.
//
// Decoding is strict: a wrong tag, a truncated record, bytes after it, an unknown currency or
// enum value all throw (`RecordCodingError`). The fold reports that as a `FoldFailure`, readers
// as a `MalformedRecord`. The canonical dump decodes each record and prints it as sorted-keys
// JSON, exactly the text schema 1 stored, so dumps compare across the change.
//
// The tags (0xB1...) differ from the write model's (0xA1...) and from JSON's `{`, `[`, `"`.

enum ViewRecordTag {
    static let wallets: UInt8 = 0xB1
    static let lotOwner: UInt8 = 0xB2
    static let vendorSettlement: UInt8 = 0xB3
    /// A vendor settlement whose policy has thresholds by currency: 0xB3's fields, then them.
    static let vendorSettlementWithThresholds: UInt8 = 0xB7
    static let purchase: UInt8 = 0xB4
    static let royaltyTotals: UInt8 = 0xB5
    static let royaltyEntries: UInt8 = 0xB6
    static let funding: UInt8 = 0xBA
    static let dispute: UInt8 = 0xBB
    static let payout: UInt8 = 0xBC
    static let royaltyPayout: UInt8 = 0xBD
    static let payoutRequest: UInt8 = 0xBE
}

/// A stored read-model record that cannot be decoded.
public struct MalformedRecord: Error, CustomStringConvertible, Sendable, Equatable {
    public var key: String
    public var reason: String
    public var description: String { "read-model record \(key) is malformed: \(reason)" }
}

/// A read-model record with a binary layout. `Encodable` so that the canonical dump can print it.
protocol ViewRecord: Encodable {
    static var tag: UInt8 { get }
    /// Every tag of the kind's layouts (`tag` and any later one).
    static var tags: [UInt8] { get }
    /// The tag this value is written with (the layout its fields need).
    var layoutTag: UInt8 { get }
    func write(to writer: inout ByteWriter)
    init(from reader: inout ByteReader) throws
}

extension ViewRecord {
    static var tags: [UInt8] { [tag] }
    var layoutTag: UInt8 { Self.tag }

    var binaryBytes: [UInt8] {
        var writer = ByteWriter(tag: layoutTag, capacity: 128)
        write(to: &writer)
        return writer.bytes
    }

    /// Decodes the binary layout; anything else (another tag, JSON of schema 1, a truncated or
    /// overlong record) throws.
    static func decodeBinary(_ bytes: [UInt8]) throws -> Self {
        var reader = try ByteReader(bytes, tag: tag, orOneOf: tags)
        let value = try Self(from: &reader)
        try reader.finish()
        return value
    }
}

/// An element of a list stored as one record (`rs/`, `re/`).
protocol ViewRecordElement: Encodable {
    static var listTag: UInt8 { get }
    func write(to writer: inout ByteWriter)
    init(from reader: inout ByteReader) throws
}

extension Array: ViewRecord where Element: ViewRecordElement {
    static var tag: UInt8 { Element.listTag }

    func write(to writer: inout ByteWriter) {
        writer.array(self) { $1.write(to: &$0) }
    }

    init(from reader: inout ByteReader) throws {
        self = try reader.array { try Element(from: &$0) }
    }
}

/// `lot/<lot>`: the owning user's ID.
extension String: ViewRecord {
    static var tag: UInt8 { ViewRecordTag.lotOwner }

    func write(to writer: inout ByteWriter) { writer.string(self) }

    init(from reader: inout ByteReader) throws { self = try reader.string() }
}

// MARK: Wallets

extension WalletsView: ViewRecord {
    static var tag: UInt8 { ViewRecordTag.wallets }

    func write(to writer: inout ByteWriter) {
        writer.string(user)
        writer.string(status)
        writer.string(channel.rawValue)
        writer.optionalString(referringVendor)
        writer.optionalString(representative)
        writer.unsigned(openedAtMilliseconds)
        writer.array(members) { $0.string($1.member); $0.bool($1.active) }
        writer.array(wallets) { $1.write(to: &$0) }
        writer.array(lots) { $1.write(to: &$0) }
        writer.array(spendingLimits) { $1.write(to: &$0) }
        writer.unsigned(updatedAtSequence)
    }

    init(from reader: inout ByteReader) throws {
        self.init(
            user: try reader.string(), status: try reader.string(), channel: try reader.rawEnum(AccountChannel.self),
            referringVendor: try reader.optionalString(), representative: try reader.optionalString(),
            openedAtMilliseconds: try reader.unsigned(),
            members: try reader.array { MemberView(member: try $0.string(), active: try $0.bool()) },
            wallets: try reader.array { try WalletView(from: &$0) },
            lots: try reader.array { try LotView(from: &$0) },
            spendingLimits: try reader.array { try SpendingLimit(from: &$0) },
            updatedAtSequence: try reader.unsigned())
    }
}

extension WalletView {
    func write(to writer: inout ByteWriter) {
        currency.write(to: &writer)
        writer.bool(opened)
        writer.signed(balance)
        writer.signed(held)
        writer.signed(pending)
        writer.signed(creditLimit)
        writer.signed(creditInUse)
        writer.signed(incentives)
        writer.signed(outgoing)
    }

    init(from reader: inout ByteReader) throws {
        self.init(
            currency: try reader.currency(), opened: try reader.bool(), balance: try reader.signed(), held: try reader.signed(),
            pending: try reader.signed(), creditLimit: try reader.signed(), creditInUse: try reader.signed(),
            incentives: try reader.signed(), outgoing: try reader.signed())
    }
}

extension LotView {
    func write(to writer: inout ByteWriter) {
        writer.string(lot)
        currency.write(to: &writer)
        writer.string(issuer)
        writer.signed(balance)
        writer.optionalUnsigned(expiresAtMilliseconds)
        writer.optional(vendors) { writer, vendors in writer.array(vendors) { $0.string($1) } }
        writer.bool(expired)
    }

    init(from reader: inout ByteReader) throws {
        self.init(
            lot: try reader.string(), currency: try reader.currency(), issuer: try reader.string(), balance: try reader.signed(),
            expiresAtMilliseconds: try reader.optionalUnsigned(),
            vendors: try reader.optional { try $0.array { try $0.string() } }, expired: try reader.bool())
    }
}

// MARK: Vendor settlement

extension VendorSettlementView: ViewRecord {
    static var tag: UInt8 { ViewRecordTag.vendorSettlement }
    static var tags: [UInt8] { [ViewRecordTag.vendorSettlement, ViewRecordTag.vendorSettlementWithThresholds] }
    var layoutTag: UInt8 { policy.currencyThresholds == nil ? ViewRecordTag.vendorSettlement : ViewRecordTag.vendorSettlementWithThresholds }

    func write(to writer: inout ByteWriter) {
        writer.string(vendor)
        writer.string(name)
        writer.signed(feeBasisPoints)
        writer.optionalSigned(policy.thresholdAmount)
        writer.optionalUnsigned(policy.periodSeconds)
        writer.unsigned(registeredAtMilliseconds)
        writer.unsigned(lastSettledAtMilliseconds)
        writer.array(currencies) { $1.write(to: &$0) }
        // Last, under tag `vendorSettlementWithThresholds`: every other vendor's record is as before.
        if let thresholds = policy.currencyThresholds { writer.thresholds(thresholds) }
    }

    init(from reader: inout ByteReader) throws {
        self.init(
            vendor: try reader.string(), name: try reader.string(), feeBasisPoints: try reader.signed(),
            policy: SettlementPolicy(thresholdAmount: try reader.optionalSigned(), periodSeconds: try reader.optionalUnsigned()),
            registeredAtMilliseconds: try reader.unsigned(), lastSettledAtMilliseconds: try reader.unsigned(),
            currencies: try reader.array { try VendorCurrencySettlement(from: &$0) })
        if reader.tag == ViewRecordTag.vendorSettlementWithThresholds { policy.currencyThresholds = try reader.thresholds() }
    }
}

extension VendorCurrencySettlement {
    func write(to writer: inout ByteWriter) {
        currency.write(to: &writer)
        writer.signed(earned)
        writer.signed(fees)
        writer.signed(royalties)
        writer.signed(refunded)
        writer.signed(referralRewards)
        writer.signed(reserved)
        writer.signed(settled)
        writer.signed(unsettled)
        writer.signed(settlements)
        writer.optionalUnsigned(lastSettledSequence)
        writer.optionalUnsigned(lastSettledAtMilliseconds)
        writer.optionalSigned(nextDue.thresholdAmount)
        writer.optionalSigned(nextDue.remainingToThreshold)
        writer.optionalUnsigned(nextDue.periodDueAtMilliseconds)
    }

    init(from reader: inout ByteReader) throws {
        self.init(
            currency: try reader.currency(), earned: try reader.signed(), fees: try reader.signed(),
            royalties: try reader.signed(), refunded: try reader.signed(), referralRewards: try reader.signed(),
            reserved: try reader.signed(), settled: try reader.signed(), unsettled: try reader.signed(),
            settlements: try reader.signed(), lastSettledSequence: try reader.optionalUnsigned(),
            lastSettledAtMilliseconds: try reader.optionalUnsigned(),
            nextDue: SettlementDue(
                thresholdAmount: try reader.optionalSigned(), remainingToThreshold: try reader.optionalSigned(),
                periodDueAtMilliseconds: try reader.optionalUnsigned()))
    }
}

// MARK: Purchases

extension PurchaseView: ViewRecord {
    static var tag: UInt8 { ViewRecordTag.purchase }

    func write(to writer: inout ByteWriter) {
        writer.string(transaction)
        writer.string(user)
        writer.optionalString(member)
        writer.string(vendor)
        writer.string(content)
        writer.string(title)
        writer.string(url)
        writer.signed(price)
        currency.write(to: &writer)
        writer.signed(amount)
        writer.string(status.rawValue)
        writer.optionalString(voidReason)
        writer.optionalInt(access.views)
        writer.optionalInt(access.hours)
        writer.optionalInt(access.days)
        writer.optionalUnsigned(access.expiresAtMilliseconds)
        writer.optional(remaining) { writer, remaining in
            writer.optionalInt(remaining.views)
            writer.optionalInt(remaining.hours)
            writer.optionalInt(remaining.days)
            writer.optionalUnsigned(remaining.expiresAtMilliseconds)
        }
        writer.optionalSigned(fee)
        writer.optional(royalties) { writer, royalties in
            writer.array(royalties) { $0.string($1.holder); $0.signed($1.amount) }
        }
        writer.unsigned(purchasedAtMilliseconds)
        writer.optionalUnsigned(capturedAtMilliseconds)
        writer.unsigned(sequence)
        writer.unsigned(updatedAtSequence)
    }

    init(from reader: inout ByteReader) throws {
        self.init(
            transaction: try reader.string(), user: try reader.string(), member: try reader.optionalString(),
            vendor: try reader.string(), content: try reader.string(), title: try reader.string(), url: try reader.string(),
            price: try reader.signed(), currency: try reader.currency(), amount: try reader.signed(),
            status: try reader.rawEnum(PurchaseStatus.self), voidReason: try reader.optionalString(),
            access: AccessTerms(
                views: try reader.optionalInt(), hours: try reader.optionalInt(), days: try reader.optionalInt(),
                expiresAtMilliseconds: try reader.optionalUnsigned()),
            remaining: try reader.optional {
                EntitlementRemaining(
                    views: try $0.optionalInt(), hours: try $0.optionalInt(), days: try $0.optionalInt(),
                    expiresAtMilliseconds: try $0.optionalUnsigned())
            },
            fee: try reader.optionalSigned(),
            royalties: try reader.optional { try $0.array { RoyaltyPayment(holder: try $0.string(), amount: try $0.signed()) } },
            purchasedAtMilliseconds: try reader.unsigned(), capturedAtMilliseconds: try reader.optionalUnsigned(),
            sequence: try reader.unsigned(), updatedAtSequence: try reader.unsigned())
    }
}

// MARK: Royalties

extension RoyaltyCurrencyTotal: ViewRecordElement {
    static var listTag: UInt8 { ViewRecordTag.royaltyTotals }

    func write(to writer: inout ByteWriter) {
        currency.write(to: &writer)
        writer.signed(paid)
        writer.signed(reversed)
        writer.signed(balance)
    }

    init(from reader: inout ByteReader) throws {
        self.init(currency: try reader.currency(), paid: try reader.signed(), reversed: try reader.signed(), balance: try reader.signed())
    }
}

extension RoyaltyEntry: ViewRecordElement {
    static var listTag: UInt8 { ViewRecordTag.royaltyEntries }

    func write(to writer: inout ByteWriter) {
        writer.unsigned(sequence)
        writer.unsigned(timeMilliseconds)
        writer.string(transaction)
        writer.string(vendor)
        currency.write(to: &writer)
        writer.signed(amount)
    }

    init(from reader: inout ByteReader) throws {
        self.init(
            sequence: try reader.unsigned(), timeMilliseconds: try reader.unsigned(), transaction: try reader.string(),
            vendor: try reader.string(), currency: try reader.currency(), amount: try reader.signed())
    }
}

// MARK: Customer-service cases

extension FundingCase: ViewRecord {
    static var tag: UInt8 { ViewRecordTag.funding }

    func write(to writer: inout ByteWriter) {
        writer.string(funding)
        writer.string(user)
        currency.write(to: &writer)
        writer.signed(amount)
        writer.string(method.rawValue)
        writer.optionalString(throughVendor)
        writer.string(status.rawValue)
        writer.unsigned(addedAtMilliseconds)
        writer.optionalUnsigned(settledAtMilliseconds)
        writer.unsigned(sequence)
        writer.unsigned(updatedAtSequence)
    }

    init(from reader: inout ByteReader) throws {
        self.init(
            funding: try reader.string(), user: try reader.string(), currency: try reader.currency(), amount: try reader.signed(),
            method: try reader.rawEnum(FundingMethod.self), throughVendor: try reader.optionalString(),
            status: try reader.rawEnum(FundingStatus.self), addedAtMilliseconds: try reader.unsigned(),
            settledAtMilliseconds: try reader.optionalUnsigned(), sequence: try reader.unsigned(),
            updatedAtSequence: try reader.unsigned())
    }
}

extension PayoutCase: ViewRecord {
    static var tag: UInt8 { ViewRecordTag.payout }

    func write(to writer: inout ByteWriter) {
        writer.string(payout)
        writer.string(user)
        currency.write(to: &writer)
        writer.signed(amount)
        writer.string(method.rawValue)
        writer.string(representative)
        writer.unsigned(returnedAtMilliseconds)
        writer.unsigned(sequence)
    }

    init(from reader: inout ByteReader) throws {
        self.init(
            payout: try reader.string(), user: try reader.string(), currency: try reader.currency(), amount: try reader.signed(),
            method: try reader.rawEnum(FundingMethod.self), representative: try reader.string(),
            returnedAtMilliseconds: try reader.unsigned(), sequence: try reader.unsigned())
    }
}

extension RoyaltyPayoutCase: ViewRecord {
    static var tag: UInt8 { ViewRecordTag.royaltyPayout }

    func write(to writer: inout ByteWriter) {
        writer.string(payout)
        writer.string(holder)
        currency.write(to: &writer)
        writer.signed(amount)
        writer.string(representative)
        writer.unsigned(paidAtMilliseconds)
        writer.unsigned(sequence)
    }

    init(from reader: inout ByteReader) throws {
        self.init(
            payout: try reader.string(), holder: try reader.string(), currency: try reader.currency(), amount: try reader.signed(),
            representative: try reader.string(), paidAtMilliseconds: try reader.unsigned(), sequence: try reader.unsigned())
    }
}

extension PayoutRequestCase: ViewRecord {
    static var tag: UInt8 { ViewRecordTag.payoutRequest }

    func write(to writer: inout ByteWriter) {
        writer.string(payout)
        writer.string(user)
        currency.write(to: &writer)
        writer.signed(amount)
        writer.string(method.rawValue)
        writer.string(status.rawValue)
        writer.optionalString(representative)
        writer.optionalString(reason)
        writer.unsigned(requestedAtMilliseconds)
        writer.optionalUnsigned(decidedAtMilliseconds)
        writer.unsigned(sequence)
        writer.unsigned(updatedAtSequence)
    }

    init(from reader: inout ByteReader) throws {
        self.init(
            payout: try reader.string(), user: try reader.string(), currency: try reader.currency(), amount: try reader.signed(),
            method: try reader.rawEnum(FundingMethod.self), status: try reader.rawEnum(PayoutRequestStatus.self),
            representative: try reader.optionalString(), reason: try reader.optionalString(),
            requestedAtMilliseconds: try reader.unsigned(), decidedAtMilliseconds: try reader.optionalUnsigned(),
            sequence: try reader.unsigned(), updatedAtSequence: try reader.unsigned())
    }
}

extension DisputeCase: ViewRecord {
    static var tag: UInt8 { ViewRecordTag.dispute }

    func write(to writer: inout ByteWriter) {
        writer.string(dispute)
        writer.string(transaction)
        writer.string(user)
        writer.string(vendor)
        currency.write(to: &writer)
        writer.signed(price)
        writer.signed(disputed)
        writer.signed(reserved)
        writer.bool(unauthorized)
        writer.string(reason)
        writer.string(status.rawValue)
        writer.optionalString(decidedBy)
        writer.optionalString(representative)
        writer.optionalSigned(refunded)
        writer.unsigned(openedAtMilliseconds)
        writer.optionalUnsigned(resolvedAtMilliseconds)
        writer.unsigned(sequence)
        writer.unsigned(updatedAtSequence)
    }

    init(from reader: inout ByteReader) throws {
        self.init(
            dispute: try reader.string(), transaction: try reader.string(), user: try reader.string(), vendor: try reader.string(),
            currency: try reader.currency(), price: try reader.signed(), disputed: try reader.signed(), reserved: try reader.signed(),
            unauthorized: try reader.bool(), reason: try reader.string(), status: try reader.rawEnum(DisputeStatus.self),
            decidedBy: try reader.optionalString(), representative: try reader.optionalString(),
            refunded: try reader.optionalSigned(), openedAtMilliseconds: try reader.unsigned(),
            resolvedAtMilliseconds: try reader.optionalUnsigned(), sequence: try reader.unsigned(),
            updatedAtSequence: try reader.unsigned())
    }
}

// MARK: The dump

enum ViewRecordDump {
    /// The record stored under a key starting with `prefix`, as the canonical dump prints it
    /// (sorted-keys JSON); nil for keys that hold no such record.
    static func json(prefix text: String, _ value: [UInt8], _ encoder: JSONEncoder) throws -> String? {
        func show<R: ViewRecord>(_ type: R.Type) throws -> String {
            String(decoding: try encoder.encode(try ProjectionReader.decode(R.self, value, key: text)), as: UTF8.self)
        }
        // The most numerous kinds are written by hand (ViewJSON.swift), the same bytes.
        func written<R: ViewRecord>(_ type: R.Type, _ write: (R, inout JSONWriter) -> Void) throws -> String {
            var writer = JSONWriter(capacity: 512, escapeSlashes: true)
            write(try ProjectionReader.decode(R.self, value, key: text), &writer)
            return String(decoding: writer.bytes, as: UTF8.self)
        }
        if text.hasPrefix("user/") { return try written(WalletsView.self) { $0.writeJSON(to: &$1) } }
        if text.hasPrefix("lot/") { return try show(String.self) }
        if text.hasPrefix("vendor/") { return try show(VendorSettlementView.self) }
        if text.hasPrefix("txn/") { return try written(PurchaseView.self) { $0.writeJSON(to: &$1) } }
        if text.hasPrefix("rs/") { return try written([RoyaltyCurrencyTotal].self) { $1.array($0) { $1.writeJSON(to: &$0) } } }
        if text.hasPrefix("re/") { return try written([RoyaltyEntry].self) { $1.array($0) { $1.writeJSON(to: &$0) } } }
        if text.hasPrefix("fund/") { return try show(FundingCase.self) }
        if text.hasPrefix("dsp/") { return try show(DisputeCase.self) }
        if text.hasPrefix("pay/") { return try show(PayoutCase.self) }
        if text.hasPrefix("hpay/") { return try show(RoyaltyPayoutCase.self) }
        if text.hasPrefix("preq/") { return try show(PayoutRequestCase.self) }
        return nil
    }
}
