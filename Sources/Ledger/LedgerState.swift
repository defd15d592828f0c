import Foundation

/// The write model as keys and values, read through a base (the journal's state database in
/// the current write transaction, or an in-memory map during a rebuild) with this command's
/// changes staged on top. Nothing reaches the base unless the command is accepted.
///
/// Keys: `bal/<account>` (balance, 8 bytes big-endian two's complement), `user/<id>`,
/// `vendor/<id>`, `content/<vendor>/<id>`, `txn/<id>`, `funding/<id>`, `spend/<user>`,
/// `idem/<vendor>/<key>`, `dispute/<id>`, `lot/<id>`, `lots/<user>`; records are JSON.
public struct LedgerState {
    let base: (String) throws -> [UInt8]?
    private(set) var changes: [String: [UInt8]?] = [:]
    private(set) var order: [String] = []

    public init(base: @escaping (String) throws -> [UInt8]?) {
        self.base = base
    }

    func raw(_ key: String) throws -> [UInt8]? {
        if let staged = changes[key] { return staged }
        return try base(key)
    }

    mutating func setRaw(_ key: String, _ value: [UInt8]?) {
        if changes.updateValue(value, forKey: key) == nil { order.append(key) }
    }

    /// The staged changes in the order first made.
    public var stagedChanges: [(key: String, value: [UInt8]?)] {
        order.map { ($0, changes[$0]!) }
    }

    // MARK: Typed access

    public func balance(_ account: LedgerAccount) throws -> Int64 {
        try balance(named: account.name)
    }

    func balance(named name: String) throws -> Int64 {
        guard let bytes = try raw("bal/" + name) else { return 0 }
        precondition(bytes.count == 8, "balance record of \(name) is not 8 bytes")
        return bytes.withUnsafeBytes { Int64(bigEndian: $0.loadUnaligned(as: Int64.self)) }
    }

    mutating func setBalance(named name: String, _ value: Int64) {
        setRaw("bal/" + name, withUnsafeBytes(of: value.bigEndian) { Array($0) })
    }

    func record<T: Decodable>(_ type: T.Type, _ key: String) throws -> T? {
        guard let bytes = try raw(key) else { return nil }
        return try JSONDecoder().decode(T.self, from: Data(bytes))
    }

    mutating func setRecord<T: Encodable>(_ key: String, _ value: T) {
        setRaw(key, Array(try! LedgerEvent.encoder.encode(value)))
    }

    public func user(_ id: String) throws -> UserRecord? { try record(UserRecord.self, "user/" + id) }
    public func vendor(_ id: String) throws -> VendorRecord? { try record(VendorRecord.self, "vendor/" + id) }
    public func content(vendor: String, _ id: String) throws -> ContentTerms? { try record(ContentTerms.self, "content/\(vendor)/\(id)") }
    public func transaction(_ id: String) throws -> TransactionRecord? { try record(TransactionRecord.self, "txn/" + id) }
    public func funding(_ id: String) throws -> FundingRecord? { try record(FundingRecord.self, "funding/" + id) }
    public func spending(_ user: String) throws -> [SpendEntry] { try record([SpendEntry].self, "spend/" + user) ?? [] }
    public func dispute(_ id: String) throws -> DisputeRecord? { try record(DisputeRecord.self, "dispute/" + id) }
    public func incentiveLot(_ id: String) throws -> IncentiveLot? { try record(IncentiveLot.self, "lot/" + id) }
    /// The IDs of a user's incentive lots (spent or not).
    public func incentiveLots(ofUser user: String) throws -> [String] { try record([String].self, "lots/" + user) ?? [] }
    public func referralPolicy(vendor: String) throws -> ReferralPolicy? { try record(ReferralPolicy.self, "referralpolicy/" + vendor) }
    public func referral(user: String) throws -> ReferralRecord? { try record(ReferralRecord.self, "referral/" + user) }
    public func idempotency(vendor: String, key: String) throws -> IdempotencyRecord? {
        try record(IdempotencyRecord.self, "idem/\(vendor)/\(key)")
    }
}
