import Journal
import Ledger
import Logging
import ServiceLifecycle

/// Keeps the journal open for the life of the application and closes it (committing what is
/// queued) after the HTTP server has stopped: services shut down in reverse order, and the
/// server is started last.
struct JournalService: Service {
    let journal: Journal

    func run() async throws {
        try? await gracefulShutdown()
        journal.close()
    }
}

/// Verifies again, in the background once the service is up, what earlier starts verified
/// (`Journal.scrub`): a journal damaged at rest stops taking appends and `/ready` says why,
/// rather than the service signing new blocks over it. It runs at the lowest priority, on the
/// cores the service leaves idle. Asked to stop between chunks at
/// shutdown; added after `JournalService`, so it is stopped before the journal is closed.
struct JournalScrubService: Service {
    let journal: Journal
    let logger: Logger
    /// Events per read transaction and between two looks at the stop flag.
    static let chunk: UInt64 = 8_192

    func run() async throws {
        let stop = StopFlag()
        let journal = journal
        let logger = logger
        // Asked to stop at a graceful shutdown, and when the group is cancelled (a service failed).
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    // At the lowest priority: on two cores, a scrub at the same priority took a
                    // core from the read models catching up after a start (a fifth of the
                    // samples), and from the requests. Its chunks are small, so that a stop
                    // asked while the cores are busy is not kept waiting behind a long one.
                    startThread(named: "tally.scrub", niceness: 19) {
                        do {
                            if try journal.scrub(chunk: Self.chunk, stop: { stop.isSet }) == nil, !stop.isSet {
                                if journal.verifiedBeforeOpen > 0 {
                                    logger.info("journal scrub: the events verified by earlier starts verify again",
                                                metadata: ["tally.journal.seq": "\(journal.verifiedBeforeOpen)"])
                                }
                                try Self.checkBalances(journal, stop: stop, logger: logger)
                            }
                        } catch {
                            logger.error("journal scrub could not run", metadata: ["tally.journal.error": "\(error)"])
                        }
                        continuation.resume()
                    }
                }
            } onGracefulShutdown: {
                stop.set()
            }
        } onCancel: {
            stop.set()
        }
        // A service that returns ends the whole group: wait for the server's end.
        try? await gracefulShutdown()
    }

    /// Then the write model beside the journal, which the journal's scrub does not read: every
    /// balance recomputed from the postings (``Ledger/checkBalances(_:stop:)``). A damaged one
    /// stops the journal's appends, as a damaged event does: deciding on a wrong balance would
    /// sign wrong money into the journal.
    static func checkBalances(_ journal: Journal, stop: StopFlag, logger: Logger) throws {
        guard let mismatch = try Ledger.checkBalances(journal.storage, chunk: chunk, stop: { stop.isSet }) else {
            if !stop.isSet { logger.info("write model: every balance equals its postings") }
            return
        }
        journal.stopAppends(reason: "\(mismatch); nothing more is appended (run journal-tool verify)")
    }
}
