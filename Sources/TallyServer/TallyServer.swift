import Foundation
import Hummingbird
import Journal
import LMDB
import Ledger
import Logging
import NIOCore
import Projections
import ServiceLifecycle

/// Builds the Tally HTTP service over a data directory.
public enum TallyServer {
    public struct Configuration: Sendable {
        /// The embedded data directory (journal, keys, read models, credentials).
        public var dataDirectory: String
        public var host: String = "127.0.0.1"
        /// 0 picks a free port (printed once the server runs).
        public var port: Int = 8080
        /// Idle keep-alive connections are closed after this long. A request's head must be
        /// complete within it, however slowly its bytes come: the timeout restarts only with
        /// each whole head or piece of body.
        public var idleTimeoutSeconds: Int64 = 60
        /// A request's body must have arrived this long after its head, or it is answered 408
        /// and its connection closed (``ConnectionGuard``): the idle timeout alone
        /// restarts with every byte, however slowly they come.
        public var requestBodyTimeoutSeconds: Int64 = 30
        /// The admin (customer service / ops) and auditor bearer keys; created in
        /// `<data>/server/` on first start when not given.
        public var adminKey: String?
        public var auditorKey: String?
        public var settings = TallyAPI.Settings()
        public var logger: Logger = Logger(label: "tally")
        /// Milliseconds since the epoch: the journal's event times, token windows, signature
        /// skew and the sweeper all read this one clock.
        public var clock: @Sendable () -> UInt64 = { UInt64(Date().timeIntervalSince1970 * 1000) }
        /// Called once if the journal writer stops after a failed commit: the process must exit.
        public var onJournalFailure: @Sendable (String) -> Void = { _ in }
        /// Called with the bound port once the server accepts connections.
        public var onServerRunning: @Sendable (Int) async -> Void = { _ in }

        public init(dataDirectory: String) {
            self.dataDirectory = dataDirectory
        }
    }

