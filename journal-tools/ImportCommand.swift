import ArgumentParser
import Dispatch
import Foundation
import Journal
import LMDB
import Ledger
import TallyCrypto
import Zstd

/// `journal-tool import`: builds a journal in an empty data directory from an export, checking
/// everything on the way in: each file's size and SHA-256, the entries' layout and order, and,
/// after each segment is written, the journal's own checks (chain, blocks, Merkle roots,
/// signatures against the exported key records and the trusted keys). It works in a sibling
/// directory and renames it into place only when everything held, so a refused import leaves
/// nothing behind, and what an interrupted one left is removed by the next (`StagingDirectory`).
/// One segment is in memory at a time.
struct ImportCommand: ParsableCommand, JSONOutputCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import an export into an empty data directory, verifying everything on the way in.",
        discussion: """
            Trusted keys: the --public-key files, or else the journal's first key as the export \
            records it (which proves only that the export is self-consistent: an auditor passes \
            the first public key obtained out of band). The imported data directory holds the \
            journal, the public keys and keys/journal-id, but no private key: to serve it, put \
            the journal's current signing key in DIR/keys.

            Exit codes:
            \(exitCodeTable)
            """
    )

    static var exitCodeTable: String {
        var rows = [
            "   0  imported; the journal verifies and ends at the manifest's head",
            "   2  usage error, unreadable input, or the data directory is not empty",
            "  10-23  the imported events fail the journal's checks (as `verify`)",
        ]
        for kind in ImportFailure.allCases {
            rows.append("  \(kind.exitCode.rawValue)  \(kind.rawValue): \(kind.exitCodeSummary)")
        }
        return rows.joined(separator: "\n")
    }

    @Argument(help: ArgumentHelp("The export directory (from `journal-tool export`).", valueName: "EXPORT"))
    var export: String

    @OptionGroup var data: DataDirectoryOptions

    @Option(
        name: .customLong("public-key"),
        help: ArgumentHelp("A trusted Ed25519 public key (PEM); repeat for several.", valueName: "PEMFILE"))
    var publicKeyFiles: [String] = []

    @Option(
        name: .customLong("checkpoint"),
        help: ArgumentHelp("A head kept from an earlier run; refused (rollback) unless the export holds it.", valueName: "SEQ:HASH"))
    var checkpoints: [Checkpoint] = []

    @Flag(
        name: .customLong("no-write-model"),
        help: "Do not rebuild the ledger's write model (state) from the imported events; `tally serve` then cannot use the journal.")
    var noWriteModel = false

    @Flag(name: .customLong("json"), help: "Print one JSON object instead of the summary.")
    var json = false

    struct Outcome: Encodable {
        /// Equal to `imported`: the key every command's JSON failure has (`FailureOutput`).
        let valid: Bool
        let imported: Bool
        let exitCode: Int32
        let dataDirectory: String
        let firstSequence: UInt64?
        let lastSequence: UInt64?
        let head: String?
        let events: UInt64
        let blocks: UInt64
        let segments: Int
        /// Write-model entries rebuilt by folding the imported events (nil when not rebuilt).
        let writeModelEntries: Int?
        let failure: ReportedFailure?
    }

    func run() throws {
        let exportPath = ExportCommand.trimmed(export)
        let target = data.directoryPath
        try ExportCommand.checkEmptyTarget(target)
        let trusted = try publicKeyFiles.map { try PublicKeyFile.load($0) }
        let staging = StagingDirectory.make(for: target, kind: "importing")
        var importer = Importer(
            exportPath: exportPath, staging: staging, trusted: trusted, checkpoints: checkpoints, rebuildWriteModel: !noWriteModel)
        let result: Result<Void, ReportedFailure>
        do {
            result = try importer.run()
        } catch {
            FileSystem.removeTree(staging)
            throw error
        }
        switch result {
        case .success:
            do {
                try FileSystem.sync(staging)
                if FileSystem.isDirectory(target) { try FileManager.default.removeItem(atPath: target) }
                try FileSystem.rename(staging, to: target)
                try FileSystem.sync(FileSystem.parentDirectory(of: target))
            } catch {
                FileSystem.removeTree(staging)
                throw error
            }
        case .failure:
            FileSystem.removeTree(staging)
        }
        let failure: ReportedFailure? = if case .failure(let failure) = result { failure } else { nil }
        let outcome = Outcome(
            valid: failure == nil, imported: failure == nil, exitCode: failure?.exitCode.rawValue ?? 0, dataDirectory: target,
            firstSequence: importer.manifest?.firstSequence, lastSequence: importer.lastImported,
            head: importer.headImported?.hex, events: importer.eventsImported, blocks: importer.blocksImported,
            segments: importer.segmentsImported, writeModelEntries: importer.writeModelEntries, failure: failure)
        if json {
            try JSONOutput.print(outcome)
        } else {
            var table = TextTable()
            table.add("export", exportPath)
            table.add("data directory", target)
            if let manifest = importer.manifest {
                table.add("journal id", manifest.journalID)
                table.add("manifest", "sequences \(manifest.firstSequence)...\(manifest.lastSequence), \(manifest.segments.count) segments, head \(manifest.head)")
            }
            table.add("imported", "\(importer.eventsImported) events, \(importer.blocksImported) blocks, \(importer.segmentsImported) segments" + (failure == nil ? "" : " (discarded)"))
            if let failure {
                table.add("result", "REFUSED: \(failure.kind) (exit \(failure.exitCode.rawValue))")
                table.add("first bad", "sequence \(failure.sequence)")
                table.add("reason", failure.message)
            } else {
                table.add("head", "\(importer.lastImported ?? 0):\(importer.headImported?.hex ?? "")")
                table.add("write model", importer.writeModelEntries.map { "\($0) entries, folded from the imported events" }
                    ?? "not rebuilt (\(noWriteModel ? "--no-write-model" : "not a ledger journal"))")
                table.add("result", "imported and verified")
            }
            print(table.text)
        }
        if let failure { throw ToolExit.printed(failure.exitCode) }
    }
}

