import ArgumentParser
import Dispatch
import Foundation
import Journal
import LMDB
import TallyCrypto
import Zstd

/// `journal-tool export`: writes whole blocks of a journal as zstd-compressed segment files
/// with a manifest and checksums (see ``ExportFormat``). Reads one snapshot, streams: at most
/// two segments are in memory at once (one being filled, one being compressed and written).
struct ExportCommand: ParsableCommand, JSONOutputCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export a range of the journal as zstd-compressed segments with a manifest and checksums.",
        discussion: """
            Exports whole blocks, from the block holding --from (default 1) through the block \
            holding --through (default: the last block), and every key record. Events after \
            the last block (not sealed) are not exported. The export is written to OUT.partial-* \
            and renamed to OUT when complete; OUT must not exist or be an empty directory. \
            Nothing secret is exported: private keys stay in DIR/keys.

            Check it with `journal-tool import`, or by hand with `sha256sum -c SHA256SUMS` and \
            `zstd -d`. The entry layout is documented in journal-tools/ExportFormat.swift.
            """
    )

    @OptionGroup var data: DataDirectoryOptions

    @Option(name: .customLong("out"), help: ArgumentHelp("The export directory to create.", valueName: "OUT"))
    var output: String

    @Option(name: .customLong("from"), help: ArgumentHelp("Start at the block holding this sequence.", valueName: "SEQ"))
    var fromSequence: UInt64 = 1

    @Option(name: .customLong("through"), help: ArgumentHelp("End with the block holding this sequence.", valueName: "SEQ"))
    var throughSequence: UInt64?

    @Option(help: ArgumentHelp("Uncompressed KiB per segment (a segment ends at the first block boundary after it).", valueName: "KIB"))
    var segmentKib: Int = 65_536

    @Option(help: ArgumentHelp("zstd level, 1 (fastest) to 19.", valueName: "LEVEL"))
    var level: Int32 = 1

    @Flag(name: .customLong("json"), help: "Print the manifest as JSON instead of a summary.")
    var json = false

    func validate() throws {
        guard fromSequence >= 1 else { throw ValidationError("--from must be at least 1") }
        if let throughSequence, throughSequence < fromSequence { throw ValidationError("--through is before --from") }
        guard segmentKib >= 1 && segmentKib <= 1 << 20 else { throw ValidationError("--segment-kib must be 1...1048576") }
        guard level >= 1 && level <= 19 else { throw ValidationError("--level must be 1...19") }
    }

    func run() throws {
        let storage = try data.openStorage()
        let target = Self.trimmed(output)
        try Self.checkEmptyTarget(target)
        let partial = StagingDirectory.make(for: target, kind: "partial")
        try FileSystem.makeDirectory(partial, mode: 0o755)
        do {
            let manifest = try write(storage, into: partial)
            try FileSystem.sync(partial)
            if FileSystem.isDirectory(target) { try FileManager.default.removeItem(atPath: target) }
            try FileSystem.rename(partial, to: target)
            try FileSystem.sync(FileSystem.parentDirectory(of: target))
            if json {
                try JSONOutput.print(manifest)
            } else {
                print(Self.summary(manifest, directory: target))
            }
        } catch {
            FileSystem.removeTree(partial)
            throw error
        }
    }

    static func trimmed(_ path: String) -> String {
        var path = path
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        return path
    }

    /// `path` must not exist, or be an empty directory.
    static func checkEmptyTarget(_ path: String) throws {
        if FileSystem.exists(path) && !(FileSystem.isDirectory(path) && FileSystem.contents(of: path).isEmpty) {
            throw ToolExit.usage("\(path) exists and is not an empty directory")
        }
    }

    static func summary(_ manifest: ExportManifest, directory: String) -> String {
        var table = TextTable()
        table.add("export", directory)
        table.add("journal id", manifest.journalID)
        table.add("sequences", "\(manifest.firstSequence)...\(manifest.lastSequence): \(manifest.events) events in \(manifest.blocks) blocks")
        table.add("head", "\(manifest.lastSequence):\(manifest.head)")
        table.add("key records", String(manifest.keyRecords))
        table.add("segments", "\(manifest.segments.count) (zstd level \(manifest.zstdLevel))")
        table.add("bytes", "\(manifest.uncompressedBytes) -> \(manifest.compressedBytes) (ratio \(String(format: "%.2f", manifest.compressionRatio)))")
        return table.text
    }

    /// Writes the segments, keys, manifest and checksums into `directory`.
    func write(_ storage: LMDBJournalStorage, into directory: String) throws -> ExportManifest {
        let writer = SegmentWriter(directory: directory, level: level)
        let segmentBytes = segmentKib << 10
        let level = self.level
        let (header, keys): (ExportHeader, ExportManifest.File) = try storage.read { reader in
            guard let lastBlock = try reader.lastBlockRecord() else {
                throw ToolExit.usage("\(data.journalPath) holds no sealed block: nothing to export")
            }
            guard let journalID = try reader.metadata("journal-id") else {
                throw ToolExit.unreadable("\(data.journalPath) has no journal-id")
            }
            let created = try reader.metadata("created-ms").flatMap { BigEndianValue.uint64($0) }
            guard let firstBlock = try reader.blockRecord(endingAtOrAfter: fromSequence),
                  case .success(let first) = firstBlock.bytes.withUnsafeBytes({ SealedBlock.parse($0) }),
                  first.header.firstSequence <= fromSequence
            else {
                throw ToolExit.usage("no sealed block holds sequence \(fromSequence) (the last block ends at \(lastBlock.key))")
            }
            let start = first.header.firstSequence
            let end = min(throughSequence ?? lastBlock.key, lastBlock.key)
            var previous = SHA256Digest.zero
            if start > 1 {
                previous = try Self.storedHash(reader, start - 1, path: data.journalPath)
            }

            // Keys.
            var keyBuffer: [UInt8] = []
            let records = try reader.keyRecords()
            for record in records {
                record.bytes.withUnsafeBytes { ExportFormat.appendEntry(.key, key: record.keyID, value: $0, to: &keyBuffer) }
            }
            let keysFile = try SegmentWriter.writeFile(
                keyBuffer, named: ExportFormat.keysName, in: directory, level: level)

            // Segments: whole blocks, each block's events then the block.
            let progress = ToolProgress.onTerminal("export", first: start, last: end)
            var buffer: [UInt8] = []
            buffer.reserveCapacity(segmentBytes + (1 << 20))
            var segmentFirst = start
            var segmentEvents: UInt64 = 0
            var segmentBlocks: UInt64 = 0
            var events: UInt64 = 0
            var blocks: UInt64 = 0
            var head = previous
            var expected = start
            try reader.forEachBlockRecord(endingAtOrAfter: start) { key, value in
                guard case .success(let block) = SealedBlock.parse(value), block.header.lastSequence == key,
                      block.header.firstSequence == expected
                else {
                    throw ToolExit(
                        VerificationFailure.Kind.blockRange.exitCode,
                        message: "journal-tool: the block stored under \(key) is damaged or out of place; run `journal-tool verify`",
                        sequence: expected)
                }
                var next = block.header.firstSequence
                try reader.forEachEventRecord(from: next) { sequence, record in
                    guard sequence <= key else { return false }
                    guard sequence == next, case .success(let view) = EventRecord.parse(record) else {
                        throw ToolExit(
                            VerificationFailure.Kind.gap.exitCode,
                            message: "journal-tool: event \(next) is missing or malformed; run `journal-tool verify`", sequence: next)
                    }
                    head = view.storedHash
                    ExportFormat.appendEntry(.event, key: sequence, value: record, to: &buffer)
                    next += 1
                    return true
                }
                guard next == key + 1 else {
                    throw ToolExit(
                        VerificationFailure.Kind.missingEvents.exitCode,
                        message: "journal-tool: block \(block.header.firstSequence)...\(key) covers events from \(next) on that are not stored; run `journal-tool verify`",
                        sequence: next)
                }
                ExportFormat.appendEntry(.block, key: key, value: value, to: &buffer)
                segmentEvents += block.header.eventCount
                segmentBlocks += 1
                events += block.header.eventCount
                blocks += 1
                expected = key + 1
                if buffer.count >= segmentBytes || key >= end {
                    try writer.submit(buffer, first: segmentFirst, last: key, events: segmentEvents, blocks: segmentBlocks)
                    buffer.removeAll(keepingCapacity: true)
                    segmentFirst = key + 1
                    segmentEvents = 0
                    segmentBlocks = 0
                    progress?.update(key)
                }
                return key < end
            }
            progress?.finish()
            return (
                ExportHeader(
                    journalID: Hex.encode(journalID), created: created, first: start, last: expected - 1,
                    previous: previous.hex, head: head.hex, events: events, blocks: blocks, keyRecords: records.count),
                keysFile)
        }
        let segments = try writer.finish()
        let uncompressed = segments.reduce(keys.uncompressedBytes) { $0 + $1.uncompressedBytes }
        let compressed = segments.reduce(keys.bytes) { $0 + $1.bytes }
        let manifest = ExportManifest(
            format: ExportFormat.formatName, journalID: header.journalID, createdMilliseconds: header.created,
            firstSequence: header.first, lastSequence: header.last, previousHash: header.previous, head: header.head,
            events: header.events, blocks: header.blocks, keys: keys, keyRecords: header.keyRecords, segments: segments,
            zstdLevel: level, uncompressedBytes: uncompressed, compressedBytes: compressed,
            compressionRatio: compressed > 0 ? (Double(uncompressed) / Double(compressed) * 100).rounded() / 100 : 0,
            exportedAtMilliseconds: UInt64(Date().timeIntervalSince1970 * 1000))
        let manifestBytes = Array(try JSONOutput.string(manifest).utf8) + [0x0A]
        try SegmentWriter.writeRaw(manifestBytes, to: directory + "/" + ExportFormat.manifestName)
        var sums = ""
        for (name, digest) in [(ExportFormat.keysName, keys.sha256)] + segments.map({ ($0.file, $0.sha256) }) {
            sums += "\(digest)  \(name)\n"
        }
        sums += "\(ExportFormat.sha256(manifestBytes))  \(ExportFormat.manifestName)\n"
        try SegmentWriter.writeRaw(Array(sums.utf8), to: directory + "/" + ExportFormat.checksumsName)
        return manifest
    }

    struct ExportHeader {
        let journalID: String
        let created: UInt64?
        let first: UInt64
        let last: UInt64
        let previous: String
        let head: String
        let events: UInt64
        let blocks: UInt64
        let keyRecords: Int
    }

    static func storedHash(_ reader: any JournalStorageReader, _ sequence: UInt64, path: String) throws -> SHA256Digest {
        let hash: SHA256Digest? = try reader.withEventRecord(at: sequence) { record in
            guard let record, case .success(let view) = EventRecord.parse(record) else { return nil }
            return view.storedHash
        }
        guard let hash else {
            throw ToolExit(
                VerificationFailure.Kind.gap.exitCode, message: "journal-tool: event \(sequence) of \(path) is missing or malformed", sequence: sequence)
        }
        return hash
    }
}

