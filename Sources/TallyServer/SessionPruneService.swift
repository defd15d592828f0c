import Logging
import ServiceLifecycle

/// Removes expired sessions and spent logout records from the credential store
/// (``CredentialStore/prune(now:)``) at start and then every `interval`, so that the store
/// holds what is live rather than every login there ever was.
struct SessionPruneService: Service {
    let credentials: CredentialStore
    let clock: @Sendable () -> UInt64
    let logger: Logger
    var interval: Duration = .seconds(600)

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let removed = try credentials.prune(now: clock())
                    if removed.sessions + removed.ended > 0 {
                        logger.info("credential store pruned", metadata: [
                            "tally.sessions.expired": "\(removed.sessions)", "tally.sessions.ended": "\(removed.ended)"])
                    }
                } catch {
                    logger.warning("credential store could not be pruned", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: interval)
            }
        }
    }
}
