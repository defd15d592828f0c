import COpenSSL

/// HMAC-SHA256 (RFC 2104), one-shot.
public enum HMACSHA256 {
    public static func authenticationCode(key: [UInt8], message: UnsafeRawBufferPointer) -> SHA256Digest {
        var digest = SHA256Digest.zero
        var length: UInt32 = 0
        let result = key.withUnsafeBytes { keyBytes in
            withUnsafeMutableBytes(of: &digest.storage) { output in
                HMAC(
                    EVP_sha256(), keyBytes.baseAddress, Int32(keyBytes.count),
                    message.baseAddress?.assumingMemoryBound(to: UInt8.self), message.count,
                    output.baseAddress!.assumingMemoryBound(to: UInt8.self), &length)
            }
        }
        precondition(result != nil && length == 32, "HMAC failed")
        return digest
    }

    public static func authenticationCode(key: [UInt8], message: [UInt8]) -> SHA256Digest {
        message.withUnsafeBytes { authenticationCode(key: key, message: $0) }
    }

    /// Compares two codes in time independent of where they differ.
    public static func constantTimeEquals(_ lhs: SHA256Digest, _ rhs: SHA256Digest) -> Bool {
        lhs.withUnsafeBytes { left in
            rhs.withUnsafeBytes { right in CRYPTO_memcmp(left.baseAddress, right.baseAddress, 32) == 0 }
        }
    }
}
