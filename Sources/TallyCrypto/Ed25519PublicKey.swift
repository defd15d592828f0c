import COpenSSL

/// An Ed25519 public key: 32 raw bytes (RFC 8032).
public struct Ed25519PublicKey: Hashable, Sendable {
    public let rawRepresentation: [UInt8]

    public init(rawRepresentation: [UInt8]) throws(CryptoError) {
        guard rawRepresentation.count == 32 else {
            throw CryptoError(
                kind: .invalidKey, operation: "Ed25519PublicKey",
                message: "an Ed25519 public key is 32 bytes, got \(rawRepresentation.count)")
        }
        self.rawRepresentation = rawRepresentation
    }

    /// Reads a SubjectPublicKeyInfo PEM document (`-----BEGIN PUBLIC KEY-----`).
    public init(pem: String) throws(CryptoError) {
        let bytes = Array(pem.utf8)
        let parsed: OpaquePointer? = bytes.withUnsafeBytes { buffer in
            guard let bio = BIO_new_mem_buf(buffer.baseAddress, Int32(buffer.count)) else { return nil }
            defer { BIO_free(bio) }
            return PEM_read_bio_PUBKEY(bio, nil, nil, nil)
        }
        guard let parsed else { throw .openSSL("PEM_read_bio_PUBKEY", kind: .invalidKey) }
        defer { EVP_PKEY_free(parsed) }
        guard EVP_PKEY_get_id(parsed) == EVP_PKEY_ED25519 else {
            throw CryptoError(kind: .invalidKey, operation: "PEM_read_bio_PUBKEY", message: "not an Ed25519 key")
        }
        var raw = [UInt8](repeating: 0, count: 32)
        var length = 32
        guard EVP_PKEY_get_raw_public_key(parsed, &raw, &length) == 1, length == 32 else {
            throw .openSSL("EVP_PKEY_get_raw_public_key", kind: .invalidKey)
        }
        self.rawRepresentation = raw
    }

    /// The SubjectPublicKeyInfo PEM form, usable with `openssl pkeyutl -verify -pubin`.
    public var pemRepresentation: String {
        let key = makeKey()
        defer { EVP_PKEY_free(key) }
        guard let bio = BIO_new(BIO_s_mem()) else { fatalError("BIO_new: out of memory") }
        defer { BIO_free(bio) }
        precondition(PEM_write_bio_PUBKEY(bio, key) == 1, "PEM_write_bio_PUBKEY failed")
        return BIOText.read(bio)
    }

    private func makeKey() -> OpaquePointer {
        guard let key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nil, rawRepresentation, 32) else {
            preconditionFailure("EVP_PKEY_new_raw_public_key rejected 32 bytes")
        }
        return key
    }

    /// True when `signature` is a valid signature of `message` by this key.
    public func isValidSignature(_ signature: UnsafeRawBufferPointer, for message: UnsafeRawBufferPointer) -> Bool {
        guard signature.count == 64 else { return false }
        let key = makeKey()
        defer { EVP_PKEY_free(key) }
        guard let context = EVP_MD_CTX_new() else { fatalError("EVP_MD_CTX_new: out of memory") }
        defer { EVP_MD_CTX_free(context) }
        guard EVP_DigestVerifyInit(context, nil, nil, nil, key) == 1 else {
            ERR_clear_error()
            return false
        }
        let result = EVP_DigestVerify(
            context, signature.baseAddress?.assumingMemoryBound(to: UInt8.self), 64,
            message.baseAddress?.assumingMemoryBound(to: UInt8.self), message.count)
        if result != 1 { ERR_clear_error() }
        return result == 1
    }

    public func isValidSignature(_ signature: [UInt8], for message: [UInt8]) -> Bool {
        signature.withUnsafeBytes { sig in message.withUnsafeBytes { isValidSignature(sig, for: $0) } }
    }
}
