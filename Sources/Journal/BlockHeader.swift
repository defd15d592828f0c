import TallyCrypto

/// The header that seals one commit batch. Its 97 bytes are signed with the journal's Ed25519
/// key, which signs every event of the batch at once.
///
///     offset  size  field
///     0       1     header format, 0x01
///     1       8     first sequence, big-endian
///     9       8     last sequence, big-endian
///     17      32    chain head: the event hash of the last sequence
///     49      32    Merkle root of the batch's event hashes (see MerkleTree)
///     81      8     time sealed, milliseconds since 1970-01-01 UTC, big-endian
///     89      8     key id of the signing key
///
/// The signed message is `"tally/block/v1" 0x00 || header`.
public struct BlockHeader: Sendable, Equatable {
    public static let formatVersion: UInt8 = 1
    public static let byteCount = 97
    public static let signatureDomain: [UInt8] = Array("tally/block/v1".utf8) + [0]

    public var firstSequence: UInt64
    public var lastSequence: UInt64
    public var chainHead: SHA256Digest
    public var merkleRoot: SHA256Digest
    public var timeMilliseconds: UInt64
    public var keyID: KeyID

    public init(
        firstSequence: UInt64, lastSequence: UInt64, chainHead: SHA256Digest, merkleRoot: SHA256Digest,
        timeMilliseconds: UInt64, keyID: KeyID
    ) {
        self.firstSequence = firstSequence
        self.lastSequence = lastSequence
        self.chainHead = chainHead
        self.merkleRoot = merkleRoot
        self.timeMilliseconds = timeMilliseconds
        self.keyID = keyID
    }

    public var eventCount: UInt64 { lastSequence - firstSequence + 1 }

    public var bytes: [UInt8] {
        var bytes = [UInt8](repeating: 0, count: Self.byteCount)
        bytes[0] = Self.formatVersion
        BigEndianBytes.put(firstSequence, into: &bytes, at: 1)
        BigEndianBytes.put(lastSequence, into: &bytes, at: 9)
        bytes.replaceSubrange(17..<49, with: chainHead.bytes)
        bytes.replaceSubrange(49..<81, with: merkleRoot.bytes)
        BigEndianBytes.put(timeMilliseconds, into: &bytes, at: 81)
        BigEndianBytes.put(keyID.value, into: &bytes, at: 89)
        return bytes
    }

    /// The bytes the signature covers.
    public var signedMessage: [UInt8] { Self.signatureDomain + bytes }

    /// Parses a header; the error names the broken rule.
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> Result<BlockHeader, FormatViolation> {
        guard bytes.count == byteCount else { return .failure(FormatViolation("block header is \(bytes.count) bytes, not \(byteCount)")) }
        guard bytes[0] == formatVersion else { return .failure(FormatViolation("block header format \(bytes[0]) is not \(formatVersion)")) }
        let first = BigEndianBytes.uint64(bytes, at: 1)
        let last = BigEndianBytes.uint64(bytes, at: 9)
        guard first >= 1 && first <= last else { return .failure(FormatViolation("block range \(first)...\(last) is empty or starts at 0")) }
        return .success(
            BlockHeader(
                firstSequence: first, lastSequence: last,
                chainHead: SHA256Digest(bytes: UnsafeRawBufferPointer(rebasing: bytes[17..<49]))!,
                merkleRoot: SHA256Digest(bytes: UnsafeRawBufferPointer(rebasing: bytes[49..<81]))!,
                timeMilliseconds: BigEndianBytes.uint64(bytes, at: 81),
                keyID: KeyID(value: BigEndianBytes.uint64(bytes, at: 89))))
    }
}