/// Compresses and writes segments on a second thread while the next one is filled, so that
/// reading and compressing overlap; at most one segment waits.
final class SegmentWriter: @unchecked Sendable {
    let directory: String
    let level: Int32
    private let queue = DispatchQueue(label: "journal-tool.export.segments")
    private let slots = DispatchSemaphore(value: 1)
    private let lock = NSLock()
    private var segments: [ExportManifest.Segment] = []
    private var failure: (any Error)?
    private var index = 0

    init(directory: String, level: Int32) {
        self.directory = directory
        self.level = level
    }

    func submit(_ bytes: [UInt8], first: UInt64, last: UInt64, events: UInt64, blocks: UInt64) throws {
        if let failure = lock.withLock({ self.failure }) { throw failure }
        slots.wait()
        index += 1
        let name = ExportFormat.segmentName(index)
        queue.async { [self] in
            defer { slots.signal() }
            do {
                let file = try Self.writeFile(bytes, named: name, in: directory, level: level)
                let segment = ExportManifest.Segment(
                    file: name, firstSequence: first, lastSequence: last, events: events, blocks: blocks,
                    bytes: file.bytes, uncompressedBytes: file.uncompressedBytes, sha256: file.sha256)
                lock.withLock { segments.append(segment) }
            } catch {
                lock.withLock { if failure == nil { failure = error } }
            }
        }
    }

