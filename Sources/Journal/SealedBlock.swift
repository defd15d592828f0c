import TallyCrypto

/// A block header with its Ed25519 signature: the value stored in the `blocks` database under
/// the block's last sequence (header, 97 bytes, then signature, 64 bytes).
public struct SealedBlock: Sendable, Equatable {
    public static let byteCount = BlockHeader.byteCount + 64

    public let header: BlockHeader
    public let signature: [UInt8]

    public init(header: BlockHeader, signature: [UInt8]) {
        precondition(signature.count == 64, "an Ed25519 signature is 64 bytes")
        self.header = header
        self.signature = signature
    }

    public var bytes: [UInt8] { header.bytes + signature }

    public static func parse(_ bytes: UnsafeRawBufferPointer) -> Result<SealedBlock, FormatViolation> {
        guard bytes.count == byteCount else { return .failure(FormatViolation("block record is \(bytes.count) bytes, not \(byteCount)")) }
        switch BlockHeader.parse(UnsafeRawBufferPointer(rebasing: bytes[0..<BlockHeader.byteCount])) {
        case .failure(let violation): return .failure(violation)
        case .success(let header):
            return .success(SealedBlock(header: header, signature: Array(bytes[BlockHeader.byteCount...])))
        }
    }

    /// True when the signature is valid under `key`.
    public func isSigned(by key: Ed25519PublicKey) -> Bool {
        key.isValidSignature(signature, for: header.signedMessage)
    }
}