    /// Opens the journal (verifying it; a damaged data directory is an error naming the file),
    /// the read models, credentials and identity store, and returns the application, ready to run.
    public static func makeApplication(_ configuration: Configuration) throws -> some ApplicationProtocol {
        let api = try openAPI(configuration)
        let router = makeRouter(api: api)
        let onRunning = configuration.onServerRunning
        var application = Application(
            router: router,
            server: .http1(configuration: .init(
                additionalChannelHandlers: [ConnectionGuard(bodyTimeout: .seconds(configuration.requestBodyTimeoutSeconds))],
                idleTimeout: .seconds(configuration.idleTimeoutSeconds))),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "tally"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) },
            logger: configuration.logger)
        application.addServices(
            JournalService(journal: api.journal), ProjectionService(projections: api.projections, logger: configuration.logger),
            SweeperService(sweeper: Sweeper(
                ledger: api.ledger, clock: api.clock, logger: configuration.logger,
                statePath: Sweeper.statePath(in: configuration.dataDirectory))),
            JournalScrubService(journal: api.journal, logger: configuration.logger),
            SessionPruneService(credentials: api.credentials, clock: api.clock, logger: configuration.logger))
        return application
    }

    /// Opens everything the API needs over a data directory.
    public static func openAPI(_ configuration: Configuration) throws -> TallyAPI {
        try checkBeforeWriting(configuration)
        var journalConfiguration = Journal.Configuration(directory: configuration.dataDirectory)
        journalConfiguration.logger = configuration.logger
        journalConfiguration.onWriterFailure = configuration.onJournalFailure
        journalConfiguration.clock = configuration.clock
        let metrics = TallyMetrics()
        journalConfiguration.onCommit = { events, duration in metrics.recordCommit(events: events, duration: duration) }
        let journal = try Journal.open(journalConfiguration)
        switch try Ledger.upgradeWriteModel(journal.storage) {
        case .current, .marked:
            break
        case .refolded(let from, let events, let entries):
            configuration.logger.notice("write model folded afresh from the journal for this build's layout", metadata: [
                "from": "\(from)", "to": "\(Ledger.writeModelVersion)", "events": "\(events)", "entries": "\(entries)"])
        case .remarked(let from):
            configuration.logger.notice("write model marked with this build's layout; its records are unchanged", metadata: [
                "from": "\(from)", "to": "\(Ledger.writeModelVersion)"])
        }
        var projectionConfiguration = Projections.Configuration(dataDirectory: configuration.dataDirectory)
        projectionConfiguration.logger = configuration.logger
        let projections = try Projections.open(projectionConfiguration, journal: journal.storage)
        let secrets = try ServerSecrets.loadOrCreate(
            dataDirectory: configuration.dataDirectory, adminKey: configuration.adminKey, auditorKey: configuration.auditorKey)
        let credentials = try CredentialStore.open(dataDirectory: configuration.dataDirectory, secrets: secrets)
        let identity = try IdentityStore.open(directory: configuration.dataDirectory)
        if let journalID = try journal.storage.read({ try $0.metadata("journal-id") }) {
            try CompanionStores.check(directory: configuration.dataDirectory, journalID: journalID, secrets: secrets, claim: true)
        }
        return TallyAPI(
            journal: journal, projections: projections, credentials: credentials, identity: identity, secrets: secrets,
            settings: configuration.settings, logger: configuration.logger, metrics: metrics, clock: configuration.clock)
    }

    /// What can be checked of a data directory before anything in it is written, so that a
    /// refused start leaves it as it was: the server's key files that exist, that this build
    /// can fold the journal's write model (not damaged, not of a newer layout), that the
    /// stores beside the journal are its own (``CompanionStores``), and, once the
    /// journal holds events, that the files written with them are all there. A missing one
    /// cannot be made again: a new master key would change every vendor's secret and
    /// pseudonym and end every session; a new credential store would drop every login (and
    /// let a name be taken again by someone else); a new identity store or key store would
    /// erase every person.
    static func checkBeforeWriting(_ configuration: Configuration) throws {
        let directory = configuration.dataDirectory
        let secrets = try ServerSecrets.existing(dataDirectory: directory, adminKey: configuration.adminKey, auditorKey: configuration.auditorKey)
        let journalPath = Journal.journalPath(in: directory)
        guard FileSystem.exists(journalPath) else { return }
        let (events, journalID) = try {
            let storage = try LMDBJournalStorage.open(at: journalPath, create: false, readOnly: true)
            _ = try Ledger.writeModelLayout(storage)
            return try storage.read { (try $0.lastEventSequence() ?? 0, try $0.metadata("journal-id") ?? []) }
        }()
        if !journalID.isEmpty {
            try CompanionStores.check(directory: directory, journalID: journalID, secrets: secrets, claim: false)
        }
        // Opening an environment walks its pages (StructureCheck): the journal's and the
        // companions' were walked just now, the read models' are walked here, before the
        // journal is written.
        let readModels = Projections.path(in: directory)
        if FileSystem.exists(readModels + "/data.mdb") {
            var readOnly = Environment.Configuration()
            readOnly.readOnly = true
            _ = try Environment.open(at: readModels, configuration: readOnly)
        }
        guard events > 0 else { return }
        let needed = [(ServerSecrets.directory(in: directory) + "/master.key", "the server's master key"),
                      (directory + "/credentials", "the credential store"), (directory + "/identity", "the identity store"),
                      (directory + "/identity-keys", "the per-user identity keys")]
        for (path, what) in needed where !FileSystem.exists(path) {
            throw ServerSecretsError(
                path: path,
                message: "missing (\(what)), but the journal holds \(events) events written with it; restore it from a backup, as a new one would lose what it held")
        }
    }

    /// The routes (used directly by route tests). Every error becomes a problem document;
    /// `HEAD` is answered wherever `GET` is, and a known path asked with a method it does not
    /// take is 405 with `Allow` (``MethodNotAllowedMiddleware``), not 404.
    public static func makeRouter(api: TallyAPI) -> Router<TallyContext> {
        let router = Router(context: TallyContext.self, options: .autoGenerateHeadEndpoints)
        router.add(middleware: RequestMetricsMiddleware(metrics: api.metrics))
        addAPIRoutes(api: api, to: router)
        // The web pages call the JSON API's routes in process, through a router of their own
        // (not counted again in the request metrics).
        let inProcess = Router(context: TallyContext.self)
        addAPIRoutes(api: api, to: inProcess)
        let calls = InProcessAPI(responder: inProcess.buildResponder())
        WebController(api: api, inProcess: calls).addRoutes(to: router)
        ConsoleController(kind: .customerService, api: api, inProcess: calls).addRoutes(to: router)
        ConsoleController(kind: .vendor, api: api, inProcess: calls).addRoutes(to: router)
        // Last: a middleware added after the routes wraps only the router's not-found answer.
        router.add(middleware: MethodNotAllowedMiddleware(routes: router.routes))
        return router
    }

    /// The JSON API (`/v1`, `/health`, `/ready`, `/metrics`), every error a problem document.
    static func addAPIRoutes(api: TallyAPI, to router: Router<TallyContext>) {
        router.add(middleware: ProblemMiddleware())
        HealthController(journal: api.journal, projections: api.projections, metrics: api.metrics, now: api.clock).addRoutes(to: router)
        UserController(api: api).addRoutes(to: router)
        VendorController(api: api).addRoutes(to: router)
        AdminController(api: api).addRoutes(to: router)
        AuditController(api: api).addRoutes(to: router)
        HolderController(api: api).addRoutes(to: router)
    }
}

/// Runs the projection workers for the life of the application, then syncs the read models
/// to disk, so that a system crash after a clean stop does not make the next start fold them
/// again.
struct ProjectionService: Service {
    let projections: Projections
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await projections.run()
        }
        do {
            try projections.flush()
        } catch {
            logger.error("could not sync the read models at shutdown; if the system stops before they reach the disk, the next start folds them again", metadata: ["tally.projections.error": "\(error)"])
        }
    }
}