/// The import's steps; each refusal is a ``ReportedFailure``, other errors (I/O) are thrown.
struct Importer {
    let exportPath: String
    let staging: String
    var trusted: [Ed25519PublicKey]
    let checkpoints: [Checkpoint]
    let rebuildWriteModel: Bool

    var manifest: ExportManifest?
    var writeModelEntries: Int?
    var eventsImported: UInt64 = 0
    var blocksImported: UInt64 = 0
    var segmentsImported = 0
    var lastImported: UInt64?
    var headImported: SHA256Digest?

    init(exportPath: String, staging: String, trusted: [Ed25519PublicKey], checkpoints: [Checkpoint], rebuildWriteModel: Bool) {
        self.exportPath = exportPath
        self.staging = staging
        self.trusted = trusted
        self.checkpoints = checkpoints
        self.rebuildWriteModel = rebuildWriteModel
    }

    mutating func run() throws -> Result<Void, ReportedFailure> {
        do {
            try importAll()
            return .success(())
        } catch let failure as ReportedFailure {
            return .failure(failure)
        }
    }

    /// Reads a file the manifest lists, checking its size and SHA-256, and decompresses it.
    func load(_ name: String, bytes: Int, uncompressedBytes: Int, sha256: String, sequence: UInt64) throws -> [UInt8] {
        try Self.load(exportPath: exportPath, name, bytes: bytes, uncompressedBytes: uncompressedBytes, sha256: sha256, sequence: sequence)
    }

    /// The most bytes a manifest may state for the whole journal or one file: 1 TiB, far past
    /// any export and far from where the sizes' sums could overflow.
    static let statedBytesMax = 1 << 40

