import Foundation
import TallyTestSupport
import Testing
import TallyCrypto
@testable import Journal

/// Crash safety: a real child process appends under load and is killed with SIGKILL at a
/// random moment; after each kill every acknowledged append must be present, byte for byte,
/// and the whole journal must verify. `TALLY_CRASH_ITERATIONS` raises the count for soak runs.
@Suite("Journal crash safety", .serialized)
struct JournalCrashTests {
    static var childPath: String { BuiltProduct.path("tally-crash-child") }

    static var iterations: Int {
        ProcessInfo.processInfo.environment["TALLY_CRASH_ITERATIONS"].flatMap(Int.init) ?? 20
    }

    /// Complete lines of a child's output so far (a line cut by the kill is dropped).
    static func lines(_ collector: StreamCollector) -> [String] {
        var lines = collector.text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        lines.removeLast()
        return lines
    }

    @Test("SIGKILL at random moments loses no acknowledged append, and the journal verifies after each restart")
    func killUnderLoad() async throws {
        let child = Self.childPath
        try #require(FileManager.default.isExecutableFile(atPath: child), "build the tally-crash-child product first: \(child)")
        let directory = TemporaryDirectory("tally-crash")
        var generator = SystemRandomNumberGenerator()
        var acknowledged: [UInt64: String] = [:]
        var killsWithAcknowledgedWrites = 0
        for iteration in 0..<Self.iterations {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: child)
            process.arguments = [directory.path, "8"]
            let output = Pipe()
            process.standardOutput = output
            process.standardError = FileHandle.standardError
            try process.run()
            let collector = StreamCollector(output.fileHandleForReading)
            // Wait until it is appending, then kill it after a random further delay.
            let started = Date()
            while !Self.lines(collector).contains(where: { $0.hasPrefix("ack ") }) && process.isRunning {
                try await Task.sleep(for: .milliseconds(2))
                if Date().timeIntervalSince(started) > 60 { break }
            }
            try #require(process.isRunning, "child exited early in iteration \(iteration)")
            try await Task.sleep(for: .milliseconds(Int.random(in: 1...250, using: &generator)))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            collector.waitForEnd()
            #expect(process.terminationReason == .uncaughtSignal)

            var acknowledgedThisRun = 0
            for line in Self.lines(collector) where line.hasPrefix("ack ") {
                let parts = line.split(separator: " ", maxSplits: 2)
                acknowledged[UInt64(parts[1])!] = String(parts[2])
                acknowledgedThisRun += 1
            }
            if acknowledgedThisRun > 0 { killsWithAcknowledgedWrites += 1 }

            // Restart: the open verifies the tail; then check every acknowledged append.
            let journal = try openJournal(directory.path)
            for (sequence, payload) in acknowledged {
                let event = try journal.event(at: sequence)
                #expect(event.map { String(decoding: $0.payload, as: UTF8.self) } == payload,
                        "acknowledged event \(sequence) lost or changed after kill \(iteration)")
            }
            let report = try journal.verify()
            #expect(report.isValid, "\(report.failure.map { "\($0)" } ?? "")")
            #expect(report.lastSequence == journal.head)
            journal.close()
        }
        #expect(killsWithAcknowledgedWrites == Self.iterations)
        #expect(acknowledged.count > Self.iterations)
    }
}

@Suite("Journal stale readers")
struct JournalStaleReaderTests {
    @Test("a reader killed with SIGKILL leaves a slot that the writer's housekeeping clears")
    func staleReaderCleared() async throws {
        let directory = TemporaryDirectory("tally-reader")
        try await buildJournal(directory.path, blocks: 1, perBlock: 2)
        // Keep the environment open here, as a running server would: LMDB resets the reader
        // table only when the first process opens it, so a live server must clear dead slots.
        let journal = try openJournal(directory.path)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: JournalCrashTests.childPath)
        process.arguments = [directory.path, "--hold-reader"]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let line = output.fileHandleForReading.availableData
        #expect(String(decoding: line, as: UTF8.self).hasPrefix("holding"))
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(try journal.storage.clearStaleReaders() == 1)
        #expect(try journal.storage.clearStaleReaders() == 0)
        _ = try await journal.append(draft("after"))
        journal.close()
    }
}
