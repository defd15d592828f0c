import Foundation

/// The write model as keys and values, read through a base (the journal's state database in
/// the current write transaction, or an in-memory map during a rebuild) with this command's
/// changes staged on top. Nothing reaches the base unless the command is accepted.
///
/// Keys: `bal/<account>` (balance, 8 bytes big-endian two's complement), `user/<id>`,
/// `vendor/<id>`, `content/<vendor>/<id>`, `txn/<id>`, `funding/<id>`, `payout/<id>`, `payoutrequest/<id>`, `royaltypayout/<id>`, `spend/<user>`,
/// `idem/<vendor>/<key>`, `dispute/<id>`, `lot/<id>`, `lots/<user>`. User, vendor, content,
/// transaction and idempotency records and spending logs use the binary layouts of
/// RecordCodec.swift (JSON written before them still reads); the other records are JSON.
public struct LedgerState {
    let base: (String) throws -> [UInt8]?
    /// Changes staged on the base, typed: records are encoded once, when `stagedChanges` is
    /// read (at commit), however often a batch changes them. `slots` holds the staged keys in
    /// the order first staged, each one's index its place in `values`: a staged value is changed
    /// through its slot, and the changes are listed at commit without hashing every key again.
    private(set) var slots = StringIndex()
    /// The staged values, in the order of `slots`.
    private(set) var values: [Staged] = []
    /// The first bytes of every key staged so far, as bits (`KeyFamily`): a record whose
    /// family was never staged is not looked up in `slots` (a purchase reads its vendor,
    /// content, user and incentive lots, none of which a batch of purchases stages).
    private(set) var stagedFamilies: UInt32 = 0

    /// A key's family: a bit for its first byte, `u` for `user/` (and `uses/`), `v` for
    /// `vendor/`, `c` for `content/`, `l` for `lots/` (and `lot/`), and so on. Keys sharing a
    /// first byte share a bit, which only costs a lookup.
    enum KeyFamily {
        @inline(__always) static func of(_ key: String) -> UInt32 {
            guard let first = key.utf8.first else { return 1 }
            return 1 << UInt32(first & 31)
        }
        static var user: UInt32 { 1 << (UInt32(UInt8(ascii: "u")) & 31) }
        static var vendor: UInt32 { 1 << (UInt32(UInt8(ascii: "v")) & 31) }
        static var content: UInt32 { 1 << (UInt32(UInt8(ascii: "c")) & 31) }
        static var lots: UInt32 { 1 << (UInt32(UInt8(ascii: "l")) & 31) }
    }

    /// Stages `value` under a key not staged yet.
    @inline(__always) private mutating func insert(_ key: String, hash: UInt64, _ value: Staged) {
        slots.append(key, hash: hash)
        values.append(value)
        stagedFamilies |= KeyFamily.of(key)
    }

    /// The slot of `key` if it is staged; `family` is `KeyFamily.of(key)`.
    @inline(__always) func slot(_ key: String, family: UInt32) -> Int? {
        stagedFamilies & family == 0 ? nil : slots.index(of: key)
    }
    /// Vendor records decoded from the base, shared by every copy of this state. The base does
    /// not change while a state is in use (a journal write transaction, or a map that is
    /// merged only after the state is done), so a vendor record is decoded once per state.
    /// (Only vendors: a batch of the standard workload reads 100 vendors a thousand times but
    /// nearly every user and content record once, and caching those cost more than it saved.)
    let decoded = DecodedBase()

    /// A staged value: typed for the hot records, bytes for the rest.
    enum Staged {
        case deleted
        case bytes([UInt8])
        case balance(Int64)
        // Records are boxed so that a slot of the table stays small: moving 250-byte
        // transaction records around on every insert and resize showed in the profile.
        indirect case user(UserRecord)
        indirect case vendor(VendorRecord)
        indirect case content(ContentTerms)
        indirect case transaction(TransactionRecord)
        indirect case idempotency(IdempotencyRecord)