    /// What is wrong with the manifest's sizes and sequences before anything is read or
    /// allocated by them, or nil: every size 0 to `statedBytesMax`, every sequence below the
    /// last `UInt64`.
    static func sizeProblem(_ manifest: ExportManifest) -> String? {
        func bad(_ value: Int) -> Bool { value < 0 || value > statedBytesMax }
        if bad(manifest.uncompressedBytes) { return "uncompressedBytes \(manifest.uncompressedBytes) is not 0 to \(statedBytesMax)" }
        if bad(manifest.keys.bytes) || bad(manifest.keys.uncompressedBytes) {
            return "\(manifest.keys.file): sizes \(manifest.keys.bytes) and \(manifest.keys.uncompressedBytes) are not 0 to \(statedBytesMax)"
        }
        if manifest.lastSequence == .max { return "lastSequence \(manifest.lastSequence) is out of range" }
        for segment in manifest.segments {
            if bad(segment.bytes) || bad(segment.uncompressedBytes) {
                return "\(segment.file): sizes \(segment.bytes) and \(segment.uncompressedBytes) are not 0 to \(statedBytesMax)"
            }
            if segment.lastSequence == .max { return "\(segment.file): lastSequence \(segment.lastSequence) is out of range" }
        }
        return nil
    }

    /// What is wrong between `SHA256SUMS` and the manifest, or nil: the file must list the
    /// manifest with the SHA-256 of its bytes, and every file the manifest names with the
    /// SHA-256 the manifest gives it (each file is then checked against the manifest as it is
    /// read). An edited manifest, journal ID included, is refused here.
    static func checksumsProblem(exportPath: String, manifestBytes: [UInt8], _ manifest: ExportManifest) -> String? {
        let name = ExportFormat.checksumsName
        guard let data = FileManager.default.contents(atPath: exportPath + "/" + name), data.count <= 1 << 20,
              let text = String(data: data, encoding: .utf8)
        else { return "\(name) is missing, larger than 1 MiB or not text" }
        var listed: [String: String] = [:]
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let parts = line.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].count == 64, parts[1].hasPrefix(" ") else { return "\(name): a line is not '<sha256>  <file>': \(line.prefix(100))" }
            listed[String(parts[1].dropFirst())] = String(parts[0]).lowercased()
        }
        let manifestDigest = ExportFormat.sha256(manifestBytes)
        guard listed[ExportFormat.manifestName] == manifestDigest else {
            return "\(ExportFormat.manifestName) has SHA-256 \(manifestDigest), \(name) says \(listed[ExportFormat.manifestName] ?? "nothing") (the manifest was changed)"
        }
        for (file, digest) in [(manifest.keys.file, manifest.keys.sha256)] + manifest.segments.map({ ($0.file, $0.sha256) })
        where listed[file] != digest.lowercased() {
            return "\(file): the manifest gives SHA-256 \(digest), \(name) \(listed[file] ?? "does not list it")"
        }
        return nil
    }

    static func load(exportPath: String, _ name: String, bytes: Int, uncompressedBytes: Int, sha256: String, sequence: UInt64) throws -> [UInt8] {
        let path = exportPath + "/" + name
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ImportFailure.missingSegment.failure(sequence: sequence, "\(path) is missing")
        }
        let compressed = Array(data)
        guard compressed.count == bytes else {
            throw ImportFailure.checksumMismatch.failure(
                sequence: sequence, "\(name) is \(compressed.count) bytes, the manifest says \(bytes) (truncated or changed)")
        }
        let digest = ExportFormat.sha256(compressed)
        guard digest == sha256 else {
            throw ImportFailure.checksumMismatch.failure(sequence: sequence, "\(name) has SHA-256 \(digest), the manifest says \(sha256)")
        }
        let plain: [UInt8]
        do {
            plain = try Zstd.decompress(compressed, maximumSize: uncompressedBytes)
        } catch {
            throw ImportFailure.corruptSegment.failure(sequence: sequence, "\(name) does not decompress: \(error)")
        }
        guard plain.count == uncompressedBytes else {
            throw ImportFailure.corruptSegment.failure(
                sequence: sequence, "\(name) decompresses to \(plain.count) bytes, the manifest says \(uncompressedBytes)")
        }
        return plain
    }

    /// Reads, checks and decompresses `segment` on a background thread.
    func loadInBackground(_ segment: ExportManifest.Segment) -> BackgroundResult<[UInt8]> {
        let exportPath = exportPath
        return BackgroundResult {
            try Importer.load(
                exportPath: exportPath, segment.file, bytes: segment.bytes, uncompressedBytes: segment.uncompressedBytes,
                sha256: segment.sha256, sequence: segment.firstSequence)
        }
    }

    mutating func importAll() throws {
        // The manifest.
        let manifestPath = exportPath + "/" + ExportFormat.manifestName
        guard let manifestData = FileManager.default.contents(atPath: manifestPath) else {
            throw ImportFailure.badManifest.failure(sequence: 0, "\(manifestPath) is missing")
        }
        let manifest: ExportManifest
        do {
            manifest = try JSONDecoder().decode(ExportManifest.self, from: manifestData)
        } catch {
            throw ImportFailure.badManifest.failure(sequence: 0, "\(manifestPath) does not parse: \(LedgerAudit.describe(error))")
        }
        guard manifest.format == ExportFormat.formatName else {
            throw ImportFailure.badManifest.failure(sequence: 0, "format is \(manifest.format), not \(ExportFormat.formatName)")
        }
        guard manifest.firstSequence >= 1 else {
            throw ImportFailure.badManifest.failure(sequence: 0, "firstSequence is 0; sequences start at 1")
        }
        guard manifest.firstSequence == 1 else {
            throw ToolExit.usage("the export starts at sequence \(manifest.firstSequence); a new journal can only be built from an export that starts at 1")
        }
        guard let journalID = Hex.decode(manifest.journalID), journalID.count == 16 else {
            throw ImportFailure.badManifest.failure(sequence: 0, "journalID is not 32 hex digits")
        }
        if let problem = Self.sizeProblem(manifest) {
            throw ImportFailure.badManifest.failure(sequence: 0, problem)
        }
        if let problem = Self.checksumsProblem(exportPath: exportPath, manifestBytes: Array(manifestData), manifest) {
            throw ImportFailure.checksumMismatch.failure(sequence: 0, problem)
        }
        self.manifest = manifest

        // The key records.
        let keyBytes = try load(
            manifest.keys.file, bytes: manifest.keys.bytes, uncompressedBytes: manifest.keys.uncompressedBytes,
            sha256: manifest.keys.sha256, sequence: 0)
        var records: [KeyRecord] = []
        do {
            try keyBytes.withUnsafeBytes { buffer in
                try ExportFormat.forEachEntry(in: buffer) { entry in
                    guard entry.tag == .key, case .success(let record) = KeyRecord.parse(entry.value),
                          record.keyID.value == entry.key
                    else { throw ExportFormat.FormatError("an entry is not a key record stored under its key id") }
                    records.append(record)
                }
            }
        } catch let error as ExportFormat.FormatError {
            throw ImportFailure.corruptSegment.failure(sequence: 0, "\(manifest.keys.file): \(error)")
        }
        if trusted.isEmpty, let first = KeyRecord.rotationOrder(records).chain.first {
            trusted = [first.publicKey]
        }

        // The journal, in the staging directory.
        try FileSystem.makeDirectory(staging, mode: 0o700)
        var metadata: [String: [UInt8]] = ["journal-id": journalID]
        if let created = manifest.createdMilliseconds {
            metadata["created-ms"] = withUnsafeBytes(of: created.bigEndian) { Array($0) }
        }
        let storage = try LMDBJournalStorage.open(
            at: Journal.journalPath(in: staging), create: true,
            mapSize: max(64 << 20, manifest.uncompressedBytes + manifest.uncompressedBytes / 2 + (64 << 20)),
            initialMetadata: metadata)
        try storage.write { writer in
            for record in records { try writer.putKeyRecord(keyID: record.keyID.value, bytes: record.bytes) }
        }

        // The segments: their order first (the manifest alone), then each one read, checked
        // and decompressed on a second thread while the one before is written and verified.
        var next = manifest.firstSequence
        for segment in manifest.segments {
            guard segment.firstSequence == next, segment.lastSequence >= segment.firstSequence else {
                throw ImportFailure.segmentOrder.failure(
                    sequence: next,
                    "\(segment.file) holds \(segment.firstSequence)...\(segment.lastSequence), but the next sequence is \(next) (segments reordered, duplicated or left out)")
            }
            next = segment.lastSequence + 1
        }
        // Three stages: segment k + 1 is read and decompressed on one thread while segment k is
        // written here and segment k - 1 (committed) is verified in the storage on another.
        let verification = SegmentVerification(verifier: JournalVerifier(trustedKeys: trusted), storage: storage)
        let progress = ToolProgress.onTerminal("import", first: manifest.firstSequence, last: manifest.lastSequence)
        var loading = manifest.segments.first.map { loadInBackground($0) }
        do {
            for (index, segment) in manifest.segments.enumerated() {
                let bytes = try loading!.result()
                loading = index + 1 < manifest.segments.count ? loadInBackground(manifest.segments[index + 1]) : nil
                try write(bytes, of: segment, into: storage)
                verification.enqueue(segment)
                try absorb(verification.finished(), progress: progress)
            }
        } catch {
            // A failure in an earlier segment's verification comes first: it is the first bad sequence.
            _ = try? loading?.result()
            try absorb(verification.waitForAll(), progress: progress)
            throw error
        }
        _ = try? loading?.result()
        try absorb(verification.waitForAll(), progress: progress)
        progress?.finish()

        // The end: the manifest's head, and any checkpoint the auditor kept.
        guard lastImported == manifest.lastSequence, headImported?.hex == manifest.head else {
            throw ImportFailure.headMismatch.failure(
                sequence: (lastImported ?? 0) + 1,
                "the segments end at \(lastImported ?? 0):\(headImported?.hex ?? "none"), the manifest's head is \(manifest.lastSequence):\(manifest.head)")
        }
        let lastSequence = manifest.lastSequence
        for checkpoint in checkpoints {
            if let violation = try VerifyCommand.violation(of: checkpoint, in: storage, lastSequence: lastSequence) {
                throw ReportedFailure(violation)
            }
        }

        // The write model beside the journal, folded from the events as `Ledger.replay` does:
        // it is covered by no signature, so it is never exported.
        if rebuildWriteModel, try storage.read({ try VerifyCommand.isLedgerJournal($0) }) {
            let entries: [String: [UInt8]]
            do {
                entries = try Ledger.replay(storage)
            } catch {
                throw AuditFailure(kind: .undecodableEvent, sequence: 0, message: "the events do not fold into a write model: \(error)")
                    .reported
            }
            // Folded by this build: marked as of its layout, so that a server started on the
            // import does not fold it again.
            try Ledger.installWriteModel(entries, foldedThrough: try storage.read { try $0.lastEventSequence() } ?? 0, in: storage)
            writeModelEntries = entries.count
        }

        // The public keys and the journal ID, as `tally serve` expects them.
        let store = SigningKeyStore(directory: Journal.keysPath(in: staging))
        for record in records { try store.publish(record.publicKey) }
        try SegmentWriter.writeRaw(Array((manifest.journalID + "\n").utf8), to: store.journalIDPath)
        try FileSystem.sync(store.directory)
    }

    /// Counts the segments verified so far, in order, or throws the first failure.
    mutating func absorb(_ verified: [(ExportManifest.Segment, Result<VerificationReport, any Error>)], progress: ToolProgress?) throws {
        for (segment, outcome) in verified {
            let report = try outcome.get()
            eventsImported += segment.events
            blocksImported += segment.blocks
            segmentsImported += 1
            lastImported = segment.lastSequence
            headImported = report.head
            progress?.update(segment.lastSequence)
        }
    }

    /// Writes one segment's entries in one transaction, checking their order and layout.
    func write(_ bytes: [UInt8], of segment: ExportManifest.Segment, into storage: LMDBJournalStorage) throws {
        try storage.write { writer in
            var expected = segment.firstSequence
            var blocks: UInt64 = 0
            var lastBlock: UInt64 = segment.firstSequence - 1
            do {
                try bytes.withUnsafeBytes { buffer in
                    try ExportFormat.forEachEntry(in: buffer) { entry in
                        switch entry.tag {
                        case .event:
                            guard entry.key == expected, entry.key <= segment.lastSequence else {
                                throw ImportFailure.corruptSegment.failure(
                                    sequence: expected, "\(segment.file) holds event \(entry.key) where \(expected) belongs")
                            }
                            try writer.appendEventRecord(at: entry.key, count: entry.value.count) { target in
                                target.copyMemory(from: entry.value)
                            }
                            expected += 1
                        case .block:
                            guard entry.key == expected - 1, entry.key > lastBlock else {
                                // A block ending past the last event: the events up to its end
                                // are missing, the first of them is the first bad sequence.
                                throw ImportFailure.corruptSegment.failure(
                                    sequence: entry.key >= expected ? expected : lastBlock + 1,
                                    "\(segment.file) holds a block ending at \(entry.key) after event \(expected - 1)")
                            }
                            // A block that starts past the previous block's end leaves the
                            // events between uncovered (a block record was dropped). One that
                            // does not parse is left to the journal's checks (malformed-block).
                            if case .success(let block) = SealedBlock.parse(entry.value), block.header.firstSequence > lastBlock + 1 {
                                throw ImportFailure.corruptSegment.failure(
                                    sequence: lastBlock + 1,
                                    "\(segment.file): no block covers events \(lastBlock + 1)...\(block.header.firstSequence - 1) (the next block starts at \(block.header.firstSequence))")
                            }
                            try writer.appendBlockRecord(lastSequence: entry.key, bytes: Array(entry.value))
                            lastBlock = entry.key
                            blocks += 1
                        case .key:
                            throw ImportFailure.corruptSegment.failure(sequence: expected, "\(segment.file) holds a key record")
                        }
                    }
                }
            } catch let error as ExportFormat.FormatError {
                throw ImportFailure.corruptSegment.failure(sequence: expected, "\(segment.file): \(error)")
            }
            guard expected == segment.lastSequence + 1, lastBlock == segment.lastSequence, blocks == segment.blocks else {
                throw ImportFailure.corruptSegment.failure(
                    sequence: min(expected, lastBlock + 1),
                    "\(segment.file) ends at event \(expected - 1), block \(lastBlock), with \(blocks) blocks; the manifest says \(segment.lastSequence) and \(segment.blocks) blocks")
            }
        }
    }
}

