import TallyCrypto

/// A copy of one event as stored: its sequence number, hash, type name and payload.
public struct StoredEvent: Sendable, Equatable {
    public let sequence: UInt64
    public let hash: SHA256Digest
    public let typeName: String
    public let payload: [UInt8]

    public init(sequence: UInt64, hash: SHA256Digest, typeName: String, payload: [UInt8]) {
        self.sequence = sequence
        self.hash = hash
        self.typeName = typeName
        self.payload = payload
    }

    /// Parses a stored event record; nil when it is malformed.
    public init?(sequence: UInt64, record: UnsafeRawBufferPointer) {
        guard case .success(let view) = EventRecord.parse(record) else { return nil }
        self.init(
            sequence: sequence, hash: view.storedHash,
            typeName: String(decoding: view.typeName, as: UTF8.self), payload: Array(view.payload))
    }
}