        /// The bytes the write model stores.
        var bytes: [UInt8]? {
            switch self {
            case .deleted: return nil
            case .bytes(let bytes): return bytes
            case .balance(let value): return LedgerState.balanceBytes(value)
            case .user(let record): return record.binaryBytes
            case .vendor(let record): return record.binaryBytes
            case .content(let record): return record.binaryBytes
            case .transaction(let record): return record.binaryBytes
            case .idempotency(let record): return record.binaryBytes
            }
        }
    }

    final class DecodedBase {
        var vendors: [String: VendorRecord] = [:]
        /// Balances read from the base (absent ones as 0): a purchase's decision reads the
        /// wallet's balance and its fold reads it again before staging it; the second read is
        /// answered here instead of by the base (an LMDB lookup in a journal write). The keys,
        /// and each one's balance at its index.
        var balanceKeys = StringIndex()
        var balances: [Int64] = []
    }

    /// A state over `base`. The base must not change while the state is in use: make a new
    /// state after changing it (a state decodes each base record once and keeps it).
    public init(base: @escaping (String) throws -> [UInt8]?) {
        self.base = base
    }

    /// Room for `count` staged keys (a batch stages a few per command): growing the table
    /// rehashes every key staged so far.
    public mutating func reserveCapacity(_ count: Int) {
        slots.reserveCapacity(count)
        values.reserveCapacity(count)
        decoded.balanceKeys.reserveCapacity(count / 2)
        decoded.balances.reserveCapacity(count / 2)
    }

    func raw(_ key: String) throws -> [UInt8]? {
        if let slot = slots.index(of: key) { return values[slot].bytes }
        return try base(key)
    }

    func raw(_ key: String, family: UInt32) throws -> [UInt8]? {
        if let slot = slot(key, family: family) { return values[slot].bytes }
        return try base(key)
    }

    mutating func setRaw(_ key: String, _ value: [UInt8]?) {
        stage(key, value.map(Staged.bytes) ?? .deleted)
    }

    @inline(__always) mutating func stage(_ key: String, _ value: Staged) {
        let hash = StringIndex.hash(key)
        if let slot = slots.index(of: key, hash: hash) {
            values[slot] = value
        } else {
            insert(key, hash: hash, value)
        }
    }

    /// The staged changes in the order first made.
    public var stagedChanges: [(key: String, value: [UInt8]?)] {
        zip(slots.keys, values).map { ($0, $1.bytes) }
    }

    // MARK: Typed access

    public func balance(_ account: LedgerAccount) throws -> Int64 {
        try balance(key: Self.balanceKey(account.name))
    }

    func balance(named name: String) throws -> Int64 {
        try balance(key: Self.balanceKey(name))
    }

    @inline(__always) static func balanceKey(_ name: String) -> String { "bal/" + name }

    static func balanceBytes(_ value: Int64) -> [UInt8] {
        withUnsafeBytes(of: value.bigEndian) { Array($0) }
    }

    func balance(key: String) throws -> Int64 {
        let hash = StringIndex.hash(key)
        let bytes: [UInt8]
        if let slot = slots.index(of: key, hash: hash) {
            let staged = values[slot]
            switch staged {
            case .balance(let value): return value
            case .deleted: return 0
            default: bytes = staged.bytes!
            }
        } else {
            return try baseBalance(key: key, hash: hash)
        }
        return Self.balanceValue(bytes, key: key)
    }

    /// The balance under `key` (whose hash is `hash`) in the base, read there once per state.
    func baseBalance(key: String, hash: UInt64) throws -> Int64 {
        if let cached = decoded.balanceKeys.index(of: key, hash: hash) { return decoded.balances[cached] }
        let value: Int64
        if let stored = try base(key) {
            value = Self.balanceValue(stored, key: key)
        } else {
            value = 0
        }
        decoded.balanceKeys.append(key, hash: hash)
        decoded.balances.append(value)
        return value
    }

    @inline(__always) static func balanceValue(_ bytes: [UInt8], key: String) -> Int64 {
        guard let value = storedBalance(bytes) else { preconditionFailure("balance record \(key) is not 8 bytes") }
        return value
    }

