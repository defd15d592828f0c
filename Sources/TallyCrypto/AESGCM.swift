import COpenSSL

/// AES-256-GCM (NIST SP 800-38D) with 96-bit random nonces and 128-bit tags.
///
/// A sealed box is `nonce (12) || ciphertext || tag (16)`. Opening checks the tag over the
/// ciphertext and the associated data; any change fails with `invalidSignature`.
public enum AESGCM {
    public static let keyByteCount = 32
    public static let nonceByteCount = 12
    public static let tagByteCount = 16

    public static func seal(_ plaintext: [UInt8], key: [UInt8], associatedData: [UInt8] = []) throws(CryptoError) -> [UInt8] {
        try seal(plaintext, key: key, nonce: SecureRandom.bytes(nonceByteCount), associatedData: associatedData)
    }

    /// Seals with a given nonce (never reuse a nonce under one key; use the random overload).
    public static func seal(_ plaintext: [UInt8], key: [UInt8], nonce: [UInt8], associatedData: [UInt8]) throws(CryptoError) -> [UInt8] {
        try checkKey(key)
        guard nonce.count == nonceByteCount else {
            throw CryptoError(kind: .invalidKey, operation: "AESGCM.seal", message: "a nonce is \(nonceByteCount) bytes")
        }
        guard let context = EVP_CIPHER_CTX_new() else { throw .openSSL("EVP_CIPHER_CTX_new") }
        defer { EVP_CIPHER_CTX_free(context) }
        guard EVP_EncryptInit_ex(context, EVP_aes_256_gcm(), nil, nil, nil) == 1,
              EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_IVLEN, Int32(nonceByteCount), nil) == 1,
              EVP_EncryptInit_ex(context, nil, nil, key, nonce) == 1
        else { throw .openSSL("EVP_EncryptInit_ex") }
        var length: Int32 = 0
        if !associatedData.isEmpty {
            guard EVP_EncryptUpdate(context, nil, &length, associatedData, Int32(associatedData.count)) == 1 else {
                throw .openSSL("EVP_EncryptUpdate(aad)")
            }
        }
        var output = nonce + [UInt8](repeating: 0, count: plaintext.count + tagByteCount)
        var written: Int32 = 0
        let ok = output.withUnsafeMutableBufferPointer { buffer -> Bool in
            let body = buffer.baseAddress! + nonceByteCount
            if !plaintext.isEmpty {
                guard EVP_EncryptUpdate(context, body, &written, plaintext, Int32(plaintext.count)) == 1 else { return false }
            }
            var final: Int32 = 0
            guard EVP_EncryptFinal_ex(context, body + Int(written), &final) == 1 else { return false }
            return EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_GET_TAG, Int32(tagByteCount), body + plaintext.count) == 1
        }
        guard ok else { throw .openSSL("EVP_EncryptFinal_ex") }
        return output
    }

    public static func open(_ sealed: [UInt8], key: [UInt8], associatedData: [UInt8] = []) throws(CryptoError) -> [UInt8] {
        try checkKey(key)
        guard sealed.count >= nonceByteCount + tagByteCount else {
            throw CryptoError(kind: .invalidSignature, operation: "AESGCM.open", message: "sealed box is too short")
        }
        guard let context = EVP_CIPHER_CTX_new() else { throw .openSSL("EVP_CIPHER_CTX_new") }
        defer { EVP_CIPHER_CTX_free(context) }
        let nonce = Array(sealed[0..<nonceByteCount])
        var tag = Array(sealed[(sealed.count - tagByteCount)...])
        let ciphertext = Array(sealed[nonceByteCount..<(sealed.count - tagByteCount)])
        guard EVP_DecryptInit_ex(context, EVP_aes_256_gcm(), nil, nil, nil) == 1,
              EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_IVLEN, Int32(nonceByteCount), nil) == 1,
              EVP_DecryptInit_ex(context, nil, nil, key, nonce) == 1
        else { throw .openSSL("EVP_DecryptInit_ex") }
        var length: Int32 = 0
        if !associatedData.isEmpty {
            guard EVP_DecryptUpdate(context, nil, &length, associatedData, Int32(associatedData.count)) == 1 else {
                throw .openSSL("EVP_DecryptUpdate(aad)")
            }
        }
        var plaintext = [UInt8](repeating: 0, count: ciphertext.count)
        var written: Int32 = 0
        if !ciphertext.isEmpty {
            guard EVP_DecryptUpdate(context, &plaintext, &written, ciphertext, Int32(ciphertext.count)) == 1 else {
                throw .openSSL("EVP_DecryptUpdate")
            }
        }
        guard EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_TAG, Int32(tagByteCount), &tag) == 1 else {
            throw .openSSL("EVP_CTRL_GCM_SET_TAG")
        }
        var final: Int32 = 0
        let verified = plaintext.withUnsafeMutableBufferPointer { buffer in
            EVP_DecryptFinal_ex(context, buffer.baseAddress.map { $0 + Int(written) }, &final)
        }
        guard verified > 0 else {
            ERR_clear_error()
            throw CryptoError(kind: .invalidSignature, operation: "AESGCM.open", message: "authentication failed: wrong key, or altered data")
        }
        return plaintext
    }

    private static func checkKey(_ key: [UInt8]) throws(CryptoError) {
        guard key.count == keyByteCount else {
            throw CryptoError(kind: .invalidKey, operation: "AESGCM", message: "an AES-256 key is \(keyByteCount) bytes, got \(key.count)")
        }
    }
}
