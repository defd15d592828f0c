/// The first thing found wrong with a journal: what, at which sequence, and why.
public struct VerificationFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// Stable names for each class of failure (used by tools and their exit codes).
    public enum Kind: String, Sendable, Equatable, CaseIterable {
        /// A stored event record does not follow the record layout.
        case malformedEvent = "malformed-event"
        /// A sequence number is missing between two stored events.
        case gap
        /// A stored event's hash does not match its bytes, position and predecessor (altered,
        /// reordered or duplicated events end here).
        case eventHashMismatch = "event-hash-mismatch"
        /// A stored block record does not follow the block layout, or is stored under the wrong key.
        case malformedBlock = "malformed-block"
        /// Blocks do not tile the sequence: a block is missing, overlaps or starts in the wrong place.
        case blockRange = "block-range"
        /// A block's chain head is not the hash of its last event.
        case chainHeadMismatch = "chain-head-mismatch"
        /// A block's Merkle root is not the root of its events' hashes.
        case merkleRootMismatch = "merkle-root-mismatch"
        /// A block's signature does not verify under the key it names.
        case badSignature = "bad-signature"
        /// A block names a key the journal does not record.
        case unknownKey = "unknown-key"
        /// A block is signed by a key that is neither trusted nor endorsed by a trusted key.
        case untrustedKey = "untrusted-key"
        /// A key record is damaged, or its endorsement does not verify.
        case badKeyRecord = "bad-key-record"
        /// Events after the last block are not sealed by any block.
        case unsealedEvents = "unsealed-events"
        /// A block covers events that are not stored (a truncated tail).
        case missingEvents = "missing-events"
        /// The journal ends before, or differs at, a checkpoint the auditor kept.
        case rollback
    }

    public let kind: Kind
    /// The first bad sequence number.
    public let sequence: UInt64
    public let message: String

    public init(kind: Kind, sequence: UInt64, message: String) {
        self.kind = kind
        self.sequence = sequence
        self.message = message
    }

    public var description: String { "\(kind.rawValue) at sequence \(sequence): \(message)" }
}
