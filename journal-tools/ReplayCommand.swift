import ArgumentParser
import Foundation
import Journal
import LMDB
import Ledger
import Projections

/// `journal-tool replay`: folds the journal from empty into fresh read models in a directory
/// of the user's choice, and prints the balances or a canonical dump. The live data directory
/// is only read.
struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Fold the journal from empty into fresh read models and print balances or a canonical dump.",
        discussion: """
            Folds every event with the ledger's own fold (Ledger.replay) into a new write \
            model, stored in OUT/write-model (an LMDB environment with one database, `state`, \
            keyed as the live one), and the read models into OUT/projections (the Projections \
            module's own fold). OUT must not exist or be an empty directory. Prints every \
            balance, or with --dump the canonical dumps (the write model: one `key TAB value` \
            line per entry, in key order; then the read models' own canonical dump). \
            --compare-live compares both with DIR's live ones and exits 28 at the first \
            difference (live read models that have not folded the whole journal are not \
            compared).

            Replay does not verify the journal: run `journal-tool verify` for that.
            """
    )

    @OptionGroup var data: DataDirectoryOptions

    @Option(name: .customLong("into"), help: ArgumentHelp("The directory for the fresh read models.", valueName: "OUT"))
    var into: String

    @Flag(name: .customLong("dump"), help: "Print the canonical dump of the replayed write model instead of the balances.")
    var dump = false

    @Flag(name: .customLong("compare-live"), help: "Compare the replayed write model with DIR's live one (exit 28 if they differ).")
    var compareLive = false

    @Flag(name: .customLong("json"), help: "Print JSON (balances, counts, dump digest) instead of text.")
    var json = false

    struct Output: Encodable {
        let events: UInt64
        let entries: Int
        let writeModel: String
        let dumpSHA256: String
        let projections: String
        let projectionsDumpSHA256: String
        let balances: [String: Int64]
        let liveComparison: String?
        let failure: ReportedFailure?
    }

    func run() throws {
        let storage = try data.openStorage()
        let target = ExportCommand.trimmed(into)
        try ExportCommand.checkEmptyTarget(target)
        let last = try JournalReader(storage: storage).lastSequence()
        // The write model is folded on another thread while the read models fold here: the two
        // folds share nothing but the journal. The progress line follows the read models.
        let ledgerFold = BackgroundResult { try Ledger.replay(storage) }
        let progress = ToolProgress.onTerminal("replay", first: 1, last: last)
        let createdTarget = !FileSystem.exists(target)
        try FileSystem.makeDirectory(target, mode: 0o700)
        let projections: Projections
        let caughtUp: Result<Void, any Error>
        do {
            projections = try ProjectionCheck.openOrCreate(
                dataDirectory: target, journal: progress.map { ProgressStorage(base: storage, progress: $0) } ?? storage)
            caughtUp = Result { try projections.catchUp() }
        } catch {
            _ = try? ledgerFold.result()
            throw error
        }
        progress?.finish()
        let entries: [String: [UInt8]]
        do {
            entries = try ledgerFold.result()
        } catch {
            // Nothing of a replay that does not fold is left behind.
            FileSystem.removeTree(createdTarget ? target : Projections.path(in: target))
            throw ToolExit(
                AuditFailure.Kind.undecodableEvent.exitCode,
                message: "journal-tool: the journal does not fold: \(error); run `journal-tool verify`")
        }
        try caughtUp.get()
        if let failure = projections.status.failure {
            throw ToolExit(
                AuditFailure.Kind.undecodableEvent.exitCode,
                message: "journal-tool: the read models stop at event \(failure.sequence): \(failure.reason); run `journal-tool verify`")
        }

        // The read models' dump digest is taken on another thread while the fresh write model is
        // created atomically here. The dump goes piece by piece into the hash (or, with --dump, to
        // stdout): it grows with the journal and is never held whole.
        let needsDigest = json || !dump || compareLive
        let projectionsDigestWork = needsDigest ? BackgroundResult { try projections.canonicalDumpDigest() } : nil
        let writeModelPath = target + "/write-model"
        let bytes = entries.reduce(0) { $0 + $1.key.utf8.count + $1.value.count }
        var configuration = Environment.Configuration()
        configuration.mapSize = max(64 << 20, bytes * 3)
        _ = try Environment.create(at: writeModelPath, configuration: configuration) { transaction in
            let state = try transaction.openDatabase(named: "state")
            for key in entries.keys.sorted() { try transaction.put(state, key: Array(key.utf8), value: entries[key]!) }
        }
        let pairs = entries.map { (key: Array($0.key.utf8), value: $0.value) }
        let lines = CanonicalDump.lines(pairs, model: "write-model")
        let projectionsDigest = try projectionsDigestWork?.result()
        var failure: ReportedFailure?
        var comparison: String?
        if compareLive {
            var live: [String: [UInt8]] = [:]
            try storage.read { reader in
                try reader.forEachState { key, value in
                    live[String(decoding: key, as: UTF8.self)] = value
                    return true
                }
            }
            if let key = Set(live.keys).union(entries.keys).sorted().first(where: { live[$0] != entries[$0] }) {
                let message = "entry \(key): live \(live[key].map { CanonicalDump.valueText(key: Array(key.utf8), value: $0) } ?? "absent"), replayed \(entries[key].map { CanonicalDump.valueText(key: Array(key.utf8), value: $0) } ?? "absent")"
                failure = ReportedFailure(kind: "write-model-mismatch", exitCode: Self.writeModelMismatch, sequence: last, message: message)
                comparison = "write model differs: " + message
            } else {
                comparison = "write model equal: \(live.count) entries"
            }
            if let liveProjections = try ProjectionCheck.open(dataDirectory: data.directoryPath, journal: storage) {
                let reached = try ProjectionCheck.sequence(liveProjections)
                if reached != last {
                    comparison! += "; read models not compared: the live ones have folded through \(reached) of \(last)"
                } else if try liveProjections.canonicalDumpDigest() != projectionsDigest {
                    // They differ: only now are both dumps held whole, to name the first line.
                    let liveLines = try liveProjections.canonicalDump().split(separator: "\n", omittingEmptySubsequences: false)
                    let replayedLines = try projections.canonicalDump().split(separator: "\n", omittingEmptySubsequences: false)
                    let index = (0..<min(liveLines.count, replayedLines.count)).first { liveLines[$0] != replayedLines[$0] }
                        ?? min(liveLines.count, replayedLines.count)
                    let message = "read models differ at dump line \(index + 1): live \(index < liveLines.count ? String(liveLines[index]) : "(end)"), replayed \(index < replayedLines.count ? String(replayedLines[index]) : "(end)")"
                    if failure == nil {
                        failure = ReportedFailure(kind: "write-model-mismatch", exitCode: Self.writeModelMismatch, sequence: last, message: message)
                    }
                    comparison! += "; " + message
                } else {
                    comparison! += "; read models equal (canonical dumps identical)"
                }
            } else {
                comparison! += "; no live read models"
            }
        }
        var balances: [String: Int64] = [:]
        for (key, value) in entries where key.hasPrefix("bal/") {
            balances[String(key.dropFirst(4))] = LedgerAudit.balance(value)
        }
        if json {
            try JSONOutput.print(Output(
                events: last, entries: entries.count, writeModel: writeModelPath, dumpSHA256: CanonicalDump.digest(lines),
                projections: projections.path, projectionsDumpSHA256: projectionsDigest!.hex,
                balances: balances, liveComparison: comparison, failure: failure))
        } else if dump {
            print(lines.joined(separator: "\n"))
            print("# tally canonical dump v1: read models (Projections.canonicalDump)")
            // Piece by piece after what `print` wrote; the dump ends with a newline.
            try projections.canonicalDump { try Console.output($0) }
        } else {
            var table = TextTable()
            table.add("replayed", "\(last) events into \(writeModelPath): \(entries.count) entries")
            table.add("dump sha256", CanonicalDump.digest(lines))
            table.add("read models", "\(projections.path), dump sha256 \(projectionsDigest!.hex)")
            if let comparison { table.add("live", comparison) }
            print(table.text)
            print("")
            let width = balances.keys.map(\.count).max() ?? 0
            for account in balances.keys.sorted() {
                let amount = String(balances[account]!)
                print(account.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + String(repeating: " ", count: max(0, 20 - amount.count)) + amount)
            }
        }
        if let failure {
            if dump { Console.error("journal-tool: the replayed write model differs from the live one: \(failure.message)") }
            throw ToolExit(failure.exitCode)
        }
    }

    /// The replayed write model differs from the live one.
    static let writeModelMismatch = ToolExitCode(rawValue: 28)
}
