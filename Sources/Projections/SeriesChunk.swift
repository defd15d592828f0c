import LMDB

/// A stretch of a point-in-time series (schema 3): the balance history of one account
/// (`bh/<account>` 0 `<seq>`) or the time index (`ti/` 0 `<time>`), many entries under one key.
///
/// Schema 2 stored one LMDB entry per point (3.8 `bh/` puts per event and one `ti/` put per
/// distinct time: about half of a cold fold's puts, each a B-tree descent and a leaf page
/// rewritten). A chunk holds up to `entriesMax` points of one series, in order; its key ends
/// in its first point's position, so the chunk that holds the last point at or before a
/// position is found as the single point was (seek past it, step back once), then searched.
///
///     tag u8 | n >= 1 times: position u64be, value u64be   (positions strictly increasing)
///
/// The fold writes each batch's points of a series as chunks of their own (never reading or
/// rewriting an older chunk), except for the time index, whose last point a batch may replace
/// (`Folder.flush`). The canonical dump prints every point as the line schema 2 printed for it.
enum SeriesChunk {
    /// `bh/`: positions are sequences, values the account's balance after that event (i64).
    static let balanceHistoryTag: UInt8 = 0xB7
    /// `ti/`: positions are times (ms), values the last sequence whose events so far are all at
    /// or before that time.
    static let timeIndexTag: UInt8 = 0xB8

    static let entryBytes = 16
    /// At most this many points per chunk: 1 + 100 × 16 bytes, so that a chunk stays on a leaf
    /// page beside its neighbours (LMDB gives a value over about 2 KB, with a 4 KB page,
    /// overflow pages of its own, which a later batch's puts would not share).
    static let entriesMax = 100
    static let bytesMax = 1 + entriesMax * entryBytes

    struct Malformed: Error, CustomStringConvertible {
        let reason: String
        var description: String { reason }
    }

    /// Appends one chunk holding `count` points, given by `point(index)`, to `bytes`.
    @inline(__always)
    static func write(tag: UInt8, count: Int, into bytes: inout [UInt8], _ point: (Int) -> (position: UInt64, value: UInt64)) {
        precondition(count >= 1 && count <= entriesMax, "a chunk holds 1...\(entriesMax) points")
        bytes.append(tag)
        for index in 0..<count {
            let (position, value) = point(index)
            withUnsafeBytes(of: position.bigEndian) { bytes.append(contentsOf: $0) }
            withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
        }
    }

    /// A stored chunk, checked: its tag, a whole number of points (at least one, at most
    /// `entriesMax`), the first at the key's position, positions strictly increasing.
    struct View {
        let bytes: UnsafeRawBufferPointer
        let count: Int

        init(_ bytes: UnsafeRawBufferPointer, tag: UInt8, keyPosition: UInt64) throws(Malformed) {
            guard bytes.count >= 1, bytes[0] == tag else {
                throw Malformed(reason: "a series chunk has the wrong tag")
            }
            let body = bytes.count - 1
            guard body > 0, body % SeriesChunk.entryBytes == 0, body / SeriesChunk.entryBytes <= SeriesChunk.entriesMax else {
                throw Malformed(reason: "a series chunk of \(bytes.count) bytes")
            }
            self.bytes = bytes
            count = body / SeriesChunk.entryBytes
            guard position(0) == keyPosition else {
                throw Malformed(reason: "a series chunk starts at \(position(0)), its key at \(keyPosition)")
            }
            for index in 1..<count where position(index) <= position(index - 1) {
                throw Malformed(reason: "a series chunk's positions are out of order at \(position(index))")
            }
        }

        func position(_ index: Int) -> UInt64 { BigEndian.uint64(bytes, at: 1 + index * SeriesChunk.entryBytes) }
        func value(_ index: Int) -> UInt64 { BigEndian.uint64(bytes, at: 9 + index * SeriesChunk.entryBytes) }

        /// The index of the last point at or before `bound`; nil when the first is after it.
        func lastIndex(atOrBefore bound: UInt64) -> Int? {
            // Binary search for the first point after bound.
            var low = 0, high = count
            while low < high {
                let middle = (low + high) / 2
                if position(middle) <= bound { low = middle + 1 } else { high = middle }
            }
            return low == 0 ? nil : low - 1
        }
    }
}