    /// A stored balance (8 bytes, big-endian two's complement), or nil when it is not 8 bytes.
    @inline(__always) static func storedBalance(_ bytes: [UInt8]) -> Int64? {
        bytes.count == 8 ? bytes.withUnsafeBytes { Int64(bigEndian: $0.loadUnaligned(as: Int64.self)) } : nil
    }

    /// Adds `deltas` in order to the balance under `key`, each sum checked, with one table
    /// lookup when it is staged already (two and a base read, once per state, when it is not),
    /// and one hash of the key. Returns false, changing nothing, when a sum overflows.
    mutating func addToBalance<Deltas: Sequence<Int64>>(key: String, deltas: Deltas) throws -> Bool {
        let hash = StringIndex.hash(key)
        let slot = slots.index(of: key, hash: hash)
        var sum: Int64
        if let slot {
            if case .balance(let value) = values[slot] { sum = value } else { sum = try balance(key: key) }
        } else {
            sum = try baseBalance(key: key, hash: hash)
        }
        for delta in deltas {
            let (next, overflow) = sum.addingReportingOverflow(delta)
            if overflow { return false }
            sum = next
        }
        if let slot {
            values[slot] = .balance(sum)
        } else {
            insert(key, hash: hash, .balance(sum))
        }
        return true
    }

    /// Adds `delta` to the balance under `key` with one table lookup when it is staged already.
    /// Returns false, changing nothing, when the sum overflows.
    mutating func addToBalance(key: String, _ delta: Int64) throws -> Bool {
        try addToBalance(key: key, deltas: CollectionOfOne(delta))
    }

    mutating func setBalance(named name: String, _ value: Int64) {
        stage(Self.balanceKey(name), .balance(value))
    }

    mutating func setBalance(key: String, _ value: Int64) {
        stage(key, .balance(value))
    }

    func record<T: Decodable>(_ type: T.Type, _ key: String) throws -> T? {
        guard let bytes = try raw(key) else { return nil }
        return try JSONDecoder().decode(T.self, from: Data(bytes))
    }

    func record<T: Decodable>(_ type: T.Type, _ key: String, family: UInt32) throws -> T? {
        guard let bytes = try raw(key, family: family) else { return nil }
        return try JSONDecoder().decode(T.self, from: Data(bytes))
    }

    mutating func setRecord<T: Encodable>(_ key: String, _ value: T) {
        setRaw(key, Array(try! LedgerEvent.encoder.encode(value)))
    }

    // Hot records are staged typed and stored in their binary layout (RecordCodec.swift).
    mutating func setRecord(_ key: String, _ value: UserRecord) { stage(key, .user(value)) }
    mutating func setRecord(_ key: String, _ value: VendorRecord) { stage(key, .vendor(value)) }
    mutating func setRecord(_ key: String, _ value: ContentTerms) { stage(key, .content(value)) }
    mutating func setRecord(_ key: String, _ value: TransactionRecord) { stage(key, .transaction(value)) }
    mutating func setRecord(_ key: String, _ value: IdempotencyRecord) { stage(key, .idempotency(value)) }

    /// A hot record: staged, decoded before by this state, or read and decoded from the base.
    @inline(__always) func typed<T: BinaryRecord>(
        _ key: String, family: UInt32, staged match: (Staged) -> T?, cache: ReferenceWritableKeyPath<DecodedBase, [String: T]>?
    ) throws -> T? {
        if let slot = slot(key, family: family) {
            let staged = values[slot]
            if let value = match(staged) { return value }
            guard let bytes = staged.bytes else { return nil }
            return try T.decodeStored(bytes)
        }
        if let cache, let value = decoded[keyPath: cache][key] { return value }
        guard let bytes = try base(key) else { return nil }
        let value = try T.decodeStored(bytes)
        if let cache { decoded[keyPath: cache][key] = value }
        return value
    }

    public func user(_ id: String) throws -> UserRecord? {
        try typed("user/" + id, family: KeyFamily.user, staged: { if case .user(let value) = $0 { value } else { nil } }, cache: nil)
    }

