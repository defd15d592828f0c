import ArgumentParser
import Foundation
import Journal
import LMDB
import Ledger
import Projections
import TallyCrypto

/// `journal-tool replay`: folds the journal from empty into fresh read models in a directory
/// of the user's choice, and prints the balances or a canonical dump. The live data directory
/// is only read.
struct ReplayCommand: ParsableCommand, JSONOutputCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Fold the journal from empty into fresh read models and print balances or a canonical dump.",
        discussion: """
            Folds every event into fresh read models in OUT/projections (the Projections \
            module's own fold) and prints every account's balance from them. OUT must not \
            exist or be an empty directory.

            --write-model also folds the events with the ledger's own fold (Ledger.replay) into \
            a new write model, stored in OUT/write-model (an LMDB environment with one database, \
            `state`, keyed as the live one); the two folds run side by side. --dump prints the \
            canonical dumps instead of the balances (the write model's, when folded: one \
            `key TAB value` line per entry, in key order; then the read models' own canonical \
            dump). --digest prints the SHA-256 of each dump. --compare-live implies \
            --write-model and compares both models with DIR's live ones, exiting 28 at the first \
            difference (live read models that have not folded the whole journal are not \
            compared).

            Replay does not verify the journal: run `journal-tool verify` for that.
            """
    )

    @OptionGroup var data: DataDirectoryOptions

    @Option(name: .customLong("into"), help: ArgumentHelp("The directory for the fresh read models.", valueName: "OUT"))
    var into: String

    @Flag(name: .customLong("write-model"), help: "Also fold the write model with the ledger's own fold, into OUT/write-model.")
    var writeModel = false

    @Flag(name: .customLong("dump"), help: "Print the canonical dumps of the replayed models instead of the balances.")
    var dump = false

    @Flag(name: .customLong("digest"), help: "Print the SHA-256 of each replayed model's canonical dump.")
    var digest = false

    @Flag(name: .customLong("compare-live"), help: "Compare the replayed models with DIR's live ones (exit 28 if they differ); implies --write-model.")
    var compareLive = false

    @Flag(name: .customLong("json"), help: "Print JSON (balances, counts, digests when asked) instead of text.")
    var json = false

    struct Output: Encodable {
        let valid: Bool
        let exitCode: Int32
        let events: UInt64
        /// The replayed write model's entries and dump digest: only with --write-model.
        let entries: Int?
        let writeModel: String?
        let dumpSHA256: String?
        let projections: String
        let projectionsDumpSHA256: String?
        let balances: [String: Int64]
        let liveComparison: String?
        let failure: ReportedFailure?
    }

    /// The replayed write model: its entries and where it is stored.
    struct ReplayedWriteModel {
        let entries: [String: [UInt8]]
        let path: String

        /// Its canonical dump, one line per entry after the header.
        func lines() -> [String] {
            CanonicalDump.lines(entries.map { (key: Array($0.key.utf8), value: $0.value) }, model: "write-model")
        }
    }

    func run() throws {
        let storage = try data.openStorage()
        let target = ExportCommand.trimmed(into)
        try ExportCommand.checkEmptyTarget(target)
        let last = try JournalReader(storage: storage).lastSequence()
        // The write model, when asked for, is folded on another thread while the read models
        // fold here: the two folds share nothing but the journal. The progress line follows the
        // read models.
        let foldsWriteModel = writeModel || compareLive
        let ledgerFold = foldsWriteModel ? BackgroundResult { try Ledger.replay(storage) } : nil
        let progress = ToolProgress.onTerminal("replay", first: 1, last: last)
        let createdTarget = !FileSystem.exists(target)
        try FileSystem.makeDirectory(target, mode: 0o700)
        // Nothing of a replay that does not fold is left behind: OUT when this run created it,
        // else what it put in it.
        let projections: Projections
        let entries: [String: [UInt8]]?
        do {
            defer { progress?.finish() }
            projections = try ProjectionCheck.openOrCreate(
                dataDirectory: target, journal: progress.map { ProgressStorage(base: storage, progress: $0) } ?? storage)
            _ = try projections.catchUp()
            if let failure = projections.status.failure {
                throw try Self.foldFailure(firstBad: projections.status.sequence + 1, failure, storage: storage)
            }
            do {
                entries = try ledgerFold?.result()
            } catch {
                throw ToolExit(
                    AuditFailure.Kind.undecodableEvent.exitCode,
                    message: "journal-tool: the journal does not fold into a write model: \(error); run `journal-tool verify`")
            }
        } catch {
            _ = try? ledgerFold?.result()
            FileSystem.removeTree(createdTarget ? target : Projections.path(in: target))
            throw error
        }

        // The read models' dump digest is taken on another thread while the fresh write model is
        // created atomically here. The dump goes piece by piece into the hash (or, with --dump, to
        // stdout): it grows with the journal and is never held whole.
        let projectionsDigestWork = digest || compareLive ? BackgroundResult { try projections.canonicalDumpDigest() } : nil
        // The live read models' digest is taken meanwhile too, when they can be compared.
        let (live, liveNotCompared): (LiveReadModels?, String?) = compareLive ? try LiveReadModels.open(dataDirectory: data.directoryPath, journal: storage, last: last) : (nil, nil)
        let replayed = try entries.map { try Self.store($0, in: target + "/write-model") }
        let projectionsDigest = try projectionsDigestWork?.result()
        var failure: ReportedFailure?
        var comparison: String?
        if compareLive, let replayed {
            (comparison, failure) = try compare(
                replayed.entries, projections, projectionsDigest!, live: live, liveNotCompared: liveNotCompared, storage: storage, last: last)
        }
        let balances = try projections.read { try $0.balances() }
        let writeModelLines = digest || (dump && !json) ? replayed?.lines() : nil
        let writeModelDigest = digest ? writeModelLines.map { CanonicalDump.digest($0) } : nil
        if json {
            try JSONOutput.print(Output(
                valid: failure == nil, exitCode: failure?.exitCode.rawValue ?? 0, events: last, entries: replayed?.entries.count, writeModel: replayed?.path, dumpSHA256: writeModelDigest,
                projections: projections.path, projectionsDumpSHA256: projectionsDigest?.hex,
                balances: Dictionary(uniqueKeysWithValues: balances.map { ($0.account, $0.balance) }),
                liveComparison: comparison, failure: failure))
        } else if dump {
            if let writeModelLines { print(writeModelLines.joined(separator: "\n")) }
            print("# tally canonical dump v1: read models (Projections.canonicalDump)")
            // Piece by piece after what `print` wrote; the dump ends with a newline.
            try projections.canonicalDump { try Console.output($0) }
        } else {
            var table = TextTable()
            table.add("replayed", "\(last) events into \(projections.path)")
            if let projectionsDigest { table.add("read models", "dump sha256 \(projectionsDigest.hex)") }
            if let replayed {
                table.add("write model", "\(replayed.path): \(replayed.entries.count) entries" + (writeModelDigest.map { ", dump sha256 \($0)" } ?? ""))
            }
            if let comparison { table.add("live", comparison) }
            print(table.text)
            print("")
            let width = balances.map(\.account.count).max() ?? 0
            for (account, balance) in balances {
                let amount = String(balance)
                print(account.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + String(repeating: " ", count: max(0, 20 - amount.count)) + amount)
            }
        }
        if let failure {
            if dump { Console.error("journal-tool: the replayed models differ from the live ones: \(failure.message)") }
            throw ToolExit.printed(failure.exitCode)
        }
    }

    /// Why the read models stopped folding, as the replay exits: 11 `gap` when the journal lacks
    /// the first event they did not fold, else 24 `undecodable-event` at the event they could not
    /// fold. Replay does not verify the journal; `verify` names every other failure.
    static func foldFailure(firstBad: UInt64, _ failure: ProjectionFailure, storage: any JournalStorage) throws -> ToolExit {
        let stored = try storage.read { reader in try reader.withEventRecord(at: firstBad) { $0 != nil } }
        if !stored {
            return ToolExit(
                VerificationFailure.Kind.gap.exitCode,
                message: "journal-tool: event \(firstBad) is missing, so the read models stop there (\(failure.reason)); run `journal-tool verify`",
                sequence: firstBad)
        }
        return ToolExit(
            AuditFailure.Kind.undecodableEvent.exitCode,
            message: "journal-tool: the read models stop at event \(failure.sequence): \(failure.reason); run `journal-tool verify`",
            sequence: failure.sequence)
    }

    /// Creates the replayed write model at `path` atomically.
    static func store(_ entries: [String: [UInt8]], in path: String) throws -> ReplayedWriteModel {
        let bytes = entries.reduce(0) { $0 + $1.key.utf8.count + $1.value.count }
        var configuration = Environment.Configuration()
        configuration.mapSize = max(64 << 20, bytes * 3)
        _ = try Environment.create(at: path, configuration: configuration) { transaction in
            let state = try transaction.openDatabase(named: "state")
            for key in entries.keys.sorted() { try transaction.put(state, key: Array(key.utf8), value: entries[key]!) }
        }
        return ReplayedWriteModel(entries: entries, path: path)
    }

    /// Compares the replayed write model and read models with the live ones: what to print, and
    /// the failure at the first difference.
    /// DIR's live read models, and their dump digest taken on another thread when they have
    /// folded the whole journal (only then are they compared).
    struct LiveReadModels {
        let projections: Projections
        let reached: UInt64
        let digest: BackgroundResult<SHA256Digest>?

        /// Opens them read-only; nil, with why they are not compared, when they cannot be.
        static func open(dataDirectory: String, journal: any JournalStorage, last: UInt64) throws -> (LiveReadModels?, String?) {
            let opened = try ProjectionCheck.open(dataDirectory: dataDirectory, journal: journal)
            return (try opened.projections.map { try LiveReadModels($0, last: last) }, opened.notCompared)
        }

        private init(_ projections: Projections, last: UInt64) throws {
            self.projections = projections
            reached = try ProjectionCheck.sequence(projections)
            digest = reached == last ? BackgroundResult { try projections.canonicalDumpDigest() } : nil
        }
    }

    private func compare(
        _ entries: [String: [UInt8]], _ projections: Projections, _ projectionsDigest: SHA256Digest, live liveModels: LiveReadModels?,
        liveNotCompared: String?, storage: any JournalStorage, last: UInt64
    ) throws -> (String, ReportedFailure?) {
        var failure: ReportedFailure?
        var comparison: String
        var live: [String: [UInt8]] = [:]
        try storage.read { reader in
            try reader.forEachState { key, value in
                live[String(decoding: key, as: UTF8.self)] = value
                return true
            }
        }
        let layout = try Ledger.writeModelLayout(storage)
        if layout < Ledger.writeModelVersion && !live.isEmpty {
            // An older build's write model keeps less than this build's fold: not comparable,
            // and not damaged. The next start of tally serve folds it afresh.
            comparison = "write model not compared: it has layout \(layout), written by an older build, and this build folds layout \(Ledger.writeModelVersion) (tally serve folds it afresh at its next start)"
        } else if let key = Set(live.keys).union(entries.keys).sorted().first(where: { live[$0] != entries[$0] }) {
            let message = "entry \(key): live \(live[key].map { CanonicalDump.valueText(key: Array(key.utf8), value: $0) } ?? "absent"), replayed \(entries[key].map { CanonicalDump.valueText(key: Array(key.utf8), value: $0) } ?? "absent")"
            failure = ReportedFailure(kind: ToolExitCode.Kinds.writeModelMismatch, exitCode: .writeModelMismatch, sequence: last, message: message)
            comparison = "write model differs: " + message
        } else {
            comparison = "write model equal: \(live.count) entries"
        }
        guard let liveModels else {
            return (comparison + "; live read models " + (liveNotCompared ?? "not compared"), failure)
        }
        let liveProjections = liveModels.projections
        if let liveDigest = liveModels.digest {
            guard try liveDigest.result() != projectionsDigest else {
                return (comparison + "; read models equal (canonical dumps identical)", failure)
            }
            // They differ: only now are both dumps held whole, to name the first line.
            let liveLines = try liveProjections.canonicalDump().split(separator: "\n", omittingEmptySubsequences: false)
            let replayedLines = try projections.canonicalDump().split(separator: "\n", omittingEmptySubsequences: false)
            let index = (0..<min(liveLines.count, replayedLines.count)).first { liveLines[$0] != replayedLines[$0] }
                ?? min(liveLines.count, replayedLines.count)
            let message = "read models differ at dump line \(index + 1): live \(index < liveLines.count ? String(liveLines[index]) : "(end)"), replayed \(index < replayedLines.count ? String(replayedLines[index]) : "(end)")"
            if failure == nil {
                failure = ReportedFailure(kind: ToolExitCode.Kinds.writeModelMismatch, exitCode: .writeModelMismatch, sequence: last, message: message)
            }
            comparison += "; " + message
        } else {
            comparison += "; read models not compared: the live ones have folded through \(liveModels.reached) of \(last)"
        }
        return (comparison, failure)
    }
}