/// Verifies committed segments in the storage, in order, on one background thread (a read
/// transaction beside the import's writes), and hands back each outcome once.
final class SegmentVerification: @unchecked Sendable {
    private let verifier: JournalVerifier
    private let storage: LMDBJournalStorage
    private let queue = DispatchQueue(label: "journal-tool.import.verify")
    private let lock = NSLock()
    private let idle = DispatchGroup()
    // Guarded by `lock`: outcomes not yet handed back, and whether one has failed.
    private var outcomes: [(ExportManifest.Segment, Result<VerificationReport, any Error>)] = []
    private var failed = false

    init(verifier: JournalVerifier, storage: LMDBJournalStorage) {
        self.verifier = verifier
        self.storage = storage
    }

    /// Verifies `segment` once those enqueued before it are done. After a failure nothing more
    /// is verified: the import stops at the first bad sequence.
    func enqueue(_ segment: ExportManifest.Segment) {
        idle.enter()
        queue.async { [self] in
            defer { idle.leave() }
            if lock.withLock({ failed }) { return }
            let outcome = Result { try verify(segment) }
            lock.withLock {
                outcomes.append((segment, outcome))
                if case .failure = outcome { failed = true }
            }
        }
    }

    /// The segment's report when every check held and it reaches the segment's end; otherwise
    /// the failure, as the import reports it.
    private func verify(_ segment: ExportManifest.Segment) throws -> VerificationReport {
        let report = try verifier.verify(storage, from: segment.firstSequence, through: segment.lastSequence)
        if let failure = report.failure { throw ReportedFailure(failure) }
        guard report.lastSequence == segment.lastSequence else {
            throw ImportFailure.corruptSegment.failure(
                sequence: report.lastSequence + 1, "\(segment.file) verified only through \(report.lastSequence)")
        }
        return report
    }

    /// The outcomes that arrived since the last call, without waiting.
    func finished() -> [(ExportManifest.Segment, Result<VerificationReport, any Error>)] {
        lock.withLock {
            defer { outcomes.removeAll() }
            return outcomes
        }
    }

    /// Waits for every enqueued segment, then hands back the outcomes not yet handed back.
    func waitForAll() -> [(ExportManifest.Segment, Result<VerificationReport, any Error>)] {
        idle.wait()
        return finished()
    }
}
