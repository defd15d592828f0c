import Foundation
import Journal
import TallyCrypto

/// Runs ``JournalVerifier`` on two halves of a long range at once, one per core: the first
/// half on a thread of its own (its own read snapshot), the second on the caller's snapshot.
/// The second half starts at a block boundary and takes the stored hash before it as given;
/// the first half recomputes that very hash and checks it against the stored one, so together
/// they check exactly what one run would. Both stop at `through`, which the caller takes from
/// its snapshot, and a journal only grows, so both see the same events.
enum ParallelVerification {
    /// Ranges shorter than this are verified in one run (a thread costs more than it saves).
    static let eventsMin: UInt64 = 20_000

    static func verify(
        trustedKeys: [Ed25519PublicKey], storage: any JournalStorage, snapshot: SnapshotStorage,
        from start: UInt64, through: UInt64?, lastSequence: UInt64, progress: ToolProgress?
    ) throws -> VerificationReport {
        let verifier = JournalVerifier(trustedKeys: trustedKeys)
        let end = min(through ?? lastSequence, lastSequence)
        let update: ((UInt64) -> Void)? = progress.map { progress in { progress.update($0) } }
        guard ProcessInfo.processInfo.activeProcessorCount > 1, end > start, end - start >= eventsMin,
              let split = try snapshot.reader.blockRecord(endingAtOrAfter: start + (end - start) / 2)?.key,
              split >= start, split < end
        else {
            return try verifier.verify(snapshot, from: start, through: through, progress: update)
        }
        let first = FirstHalf()
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            first.result = Result { try JournalVerifier(trustedKeys: trustedKeys).verify(storage, from: start, through: split) }
            done.signal()
        }
        thread.start()
        let second = Result { try verifier.verify(snapshot, from: split + 1, through: end, progress: update) }
        done.wait()
        let head = try first.result.get()
        if head.failure != nil || head.lastSequence != split { return head }
        var tail = try second.get()
        tail.firstSequence = head.firstSequence
        tail.eventsVerified += head.eventsVerified
        tail.blocksVerified += head.blocksVerified
        if tail.blocksVerified == head.blocksVerified {
            // The second half verified nothing before it failed: its report says nothing good.
            tail.lastSequence = head.lastSequence
            tail.head = head.head
        }
        return tail
    }

    final class FirstHalf: @unchecked Sendable {
        // Written by the thread before it signals, read after the wait.
        var result: Result<VerificationReport, any Error> = .success(VerificationReport())
    }
}
