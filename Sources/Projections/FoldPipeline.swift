import Journal
import LMDB

extension Projections {
    /// Folds `first` and the batches after it into slot `slotIndex` and hands each batch's
    /// outcome to `handle`, which returns whether to go on; `proceed` is asked, with the
    /// sequence the last batch reaches, whether to read another.
    ///
    /// A long catch-up or rebuild (its first batch is full) runs as a two-stage pipeline: this
    /// thread folds batch n + 1 in memory while another thread puts batch n into the slot and
    /// commits it. The fold of n + 1 reads the slot in a read transaction, which sees batch n - 1
    /// committed, and finds whatever batch n read or changed in n's folder first (`Folder`'s
    /// `after`), so it sees exactly what a serial fold would. Before this, one thread folded
    /// and wrote every batch in turn while the second core only decoded the next batch.
    ///
    /// Only the ordinary case is pipelined. A batch with an event the fold cannot handle, a
    /// record created twice, or a slot that another process changed ends the pipeline once the
    /// batches before are committed; the batch is then folded again by `foldBatch`, which
    /// handles all of them (or its outcome is `.stale`). A batch that is not full (the live
    /// tail) goes to `foldBatch` at once.
    func foldBatches(
        from first: EventBatch, batches: EventBatches, into slotIndex: Int, pointer pointerName: String, version: UInt64,
        buffers: FoldBuffers, proceed: (UInt64) throws -> Bool, handle: (EventBatch, BatchOutcome) throws -> Bool
    ) throws {
        guard first.full else {
            _ = try handle(first, try foldBatch(first, into: slotIndex, pointer: pointerName, version: version, buffers: buffers))
            return
        }
        let slot = slots[slotIndex]
        // The batch being written on the other thread, and its folder (the next fold reads it).
        var inFlight: (batch: EventBatch, folder: Folder, usersTouched: Int, write: BackgroundResult<Bool>)?
        /// Waits for the batch in flight and hands its outcome to `handle`; whether to go on.
        /// A write that met a record created twice committed nothing: `foldBatch` folds that
        /// batch again and commits the events before the one that created it again.
        func land() throws -> Bool {
            guard let written = inFlight else { return true }
            inFlight = nil
            // Freeing a batch's events and records takes about a tenth of this thread's time
            // (millions of small objects): the folded batch is dropped on another thread.
            defer { _ = BackgroundResult { withExtendedLifetime(written) {} } }
            let outcome: BatchOutcome
            do {
                if try written.write.result() {
                    outcome = .folded(reached: written.folder.checkpoint, failure: nil, usersTouched: written.usersTouched)
                } else {
                    outcome = .stale
                }
            } catch is WriteBatch.CreatedTwice {
                outcome = try foldBatch(written.batch, into: slotIndex, pointer: pointerName, version: version, buffers: FoldBuffers())
            }
            guard case .folded(_, nil, _) = outcome else {
                _ = try handle(written.batch, outcome)
                return false
            }
            return try handle(written.batch, outcome)
        }

        var next: EventBatch? = first
        do {
            while let batch = next {
                next = nil
                // Fold this batch; nil when one of its events cannot be folded.
                let folder = try environment.read { reader -> Folder? in
                    let folder = try Folder(reader: reader, database: slot, after: inFlight?.folder)
                    guard let first = batch.events.first, first.sequence == folder.checkpoint + 1 else { return nil }
                    for (index, event) in batch.events.enumerated() {
                        do {
                            try folder.fold(event, batch.decoded[index])
                        } catch is FoldFailure {
                            return nil
                        }
                    }
                    folder.prepareTimeIndex()
                    return folder
                }
                guard try land() else { return }
                guard let folder else {
                    // The batches before are committed: the serial fold finds the failure (or
                    // that the slot moved on) and commits the events before it.
                    _ = try handle(batch, try foldBatch(batch, into: slotIndex, pointer: pointerName, version: version, buffers: FoldBuffers()))
                    return
                }
                let expected = batch.events[0].sequence - 1
                let write = BackgroundResult { [self] () throws -> Bool in
                    folder.prepareRecords()
                    return try self.write { transaction -> Bool in
                        let pointer = try slotPointer(pointerName, in: transaction)
                        guard let pointer, pointer.slot == slotIndex, pointer.version == version,
                              try Self.checkpoint(transaction, slot) == expected
                        else { return false }
                        try folder.write(into: transaction)
                        return true
                    }
                }
                inFlight = (batch, folder, folder.usersTouched, write)
                if batch.full, try proceed(folder.checkpoint) {
                    next = try batches.batch(from: folder.checkpoint + 1)
                    if next?.events.isEmpty == true { next = nil }
                }
            }
            _ = try land()
        } catch {
            // Never leave a write running on the other thread.
            if let written = inFlight { _ = try? written.write.result() }
            throw error
        }
    }
}
