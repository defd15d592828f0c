/// An error from zstd, with its message.
public struct ZstdError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// The input is not a zstd frame, is truncated, or fails its checksum.
        case corruptInput
        /// The frame would decompress past the caller's limit (or does not state its size).
        case tooLarge
        /// zstd failed for another reason (bad parameter, out of memory).
        case library
    }

    public let kind: Kind
    public let message: String

    public init(kind: Kind, message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "zstd: \(message)" }
}
