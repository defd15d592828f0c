import Testing
import TallyCrypto

@Suite("OpenSSL wrapper")
struct TallyCryptoTests {
    @Test("SHA-256 matches FIPS 180-2 vectors, one-shot and with a reused context")
    func sha256Vectors() {
        #expect(SHA256.hash(Array("abc".utf8)).hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hash([]).hex == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        let hasher = SHA256()
        for _ in 0..<3 {
            hasher.reset()
            hasher.update(Array("ab".utf8))
            hasher.update(Array("c".utf8))
            #expect(hasher.finish().hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        }
    }

    @Test("Ed25519 matches RFC 8032 test 1 and refuses altered messages and signatures")
    func ed25519Vector() throws {
        let seed = Hex.decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")!
        let key = try Ed25519PrivateKey(seed: seed)
        #expect(Hex.encode(key.publicKey.rawRepresentation) == "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
        let signature = key.signature(for: [])
        #expect(Hex.encode(signature) == "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")
        #expect(key.publicKey.isValidSignature(signature, for: []))
        #expect(!key.publicKey.isValidSignature(signature, for: [0]))
        var altered = signature
        altered[5] ^= 1
        #expect(!key.publicKey.isValidSignature(altered, for: []))
        #expect(!key.publicKey.isValidSignature(Array(signature.prefix(63)), for: []))
    }

    @Test("keys survive a PEM round trip; PEM of the wrong kind is refused")
    func pemRoundTrip() throws {
        let key = try Ed25519PrivateKey.generate()
        let restored = try Ed25519PrivateKey(pem: key.pemRepresentation)
        #expect(restored.seed == key.seed)
        let publicKey = try Ed25519PublicKey(pem: key.publicKey.pemRepresentation)
        #expect(publicKey == key.publicKey)
        #expect(throws: CryptoError.self) { try Ed25519PrivateKey(pem: key.publicKey.pemRepresentation) }
        #expect(throws: CryptoError.self) { try Ed25519PublicKey(pem: "garbage") }
        #expect(throws: CryptoError.self) { try Ed25519PublicKey(rawRepresentation: [1, 2, 3]) }
        #expect(throws: CryptoError.self) { try Ed25519PrivateKey(seed: [1]) }
    }

    @Test("HMAC-SHA256 matches RFC 4231 test case 2 and compares in constant time")
    func hmacVector() {
        let code = HMACSHA256.authenticationCode(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8))
        #expect(code.hex == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        #expect(HMACSHA256.constantTimeEquals(code, code))
        #expect(!HMACSHA256.constantTimeEquals(code, SHA256.hash([])))
    }

    @Test("hex decoding refuses odd lengths and non-hex characters", arguments: ["abc", "zz", "0g", "12 4"])
    func hexRefuses(text: String) {
        #expect(Hex.decode(text) == nil)
    }

    @Test("random bytes differ between calls")
    func randomBytes() {
        #expect(SecureRandom.bytes(32) != SecureRandom.bytes(32))
        #expect(SecureRandom.bytes(7).count == 7)
    }
}

@Suite("AES-256-GCM")
struct AESGCMTests {
    @Test("matches the GCM spec's test cases 13 and 14 (zero key and nonce)")
    func vectors() throws {
        let key = [UInt8](repeating: 0, count: 32)
        let nonce = [UInt8](repeating: 0, count: 12)
        let empty = try AESGCM.seal([], key: key, nonce: nonce, associatedData: [])
        #expect(Hex.encode(Array(empty.suffix(16))) == "530f8afbc74536b9a963b4f1c4cb738b")
        let block = try AESGCM.seal([UInt8](repeating: 0, count: 16), key: key, nonce: nonce, associatedData: [])
        #expect(Hex.encode(Array(block[12..<28])) == "cea7403d4d606b6e074ec5d3baf39d18")
        #expect(Hex.encode(Array(block.suffix(16))) == "d0d1c8a799996bf0265b98b5d48ab919")
        #expect(try AESGCM.open(block, key: key) == [UInt8](repeating: 0, count: 16))
    }

    @Test("opening refuses another key, other associated data, and any altered byte")
    func refusals() throws {
        let key = SecureRandom.bytes(32)
        let sealed = try AESGCM.seal(Array("personal data".utf8), key: key, associatedData: Array("alice".utf8))
        #expect(try AESGCM.open(sealed, key: key, associatedData: Array("alice".utf8)) == Array("personal data".utf8))
        #expect(throws: CryptoError.self) { try AESGCM.open(sealed, key: SecureRandom.bytes(32), associatedData: Array("alice".utf8)) }
        #expect(throws: CryptoError.self) { try AESGCM.open(sealed, key: key, associatedData: Array("bob".utf8)) }
        for index in [0, 13, sealed.count - 1] {
            var altered = sealed
            altered[index] ^= 1
            #expect(throws: CryptoError.self) { try AESGCM.open(altered, key: key, associatedData: Array("alice".utf8)) }
        }
        #expect(throws: CryptoError.self) { try AESGCM.seal([1], key: [1, 2]) }
    }
}

@Suite struct ScryptTests {
    // RFC 7914 §12, second vector: P = "password", S = "NaCl", N = 1024, r = 8, p = 16, dkLen = 64.
    @Test func rfc7914Vector() throws {
        let derived = try Scrypt.derive(
            password: Array("password".utf8), salt: Array("NaCl".utf8), parameters: .init(n: 1024, r: 8, p: 16), length: 64)
        #expect(Hex.encode(derived) == "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640")
    }

    @Test func hashVerifiesOnlyItsPassword() throws {
        let stored = try Scrypt.hash(password: "correct horse", parameters: .init(n: 1024, r: 8, p: 1))
        #expect(stored.hasPrefix("scrypt$1024$8$1$"))
        #expect(Scrypt.verify(password: "correct horse", stored: stored))
        #expect(!Scrypt.verify(password: "correct horsf", stored: stored))
        #expect(!Scrypt.verify(password: "correct horse", stored: "scrypt$1024$8$1$00$00"))
        #expect(!Scrypt.verify(password: "correct horse", stored: "bcrypt$whatever"))
        // The same password hashes differently each time (fresh salt).
        #expect(try Scrypt.hash(password: "correct horse", parameters: .init(n: 1024, r: 8, p: 1)) != stored)
    }
}
