import TallyCrypto

/// What a verification run covered and whether it held.
public struct VerificationReport: Sendable, Equatable {
    /// The first sequence checked (the start of the block holding the requested start).
    public var firstSequence: UInt64 = 0
    /// The last sequence checked and found good.
    public var lastSequence: UInt64 = 0
    public var eventsVerified: UInt64 = 0
    public var blocksVerified: UInt64 = 0
    /// The event hash at `lastSequence`: a checkpoint an auditor can keep.
    public var head: SHA256Digest = .zero
    public var failure: VerificationFailure?

    public var isValid: Bool { failure == nil }

    public init() {}
}
