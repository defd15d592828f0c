import ArgumentParser
import Foundation
import Hummingbird
import Logging
import TallyServer

@main
struct TallyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tally",
        abstract: "Tally: a micropayment ledger on a signed, hash-chained journal.",
        subcommands: [Serve.self, Call.self],
        defaultSubcommand: Serve.self)
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start the HTTP service on an embedded data directory.",
        discussion: """
            Flags override the environment variables TALLY_DATA_DIR, TALLY_HOST, TALLY_PORT,
            TALLY_ADMIN_KEY, TALLY_AUDITOR_KEY, TALLY_SCRYPT_LOG2N, TALLY_SECURE_COOKIES and TALLY_TRUSTED_PROXIES
            (IP addresses or CIDR networks, separated by commas). Without admin and auditor
            keys, they are created once in <data-dir>/server/admin.key and auditor.key (mode 0600).
            The data directory is created on first start (journal and signing key); a damaged
            or foreign data directory is refused with the file and the reason, exit code 1.
            """)

    @Option(name: .customLong("data-dir"), help: "The data directory (default: $TALLY_DATA_DIR or ./tally-data).")
    var dataDirectory: String?

    @Option(help: "The address to listen on (default: $TALLY_HOST or 127.0.0.1).")
    var host: String?

    @Option(help: "The port to listen on; 0 picks a free one (default: $TALLY_PORT or 8080).")
    var port: Int?

    @Option(name: .customLong("admin-key"), help: "Bearer key of customer service / ops (default: $TALLY_ADMIN_KEY or <data-dir>/server/admin.key).")
    var adminKey: String?

    @Option(name: .customLong("auditor-key"), help: "Bearer key of auditors, read-only (default: $TALLY_AUDITOR_KEY or <data-dir>/server/auditor.key).")
    var auditorKey: String?

    @Option(name: .customLong("scrypt-log2n"), help: "scrypt cost for new passwords, N = 2^value (default 15; lower only for load tests).")
    var scryptLog2N: UInt64?

    @Option(name: .customLong("idle-timeout"), help: "Seconds after which an idle connection is closed (default: $TALLY_IDLE_TIMEOUT or 60).")
    var idleTimeout: Int64?

    @Option(name: .customLong("body-timeout"), help: "Seconds a request's body may take to arrive before it is answered 408 and its connection closed (default: $TALLY_BODY_TIMEOUT or 30).")
    var bodyTimeout: Int64?

    @Flag(name: .customLong("secure-cookies"), help: "Mark the web pages' cookies Secure (sent over HTTPS only), behind a proxy that terminates TLS (default: on when $TALLY_SECURE_COOKIES is 1).")
    var secureCookies = false

    @Option(name: .customLong("trusted-proxy"), help: ArgumentHelp(
        "The IP address of a reverse proxy in front of the server, or its network in CIDR notation (10.0.0.0/8), whose X-Forwarded-For names the client for the login throttle; repeat for each (default: $TALLY_TRUSTED_PROXIES, comma-separated; none).",
        valueName: "address"))
    var trustedProxies: [String] = []

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = ProcessInfo.processInfo.environment["TALLY_LOG_LEVEL"] ?? "info"

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let directory = dataDirectory ?? environment["TALLY_DATA_DIR"] ?? "./tally-data"
        let host = self.host ?? environment["TALLY_HOST"] ?? "127.0.0.1"
        guard let port = self.port ?? Int(environment["TALLY_PORT"] ?? "8080"), (0...65535).contains(port) else {
            throw ValidationError("TALLY_PORT must be a port number from 0 to 65535")
        }
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
        var configuredLogger = Logger(label: "tally")
        configuredLogger.logLevel = level
        let logger = configuredLogger

        var configuration = TallyServer.Configuration(dataDirectory: directory)
        configuration.host = host
        configuration.port = port
        configuration.logger = logger
        if let seconds = idleTimeout ?? environment["TALLY_IDLE_TIMEOUT"].flatMap({ Int64($0) }) {
            guard (1...3600).contains(seconds) else { throw ValidationError("--idle-timeout must be 1 to 3600 seconds") }
            configuration.idleTimeoutSeconds = seconds
        }
        if let seconds = bodyTimeout ?? environment["TALLY_BODY_TIMEOUT"].flatMap({ Int64($0) }) {
            guard (1...3600).contains(seconds) else { throw ValidationError("--body-timeout must be 1 to 3600 seconds") }
            configuration.requestBodyTimeoutSeconds = seconds
        }
        configuration.adminKey = adminKey ?? environment["TALLY_ADMIN_KEY"]
        configuration.auditorKey = auditorKey ?? environment["TALLY_AUDITOR_KEY"]
        if let cost = scryptLog2N ?? environment["TALLY_SCRYPT_LOG2N"].flatMap({ UInt64($0) }) {
            guard (10...20).contains(cost) else { throw ValidationError("--scrypt-log2n must be 10 to 20") }
            configuration.settings.scryptLog2N = cost
        }
        switch environment["TALLY_SECURE_COOKIES"] {
        case nil, "", "0": configuration.settings.secureCookies = secureCookies
        case "1": configuration.settings.secureCookies = true
        default: throw ValidationError("TALLY_SECURE_COOKIES must be 1 or 0")
        }
        let proxies = trustedProxies.isEmpty
            ? (environment["TALLY_TRUSTED_PROXIES"] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            : trustedProxies
        for proxy in proxies {
            do {
                try configuration.settings.trustedProxies.add(proxy)
            } catch let invalid as TrustedProxies.Invalid {
                throw ValidationError("--trusted-proxy (or TALLY_TRUSTED_PROXIES) names IP addresses or networks: \(invalid)")
            }
        }
        configuration.onJournalFailure = { reason in
            // Never acknowledge past a failed commit: stop now; the next start verifies.
            logger.critical("journal writer failed; exiting", metadata: ["tally.journal.error": "\(reason)"])
            Foundation.exit(70)
        }
        configuration.onServerRunning = { boundPort in
            print("Tally is serving http://\(host):\(boundPort) (data directory: \(directory)); try: curl http://\(host):\(boundPort)/health, or open http://\(host):\(boundPort)/web")
            print("Admin and auditor keys: \(directory)/server/admin.key and auditor.key unless given by flag; API: Schemas/openapi.yaml")
            fflush(nil)
        }
        let application: any ApplicationProtocol
        do {
            application = try TallyServer.makeApplication(configuration)
        } catch {
            FileHandle.standardError.write(Data("tally: cannot start: \(error)\n".utf8))
            throw ExitCode(1)
        }
        try await application.runService()
    }
}
