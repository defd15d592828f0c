import Foundation
import TallyTestSupport
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The real `tally serve` process, as the README starts it.
@Suite("tally serve process", .serialized)
struct ServeProcessTests {
    static var tallyPath: String { BuiltProduct.path("tally") }

    /// A stream of the server's, read as it arrives.
    final class Output: Sendable {
        let collector: StreamCollector
        init(_ pipe: Pipe) { collector = StreamCollector(pipe.fileHandleForReading) }
        var current: String { collector.text }
    }

    static func start(dataDirectory: String, extra: [String] = []) throws -> (Process, Output, Output) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tallyPath)
        process.arguments = ["serve", "--data-dir", dataDirectory, "--port", "0", "--host", "127.0.0.1"] + extra
        let standardOutput = Pipe()
        let standardError = Pipe()
        process.standardOutput = standardOutput
        process.standardError = standardError
        try process.run()
        return (process, Output(standardOutput), Output(standardError))
    }

    static func port(from output: Output, process: Process) async throws -> Int? {
        for _ in 0..<600 {
            if let range = output.current.range(of: #"http://127\.0\.0\.1:(\d+)"#, options: .regularExpression) {
                return Int(output.current[range].split(separator: ":").last!)
            }
            if !process.isRunning { return nil }
            try await Task.sleep(for: .milliseconds(50))
        }
        return nil
    }

    /// A started server, and the port it printed (the test fails when it prints none).
    struct Serving {
        let process: Process
        let port: Int
        let output: Output
        let errors: Output
        /// Everything it has logged so far.
        var log: String { output.current + errors.current }
    }

    static func serving(_ dataDirectory: String, extra: [String] = []) async throws -> Serving {
        let (process, output, errors) = try start(dataDirectory: dataDirectory, extra: extra)
        let port = try #require(try await port(from: output, process: process), "no address printed: \(errors.current)")
        return Serving(process: process, port: port, output: output, errors: errors)
    }

    @Test("serve starts on a new data directory, answers /health, and stops cleanly on SIGTERM")
    func startsAndStops() async throws {
        let directory = TemporaryDirectory()
        let server = try await Self.serving(directory.path + "/data")
        let process = server.process
        let (body, response) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(server.port)/health")!)
        #expect((response as? HTTPURLResponse)?.statusCode == 200)
        #expect(String(decoding: body, as: UTF8.self) == #"{"status":"ok"}"#)
        #expect(FileManager.default.fileExists(atPath: directory.path + "/data/journal/data.mdb"))
        process.terminate()
        process.waitUntilExit()
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 0)
    }

    static let adminKey = "serve-process-admin-key-0123456789"
    static let withAdmin = ["--admin-key", adminKey, "--scrypt-log2n", "10"]

    /// Opens an account through customer service: the HTTP status.
    static func openAccount(port: Int, login: String) async throws -> Int? {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/v1/admin/accounts")!)
        request.httpMethod = "POST"
        request.setValue("Bearer \(adminKey)", forHTTPHeaderField: "Authorization")
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(#"{"login":"\#(login)","password":"a long enough password","name":"N","email":"n@example.com","representative":"rep-1"}"#.utf8)
        let (_, response) = try await URLSession.shared.data(for: request)
        return (response as? HTTPURLResponse)?.statusCode
    }

    /// Waits until `/ready` says the read models have folded the whole journal: its sequence.
    static func caughtUp(port: Int) async throws -> UInt64? {
        for _ in 0..<400 {
            if let (body, _) = try? await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/ready")!),
               let ready = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
               let journal = (ready["journalSequence"] as? NSNumber)?.uint64Value, journal > 0,
               (ready["projectionSequence"] as? NSNumber)?.uint64Value == journal
            {
                return journal
            }
            try await Task.sleep(for: .milliseconds(25))
        }
        return nil
    }

    /// The markers of unsynced writes in `data`'s read models.
    static func markers(_ data: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: data + "/projections")) ?? []).filter { $0.hasPrefix("unsynced-") }
    }

    @Test("a clean stop syncs the read models and withdraws the marker of unsynced writes that folding left")
    func cleanStopFlushesProjections() async throws {
        let directory = TemporaryDirectory()
        let data = directory.path + "/data"
        let server = try await Self.serving(data, extra: Self.withAdmin)
        #expect(try await Self.openAccount(port: server.port, login: "ann") == 201)
        // The fold of the new events left a marker while the server runs.
        #expect(try await Self.caughtUp(port: server.port) != nil)
        #expect(Self.markers(data).count == 1)
        server.process.terminate()
        server.process.waitUntilExit()
        #expect(server.process.terminationStatus == 0)
        #expect(Self.markers(data).isEmpty, "\(server.log)")
    }

    @Test("killed with SIGKILL, the server's read models are kept at restart; after a system restart they are set aside and folded again")
    func killedThenRestarted() async throws {
        let directory = TemporaryDirectory()
        let data = directory.path + "/data"
        let first = try await Self.serving(data, extra: Self.withAdmin)
        for login in ["ann", "bob", "cyd"] { #expect(try await Self.openAccount(port: first.port, login: login) == 201) }
        let head = try #require(try await Self.caughtUp(port: first.port))
        kill(first.process.processIdentifier, SIGKILL)
        first.process.waitUntilExit()
        #expect(Self.markers(data).count == 1)

        // The same boot: the killed process's commits are in the page cache, and are kept.
        let second = try await Self.serving(data, extra: Self.withAdmin)
        #expect(second.log.contains("tally.projections.seq=\(head) "), "\(second.log)")
        #expect(!second.log.contains("torn"))
        #expect(!FileManager.default.fileExists(atPath: data + "/projections.torn"))
        kill(second.process.processIdentifier, SIGKILL)
        second.process.waitUntilExit()

        // As if the machine had restarted since: the marker names an earlier boot.
        for name in Self.markers(data) {
            let path = data + "/projections/" + name
            let text = try String(contentsOfFile: path, encoding: .utf8)
            let lines = text.split(separator: "\n").map { $0.hasPrefix("boot ") ? "boot an-earlier-boot" : String($0) }
            try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: path))
        }
        let third = try await Self.serving(data, extra: Self.withAdmin)
        #expect(try await Self.caughtUp(port: third.port) == head)
        #expect(third.log.contains("projections may be torn by a system crash"), "\(third.log)")
        #expect(third.log.contains("tally.projections.seq=0 "), "\(third.log)")
        #expect(FileManager.default.fileExists(atPath: data + "/projections.torn/data.mdb"))
        third.process.terminate()
        third.process.waitUntilExit()
        #expect(third.process.terminationStatus == 0)
        #expect(Self.markers(data).isEmpty)
    }

    @Test("serve refuses a damaged data directory with the file and the reason, and exits 1")
    func refusesDamagedDataDirectory() async throws {
        let directory = TemporaryDirectory()
        let data = directory.path + "/data"
        let (first, output, _) = try Self.start(dataDirectory: data)
        _ = try await Self.port(from: output, process: first)
        first.terminate()
        first.waitUntilExit()
        try Data(repeating: 0x5a, count: 32 << 10).write(to: URL(fileURLWithPath: data + "/journal/data.mdb"))
        let (second, _, errors) = try Self.start(dataDirectory: data)
        second.waitUntilExit()
        #expect(second.terminationStatus == 1)
        try await Task.sleep(for: .milliseconds(100))
        #expect(errors.current.contains(data + "/journal/data.mdb"))
        #expect(errors.current.contains("not an LMDB environment"))
    }

    /// A login with a wrong password, sent as through a proxy that says it forwarded for
    /// `forwardedFor`: the HTTP status.
    static func wrongLogin(port: Int, login: String, forwardedFor: String) async throws -> Int? {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/v1/login")!)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue(forwardedFor, forHTTPHeaderField: "X-Forwarded-For")
        request.httpBody = Data(#"{"login":"\#(login)","password":"not the password"}"#.utf8)
        let (_, response) = try await URLSession.shared.data(for: request)
        return (response as? HTTPURLResponse)?.statusCode
    }

    @Test("behind a trusted proxy the login throttle counts each forwarded client on its own; without one, X-Forwarded-For is ignored",
          arguments: [true, false])
    func trustedProxy(trusted: Bool) async throws {
        let directory = TemporaryDirectory()
        // The loopback proxy by address (IPv6) and by network (IPv4).
        let extra = Self.withAdmin + (trusted ? ["--trusted-proxy", "::1", "--trusted-proxy", "127.0.0.0/8"] : [])
        let server = try await Self.serving(directory.path + "/data", extra: extra)
        defer { server.process.terminate(); server.process.waitUntilExit() }
        #expect(try await Self.openAccount(port: server.port, login: "pia") == 201)
        // Ten failures from one client, which also wrote a spoofed address before the proxy's.
        for _ in 0..<10 {
            #expect(try await Self.wrongLogin(port: server.port, login: "pia", forwardedFor: "198.51.100.66, 203.0.113.9") == 401)
        }
        #expect(try await Self.wrongLogin(port: server.port, login: "pia", forwardedFor: "203.0.113.9") == 429)
        // Pia at home: a client of her own behind the proxy, or the same proxy to the server without one.
        #expect(try await Self.wrongLogin(port: server.port, login: "pia", forwardedFor: "192.0.2.44") == (trusted ? 401 : 429))
        if trusted {
            // The spoofed address was never counted.
            #expect(try await Self.wrongLogin(port: server.port, login: "pia", forwardedFor: "198.51.100.66") == 401)
        }
    }

    @Test("serve refuses a trusted proxy that is not an IP address, naming the option")
    func refusesBadTrustedProxy() async throws {
        let directory = TemporaryDirectory()
        let (process, _, errors) = try Self.start(dataDirectory: directory.path + "/data", extra: ["--trusted-proxy", "proxy.example"])
        process.waitUntilExit()
        #expect(process.terminationStatus != 0)
        try await Task.sleep(for: .milliseconds(100))
        #expect(errors.current.contains("--trusted-proxy"), "\(errors.current)")
    }
}
