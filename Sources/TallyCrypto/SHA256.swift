import COpenSSL

/// SHA-256 through OpenSSL's EVP interface.
///
/// A ``SHA256`` value keeps one `EVP_MD_CTX` and reuses it for every digest (about twice the
/// rate of one-shot calls for short inputs). It is not thread-safe: give each thread its own.
public final class SHA256 {
    /// The algorithm, fetched once for the process; `EVP_MD` is immutable and shareable.
    nonisolated(unsafe) private static let algorithm: OpaquePointer = {
        guard let md = EVP_MD_fetch(nil, "SHA256", nil) else {
            fatalError("OpenSSL has no SHA256: \(CryptoError.openSSL("EVP_MD_fetch"))")
        }
        return md
    }()

    private let context: OpaquePointer

    public init() {
        guard let context = EVP_MD_CTX_new() else { fatalError("EVP_MD_CTX_new: out of memory") }
        self.context = context
    }

    deinit { EVP_MD_CTX_free(context) }

    /// Starts a new digest.
    @inline(__always)
    public func reset() {
        let ok = EVP_DigestInit_ex2(context, Self.algorithm, nil)
        precondition(ok == 1, "EVP_DigestInit_ex2 failed")
    }

    @inline(__always)
    public func update(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        let ok = EVP_DigestUpdate(context, bytes.baseAddress, bytes.count)
        precondition(ok == 1, "EVP_DigestUpdate failed")
    }

    public func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    public func update(_ digest: SHA256Digest) {
        digest.withUnsafeBytes { update($0) }
    }

    public func update(bigEndian value: UInt64) {
        withUnsafeBytes(of: value.bigEndian) { update($0) }
    }

    /// Ends the digest and returns it.
    @inline(__always)
    public func finish() -> SHA256Digest {
        var digest = SHA256Digest.zero
        var length: UInt32 = 0
        let ok = withUnsafeMutableBytes(of: &digest.storage) { buffer in
            EVP_DigestFinal_ex(context, buffer.baseAddress!.assumingMemoryBound(to: UInt8.self), &length)
        }
        precondition(ok == 1 && length == 32, "EVP_DigestFinal_ex failed")
        return digest
    }

    /// The digest of `bytes`, reusing this hasher's context.
    public func digest(_ bytes: UnsafeRawBufferPointer) -> SHA256Digest {
        reset()
        update(bytes)
        return finish()
    }

    /// The digest of `bytes` in one call (allocates a context; use an instance in loops).
    public static func hash(_ bytes: [UInt8]) -> SHA256Digest {
        let hasher = SHA256()
        return bytes.withUnsafeBytes { hasher.digest($0) }
    }
}
