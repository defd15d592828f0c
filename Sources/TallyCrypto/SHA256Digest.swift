/// A SHA-256 digest: 32 bytes held inline, so that hashing in a hot loop allocates nothing.
public struct SHA256Digest: Hashable, Sendable, CustomStringConvertible {
    public static let byteCount = 32

    // Four words in memory order (not numeric order): the bytes are what they look like.
    var storage: (UInt64, UInt64, UInt64, UInt64)

    /// All zero bytes: the "previous hash" of the first event.
    public static let zero = SHA256Digest(storage: (0, 0, 0, 0))

    init(storage: (UInt64, UInt64, UInt64, UInt64)) {
        self.storage = storage
    }

    /// A digest from exactly 32 bytes.
    public init?(bytes: UnsafeRawBufferPointer) {
        guard bytes.count == Self.byteCount else { return nil }
        storage = (0, 0, 0, 0)
        withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: bytes) }
    }

    public init?(bytes: [UInt8]) {
        guard let digest = bytes.withUnsafeBytes({ SHA256Digest(bytes: $0) }) else { return nil }
        self = digest
    }

    /// A digest from 64 hexadecimal digits.
    public init?(hex: String) {
        guard let bytes = Hex.decode(hex), let digest = SHA256Digest(bytes: bytes) else { return nil }
        self = digest
    }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try Swift.withUnsafeBytes(of: storage, body)
    }

    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }

    public var hex: String { withUnsafeBytes { Hex.encode($0) } }

    public var description: String { hex }

    public static func == (lhs: SHA256Digest, rhs: SHA256Digest) -> Bool {
        lhs.storage.0 == rhs.storage.0 && lhs.storage.1 == rhs.storage.1
            && lhs.storage.2 == rhs.storage.2 && lhs.storage.3 == rhs.storage.3
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(storage.0)
        hasher.combine(storage.1)
        hasher.combine(storage.2)
        hasher.combine(storage.3)
    }
}

extension SHA256Digest: Codable {
    /// Encoded as 64 lower-case hexadecimal digits.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let digest = SHA256Digest(hex: text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a 64-digit hex SHA-256 digest")
        }
        self = digest
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(hex)
    }
}