    /// Waits for every segment; the segments in order.
    func finish() throws -> [ExportManifest.Segment] {
        queue.sync {}
        if let failure = lock.withLock({ self.failure }) { throw failure }
        return lock.withLock { segments }
    }

    static func writeFile(_ bytes: [UInt8], named name: String, in directory: String, level: Int32) throws -> ExportManifest.File {
        let compressed = try Zstd.compress(bytes, level: level)
        try writeRaw(compressed, to: directory + "/" + name)
        return ExportManifest.File(file: name, bytes: compressed.count, uncompressedBytes: bytes.count, sha256: ExportFormat.sha256(compressed))
    }

    /// Writes and fsyncs a new file (mode 0644).
    static func writeRaw(_ bytes: [UInt8], to path: String) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw ToolExit.unwritable("\(path): cannot create (errno \(errno))") }
        defer { close(descriptor) }
        var written = 0
        try bytes.withUnsafeBytes { buffer in
            while written < buffer.count {
                let result = Foundation.write(descriptor, buffer.baseAddress! + written, buffer.count - written)
                if result < 0 {
                    if errno == EINTR { continue }
                    throw ToolExit.unwritable("\(path): write failed (errno \(errno))")
                }
                written += result
            }
        }
        guard fsync(descriptor) == 0 else { throw ToolExit.unwritable("\(path): fsync failed (errno \(errno))") }
    }
}
