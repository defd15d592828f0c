import TallyCrypto

/// Names a journal signing key: the first 8 bytes of SHA-256 of its 32-byte raw public key,
/// shown as 16 hexadecimal digits.
public struct KeyID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let value: UInt64

    public init(value: UInt64) { self.value = value }

    public init(publicKey: Ed25519PublicKey) {
        let digest = SHA256.hash(publicKey.rawRepresentation)
        value = digest.withUnsafeBytes { BigEndianBytes.uint64($0, at: 0) }
    }

    public init?(hex: String) {
        guard hex.utf8.count == 16, let bytes = Hex.decode(hex) else { return nil }
        value = bytes.withUnsafeBytes { BigEndianBytes.uint64($0, at: 0) }
    }

    public var bytes: [UInt8] { BigEndianBytes.bytes(value) }
    public var hex: String { Hex.encode(bytes) }
    public var description: String { hex }

    public static func < (lhs: KeyID, rhs: KeyID) -> Bool { lhs.value < rhs.value }
}

/// Big-endian helpers shared by the journal's binary layouts.
enum BigEndianBytes {
    static func bytes(_ value: UInt64) -> [UInt8] {
        withUnsafeBytes(of: value.bigEndian) { Array($0) }
    }

    static func uint64(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> UInt64 {
        UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    static func put(_ value: UInt64, into buffer: inout [UInt8], at offset: Int) {
        withUnsafeBytes(of: value.bigEndian) { source in
            for index in 0..<8 { buffer[offset + index] = source[index] }
        }
    }
}
