import ArgumentParser
import Journal
import LMDB
import Ledger
import Projections
import TallyCrypto

/// `journal-tool verify`: checks a journal end to end with ``JournalVerifier`` and exits with a
/// code that names the first failure.
struct VerifyCommand: ParsableCommand, JSONOutputCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Audit a journal: hash chain, blocks, Merkle roots, signatures, keys, postings and balances.",
        discussion: """
            Recomputes every event hash from the stored bytes, checks that blocks tile the \
            sequence, and checks each block's chain head, Merkle root and Ed25519 signature, \
            and that every signing key is trusted or endorsed (through the rotation chain) by a \
            trusted key. Stops at the first failure and prints its sequence and reason.

            On a ledger's journal (--audit auto, the default) it then decodes every event as a \
            ledger event, checks that its postings sum to zero per currency, recomputes every \
            balance from postings alone and compares it with the write model (when the range \
            is the whole journal), and checks settlements against the vendor payables, royalty \
            payouts against the holders' payables, and royalties and fees against the postings.

            Trusted keys are the --public-key files, or else every published key in DIR/keys \
            (journal-<key id>.pub.pem). An auditor should pass a copy of the journal's first \
            public key obtained out of band: keys in DIR/keys are only as trustworthy as DIR.

            With --from, verification starts at the block holding that sequence and trusts the \
            stored hash of the event before that block; pair it with --checkpoint to anchor it.

            Exit codes:
            \(exitCodeTable)
            """
    )

    /// The exit-code table shown in `--help` (and copied into Schemas/journal.md).
    static var exitCodeTable: String {
        var rows = [
            "   0  valid",
            "   2  usage error, or the data directory, journal or a key file cannot be read",
        ]
        for kind in VerificationFailure.Kind.allCases {
            let code = String(kind.exitCode.rawValue)
            rows.append(String(repeating: " ", count: 4 - code.count) + code + "  " + kind.rawValue + ": " + kind.exitCodeSummary)
        }
        for kind in AuditFailure.Kind.allCases {
            let code = String(kind.exitCode.rawValue)
            rows.append(String(repeating: " ", count: 4 - code.count) + code + "  " + kind.rawValue + ": " + kind.exitCodeSummary)
        }
        return rows.joined(separator: "\n")
    }

    @OptionGroup var data: DataDirectoryOptions

    @Option(name: .customLong("from"), help: ArgumentHelp("Start at the block holding this sequence.", valueName: "SEQ"))
    var fromSequence: UInt64?

    @Option(name: .customLong("through"), help: ArgumentHelp("Stop after the block holding this sequence.", valueName: "SEQ"))
    var throughSequence: UInt64?

    @Option(
        name: .customLong("public-key"),
        help: ArgumentHelp("A trusted Ed25519 public key (PEM); repeat for several. Default: DIR/keys/*.pub.pem.", valueName: "PEMFILE"))
    var publicKeyFiles: [String] = []

    @Option(
        name: .customLong("checkpoint"),
        help: ArgumentHelp(
            "A head kept from an earlier run; fails with rollback unless the journal still holds that event with that hash.",
            valueName: "SEQ:HASH"))
    var checkpoints: [Checkpoint] = []

    @Option(
        name: .customLong("audit"),
        help: ArgumentHelp(
            "auto: audit ledger events when the journal is a ledger's; ledger: always; chain: the journal's checks only.",
            valueName: "auto|ledger|chain"))
    var auditMode: AuditMode = .auto

    @Flag(name: .customLong("json"), help: "Print one JSON object instead of the summary.")
    var json = false

    func validate() throws {
        if let fromSequence, fromSequence == 0 {
            throw ValidationError("--from must be at least 1 (sequences start at 1)")
        }
        if let throughSequence, throughSequence == 0 {
            throw ValidationError("--through must be at least 1 (sequences start at 1)")
        }
        if let fromSequence, let throughSequence, throughSequence < fromSequence {
            throw ValidationError("--through \(throughSequence) is before --from \(fromSequence)")
        }
    }

    func run() throws {
        let storage = try data.openStorage()
        let trusted = try trustedKeys()
        guard !trusted.isEmpty else {
            throw ToolExit.usage("no trusted public keys: \(data.keysPath) holds no journal-*.pub.pem; pass --public-key")
        }
        let start = fromSequence ?? 1
        // One read snapshot for everything: the journal's checks, the ledger audit and the
        // write model all see the same committed state, even beside a live writer.
        let result: VerifyResult = try storage.read { reader in
            let snapshot = SnapshotStorage(reader: reader, location: storage.location)
            let lastSequence = try reader.lastEventSequence() ?? 0
            if start > lastSequence && lastSequence > 0 {
                throw ToolExit.usage("--from \(start) is past the end of the journal (its last sequence is \(lastSequence))")
            }
            let progress = ToolProgress.onTerminal("verify", first: start, last: min(lastSequence, throughSequence ?? .max))
            let report = try ParallelVerification.verify(
                trustedKeys: trusted.map(\.publicKey), storage: storage, snapshot: snapshot,
                from: start, through: throughSequence, lastSequence: lastSequence, progress: progress)
            progress?.finish()

            var failure = report.failure.map(ReportedFailure.init)
            if failure == nil && report.blocksVerified > 0 && report.firstSequence > start {
                // The verifier starts at the first block ending at or after `start`; if that block
                // begins after `start`, no block covers `start`, which a whole run would report.
                failure = ReportedFailure(VerificationFailure(
                    kind: .blockRange, sequence: start,
                    message: "no block covers sequence \(start): the next block starts at \(report.firstSequence)"))
            }
            if failure == nil {
                failure = try checkpoints.lazy.compactMap {
                    try Self.violation(of: $0, in: snapshot, lastSequence: lastSequence)
                }.first.map(ReportedFailure.init)
            }

            var audit: VerifyResult.Audit
            var projectionsNote: String
            let ledger = try auditMode == .ledger || (auditMode == .auto && Self.isLedgerJournal(reader))
            // The read models are compared at the sequence they have folded through (or this
            // snapshot's head, if they are ahead of it), from their point-in-time balances.
            let opened: (projections: Projections?, notCompared: String?) =
                ledger ? try ProjectionCheck.open(dataDirectory: data.directoryPath, journal: snapshot) : (nil, nil)
            let projections = opened.projections
            let projectionsAt = try projections.map { min(try ProjectionCheck.sequence($0), lastSequence) }
            projectionsNote = opened.notCompared ?? "not compared"
            if !ledger {
                audit = .init(mode: "chain", report: nil, note: auditMode == .chain
                    ? "skipped (--audit chain)" : "skipped: event 1 is not a ledger event and the write model is empty")
                projectionsNote = "not compared (no ledger audit)"
            } else if failure != nil || report.blocksVerified == 0 {
                audit = .init(mode: "ledger", report: nil, note: failure != nil
                    ? "not run: the journal's checks failed" : "nothing to audit")
            } else {
                let auditProgress = ToolProgress.onTerminal("audit", first: report.firstSequence, last: report.lastSequence)
                var run = LedgerAudit(
                    reader: reader, first: report.firstSequence, last: report.lastSequence,
                    compareWriteModel: report.firstSequence == 1 && report.lastSequence == lastSequence,
                    progress: auditProgress,
                    snapshotAt: report.firstSequence == 1 && (projectionsAt ?? .max) <= report.lastSequence ? projectionsAt : nil)
                let auditReport = try run.run()
                auditProgress?.finish()
                audit = .init(mode: "ledger", report: auditReport, note: nil)
                failure = auditReport.failure.map(ReportedFailure.init)
                if let projections, let projectionsAt {
                    if let balances = run.snapshot, failure == nil {
                        if let mismatch = try ProjectionCheck.compare(balances, at: projectionsAt, with: projections) {
                            failure = ReportedFailure(mismatch)
                            projectionsNote = "differ at sequence \(projectionsAt)"
                        } else {
                            projectionsNote = "\(balances.count) balances equal the recomputed ones at sequence \(projectionsAt)"
                                + (projectionsAt < lastSequence ? " (the read models have folded through \(projectionsAt) of \(lastSequence))" : "")
                        }
                    } else if failure == nil {
                        projectionsNote = "not compared: the range does not start at 1 or ends before the read models' sequence \(projectionsAt)"
                    }
                }
            }
            audit.projections = projectionsNote
            return VerifyResult(
                journal: data.journalPath, trustedKeys: trusted, requestedFrom: start, requestedThrough: throughSequence,
                checkpoints: checkpoints.map(\.text), report: report, audit: audit, failure: failure)
        }
        if json {
            try JSONOutput.print(result)
        } else {
            print(result.text)
        }
        if !result.isValid { throw ToolExit.printed(result.exitCode) }
    }

    /// A ledger's journal: event 1 has a ledger event type, or the write model holds entries.
    static func isLedgerJournal(_ reader: any JournalStorageReader) throws -> Bool {
        let first: String? = try reader.withEventRecord(at: 1) { record in
            guard let record, case .success(let view) = EventRecord.parse(record) else { return nil }
            return String(decoding: view.typeName, as: UTF8.self)
        }
        if let first, LedgerEvent.typeNames.contains(first) { return true }
        var hasState = false
        try reader.forEachState { _, _ in
            hasState = true
            return false
        }
        return hasState
    }

    /// The keys given with --public-key, or else every published key of the data directory.
    func trustedKeys() throws -> [TrustedKey] {
        if !publicKeyFiles.isEmpty {
            return try publicKeyFiles.map { TrustedKey(publicKey: try PublicKeyFile.load($0), file: $0) }
        }
        let store = SigningKeyStore(directory: data.keysPath)
        return try store.publishedKeys().map { key in
            TrustedKey(publicKey: key, file: store.publicKeyPath(KeyID(publicKey: key)))
        }.sorted { $0.file < $1.file }
    }

    /// A `rollback` failure when the journal does not hold the checkpoint's event with its hash.
    static func violation(of checkpoint: Checkpoint, in storage: any JournalStorage, lastSequence: UInt64) throws -> VerificationFailure? {
        guard checkpoint.sequence <= lastSequence else {
            return VerificationFailure(
                kind: .rollback, sequence: checkpoint.sequence,
                message: "the journal ends at sequence \(lastSequence), before the checkpoint \(checkpoint.text)")
        }
        let stored: SHA256Digest? = try storage.read { reader in
            try reader.withEventRecord(at: checkpoint.sequence) { record in
                guard let record, case .success(let view) = EventRecord.parse(record) else { return nil }
                return view.storedHash
            }
        }
        guard let stored else {
            return VerificationFailure(
                kind: .rollback, sequence: checkpoint.sequence,
                message: "event \(checkpoint.sequence) of the checkpoint is missing or malformed")
        }
        guard stored == checkpoint.hash else {
            return VerificationFailure(
                kind: .rollback, sequence: checkpoint.sequence,
                message: "event \(checkpoint.sequence) has hash \(stored.hex), but the checkpoint says \(checkpoint.hash.hex)")
        }
        return nil
    }
}
