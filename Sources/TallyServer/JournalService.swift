import Journal
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
