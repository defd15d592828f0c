import TallyCrypto

/// A signing key as the journal records it (the `keys` database, under the key id), so that a
/// journal names every key that ever signed it and how each one was handed over.
///
///     offset  size  field
///     0       1     record format, 0x01
///     1       32    Ed25519 public key, raw
///     33      8     activated at: the first sequence this key signs, big-endian
///     41      8     endorsing key id (zero for the journal's first key)
///     49      64    endorsement: the endorsing key's signature of
///                   "tally/key-endorsement/v1" 0x00 || key id || public key || activated at
///                   (zero bytes for the journal's first key)
public struct KeyRecord: Sendable, Equatable {
    public static let formatVersion: UInt8 = 1
    public static let byteCount = 113
    public static let endorsementDomain: [UInt8] = Array("tally/key-endorsement/v1".utf8) + [0]

    public let publicKey: Ed25519PublicKey
    public let activatedAt: UInt64
    public let endorsingKeyID: KeyID?
    public let endorsement: [UInt8]?

    public var keyID: KeyID { KeyID(publicKey: publicKey) }

    public init(publicKey: Ed25519PublicKey, activatedAt: UInt64, endorsingKeyID: KeyID?, endorsement: [UInt8]?) {
        self.publicKey = publicKey
        self.activatedAt = activatedAt
        self.endorsingKeyID = endorsingKeyID
        self.endorsement = endorsement
    }

    /// The message an outgoing key signs to hand over to `publicKey`.
    public static func endorsementMessage(publicKey: Ed25519PublicKey, activatedAt: UInt64) -> [UInt8] {
        endorsementDomain + KeyID(publicKey: publicKey).bytes + publicKey.rawRepresentation + BigEndianBytes.bytes(activatedAt)
    }

    public var bytes: [UInt8] {
        var bytes = [UInt8](repeating: 0, count: Self.byteCount)
        bytes[0] = Self.formatVersion
        bytes.replaceSubrange(1..<33, with: publicKey.rawRepresentation)
        BigEndianBytes.put(activatedAt, into: &bytes, at: 33)
        BigEndianBytes.put(endorsingKeyID?.value ?? 0, into: &bytes, at: 41)
        if let endorsement { bytes.replaceSubrange(49..<113, with: endorsement) }
        return bytes
    }

    public static func parse(_ bytes: UnsafeRawBufferPointer) -> Result<KeyRecord, FormatViolation> {
        guard bytes.count == byteCount, bytes[0] == formatVersion else {
            return .failure(FormatViolation("key record is not a \(byteCount)-byte format-\(formatVersion) record"))
        }
        guard let key = try? Ed25519PublicKey(rawRepresentation: Array(bytes[1..<33])) else {
            return .failure(FormatViolation("key record holds no public key"))
        }
        let endorsing = BigEndianBytes.uint64(bytes, at: 41)
        let endorsement = Array(bytes[49..<113])
        // The journal's first key is endorsed by none, and its endorsement bytes are zero
        // (journal.md §7): anything else there is damage, not a field to ignore.
        guard endorsing != 0 || endorsement.allSatisfy({ $0 == 0 }) else {
            return .failure(FormatViolation("key record endorsed by no key holds endorsement bytes"))
        }
        return .success(
            KeyRecord(
                publicKey: key, activatedAt: BigEndianBytes.uint64(bytes, at: 33),
                endorsingKeyID: endorsing == 0 ? nil : KeyID(value: endorsing),
                endorsement: endorsing == 0 ? nil : endorsement))
    }
}

extension KeyRecord {
    /// Orders key records along their endorsement chain: the first key (endorsed by none),
    /// then the key it endorsed, and so on. Two rotations with no event between them give keys
    /// with the same `activatedAt`, so the chain, not the sequence, is the order. Records that
    /// are not on a single chain from one first key are returned in `strays` (a damaged or
    /// forged key table), ordered by `activatedAt`.
    public static func rotationOrder(_ records: [KeyRecord]) -> (chain: [KeyRecord], strays: [KeyRecord]) {
        let firsts = records.filter { $0.endorsingKeyID == nil }
        guard firsts.count == 1, var current = firsts.first else {
            return ([], records.sorted { $0.activatedAt < $1.activatedAt })
        }
        var byEndorser: [KeyID: [KeyRecord]] = [:]
        for record in records {
            if let endorser = record.endorsingKeyID { byEndorser[endorser, default: []].append(record) }
        }
        var chain = [current]
        var onChain: Set<KeyID> = [current.keyID]
        while let next = byEndorser[current.keyID], next.count == 1, !onChain.contains(next[0].keyID) {
            current = next[0]
            chain.append(current)
            onChain.insert(current.keyID)
        }
        let strays = records.filter { !onChain.contains($0.keyID) }.sorted { $0.activatedAt < $1.activatedAt }
        return (chain, strays)
    }
}
