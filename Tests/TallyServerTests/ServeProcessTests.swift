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

    @Test("serve starts on a new data directory, answers /health, and stops cleanly on SIGTERM")
    func startsAndStops() async throws {
        let directory = TemporaryDirectory()
        let (process, output, errors) = try Self.start(dataDirectory: directory.path + "/data")
        let port = try #require(try await Self.port(from: output, process: process), "no address printed: \(errors.current)")
        let (body, response) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/health")!)
        #expect((response as? HTTPURLResponse)?.statusCode == 200)
        #expect(String(decoding: body, as: UTF8.self) == #"{"status":"ok"}"#)
        #expect(FileManager.default.fileExists(atPath: directory.path + "/data/journal/data.mdb"))
        process.terminate()
        process.waitUntilExit()
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 0)
    }

    @Test("a clean stop syncs the read models and withdraws the marker of unsynced writes that folding left")
    func cleanStopFlushesProjections() async throws {
        let directory = TemporaryDirectory()
        let adminKey = "serve-process-admin-key-0123456789"
        let (process, output, errors) = try Self.start(
            dataDirectory: directory.path + "/data", extra: ["--admin-key", adminKey, "--scrypt-log2n", "10"])
        let port = try #require(try await Self.port(from: output, process: process), "no address printed: \(errors.current)")
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/v1/admin/accounts")!)
        request.httpMethod = "POST"
        request.setValue("Bearer \(adminKey)", forHTTPHeaderField: "Authorization")
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(#"{"login":"ann","password":"a long enough password","name":"Ann","email":"ann@example.com","representative":"rep-1"}"#.utf8)
        let (_, response) = try await URLSession.shared.data(for: request)
        #expect((response as? HTTPURLResponse)?.statusCode == 201)

        // The fold of the new events left a marker while the server runs.
        let projections = directory.path + "/data/projections"
        func markers() -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: projections)) ?? []).filter { $0.hasPrefix("unsynced-") }
        }
        for _ in 0..<200 where markers().isEmpty { try await Task.sleep(for: .milliseconds(25)) }
        #expect(markers().count == 1)
        process.terminate()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(markers().isEmpty, "\(errors.current)")
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
}
