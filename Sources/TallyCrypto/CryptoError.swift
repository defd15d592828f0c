import COpenSSL

/// An error from OpenSSL or from key material handed to this module.
public struct CryptoError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// Key bytes or a PEM document that is not a key of the expected type.
        case invalidKey
        /// A signature or tag of the wrong length.
        case invalidSignature
        /// OpenSSL failed for a reason of its own (out of memory, a provider missing).
        case library
    }

    public let kind: Kind
    public let operation: String
    public let message: String

    public init(kind: Kind, operation: String, message: String) {
        self.kind = kind
        self.operation = operation
        self.message = message
    }

    public var description: String { "\(operation): \(message)" }

    /// Builds an error from OpenSSL's error queue (and clears it).
    static func openSSL(_ operation: String, kind: Kind = .library) -> CryptoError {
        var reasons: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            reasons.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return CryptoError(kind: kind, operation: operation, message: reasons.isEmpty ? "failed" : reasons.joined(separator: "; "))
    }
}
