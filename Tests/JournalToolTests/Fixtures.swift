import Foundation
import Journal
import TallyTestSupport

/// Journals built once and copied for each test that changes them (building goes through the
/// ledger, which is the slow part).
actor Fixtures {
    static let shared = Fixtures()

    /// Each journal is built by one task; every caller awaits that same task (an actor alone
    /// would let two callers both start building across the `await`).
    private var builds: [String: Task<Built, any Error>] = [:]

    /// A built journal's directory, removed when the process exits (never while tests run).
    final class Built: @unchecked Sendable {
        // Immutable after init; TemporaryDirectory is a plain owner of a path.
        let directory: TemporaryDirectory
        init(_ directory: TemporaryDirectory) { self.directory = directory }
        var dataPath: String { directory.path + "/data" }
    }

    private func journal(_ name: String, _ build: @escaping @Sendable (String) async throws -> Void) async throws -> String {
        let task = builds[name] ?? Task {
            let directory = TemporaryDirectory("tally-tool-\(name)")
            directory.removeAtProcessExit()
            let built = Built(directory)
            try await build(built.dataPath)
            return built
        }
        builds[name] = task
        return try await task.value.dataPath
    }

    /// A small ledger journal with every money path (see ``LedgerJournal/buildSmall``).
    func smallJournal() async throws -> String {
        try await journal("small") { try await LedgerJournal.buildSmall($0) }
    }

    /// The same, with a key rotation in the middle.
    func rotatedJournal() async throws -> String {
        try await journal("rotated") { try await LedgerJournal.buildSmall($0, rotateKey: true) }
    }

    /// About 50,000 events built through the ledger, in blocks of up to 2,500 purchases.
    func largeJournal() async throws -> String {
        try await journal("large") { try await LedgerJournal.buildLarge($0, events: 50_000) }
    }
}

/// A copy of a data directory in a fresh temporary directory, to tamper with.
final class DataCopy {
    let root = TemporaryDirectory("tally-tool-copy")
    let path: String

    init(of source: String) throws {
        path = root.path + "/data"
        try FileManager.default.copyItem(atPath: source, toPath: path)
    }
}
