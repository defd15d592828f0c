import Foundation
import Hummingbird
import Journal
import Logging
import NIOCore

/// Builds the Tally HTTP service over a data directory.
public enum TallyServer {
    public struct Configuration: Sendable {
        /// The embedded data directory (journal, keys).
        public var dataDirectory: String
        public var host: String = "127.0.0.1"
        /// 0 picks a free port (printed once the server runs).
        public var port: Int = 8080
        /// Idle keep-alive connections are closed after this long.
        public var idleTimeoutSeconds: Int64 = 60
        public var logger: Logger = Logger(label: "tally")
        /// Called once if the journal writer stops after a failed commit: the process must exit.
        public var onJournalFailure: @Sendable (String) -> Void = { _ in }
        /// Called with the bound port once the server accepts connections.
        public var onServerRunning: @Sendable (Int) async -> Void = { _ in }

        public init(dataDirectory: String) {
            self.dataDirectory = dataDirectory
        }
    }

    /// Opens the journal (verifying it; a damaged data directory is an error naming the file)
    /// and returns the application, ready to run.
    public static func makeApplication(_ configuration: Configuration) throws -> some ApplicationProtocol {
        var journalConfiguration = Journal.Configuration(directory: configuration.dataDirectory)
        journalConfiguration.logger = configuration.logger
        journalConfiguration.onWriterFailure = configuration.onJournalFailure
        let journal = try Journal.open(journalConfiguration)
        let router = makeRouter(journal: journal)
        let onRunning = configuration.onServerRunning
        var application = Application(
            router: router,
            server: .http1(configuration: .init(idleTimeout: .seconds(configuration.idleTimeoutSeconds))),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "tally"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) },
            logger: configuration.logger)
        application.addServices(JournalService(journal: journal))
        return application
    }

    /// The routes, over an open journal (used directly by route tests).
    public static func makeRouter(journal: Journal) -> Router<BasicRequestContext> {
        let router = Router()
        HealthController(journal: journal).addRoutes(to: router)
        return router
    }
}