    public func vendor(_ id: String) throws -> VendorRecord? {
        try typed("vendor/" + id, family: KeyFamily.vendor, staged: { if case .vendor(let value) = $0 { value } else { nil } }, cache: \.vendors)
    }

    public func content(vendor: String, _ id: String) throws -> ContentTerms? {
        try typed("content/" + vendor + "/" + id, family: KeyFamily.content, staged: { if case .content(let value) = $0 { value } else { nil } }, cache: nil)
    }

    public func transaction(_ id: String) throws -> TransactionRecord? {
        let key = "txn/" + id
        return try typed(key, family: KeyFamily.of(key), staged: { if case .transaction(let value) = $0 { value } else { nil } }, cache: nil)
    }

    public func funding(_ id: String) throws -> FundingRecord? { try record(FundingRecord.self, "funding/" + id) }
    public func payout(_ id: String) throws -> PayoutRecord? { try record(PayoutRecord.self, "payout/" + id) }
    public func royaltyPayout(_ id: String) throws -> RoyaltyPayoutRecord? { try record(RoyaltyPayoutRecord.self, "royaltypayout/" + id) }
    public func payoutRequest(_ id: String) throws -> PayoutRequestRecord? { try record(PayoutRequestRecord.self, "payoutrequest/" + id) }
    /// Whether a payout ID is taken, by a payout to a user (made or asked for) or a rights
    /// holder's: one ID space.
    func payoutIDUsed(_ id: String) throws -> Bool {
        try raw("payout/" + id) != nil || raw("royaltypayout/" + id) != nil || raw("payoutrequest/" + id) != nil
    }
    public func spending(_ user: String) throws -> [SpendEntry] {
        guard let bytes = try raw("spend/" + user) else { return [] }
        return try SpendLog.decode(bytes)
    }

    mutating func setSpending(_ user: String, _ entries: [SpendEntry]) {
        setRaw("spend/" + user, SpendLog.encode(entries))
    }

    /// Adds one entry to a user's spending log, dropping entries at or before `horizon`.
    mutating func addSpending(_ user: String, _ entry: SpendEntry, horizon: UInt64) throws {
        let key = "spend/" + user
        setRaw(key, try SpendLog.adding(entry, to: try raw(key), horizon: horizon))
    }
    /// How far `vendor` is settled in `currency`, if it ever was.
    public func settlementMark(vendor: String, currency: Currency) throws -> SettlementMark? {
        try record(SettlementMark.self, "settled/\(vendor)/\(currency.code)")
    }
    /// How many times a purchase's entitlement has been used.
    public func entitlementUses(_ transaction: String) throws -> Int { try record(Int.self, "uses/" + transaction) ?? 0 }
    public func dispute(_ id: String) throws -> DisputeRecord? { try record(DisputeRecord.self, "dispute/" + id) }
    /// When a purchase authorized first was captured (one-step purchases: their spending entry's time).
    public func captureTime(ofHeld transaction: String) throws -> UInt64? { try record(UInt64.self, "capturedat/" + transaction) }
    /// The dispute of `transaction` that customer service rejected, if one was.
    public func rejectedDispute(ofTransaction transaction: String) throws -> String? {
        try record(String.self, "rejected/" + transaction)
    }
    public func incentiveLot(_ id: String) throws -> IncentiveLot? { try record(IncentiveLot.self, "lot/" + id) }
    /// The IDs of a user's incentive lots (spent or not).
    public func incentiveLots(ofUser user: String) throws -> [String] { try record([String].self, "lots/" + user, family: KeyFamily.lots) ?? [] }
    public func referralPolicy(vendor: String) throws -> ReferralPolicy? { try record(ReferralPolicy.self, "referralpolicy/" + vendor) }
    public func referral(user: String) throws -> ReferralRecord? { try record(ReferralRecord.self, "referral/" + user) }
    public func idempotency(vendor: String, key: String) throws -> IdempotencyRecord? {
        let key = "idem/" + vendor + "/" + key
        return try typed(key, family: KeyFamily.of(key), staged: { if case .idempotency(let value) = $0 { value } else { nil } }, cache: nil)
    }
}
