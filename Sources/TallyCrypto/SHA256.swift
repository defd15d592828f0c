import COpenSSL

/// SHA-256 through OpenSSL's low-level `SHA256_*` functions (SHA-NI where the CPU has it).
///
/// A ``SHA256`` value keeps one `SHA256_CTX` and reuses it for every digest. It is not
/// thread-safe: give each thread its own. (EVP was 12-30 % slower for the 65-400-byte inputs the
/// journal hashes, because `EVP_DigestInit_ex2` re-creates its provider context each time.)
public final class SHA256 {
    // OpenSSL's low-level SHA-256 state, reused for every digest: no allocation and no
    // provider dispatch per digest (EVP re-creates its provider context on every init).
    private let context: UnsafeMutablePointer<SHA256_CTX>

    public init() {
        context = .allocate(capacity: 1)
        context.initialize(to: SHA256_CTX())
        reset()
    }

    deinit { context.deallocate() }

    /// Starts a new digest.
    @inline(__always)
    public func reset() {
        let ok = tally_sha256_init(context)
        precondition(ok == 1, "SHA256_Init failed")
    }

    @inline(__always)
    public func update(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        let ok = tally_sha256_update(context, bytes.baseAddress, bytes.count)
        precondition(ok == 1, "SHA256_Update failed")
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
        let ok = withUnsafeMutableBytes(of: &digest.storage) { buffer in
            tally_sha256_final(buffer.baseAddress!.assumingMemoryBound(to: UInt8.self), context)
        }
        precondition(ok == 1, "SHA256_Final failed")
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
