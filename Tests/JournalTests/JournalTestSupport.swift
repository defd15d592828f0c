import Foundation
import LMDB
import TallyCrypto
@testable import Journal

/// A fixed clock for repeatable block times.
let fixedClock: @Sendable () -> UInt64 = { 1_764_000_000_000 }

func openJournal(_ directory: String, queueCapacity: Int = JournalLimits.queueRequestsMax) throws -> Journal {
    var configuration = Journal.Configuration(directory: directory)
    configuration.clock = fixedClock
    configuration.queueCapacity = queueCapacity
    configuration.mapSize = 16 << 20
    return try Journal.open(configuration)
}

func draft(_ text: String, type: String = "test.event") -> EventDraft {
    EventDraft(typeName: type, payload: Array(text.utf8))
}

/// Builds a closed journal of `blocks` blocks of `perBlock` events each ("event-N" payloads).
func buildJournal(_ directory: String, blocks: Int, perBlock: Int) async throws {
    let journal = try openJournal(directory)
    var next = 1
    for _ in 0..<blocks {
        var drafts: [EventDraft] = []
        for _ in 0..<perBlock {
            drafts.append(draft("event-\(next)"))
            next += 1
        }
        _ = try await journal.append(drafts)
    }
    journal.close()
}

/// Raw access to a closed journal's LMDB files, for tampering.
struct RawJournal {
    let environment: Environment
    let events: Database
    let blocks: Database
    let keys: Database
    let meta: Database

    init(_ directory: String) throws {
        environment = try Environment.open(at: Journal.journalPath(in: directory))
        events = try environment.database(named: "events")
        blocks = try environment.database(named: "blocks")
        keys = try environment.database(named: "keys")
        meta = try environment.database(named: "meta")
    }

    func record(_ sequence: UInt64) throws -> [UInt8]? {
        try environment.read { try $0.get(events, key: BigEndian.bytes(sequence)) }
    }

    func setRecord(_ sequence: UInt64, _ bytes: [UInt8]) throws {
        try environment.write { try $0.put(events, key: BigEndian.bytes(sequence), value: bytes) }
    }

    func deleteRecord(_ sequence: UInt64) throws {
        try environment.write { _ = try $0.delete(events, key: BigEndian.bytes(sequence)) }
    }

    func block(endingAt sequence: UInt64) throws -> [UInt8]? {
        try environment.read { try $0.get(blocks, key: BigEndian.bytes(sequence)) }
    }

    func setBlock(endingAt sequence: UInt64, _ bytes: [UInt8]) throws {
        try environment.write { try $0.put(blocks, key: BigEndian.bytes(sequence), value: bytes) }
    }

    func deleteBlock(endingAt sequence: UInt64) throws {
        try environment.write { _ = try $0.delete(blocks, key: BigEndian.bytes(sequence)) }
    }

    func putKey(_ record: KeyRecord) throws {
        try environment.write { try $0.put(keys, key: record.keyID.bytes, value: record.bytes) }
    }

    func clearKeys() throws {
        try environment.write { try $0.clear(keys) }
    }

    func setVerifiedThrough(_ sequence: UInt64) throws {
        try environment.write { try $0.put(meta, key: Array("verified-through".utf8), value: BigEndian.bytes(sequence)) }
    }
}

func signingKey(in directory: String) throws -> Ed25519PrivateKey {
    try SigningKeyStore(directory: Journal.keysPath(in: directory)).loadSigningKey()!.key
}

func verifyWithPublishedKeys(_ directory: String) throws -> VerificationReport {
    let storage = try LMDBJournalStorage.open(at: Journal.journalPath(in: directory), create: false, readOnly: true)
    let trusted = try SigningKeyStore(directory: Journal.keysPath(in: directory)).publishedKeys()
    return try JournalVerifier(trustedKeys: trusted).verify(storage)
}

func fileDigest(_ path: String) -> SHA256Digest? {
    guard let data = FileManager.default.contents(atPath: path) else { return nil }
    return SHA256.hash(Array(data))
}
