import COpenSSL

/// An Ed25519 signing key (RFC 8032), held by OpenSSL.
public final class Ed25519PrivateKey: @unchecked Sendable {
    // EVP_PKEY is reference counted and safe to use for signing from any thread.
    let key: OpaquePointer

    private init(key: OpaquePointer) {
        self.key = key
    }

    deinit { EVP_PKEY_free(key) }

    /// A new random key.
    public static func generate() throws(CryptoError) -> Ed25519PrivateKey {
        guard let context = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nil) else {
            throw .openSSL("EVP_PKEY_CTX_new_id")
        }
        defer { EVP_PKEY_CTX_free(context) }
        guard EVP_PKEY_keygen_init(context) == 1 else { throw .openSSL("EVP_PKEY_keygen_init") }
        var key: OpaquePointer?
        guard EVP_PKEY_keygen(context, &key) == 1, let key else { throw .openSSL("EVP_PKEY_keygen") }
        return Ed25519PrivateKey(key: key)
    }

    /// The key with the given 32-byte seed (RFC 8032's private key).
    public convenience init(seed: [UInt8]) throws(CryptoError) {
        guard seed.count == 32 else {
            throw CryptoError(kind: .invalidKey, operation: "Ed25519PrivateKey", message: "a seed is 32 bytes, got \(seed.count)")
        }
        guard let key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nil, seed, 32) else {
            throw .openSSL("EVP_PKEY_new_raw_private_key", kind: .invalidKey)
        }
        self.init(key: key)
    }

    /// Reads a PKCS #8 PEM document (`-----BEGIN PRIVATE KEY-----`), as `openssl genpkey
    /// -algorithm ed25519` writes it.
    public convenience init(pem: String) throws(CryptoError) {
        let bytes = Array(pem.utf8)
        let parsed: OpaquePointer? = bytes.withUnsafeBytes { buffer in
            guard let bio = BIO_new_mem_buf(buffer.baseAddress, Int32(buffer.count)) else { return nil }
            defer { BIO_free(bio) }
            return PEM_read_bio_PrivateKey(bio, nil, nil, nil)
        }
        guard let parsed else { throw .openSSL("PEM_read_bio_PrivateKey", kind: .invalidKey) }
        guard EVP_PKEY_get_id(parsed) == EVP_PKEY_ED25519 else {
            EVP_PKEY_free(parsed)
            throw CryptoError(kind: .invalidKey, operation: "PEM_read_bio_PrivateKey", message: "not an Ed25519 key")
        }
        self.init(key: parsed)
    }

    /// The PKCS #8 PEM form, readable by `openssl pkey`.
    public var pemRepresentation: String {
        guard let bio = BIO_new(BIO_s_mem()) else { fatalError("BIO_new: out of memory") }
        defer { BIO_free(bio) }
        let ok = PEM_write_bio_PrivateKey(bio, key, nil, nil, 0, nil, nil)
        precondition(ok == 1, "PEM_write_bio_PrivateKey failed")
        return BIOText.read(bio)
    }

    /// The 32-byte seed.
    public var seed: [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 32)
        var length = 32
        let ok = EVP_PKEY_get_raw_private_key(key, &bytes, &length)
        precondition(ok == 1 && length == 32, "EVP_PKEY_get_raw_private_key failed")
        return bytes
    }

    public var publicKey: Ed25519PublicKey {
        var bytes = [UInt8](repeating: 0, count: 32)
        var length = 32
        let ok = EVP_PKEY_get_raw_public_key(key, &bytes, &length)
        precondition(ok == 1 && length == 32, "EVP_PKEY_get_raw_public_key failed")
        return try! Ed25519PublicKey(rawRepresentation: bytes)
    }

    /// A 64-byte Ed25519 signature of `message` (pure Ed25519: the message is not prehashed).
    public func signature(for message: UnsafeRawBufferPointer) -> [UInt8] {
        guard let context = EVP_MD_CTX_new() else { fatalError("EVP_MD_CTX_new: out of memory") }
        defer { EVP_MD_CTX_free(context) }
        var ok = EVP_DigestSignInit(context, nil, nil, nil, key)
        precondition(ok == 1, "EVP_DigestSignInit failed: \(CryptoError.openSSL("EVP_DigestSignInit"))")
        var signature = [UInt8](repeating: 0, count: 64)
        var length = 64
        ok = EVP_DigestSign(
            context, &signature, &length, message.baseAddress?.assumingMemoryBound(to: UInt8.self), message.count)
        precondition(ok == 1 && length == 64, "EVP_DigestSign failed")
        return signature
    }

    public func signature(for message: [UInt8]) -> [UInt8] {
        message.withUnsafeBytes { signature(for: $0) }
    }
}

enum BIOText {
    static func read(_ bio: OpaquePointer) -> String {
        var pointer: UnsafeMutablePointer<CChar>?
        // BIO_get_mem_data is a macro over BIO_ctrl(BIO_CTRL_INFO).
        let length = withUnsafeMutablePointer(to: &pointer) { BIO_ctrl(bio, BIO_CTRL_INFO, 0, $0) }
        guard length > 0, let pointer else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: pointer, count: Int(length)), as: UTF8.self)
    }
}
