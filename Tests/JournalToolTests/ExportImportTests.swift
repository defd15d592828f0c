import Foundation
import Journal
import Ledger
import TallyCrypto
import TallyTestSupport
import Testing
import Zstd

@Suite("journal-tool export and import", .serialized)
struct ExportImportTests {
    /// An export of the small journal in segments of 8 KiB (several segments).
    static func export(_ data: String, into root: TemporaryDirectory, segmentKiB: Int = 8) throws -> String {
        let path = root.path + "/export"
        let run = try ToolRun.run(["export", "--data", data, "--out", path, "--segment-kib", String(segmentKiB), "--json"])
        #expect(run.status == 0, "\(run.summary)")
        return path
    }

    static func manifest(_ export: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: export + "/manifest.json"))
        return try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    /// Writes `manifest` and, unless `keepChecksums`, SHA256SUMS again for every file of the
    /// export, as someone who rewrites an export in full would: then only the journal's own
    /// checks can tell.
    static func writeManifest(_ manifest: [String: Any], to export: String, keepChecksums: Bool = false) throws {
        let data = try JSONSerialization.data(withJSONObject: manifest, options: [.sortedKeys])
        try data.write(to: URL(fileURLWithPath: export + "/manifest.json"))
        guard !keepChecksums else { return }
        var sums = ""
        for name in try FileManager.default.contentsOfDirectory(atPath: export).sorted() where name != "SHA256SUMS" {
            let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: export + "/" + name)))
            sums += "\(SHA256.hash(bytes).hex)  \(name)\n"
        }
        try Data(sums.utf8).write(to: URL(fileURLWithPath: export + "/SHA256SUMS"))
    }

    static func segments(_ manifest: [String: Any]) -> [[String: Any]] {
        manifest["segments"] as? [[String: Any]] ?? []
    }

    static func head(_ data: String) throws -> String {
        let run = try ToolRun.run(["verify", "--data", data, "--json"])
        #expect(run.status == 0, "\(run.summary)")
        return "\(run.json["lastSequence"] ?? ""):\(run.json["head"] ?? "")"
    }

    @Test("export then import gives a journal that verifies with the same head and the same write model")
    func roundTrip() async throws {
        let data = try await Fixtures.shared.smallJournal()
        let root = TemporaryDirectory()
        let export = try Self.export(data, into: root)
        let manifest = try Self.manifest(export)
        #expect(manifest["format"] as? String == "tally-export/1")
        #expect(Self.segments(manifest).count >= 3)
        #expect(((manifest["compressionRatio"] as? NSNumber)?.doubleValue ?? 0) > 1)
        let sums = try String(contentsOfFile: export + "/SHA256SUMS", encoding: .utf8)
        for segment in Self.segments(manifest) {
            #expect(sums.contains("\(segment["sha256"] as! String)  \(segment["file"] as! String)"))
        }

        let imported = root.path + "/imported"
        let publicKey = try FileManager.default.contentsOfDirectory(atPath: data + "/keys").first { $0.hasSuffix(".pub.pem") }!
        let run = try ToolRun.run(["import", export, "--data", imported, "--public-key", data + "/keys/" + publicKey, "--json"])
        #expect(run.status == 0, "\(run.summary)")
        #expect(try Self.head(imported) == (try Self.head(data)))
        #expect("\(manifest["lastSequence"]!):\(manifest["head"]!)" == (try Self.head(data)))

        // Folded by this build on import, the write model is marked as of its layout.
        let importedStorage = try LMDBJournalStorage.open(at: Journal.journalPath(in: imported), create: false, readOnly: true)
        #expect(try Ledger.writeModelLayout(importedStorage) == Ledger.writeModelVersion)

        // The write model folded on import equals the live one the ledger kept.
        let original = try ToolRun.run(["replay", "--data", data, "--into", root.path + "/replay-original", "--write-model", "--digest", "--json"])
        let copy = try ToolRun.run(["replay", "--data", imported, "--into", root.path + "/replay-imported", "--compare-live", "--digest", "--json"])
        #expect(copy.status == 0, "\(copy.summary)")
        #expect(original.json["dumpSHA256"] is String)
        #expect(original.json["dumpSHA256"] as? String == copy.json["dumpSHA256"] as? String)
        #expect(FileManager.default.fileExists(atPath: imported + "/keys/journal-id"))
        #expect(FileManager.default.fileExists(atPath: imported + "/keys/" + publicKey))
    }

    struct Case: CustomStringConvertible, Sendable {
        let description: String
        let exitCode: Int32
        let kind: String
        /// Tampers with the export; returns the sequence the refusal must name and extra
        /// arguments for import.
        let tamper: @Sendable (String, [String: Any]) throws -> (UInt64, [String])
    }

    static func sequence(_ segment: [String: Any], _ key: String) -> UInt64 {
        (segment[key] as! NSNumber).uint64Value
    }

    static let cases: [Case] = [
        Case(description: "changed byte in a segment", exitCode: 32, kind: "checksum-mismatch") { export, manifest in
            let segment = segments(manifest)[1]
            let path = export + "/" + (segment["file"] as! String)
            var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
            bytes[bytes.count / 2] ^= 0x40
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            return (sequence(segment, "firstSequence"), [])
        },
        Case(description: "truncated segment file", exitCode: 32, kind: "checksum-mismatch") { export, manifest in
            let segment = segments(manifest)[2]
            let path = export + "/" + (segment["file"] as! String)
            let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            try bytes.prefix(bytes.count - 100).write(to: URL(fileURLWithPath: path))
            return (sequence(segment, "firstSequence"), [])
        },
        Case(description: "missing segment file", exitCode: 31, kind: "missing-segment") { export, manifest in
            let segment = segments(manifest)[1]
            try FileManager.default.removeItem(atPath: export + "/" + (segment["file"] as! String))
            return (sequence(segment, "firstSequence"), [])
        },
        Case(description: "segments reordered", exitCode: 34, kind: "segment-order") { export, manifest in
            var changed = manifest
            var list = segments(manifest)
            list.swapAt(1, 2)
            changed["segments"] = list
            try writeManifest(changed, to: export)
            return (sequence(list[2], "firstSequence"), [])
        },
        Case(description: "segment duplicated", exitCode: 34, kind: "segment-order") { export, manifest in
            var changed = manifest
            var list = segments(manifest)
            list.insert(list[1], at: 2)
            changed["segments"] = list
            try writeManifest(changed, to: export)
            return (sequence(list[3], "firstSequence"), [])
        },
        Case(description: "segment dropped from the list", exitCode: 34, kind: "segment-order") { export, manifest in
            var changed = manifest
            var list = segments(manifest)
            let dropped = list.remove(at: 1)
            changed["segments"] = list
            try writeManifest(changed, to: export)
            return (sequence(dropped, "firstSequence"), [])
        },
        Case(description: "truncated tail: the last segment left out", exitCode: 35, kind: "head-mismatch") { export, manifest in
            var changed = manifest
            var list = segments(manifest)
            let dropped = list.removeLast()
            changed["segments"] = list
            try writeManifest(changed, to: export)
            try FileManager.default.removeItem(atPath: export + "/" + (dropped["file"] as! String))
            return (sequence(dropped, "firstSequence"), [])
        },
        Case(description: "event changed and checksums rewritten", exitCode: 12, kind: "event-hash-mismatch") { export, manifest in
            (try changeFirstEvent(ofSegment: 1, export, manifest), [])
        },
        // Segment 2 is written while segment 1 is verified; the earlier failure is the one reported.
        Case(description: "event changed in one segment and the next segment's file damaged", exitCode: 12, kind: "event-hash-mismatch") { export, manifest in
            let sequence = try changeFirstEvent(ofSegment: 1, export, manifest)
            let path = export + "/" + (segments(manifest)[2]["file"] as! String)
            var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
            bytes[bytes.count / 2] ^= 0xFF
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            return (sequence, [])
        },
        Case(description: "wrong key: another journal's key records", exitCode: 18, kind: "unknown-key") { export, manifest in
            let stranger = try Ed25519PrivateKey.generate()
            let record = KeyRecord(publicKey: stranger.publicKey, activatedAt: 1, endorsingKeyID: nil, endorsement: nil)
            var plain: [UInt8] = [0x4B]
            plain += withUnsafeBytes(of: record.keyID.value.bigEndian) { Array($0) }
            plain += withUnsafeBytes(of: UInt32(record.bytes.count).bigEndian) { Array($0) }
            plain += record.bytes
            let compressed = try Zstd.compress(plain)
            try Data(compressed).write(to: URL(fileURLWithPath: export + "/keys.zst"))
            var changed = manifest
            changed["keys"] = ["file": "keys.zst", "bytes": compressed.count, "uncompressedBytes": plain.count, "sha256": SHA256.hash(compressed).hex]
            try writeManifest(changed, to: export)
            return (1, [])
        },
        Case(description: "untrusted: another journal's public key", exitCode: 19, kind: "untrusted-key") { export, _ in
            let other = try Ed25519PrivateKey.generate()
            let path = export + "/../other.pub.pem"
            try other.publicKey.pemRepresentation.write(toFile: path, atomically: true, encoding: .utf8)
            return (1, ["--public-key", path])
        },
        Case(description: "rolled back: the export ends before the auditor's checkpoint", exitCode: 23, kind: "rollback") { _, manifest in
            let last = (manifest["lastSequence"] as! NSNumber).uint64Value
            return (last + 5, ["--checkpoint", "\(last + 5):\(String(repeating: "ab", count: 32))"])
        },
        Case(description: "manifest edited (another journal ID), SHA256SUMS left as it was", exitCode: 32, kind: "checksum-mismatch") { export, manifest in
            var changed = manifest
            changed["journalID"] = String(repeating: "00", count: 16)
            try writeManifest(changed, to: export, keepChecksums: true)
            return (0, [])
        },
        Case(description: "SHA256SUMS missing", exitCode: 32, kind: "checksum-mismatch") { export, _ in
            try FileManager.default.removeItem(atPath: export + "/SHA256SUMS")
            return (0, [])
        },
        Case(description: "manifest damaged", exitCode: 30, kind: "bad-manifest") { export, _ in
            try Data("{\"format\": \"tally-export/1\"".utf8).write(to: URL(fileURLWithPath: export + "/manifest.json"))
            return (0, [])
        },
        Case(description: "manifest says the export starts at sequence 0", exitCode: 30, kind: "bad-manifest") { export, manifest in
            var changed = manifest
            changed["firstSequence"] = 0
            try writeManifest(changed, to: export)
            return (0, [])
        },
        // Sizes and sequences that would overflow or allocate without bound: refused before
        // anything is read by them (these crashed the tool, leaving its staging directory).
        Case(description: "manifest states a journal of 2^63 bytes", exitCode: 30, kind: "bad-manifest") { export, manifest in
            var changed = manifest
            changed["uncompressedBytes"] = 9_223_372_036_854_775_000 as Int64
            try writeManifest(changed, to: export)
            return (0, [])
        },
        Case(description: "manifest states a negative size for the keys file", exitCode: 30, kind: "bad-manifest") { export, manifest in
            var changed = manifest
            var keys = changed["keys"] as! [String: Any]
            keys["uncompressedBytes"] = -1
            changed["keys"] = keys
            try writeManifest(changed, to: export)
            return (0, [])
        },
        Case(description: "manifest states a segment ending at the last UInt64", exitCode: 30, kind: "bad-manifest") { export, manifest in
            var changed = manifest
            var list = segments(manifest)
            list[0]["lastSequence"] = UInt64.max
            changed["segments"] = list
            try writeManifest(changed, to: export)
            return (0, [])
        },
    ]

    /// One entry of a segment: its tag ('E' event, 'B' block), key and the whole entry's bytes.
    struct Entry {
        let tag: UInt8
        let key: UInt64
        let bytes: ArraySlice<UInt8>
    }

    /// Rewrites segment `index` with only the entries `keep` returns (given every entry), and its
    /// sizes and checksum in the manifest, so that only the import's own checks can tell.
    static func repack(segment index: Int, _ export: String, _ manifest: [String: Any], _ keep: ([Entry]) -> [Entry]) throws {
        var changed = manifest
        var list = segments(manifest)
        let path = export + "/" + (list[index]["file"] as! String)
        let plain = try Zstd.decompress(Array(try Data(contentsOf: URL(fileURLWithPath: path))), maximumSize: 1 << 30)
        var entries: [Entry] = []
        var offset = 0
        while offset < plain.count {
            let key = plain[(offset + 1)..<(offset + 9)].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            let length = plain[(offset + 9)..<(offset + 13)].reduce(0) { $0 << 8 | Int($1) }
            entries.append(Entry(tag: plain[offset], key: key, bytes: plain[offset..<(offset + 13 + length)]))
            offset += 13 + length
        }
        let kept = keep(entries).flatMap(\.bytes)
        let compressed = try Zstd.compress(kept)
        try Data(compressed).write(to: URL(fileURLWithPath: path))
        list[index]["uncompressedBytes"] = kept.count
        list[index]["bytes"] = compressed.count
        list[index]["sha256"] = SHA256.hash(compressed).hex
        changed["segments"] = list
        try writeManifest(changed, to: export)
    }

    /// Flips the last byte of the first event's payload in segment `index` and rewrites that
    /// segment's size and checksum in the manifest, so that only the journal's checks can tell.
    /// Returns the event's sequence.
    static func changeFirstEvent(ofSegment index: Int, _ export: String, _ manifest: [String: Any]) throws -> UInt64 {
        var changed = manifest
        var list = segments(manifest)
        let path = export + "/" + (list[index]["file"] as! String)
        var plain = try Zstd.decompress(Array(try Data(contentsOf: URL(fileURLWithPath: path))), maximumSize: 1 << 30)
        // The first entry is the segment's first event: flip the last byte of its payload.
        let length = Int(plain[9]) << 24 | Int(plain[10]) << 16 | Int(plain[11]) << 8 | Int(plain[12])
        plain[13 + length - 2] ^= 0x01
        let compressed = try Zstd.compress(plain)
        try Data(compressed).write(to: URL(fileURLWithPath: path))
        list[index]["bytes"] = compressed.count
        list[index]["sha256"] = SHA256.hash(compressed).hex
        changed["segments"] = list
        try writeManifest(changed, to: export)
        return sequence(list[index], "firstSequence")
    }

    @Test("a tampered, truncated, reordered, duplicated or missing segment is refused with its code; nothing is left", arguments: cases)
    func tampered(_ tamper: Case) async throws {
        let data = try await Fixtures.shared.smallJournal()
        let root = TemporaryDirectory()
        let export = try Self.export(data, into: root)
        let (sequence, extra) = try tamper.tamper(export, try Self.manifest(export))
        let target = root.path + "/imported"
        let run = try ToolRun.run(["import", export, "--data", target, "--json"] + extra)
        #expect(run.status == tamper.exitCode, "\(tamper.description): \(run.summary)")
        #expect(run.failureKind == tamper.kind, "\(tamper.description): \(run.summary)")
        #expect(run.failureSequence == sequence, "\(tamper.description): \(run.summary)")
        #expect(run.json["imported"] as? Bool == false)
        #expect(!FileManager.default.fileExists(atPath: target), "a refused import leaves no data directory")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: root.path).filter { $0.contains(".importing-") }
        #expect(leftovers.isEmpty, "a refused import leaves no staging directory: \(leftovers)")
    }

    /// A generated journal in blocks of 5 events, exported in segments of several blocks.
    static func exportInBlocksOf5(into root: TemporaryDirectory) throws -> (String, [String: Any]) {
        let data = root.path + "/generated"
        let generated = try ToolRun.run(["generate", "--data", data, "--events", "200", "--block-events", "5", "--users", "10", "--vendors", "2"])
        #expect(generated.status == 0, "\(generated.summary)")
        let export = try export(data, into: root, segmentKiB: 16)
        let manifest = try manifest(export)
        try #require(segments(manifest).count >= 3 && (segments(manifest)[1]["blocks"] as! NSNumber).intValue >= 2, "\(manifest)")
        return (export, manifest)
    }

    /// Imports the export of ``exportInBlocksOf5(into:)`` after `drop` picked, from segment 1's
    /// entries, the one to leave out and the sequence the refusal must name: 33 corrupt-segment,
    /// that sequence, and nothing left behind.
    static func expectRefusedImport(dropping drop: @escaping ([Entry]) -> (index: Int, firstBad: UInt64)) throws {
        let root = TemporaryDirectory()
        let (export, manifest) = try exportInBlocksOf5(into: root)
        var firstBad: UInt64 = 0
        try repack(segment: 1, export, manifest) { entries in
            let dropped = drop(entries)
            firstBad = dropped.firstBad
            return entries.enumerated().filter { $0.offset != dropped.index }.map(\.element)
        }
        let run = try ToolRun.run(["import", export, "--data", root.path + "/imported", "--json"])
        #expect(run.status == 33, "\(run.summary)")
        #expect(run.failureKind == "corrupt-segment")
        #expect(run.failureSequence == firstBad, "\(run.summary)")
        #expect(!FileManager.default.fileExists(atPath: root.path + "/imported"))
    }

    @Test("an event dropped inside a segment is the first bad sequence, not the start of its block (33)")
    func droppedEvent() async throws {
        try Self.expectRefusedImport { entries in
            // The last event of the segment's second block.
            let block = entries.indices.filter { entries[$0].tag == 0x42 }[1]
            return (block - 1, entries[block - 1].key)
        }
    }

    @Test("a block record dropped inside a segment names the first event no block covers, not the segment's end (33)")
    func droppedBlock() async throws {
        try Self.expectRefusedImport { entries in
            // The segment's second block: the events after the first block are left uncovered.
            let blocks = entries.indices.filter { entries[$0].tag == 0x42 }
            return (blocks[1], entries[blocks[0]].key + 1)
        }
    }

    @Test("the staging directory an interrupted import or export left is removed by the next run; a live run's is kept")
    func abandonedStaging() async throws {
        let data = try await Fixtures.shared.smallJournal()
        let root = TemporaryDirectory()
        let finished = Process()
        finished.executableURL = URL(fileURLWithPath: "/bin/true")
        try finished.run()
        finished.waitUntilExit()
        let dead = finished.processIdentifier
        let live = getpid()
        let export = root.path + "/export"
        let target = root.path + "/imported"
        let leftovers = [export + ".partial-\(dead)-0a0b0c0d", target + ".importing-\(dead)-0a0b0c0d"]
        let kept = [export + ".partial-\(live)-01020304", target + ".importing-\(live)-01020304"]
        for path in leftovers + kept { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false) }
        let exported = try ToolRun.run(["export", "--data", data, "--out", export, "--json"])
        #expect(exported.status == 0, "\(exported.summary)")
        let imported = try ToolRun.run(["import", export, "--data", target, "--json"])
        #expect(imported.status == 0, "\(imported.summary)")
        for path in leftovers { #expect(!FileManager.default.fileExists(atPath: path), "\(path) was left by a run that is gone") }
        for path in kept { #expect(FileManager.default.fileExists(atPath: path), "\(path) belongs to a live process") }
    }

    @Test("import refuses a data directory that is not empty, and export one that exists")
    func refusesNonEmpty() async throws {
        let data = try await Fixtures.shared.smallJournal()
        let root = TemporaryDirectory()
        let export = try Self.export(data, into: root)
        let again = try ToolRun.run(["export", "--data", data, "--out", export])
        #expect(again.status == 2, "\(again.summary)")
        let run = try ToolRun.run(["import", export, "--data", data])
        #expect(run.status == 2, "\(run.summary)")
        #expect(run.errors.contains("not an empty directory"))
    }
}
