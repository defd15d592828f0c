import Journal
import Ledger

/// A batch of journal events with their decodings, in the same order.
struct EventBatch: Sendable {
    let events: [StoredEvent]
    let decoded: [Result<LedgerEvent, FoldFailure>]
    /// As many events as were asked for: more are likely waiting (a catch-up, a rebuild).
    var full = false

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
    /// The configured batch size, and the bound in use (between it and four times it).
    private let base: Int
    private(set) var limit: Int
    // Touched only by the caller's thread.
    private var ahead: (first: UInt64, limit: Int, batch: BackgroundResult<EventBatch>)?

    init(journal: any JournalStorage, limit: Int) {
        self.journal = journal
        base = limit
        self.limit = limit
    }

    /// Sets the bound for the batches read from now on, from the last batch folded. A full
    /// batch whose events fell on many users (fewer than 4 events per user touched) rewrote
    /// each user's pages for few events: the bound doubles, up to 4 × the configured size. One
    /// with more than 16 events per user goes back to the configured size (larger batches only
    /// cost memory and sorting there). Measured on 1M events: 10,000 users fold 20-30 % faster
    /// in batches of 65,536 than of 16,384; 2,000 users fold ~20 % slower.
    func adapt(folded events: Int, usersTouched: Int) {
        guard events >= limit else { return }
        if usersTouched * 4 > events {
            limit = min(limit * 2, base * 4)
        } else if usersTouched * 16 < events {
            limit = base
        }
    }

    /// The events from `sequence` on (empty at the journal's head), decoded.
    func batch(from sequence: UInt64) throws -> EventBatch {
        var batch: EventBatch
        let asked: Int
        if let ahead, ahead.first == sequence {
            self.ahead = nil
            batch = try ahead.batch.result()
            asked = ahead.limit
        } else {
            finish()
            asked = limit
            batch = try Self.read(journal, from: sequence, limit: asked)
        }
        batch.full = batch.events.count == asked
        if batch.full, let last = batch.events.last {
            let (journal, next, limit) = (journal, last.sequence + 1, limit)
            ahead = (next, limit, BackgroundResult { try Self.read(journal, from: next, limit: limit) })
        }
        return batch
    }

    private static func read(_ journal: any JournalStorage, from sequence: UInt64, limit: Int) throws -> EventBatch {
        EventBatch(try JournalReader(storage: journal).events(from: sequence, limit: limit))
    }

    /// Waits for a read-ahead in flight and drops it.
    func finish() {
        _ = try? ahead?.batch.result()
        ahead = nil
    }
}
