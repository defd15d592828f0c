import TallyCrypto

/// The stored form of one event (the value under its sequence number in the `events`
/// database). See `Schemas/journal.md` for the contract.
///
///     offset  size  field
///     0       32    event hash (SHA-256, see below)
///     32      1     record format, 0x01
///     33      1     type name length T (1...64)
///     34      4     payload length P, big-endian
///     38      T     type name, ASCII
///     38+T    P     payload
///
/// The *body* is every byte from offset 32 on. The event hash is
/// `SHA-256("tally/event/v1" 0x00 || sequence as 8 bytes big-endian || previous event hash || body)`,
/// where the previous hash of event 1 is 32 zero bytes.
public struct EventRecord {
    public static let formatVersion: UInt8 = 1
    public static let hashOffset = 0
    public static let bodyOffset = 32
    public static let headerBytes = 38
    /// Domain-separation prefix of event hashes ("tally/event/v1" and a zero byte).
    public static let hashDomain: [UInt8] = Array("tally/event/v1".utf8) + [0]

    /// The stored size of an event.
    public static func storedSize(typeNameBytes: Int, payloadBytes: Int) -> Int {
        headerBytes + typeNameBytes + payloadBytes
    }

    /// Writes the body of `draft` into `buffer` (sized by `storedSize`), computes the event
    /// hash over the written body, stores it at offset 0 and returns it.
    static func write(
        _ draft: EventDraft, sequence: UInt64, previous: SHA256Digest,
        into buffer: UnsafeMutableRawBufferPointer, hasher: SHA256
    ) -> SHA256Digest {
        let nameCount = draft.typeName.utf8.count
        buffer[32] = formatVersion
        buffer[33] = UInt8(nameCount)
        buffer.storeBytes(of: UInt32(draft.payload.count).bigEndian, toByteOffset: 34, as: UInt32.self)
        var offset = headerBytes
        for byte in draft.typeName.utf8 {
            buffer[offset] = byte
            offset += 1
        }
        draft.payload.withUnsafeBytes { payload in
            if payload.count > 0 {
                UnsafeMutableRawBufferPointer(rebasing: buffer[offset..<(offset + payload.count)]).copyMemory(from: payload)
            }
        }
        let body = UnsafeRawBufferPointer(rebasing: buffer[bodyOffset...])
        let hash = eventHash(sequence: sequence, previous: previous, body: body, hasher: hasher)
        hash.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: buffer[0..<32]).copyMemory(from: $0) }
        return hash
    }

    /// Writes the stored form of `draft` with its already computed `hash` into `buffer` (sized
    /// by `storedSize`).
    static func write(_ draft: EventDraft, hash: SHA256Digest, into buffer: UnsafeMutableRawBufferPointer) {
        hash.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: buffer[0..<32]).copyMemory(from: $0) }
        buffer[32] = formatVersion
        buffer[33] = UInt8(draft.typeName.utf8.count)
        buffer.storeBytes(of: UInt32(draft.payload.count).bigEndian, toByteOffset: 34, as: UInt32.self)
        var name = draft.typeName
        let nameCount = name.withUTF8 { bytes in
            UnsafeMutableRawBufferPointer(rebasing: buffer[headerBytes..<(headerBytes + bytes.count)])
                .copyMemory(from: UnsafeRawBufferPointer(bytes))
            return bytes.count
        }
        draft.payload.withUnsafeBytes { payload in
            if payload.count > 0 {
                let start = headerBytes + nameCount
                UnsafeMutableRawBufferPointer(rebasing: buffer[start..<(start + payload.count)]).copyMemory(from: payload)
            }
        }
    }

    /// The event hash of `draft` stored at `sequence` after `previous`: the same digest as
    /// `eventHash(sequence:previous:body:)` over the body the draft is stored as, computed from
    /// the draft itself so that it can run before (and beside) the write.
    @inline(__always)
    static func eventHash(of draft: EventDraft, sequence: UInt64, previous: SHA256Digest, hasher: SHA256) -> SHA256Digest {
        // Prefix (15) + sequence (8) + previous (32) + format (1) + type length (1) + payload length (4).
        var header: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
        var name = draft.typeName
        return withUnsafeMutableBytes(of: &header) { scratch in
            hashDomain.withUnsafeBytes { scratch.copyMemory(from: $0) }
            scratch.storeBytes(of: sequence.bigEndian, toByteOffset: 15, as: UInt64.self)
            previous.withUnsafeBytes {
                UnsafeMutableRawBufferPointer(rebasing: scratch[23..<55]).copyMemory(from: $0)
            }
            scratch[55] = formatVersion
            scratch[56] = UInt8(draft.typeName.utf8.count)
            scratch.storeBytes(of: UInt32(draft.payload.count).bigEndian, toByteOffset: 57, as: UInt32.self)
            hasher.reset()
            hasher.update(UnsafeRawBufferPointer(rebasing: scratch[0..<61]))
            name.withUTF8 { hasher.update(UnsafeRawBufferPointer($0)) }
            draft.payload.withUnsafeBytes { hasher.update($0) }
            return hasher.finish()
        }
    }

    /// The event hash of a body at a sequence number after a previous hash.
    @inline(__always)
    public static func eventHash(
        sequence: UInt64, previous: SHA256Digest, body: UnsafeRawBufferPointer, hasher: SHA256
    ) -> SHA256Digest {
        // Prefix (15) + sequence (8) + previous (32) in one update.
        var prefix: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0)
        return withUnsafeMutableBytes(of: &prefix) { scratch in
            hashDomain.withUnsafeBytes { scratch.copyMemory(from: $0) }
            scratch.storeBytes(of: sequence.bigEndian, toByteOffset: 15, as: UInt64.self)
            previous.withUnsafeBytes {
                UnsafeMutableRawBufferPointer(rebasing: scratch[23..<55]).copyMemory(from: $0)
            }
            hasher.reset()
            hasher.update(UnsafeRawBufferPointer(rebasing: scratch[0..<55]))
            hasher.update(body)
            return hasher.finish()
        }
    }

    /// A stored record, parsed without copying. Fields point into the record's bytes.
    public struct View {
        public let storedHash: SHA256Digest
        public let typeName: UnsafeRawBufferPointer
        public let payload: UnsafeRawBufferPointer
        public let body: UnsafeRawBufferPointer
    }

    /// Parses a stored record, checking its layout; the error names the broken rule.
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> Result<View, FormatViolation> {
        guard bytes.count >= headerBytes else {
            return .failure(FormatViolation("record is \(bytes.count) bytes, shorter than its \(headerBytes)-byte header"))
        }
        guard bytes[32] == formatVersion else {
            return .failure(FormatViolation("record format \(bytes[32]) is not \(formatVersion)"))
        }
        let nameCount = Int(bytes[33])
        guard nameCount >= 1 && nameCount <= JournalLimits.typeNameBytesMax else {
            return .failure(FormatViolation("type name length \(nameCount) is outside 1...\(JournalLimits.typeNameBytesMax)"))
        }
        let payloadCount = Int(UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 34, as: UInt32.self)))
        guard bytes.count == headerBytes + nameCount + payloadCount else {
            return .failure(FormatViolation("record is \(bytes.count) bytes but its lengths say \(headerBytes + nameCount + payloadCount)"))
        }
        let name = UnsafeRawBufferPointer(rebasing: bytes[headerBytes..<(headerBytes + nameCount)])
        for byte in name where !EventDraft.isTypeNameByte(byte) {
            return .failure(FormatViolation("type name holds a byte outside the allowed set"))
        }
        return .success(
            View(
                storedHash: SHA256Digest(bytes: UnsafeRawBufferPointer(rebasing: bytes[0..<32]))!,
                typeName: name,
                payload: UnsafeRawBufferPointer(rebasing: bytes[(headerBytes + nameCount)...]),
                body: UnsafeRawBufferPointer(rebasing: bytes[bodyOffset...])))
    }
}
