import TallyCrypto

/// What a write command hands back to the writer: the events to append, the write-model
/// changes to make in the same transaction, and the answer for the caller.
public struct JournalEffect<Outcome: Sendable>: Sendable {
    public var events: [EventDraft]
    public var stateChanges: [StateChange]
    public var outcome: Outcome

    public init(events: [EventDraft], stateChanges: [StateChange] = [], outcome: Outcome) {
        self.events = events
        self.stateChanges = stateChanges
        self.outcome = outcome
    }
}

/// A change to the write model kept beside the journal.
public enum StateChange: Sendable, Equatable {
    case put(key: [UInt8], value: [UInt8])
    case delete(key: [UInt8])
}

/// What a write command may see while the writer decides it: the write model (including the
/// effects of earlier commands in the same batch), the sequence its first event will get, and
/// the batch's time. Valid only during the call.
public struct JournalWriteContext {
    let reader: any JournalStorageReader
    /// The sequence number the command's first event will receive.
    public let nextSequence: UInt64
    /// The batch's time, milliseconds since 1970 (from the journal's injected clock).
    public let timeMilliseconds: UInt64

    public func state(_ key: [UInt8]) throws -> [UInt8]? {
        try reader.state(key)
    }
}

/// The answer to a committed write: the command's outcome, the sequences of its events, and
/// the sealed batch they are in (for receipts).
public struct JournalCommit<Outcome: Sendable>: Sendable {
    public let outcome: Outcome
    /// The sequences of the command's events; empty when it appended none.
    public let sequences: ClosedRange<UInt64>?
    public let batch: SealedBatch?

    /// Receipts of the command's events, in order.
    public var receipts: [Receipt] {
        guard let sequences, let batch else { return [] }
        return batch.receipts(for: sequences)
    }
}
