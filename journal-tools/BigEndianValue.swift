/// Reads the big-endian unsigned integers of the journal's binary layouts.
enum BigEndianValue {
    /// The UInt64 in `bytes[offset..<offset + 8]`, or nil when there are too few bytes.
    static func uint64<Bytes: Collection>(_ bytes: Bytes, at offset: Int = 0) -> UInt64? where Bytes.Element == UInt8 {
        let array = Array(bytes)
        guard offset >= 0, array.count >= offset + 8 else { return nil }
        return array[offset..<(offset + 8)].reduce(0) { $0 << 8 | UInt64($1) }
    }

    static func uint32<Bytes: Collection>(_ bytes: Bytes, at offset: Int) -> UInt32? where Bytes.Element == UInt8 {
        let array = Array(bytes)
        guard offset >= 0, array.count >= offset + 4 else { return nil }
        return array[offset..<(offset + 4)].reduce(0) { $0 << 8 | UInt32($1) }
    }
}
