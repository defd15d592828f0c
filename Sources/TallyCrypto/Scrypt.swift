import COpenSSL

/// scrypt (RFC 7914), the memory-hard password hash, through OpenSSL's `EVP_PBE_scrypt`.
///
/// Stored form: `scrypt$N$r$p$<salt hex>$<hash hex>`, so the cost can be raised later without
/// invalidating existing hashes (a login re-hashes with the parameters the hash records).
public enum Scrypt {
    public struct Parameters: Sendable, Equatable {
        /// CPU/memory cost (a power of two). Memory used is 128 · N · r bytes.
        public var n: UInt64
        public var r: UInt64
        public var p: UInt64

        public init(n: UInt64, r: UInt64, p: UInt64) {
            self.n = n
            self.r = r
            self.p = p
        }

        /// N = 2^15, r = 8, p = 1: 32 MiB and tens of milliseconds per hash (RFC 7914 §2's
        /// interactive-login figures, raised to today's hardware).
        public static let interactive = Parameters(n: 1 << 15, r: 8, p: 1)
    }

    public static func derive(password: [UInt8], salt: [UInt8], parameters: Parameters, length: Int = 32) throws(CryptoError) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: length)
        let memory = 128 * parameters.n * parameters.r * parameters.p + 64 * 1024 * 1024
        // An empty array may have no base address; OpenSSL wants a pointer even for length 0.
        let passwordStorage: [UInt8] = password.isEmpty ? [0] : password
        let saltStorage: [UInt8] = salt.isEmpty ? [0] : salt
        let result = passwordStorage.withUnsafeBytes { passwordBytes in
            saltStorage.withUnsafeBytes { saltBytes in
                output.withUnsafeMutableBytes { out in
                    EVP_PBE_scrypt(
                        passwordBytes.baseAddress!.assumingMemoryBound(to: CChar.self), password.count,
                        saltBytes.baseAddress!.assumingMemoryBound(to: UInt8.self), salt.count,
                        parameters.n, parameters.r, parameters.p, memory,
                        out.baseAddress!.assumingMemoryBound(to: UInt8.self), length)
                }
            }
        }
        guard result == 1 else { throw CryptoError.openSSL("EVP_PBE_scrypt") }
        return output
    }

    /// Hashes `password` with a fresh 16-byte salt, in the stored form.
    public static func hash(password: String, parameters: Parameters = .interactive) throws(CryptoError) -> String {
        let salt = SecureRandom.bytes(16)
        let derived = try derive(password: Array(password.utf8), salt: salt, parameters: parameters)
        return "scrypt$\(parameters.n)$\(parameters.r)$\(parameters.p)$\(Hex.encode(salt))$\(Hex.encode(derived))"
    }

    /// Checks `password` against a stored hash in constant time. A malformed stored hash is
    /// never a match.
    public static func verify(password: String, stored: String) -> Bool {
        let parts = stored.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == "scrypt",
            let n = UInt64(parts[1]), let r = UInt64(parts[2]), let p = UInt64(parts[3]),
            n > 1, n & (n - 1) == 0, n <= 1 << 20, (1...32).contains(r), (1...16).contains(p),
            let salt = Hex.decode(String(parts[4])), let expected = Hex.decode(String(parts[5])), expected.count == 32
        else { return false }
        guard let derived = try? derive(password: Array(password.utf8), salt: salt, parameters: Parameters(n: n, r: r, p: p)) else {
            return false
        }
        return derived.withUnsafeBytes { left in
            expected.withUnsafeBytes { right in CRYPTO_memcmp(left.baseAddress, right.baseAddress, 32) == 0 }
        }
    }
}
