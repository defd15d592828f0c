import Dispatch
import Journal
import Ledger

/// A batch of journal events with their decodings, in the same order.
struct EventBatch: Sendable {
    let events: [StoredEvent]
    let decoded: [Result<LedgerEvent, FoldFailure>]

    init(_ events: [StoredEvent]) {
        self.events = events
        decoded = events.map(Folder.decode)
    }
}

/// Reads and decodes the journal's events for a fold, in batches of at most `limit`. After a
/// full batch (more is likely waiting: a catch-up or a rebuild) the next one is read and decoded
/// on another thread while the caller folds this one, so the two cores share the work. A short
/// batch (the live tail) starts nothing ahead. A batch read ahead is used only if the caller asks
/// for the sequence it starts at; otherwise (a failure, another process folded) it is dropped.
final class EventBatches: @unchecked Sendable {
    private let journal: any JournalStorage
    private let limit: Int
    private let queue = DispatchQueue(label: "tally.projections.read-ahead", qos: .userInitiated)
    // Touched only by the caller's thread; the read-ahead's result is read after `done` is waited for.
    private var ahead: (first: UInt64, done: DispatchSemaphore, box: Box)?

    private final class Box: @unchecked Sendable {
        var outcome: Result<EventBatch, any Error> = .success(EventBatch([]))
    }

    init(journal: any JournalStorage, limit: Int) {
        self.journal = journal
        self.limit = limit
    }

    /// The events from `sequence` on (empty at the journal's head), decoded.
    func batch(from sequence: UInt64) throws -> EventBatch {
        let batch: EventBatch
        if let ahead, ahead.first == sequence {
            ahead.done.wait()
            self.ahead = nil
            batch = try ahead.box.outcome.get()
        } else {
            finish()
            batch = EventBatch(try JournalReader(storage: journal).events(from: sequence, limit: limit))
        }
        if batch.events.count == limit, let last = batch.events.last {
            readAhead(from: last.sequence + 1)
        }
        return batch
    }

    private func readAhead(from sequence: UInt64) {
        let done = DispatchSemaphore(value: 0)
        let box = Box()
        let journal = journal
        let limit = limit
        queue.async {
            box.outcome = Result { EventBatch(try JournalReader(storage: journal).events(from: sequence, limit: limit)) }
            done.signal()
        }
        ahead = (sequence, done, box)
    }

    /// Waits for a read-ahead in flight and drops it.
    func finish() {
        ahead?.done.wait()
        ahead = nil
    }
}
