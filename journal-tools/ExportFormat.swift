import Foundation
import TallyCrypto

/// The files `journal-tool export` writes and `journal-tool import` reads.
///
/// An export is a directory:
///
/// - `manifest.json`: ``ExportManifest``, the table of contents.
/// - `keys.zst`: every key record of the journal (the `keys` database), zstd-compressed.
/// - `segment-NNNNNN.zst`: the events and blocks of whole blocks, in sequence order,
///   zstd-compressed (one frame each). A segment ends at the first block boundary after
///   `--segment-kib` of records.
/// - `SHA256SUMS`: the SHA-256 of every other file, in `sha256sum -c` form.
///
/// Uncompressed, a segment (and `keys.zst`) is a run of entries, each
///
///     offset  size  field
///     0       1     tag: 'E' event record, 'B' sealed block, 'K' key record
///     1       8     key as stored, big-endian (sequence, block's last sequence, key id)
///     9       4     value length L, big-endian
///     13      L     the value exactly as stored in the journal
///
/// with each block's events before the block itself. The values are the stored bytes, so the
/// hashes and signatures of Schemas/journal.md check them unchanged.
enum ExportFormat {
    static let formatName = "tally-export/1"
    static let manifestName = "manifest.json"
    static let keysName = "keys.zst"
    static let checksumsName = "SHA256SUMS"
    static let entryHeaderBytes = 13

    enum Tag: UInt8 {
        case event = 0x45  // 'E'
        case block = 0x42  // 'B'
        case key = 0x4B  // 'K'
    }

    static func segmentName(_ index: Int) -> String {
        let digits = String(index)
        return "segment-" + String(repeating: "0", count: max(0, 6 - digits.count)) + digits + ".zst"
    }

    static func appendEntry(_ tag: Tag, key: UInt64, value: UnsafeRawBufferPointer, to buffer: inout [UInt8]) {
        buffer.append(tag.rawValue)
        withUnsafeBytes(of: key.bigEndian) { buffer.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt32(value.count).bigEndian) { buffer.append(contentsOf: $0) }
        buffer.append(contentsOf: value)
    }

    /// One entry read back, pointing into the segment's bytes.
    struct Entry {
        let tag: Tag
        let key: UInt64
        let value: UnsafeRawBufferPointer
    }

    /// Calls `body` for each entry of `bytes`; a broken layout is an error naming the offset.
    static func forEachEntry(in bytes: UnsafeRawBufferPointer, _ body: (Entry) throws -> Void) throws {
        var offset = 0
        while offset < bytes.count {
            guard bytes.count - offset >= entryHeaderBytes else {
                throw FormatError("the entry at byte \(offset) is cut short (\(bytes.count - offset) bytes left)")
            }
            guard let tag = Tag(rawValue: bytes[offset]) else {
                throw FormatError("the entry at byte \(offset) has an unknown tag \(bytes[offset])")
            }
            let key = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: offset + 1, as: UInt64.self))
            let length = Int(UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: offset + 9, as: UInt32.self)))
            let start = offset + entryHeaderBytes
            guard bytes.count - start >= length else {
                throw FormatError("the entry at byte \(offset) says \(length) bytes, but only \(bytes.count - start) are left")
            }
            try body(Entry(tag: tag, key: key, value: UnsafeRawBufferPointer(rebasing: bytes[start..<(start + length)])))
            offset = start + length
        }
    }

    struct FormatError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// The SHA-256 of a file's bytes, hex.
    static func sha256(_ bytes: [UInt8]) -> String {
        SHA256.hash(bytes).hex
    }
}

/// `manifest.json` of an export. Keys are written sorted.
struct ExportManifest: Codable, Equatable {
    struct File: Codable, Equatable {
        let file: String
        let bytes: Int
        let uncompressedBytes: Int
        let sha256: String
    }

    struct Segment: Codable, Equatable {
        let file: String
        let firstSequence: UInt64
        let lastSequence: UInt64
        let events: UInt64
        let blocks: UInt64
        let bytes: Int
        let uncompressedBytes: Int
        let sha256: String
    }

    let format: String
    /// The journal's ID (`meta/journal-id`), hex.
    let journalID: String
    /// `meta/created-ms` of the journal.
    let createdMilliseconds: UInt64?
    let firstSequence: UInt64
    let lastSequence: UInt64
    /// The stored hash of the event before `firstSequence` (zeros when it is 1).
    let previousHash: String
    /// The event hash at `lastSequence`: a checkpoint to compare with after import.
    let head: String
    let events: UInt64
    let blocks: UInt64
    let keys: File
    let keyRecords: Int
    let segments: [Segment]
    let zstdLevel: Int32
    let uncompressedBytes: Int
    let compressedBytes: Int
    /// uncompressed / compressed, over every segment and the keys file.
    let compressionRatio: Double
    let exportedAtMilliseconds: UInt64
}
