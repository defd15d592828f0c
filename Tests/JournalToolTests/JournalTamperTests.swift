import Foundation
import Journal
import TallyCrypto
import TallyTestSupport
import Testing

/// One tamper class each, on a copy of a ledger journal: the exit code and the first bad
/// sequence `verify` reports.
@Suite("journal-tool verify: tampered journals", .serialized)
struct JournalTamperTests {
    struct Case: CustomStringConvertible, Sendable {
        let name: String
        let exitCode: Int32
        let kind: String
        let description: String
        /// Tampers with the copy; returns the sequence the failure must name, and extra
        /// arguments for verify.
        let tamper: @Sendable (RawJournal, String) throws -> (UInt64, [String])
    }

    static let cases: [Case] = [
        Case(name: "changed byte", exitCode: 12, kind: "event-hash-mismatch", description: "one payload byte of event 20 flipped") { raw, _ in
            var record = try raw.record(20)!
            record[record.count - 2] ^= 0x01
            try raw.setRecord(20, record)
            return (20, [])
        },
        Case(name: "dropped", exitCode: 11, kind: "gap", description: "event 15 deleted") { raw, _ in
            try raw.deleteRecord(15)
            return (15, [])
        },
        Case(name: "reordered", exitCode: 12, kind: "event-hash-mismatch", description: "events 30 and 31 swapped") { raw, _ in
            let a = try raw.record(30)!
            let b = try raw.record(31)!
            try raw.setRecord(30, b)
            try raw.setRecord(31, a)
            return (30, [])
        },
        Case(name: "duplicated", exitCode: 12, kind: "event-hash-mismatch", description: "event 40 stored again as 41") { raw, _ in
            try raw.setRecord(41, try raw.record(40)!)
            return (41, [])
        },
        Case(name: "truncated tail", exitCode: 22, kind: "missing-events", description: "the last event deleted, its block kept") { raw, _ in
            let last = try raw.lastSequence()
            try raw.deleteRecord(last)
            return (last, [])
        },
        Case(name: "wrong key", exitCode: 17, kind: "bad-signature", description: "block re-signed by a key that is not the journal's") { raw, _ in
            let range = try raw.blockRanges()[5]
            var block = try raw.block(endingAt: range.last)!
            let stranger = try Ed25519PrivateKey.generate()
            let header = Array(block[0..<BlockHeader.byteCount])
            block.replaceSubrange(BlockHeader.byteCount..., with: stranger.signature(for: BlockHeader.signatureDomain + header))
            try raw.setBlock(endingAt: range.last, block)
            return (range.first, [])
        },
        Case(name: "untrusted key", exitCode: 19, kind: "untrusted-key", description: "verified against another journal's public key") { _, root in
            let other = try Ed25519PrivateKey.generate()
            let path = root + "/other.pub.pem"
            try other.publicKey.pemRepresentation.write(toFile: path, atomically: true, encoding: .utf8)
            return (1, ["--public-key", path])
        },
        Case(name: "rolled back", exitCode: 23, kind: "rollback", description: "the last block and its events removed; the auditor's checkpoint catches it") { raw, _ in
            let ranges = try raw.blockRanges()
            let last = ranges[ranges.count - 1]
            let head = try raw.record(last.last)!
            for sequence in last.first...last.last { try raw.deleteRecord(sequence) }
            try raw.deleteBlock(endingAt: last.last)
            return (last.last, ["--checkpoint", "\(last.last):\(Hex.encode(Array(head[0..<32])))"])
        },
    ]

    @Test("each tamper class exits with its code and names the first bad sequence", arguments: cases)
    func tampered(_ tamper: Case) async throws {
        let copy = try DataCopy(of: try await Fixtures.shared.smallJournal())
        let (sequence, extra) = try tamper.tamper(try RawJournal(copy.path), copy.root.path)
        let run = try ToolRun.run(["verify", "--data", copy.path, "--json"] + extra)
        #expect(run.status == tamper.exitCode, "\(tamper.name): \(run.summary)")
        #expect(run.failureKind == tamper.kind, "\(tamper.name)")
        #expect(run.failureSequence == sequence, "\(tamper.name): \(run.summary)")
        #expect(run.json["valid"] as? Bool == false)
    }
}
