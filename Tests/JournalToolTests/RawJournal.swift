import Foundation
import Journal
import LMDB
import TallyCrypto

/// Raw access to a closed journal's LMDB databases, for tampering the way an attacker with the
/// files (and, for `reseal`, the signing key) could.
struct RawJournal {
    let environment: Environment
    let events: Database
    let blocks: Database
    let keys: Database
    let state: Database
    let directory: String

    init(_ directory: String) throws {
        self.directory = directory
        environment = try Environment.open(at: Journal.journalPath(in: directory))
        events = try environment.database(named: "events")
        blocks = try environment.database(named: "blocks")
        keys = try environment.database(named: "keys")
        state = try environment.database(named: "state")
    }

    static func key(_ value: UInt64) -> [UInt8] { withUnsafeBytes(of: value.bigEndian) { Array($0) } }

    func record(_ sequence: UInt64) throws -> [UInt8]? {
        try environment.read { try $0.get(events, key: Self.key(sequence)) }
    }

    func setRecord(_ sequence: UInt64, _ bytes: [UInt8]) throws {
        try environment.write { try $0.put(events, key: Self.key(sequence), value: bytes) }
    }

    func deleteRecord(_ sequence: UInt64) throws {
        try environment.write { _ = try $0.delete(events, key: Self.key(sequence)) }
    }

    func block(endingAt sequence: UInt64) throws -> [UInt8]? {
        try environment.read { try $0.get(blocks, key: Self.key(sequence)) }
    }

    func setBlock(endingAt sequence: UInt64, _ bytes: [UInt8]) throws {
        try environment.write { try $0.put(blocks, key: Self.key(sequence), value: bytes) }
    }

    func deleteBlock(endingAt sequence: UInt64) throws {
        try environment.write { _ = try $0.delete(blocks, key: Self.key(sequence)) }
    }

    func setState(_ key: String, _ value: [UInt8]) throws {
        try environment.write { try $0.put(state, key: Array(key.utf8), value: value) }
    }

    func stateValue(_ key: String) throws -> [UInt8]? {
        try environment.read { try $0.get(state, key: Array(key.utf8)) }
    }

    /// The blocks as (first, last) ranges, in order.
    func blockRanges() throws -> [(first: UInt64, last: UInt64)] {
        try environment.read { transaction in
            try transaction.withCursor(blocks) { cursor in
                var ranges: [(UInt64, UInt64)] = []
                var found = try cursor.first()
                while found {
                    let header = try cursor.value.withUnsafeBytes { bytes -> BlockHeader in
                        guard case .success(let block) = SealedBlock.parse(bytes) else { throw RawJournalError("bad block") }
                        return block.header
                    }
                    ranges.append((header.firstSequence, header.lastSequence))
                    found = try cursor.next()
                }
                return ranges
            }
        }
    }

    func lastSequence() throws -> UInt64 {
        try blockRanges().last?.last ?? 0
    }

    /// The event's type name and payload.
    func event(_ sequence: UInt64) throws -> (typeName: String, payload: [UInt8]) {
        let record = try record(sequence)!
        let nameCount = Int(record[33])
        return (String(decoding: record[38..<(38 + nameCount)], as: UTF8.self), Array(record[(38 + nameCount)...]))
    }

    /// Replaces event `sequence`'s payload and re-seals everything from it on with the
    /// journal's own signing key: the chain, every later block's chain head and Merkle root,
    /// and their signatures. What an insider holding the key could do; only the ledger audit
    /// (or a checkpoint) can tell.
    func reseal(_ sequence: UInt64, payload: [UInt8]) throws {
        let signer = try SigningKeyStore(directory: Journal.keysPath(in: directory)).loadSigningKey()!.key
        let (typeName, _) = try event(sequence)
        var replaced = [UInt8](repeating: 0, count: 38) + Array(typeName.utf8) + payload
        replaced[32] = 1
        replaced[33] = UInt8(typeName.utf8.count)
        withUnsafeBytes(of: UInt32(payload.count).bigEndian) { replaced.replaceSubrange(34..<38, with: $0) }
        try setRecord(sequence, replaced)
        let hasher = SHA256()
        var previous = SHA256Digest.zero
        if sequence > 1 { previous = SHA256Digest(bytes: Array(try record(sequence - 1)![0..<32]))! }
        for range in try blockRanges() where range.last >= sequence {
            var leaves: [SHA256Digest] = []
            for current in range.first...range.last {
                var bytes = try record(current)!
                if current >= sequence {
                    let hash = bytes.withUnsafeBytes { buffer in
                        EventRecord.eventHash(
                            sequence: current, previous: previous, body: UnsafeRawBufferPointer(rebasing: buffer[32...]), hasher: hasher)
                    }
                    bytes.replaceSubrange(0..<32, with: hash.bytes)
                    try setRecord(current, bytes)
                }
                previous = SHA256Digest(bytes: Array(bytes[0..<32]))!
                leaves.append(previous)
            }
            let old = try block(endingAt: range.last)!
            let header = try old.withUnsafeBytes { bytes -> BlockHeader in
                guard case .success(let block) = SealedBlock.parse(bytes) else { throw RawJournalError("bad block") }
                return block.header
            }
            var resealed = header
            resealed.chainHead = previous
            resealed.merkleRoot = MerkleTree.root(of: leaves)
            let block = SealedBlock(header: resealed, signature: signer.signature(for: resealed.signedMessage))
            try setBlock(endingAt: range.last, block.bytes)
        }
    }
}

struct RawJournalError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
