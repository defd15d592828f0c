/// Strings, each with its index in the order they were added: the write model's staged keys
/// (`LedgerState`), and the projection fold's lookups of accounts and records by name (several
/// per event) go through it.
///
/// `Dictionary<String, Int>` cost the folding thread about a fifth of its time: a seeded SipHash
/// per lookup, and a `String` comparison (`memcmp`) at every occupied bucket its linear probing
/// passes, as it keeps no hashes. This table keeps each string's 64-bit hash beside its index,
/// so a probe compares strings only when the hashes are equal, and stays at most half full.
/// One hash serves a lookup here, a lookup in another index and the insertion (`hash(_:)`,
/// then the `hash:` forms).
///
/// The hash mixes 8 bytes at a time by 64 × 64 → 128-bit multiplication (as wyhash does) with a
/// per-process random seed, so the strings the journal holds cannot be chosen to collide
/// without knowing it. The full audit (`journal-tool verify`) names its accounts through it too.
public struct StringIndex: Sendable {
    private struct Bucket {
        var hash: UInt64
        /// The string's index, or -1 for an empty bucket.
        var index: Int32
    }

    /// The strings, in the order they were added.
    public private(set) var keys: [String] = []
    private var buckets: [Bucket] = []
    private var mask = 0

    public var count: Int { keys.count }

    public init() {}

    /// The index of `key`, or nil.
    public func index(of key: String) -> Int? { index(of: key, hash: Self.hash(key)) }

    /// The index of `key`, whose hash is `hash`, or nil.
    public func index(of key: String, hash: UInt64) -> Int? {
        guard !buckets.isEmpty else { return nil }
        return buckets.withUnsafeBufferPointer { buckets in
            var position = Int(truncatingIfNeeded: hash) & mask
            while true {
                let bucket = buckets[position]
                if bucket.index < 0 { return nil }
                if bucket.hash == hash, keys[Int(bucket.index)] == key { return Int(bucket.index) }
                position = (position + 1) & mask
            }
        }
    }

    /// Adds `key`, which must not be in the index yet; its index is the count before.
    @discardableResult
    public mutating func append(_ key: String, hash: UInt64) -> Int {
        if (keys.count + 1) * 2 > buckets.count { grow(toHold: keys.count + 1) }
        let index = keys.count
        keys.append(key)
        place(Bucket(hash: hash, index: Int32(index)))
        return index
    }

    public mutating func reserveCapacity(_ count: Int) {
        keys.reserveCapacity(count)
        if count * 2 > buckets.count { grow(toHold: count) }
    }

    /// Forgets every string, keeping the storage.
    public mutating func removeAll() {
        keys.removeAll(keepingCapacity: true)
        for position in buckets.indices { buckets[position].index = -1 }
    }

    private mutating func place(_ bucket: Bucket) {
        var position = Int(truncatingIfNeeded: bucket.hash) & mask
        while buckets[position].index >= 0 { position = (position + 1) & mask }
        buckets[position] = bucket
    }

    private mutating func grow(toHold count: Int) {
        var size = max(16, buckets.count)
        while size < count * 2 { size *= 2 }
        let old = buckets
        buckets = Array(repeating: Bucket(hash: 0, index: -1), count: size)
        mask = size - 1
        for bucket in old where bucket.index >= 0 { place(bucket) }
    }

    // MARK: Hash

    private static let seed: UInt64 = .random(in: .min ... .max)

    @inline(__always) private static func mix(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let product = a.multipliedFullWidth(by: b)
        return product.high ^ product.low
    }

    /// The hash of `key`'s UTF-8 bytes.
    public static func hash(_ key: String) -> UInt64 {
        if let hash = key.utf8.withContiguousStorageIfAvailable({ hash(bytes: UnsafeRawBufferPointer($0)) }) { return hash }
        var copy = key
        copy.makeContiguousUTF8()
        return copy.utf8.withContiguousStorageIfAvailable { hash(bytes: UnsafeRawBufferPointer($0)) }!
    }

    static func hash(bytes: UnsafeRawBufferPointer) -> UInt64 {
        let count = bytes.count
        var state = mix(seed ^ 0xA076_1D64_78BD_642F, UInt64(count) ^ 0xE703_7ED1_A0B4_28DB)
        var offset = 0
        while offset + 8 <= count {
            let word = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
            state = mix(word ^ 0x8EBC_6AF0_9C88_C6E3, state ^ 0x5899_65CC_7537_4CC3)
            offset += 8
        }
        if offset < count {
            var word: UInt64 = 0
            for index in offset..<count { word |= UInt64(bytes[index]) << (8 * UInt64(index - offset)) }
            state = mix(word ^ 0x1D8E_4E27_C47D_124F, state ^ 0xA076_1D64_78BD_642F)
        }
        return mix(state ^ 0xE703_7ED1_A0B4_28DB, UInt64(count) ^ 0x8EBC_6AF0_9C88_C6E3)
    }
}
