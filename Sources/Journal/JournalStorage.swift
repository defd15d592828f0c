import TallyCrypto

/// Where a journal keeps its bytes. The journal's rules (chain, blocks, keys) live above this
/// protocol, so another backend (a replicated or distributed engine) can be added without
/// touching the journal's callers. LMDB (``LMDBJournalStorage``) is the backend today.
///
/// A backend must give: one writer at a time; a write is all-or-nothing and durable when
/// `write` returns; readers see committed snapshots and never block the writer.
public protocol JournalStorage: AnyObject, Sendable {
    /// A human-readable location (a path), for errors and logs.
    var location: String { get }
    func read<R>(_ body: (any JournalStorageReader) throws -> R) throws -> R
    func write<R>(_ body: (any JournalStorageWriter) throws -> R) throws -> R
    /// Housekeeping the writer runs now and then while idle (LMDB: clear reader slots left by
    /// dead processes, which otherwise pin old pages). Returns how many were cleared.
    func clearStaleReaders() throws -> Int
}

/// A consistent snapshot of a journal's storage.
public protocol JournalStorageReader {
    /// The stored record of the last event, with its sequence.
    func lastEventSequence() throws -> UInt64?
    /// Calls `body` with the stored record at `sequence`, or nil.
    func withEventRecord<R>(at sequence: UInt64, _ body: (UnsafeRawBufferPointer?) throws -> R) throws -> R
    /// Calls `body` for each stored record from `sequence` on, in key order, until it returns false.
    /// The key is passed as stored, so that a gap or a stray key can be seen.
    func forEachEventRecord(from sequence: UInt64, _ body: (UInt64, UnsafeRawBufferPointer) throws -> Bool) throws
    /// The stored block whose last sequence is the smallest at or after `sequence`.
    func blockRecord(endingAtOrAfter sequence: UInt64) throws -> (key: UInt64, bytes: [UInt8])?
    /// Calls `body` for each stored block, from the one ending at or after `sequence`, until it returns false.
    func forEachBlockRecord(endingAtOrAfter sequence: UInt64, _ body: (UInt64, UnsafeRawBufferPointer) throws -> Bool) throws
    func lastBlockRecord() throws -> (key: UInt64, bytes: [UInt8])?
    /// Every key record, by key id.
    func keyRecords() throws -> [(keyID: UInt64, bytes: [UInt8])]
    func metadata(_ name: String) throws -> [UInt8]?
    /// A value of the write model kept beside the journal (the ledger's balances, holds, ...).
    func state(_ key: [UInt8]) throws -> [UInt8]?
    /// Calls `body` for each write-model entry in key order, until it returns false.
    func forEachState(_ body: ([UInt8], [UInt8]) throws -> Bool) throws
}

/// The write side of a storage transaction.
public protocol JournalStorageWriter: JournalStorageReader {
    /// Appends a record of `count` bytes under `sequence`, which must follow the last one;
    /// `fill` writes the bytes in place.
    func appendEventRecord(at sequence: UInt64, count: Int, fill: (UnsafeMutableRawBufferPointer) -> Void) throws
    func appendBlockRecord(lastSequence: UInt64, bytes: [UInt8]) throws
    func putKeyRecord(keyID: UInt64, bytes: [UInt8]) throws
    func setMetadata(_ name: String, _ value: [UInt8]) throws
    func putState(_ key: [UInt8], _ value: [UInt8]) throws
    func deleteState(_ key: [UInt8]) throws
    /// Removes every write-model entry (to replace the write model with one folded afresh).
    func clearState() throws
}
