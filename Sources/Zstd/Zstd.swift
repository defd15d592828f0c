import CZstd

/// One-shot zstd compression of whole buffers (single frames, with content size and checksum).
public enum Zstd {
    /// Compresses `input` at `level` (1–19; 3 is zstd's default).
    public static func compress(_ input: UnsafeRawBufferPointer, level: Int32 = 3) throws(ZstdError) -> [UInt8] {
        guard let context = ZSTD_createCCtx() else { throw ZstdError(kind: .library, message: "out of memory") }
        defer { ZSTD_freeCCtx(context) }
        try check(ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level))
        try check(ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1))
        let bound = ZSTD_compressBound(input.count)
        var output = [UInt8](repeating: 0, count: bound)
        let written = output.withUnsafeMutableBytes { buffer in
            ZSTD_compress2(context, buffer.baseAddress, bound, input.baseAddress, input.count)
        }
        try check(written)
        output.removeSubrange(written...)
        return output
    }

    public static func compress(_ input: [UInt8], level: Int32 = 3) throws(ZstdError) -> [UInt8] {
        try withBytes(input) { buffer throws(ZstdError) in try compress(buffer, level: level) }
    }

    /// Decompresses one frame whose stated content size is at most `maximumSize` bytes.
    public static func decompress(_ input: UnsafeRawBufferPointer, maximumSize: Int) throws(ZstdError) -> [UInt8] {
        let size = ZSTD_getFrameContentSize(input.baseAddress, input.count)
        // ZSTD_CONTENTSIZE_ERROR is (0ULL - 2), ZSTD_CONTENTSIZE_UNKNOWN is (0ULL - 1).
        if size == UInt64.max - 1 {
            throw ZstdError(kind: .corruptInput, message: "not a zstd frame")
        }
        if size == UInt64.max {
            throw ZstdError(kind: .tooLarge, message: "frame does not state its content size")
        }
        guard maximumSize >= 0, size <= UInt64(maximumSize) else {
            throw ZstdError(kind: .tooLarge, message: "frame holds \(size) bytes, more than the limit of \(maximumSize)")
        }
        var output = [UInt8](repeating: 0, count: Int(size))
        let written = output.withUnsafeMutableBytes { buffer in
            ZSTD_decompress(buffer.baseAddress, buffer.count, input.baseAddress, input.count)
        }
        if ZSTD_isError(written) != 0 {
            throw ZstdError(kind: .corruptInput, message: String(cString: ZSTD_getErrorName(written)))
        }
        guard written == Int(size) else {
            throw ZstdError(kind: .corruptInput, message: "frame decompressed to \(written) bytes, stated \(size)")
        }
        return output
    }

    public static func decompress(_ input: [UInt8], maximumSize: Int) throws(ZstdError) -> [UInt8] {
        try withBytes(input) { buffer throws(ZstdError) in try decompress(buffer, maximumSize: maximumSize) }
    }

    private static func check(_ code: Int) throws(ZstdError) {
        if ZSTD_isError(code) != 0 {
            throw ZstdError(kind: .library, message: String(cString: ZSTD_getErrorName(code)))
        }
    }
}
