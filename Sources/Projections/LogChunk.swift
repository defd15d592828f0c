import LMDB

/// A stretch of one subject's log (schema 3): a wallet's or a vendor's history (`hw/`, `hv/`), a
/// user's purchases (`pu/`) or a rights holder's royalty entries (`re/`), many entries under one
/// key `<prefix>` 0 `<first entry's sequence>`.
///
/// Schema 2 stored one LMDB entry per event and subject: with the balance history, most of a
/// cold fold's puts (four per purchase here). A batch now writes each subject's entries of
/// the batch as chunks of their own, never reading or rewriting an older one; readers walk the
/// chunks in key order and the entries inside each.
///
///     tag u8 | n >= 1 times: sequence u64be | byte count u32be | the entry's bytes
///
/// with sequences strictly increasing, the first at the key's. An entry's bytes are the value
/// schema 2 stored under `<prefix>` 0 `<sequence>` (`HistoryCodec`, the transaction ID, the
/// `[RoyaltyEntry]` record), and the canonical dump prints one line per entry, as it did then.
enum LogChunk {
    static let tag: UInt8 = 0xB9
    /// A chunk is closed before an entry would take it past this many bytes (an entry larger
    /// alone gets a chunk of its own), so that it stays on a leaf page beside its neighbours
    /// (LMDB gives a value over about 2 KB, with a 4 KB page, overflow pages of its own).
    static let bytesMax = 1_900
    static let entryHeaderBytes = 12

    struct Malformed: Error, CustomStringConvertible {
        let reason: String
        var description: String { reason }
    }

    /// A stored chunk, checked: its tag, whole entries (at least one) to its last byte, the
    /// first at the key's sequence, sequences strictly increasing.
    struct View {
        let bytes: UnsafeRawBufferPointer
        /// Each entry's sequence and where its bytes are.
        private(set) var entries: [(sequence: UInt64, start: Int, end: Int)] = []

        init(_ bytes: UnsafeRawBufferPointer, keySequence: UInt64) throws(Malformed) {
            self.bytes = bytes
            guard bytes.count >= 1, bytes[0] == LogChunk.tag else { throw Malformed(reason: "a log chunk has the wrong tag") }
            var offset = 1
            while offset < bytes.count {
                guard bytes.count - offset >= LogChunk.entryHeaderBytes else {
                    throw Malformed(reason: "a log chunk ends inside an entry's header")
                }
                let sequence = BigEndian.uint64(bytes, at: offset)
                let count = Int(UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self)))
                let start = offset + LogChunk.entryHeaderBytes
                guard count <= bytes.count - start else { throw Malformed(reason: "a log chunk ends inside entry \(sequence)") }
                if let last = entries.last, sequence <= last.sequence {
                    throw Malformed(reason: "a log chunk's sequences are out of order at \(sequence)")
                }
                entries.append((sequence, start, start + count))
                offset = start + count
            }
            guard let first = entries.first else { throw Malformed(reason: "a log chunk has no entry") }
            guard first.sequence == keySequence else {
                throw Malformed(reason: "a log chunk starts at \(first.sequence), its key at \(keySequence)")
            }
        }

        func value(_ index: Int) -> UnsafeRawBufferPointer {
            UnsafeRawBufferPointer(rebasing: bytes[entries[index].start..<entries[index].end])
        }
    }

    /// Appends one entry's header and bytes to a chunk being written.
    static func appendEntry(sequence: UInt64, _ value: UnsafeRawBufferPointer, to chunk: inout [UInt8]) {
        precondition(value.count <= UInt32.max, "a log entry of \(value.count) bytes")
        withUnsafeBytes(of: sequence.bigEndian) { chunk.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt32(value.count).bigEndian) { chunk.append(contentsOf: $0) }
        chunk.append(contentsOf: value)
    }
}
