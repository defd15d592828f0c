import Foundation
import TallyCrypto

/// Base64url without padding (RFC 4648 §5), for tokens that travel in URLs and headers.
/// Written by hand: Foundation's base64 plus three `replacingOccurrences` passes was a few
/// percent of every purchase (each opens a purchase token and writes a pseudonym).
enum Base64URL {
    static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
    /// Each byte's 6-bit value, or 0xFF for a byte outside the alphabet.
    static let values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, byte) in alphabet.enumerated() { table[Int(byte)] = UInt8(index) }
        return table
    }()

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count * 4 + 2) / 3)
        var index = 0
        while index + 3 <= bytes.count {
            let group = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            out.append(alphabet[Int(group >> 18)])
            out.append(alphabet[Int((group >> 12) & 0x3F)])
            out.append(alphabet[Int((group >> 6) & 0x3F)])
            out.append(alphabet[Int(group & 0x3F)])
            index += 3
        }
        switch bytes.count - index {
        case 1:
            let group = UInt32(bytes[index]) << 16
            out.append(alphabet[Int(group >> 18)])
            out.append(alphabet[Int((group >> 12) & 0x3F)])
        case 2:
            let group = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8
            out.append(alphabet[Int(group >> 18)])
            out.append(alphabet[Int((group >> 12) & 0x3F)])
            out.append(alphabet[Int((group >> 6) & 0x3F)])
        default:
            break
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes of unpadded base64url text, or nil for anything else: a byte outside the
    /// alphabet, padding, a length that no byte count gives, or non-zero unused trailing bits
    /// (so each byte string has exactly one accepted text).
    static func decode(_ text: some StringProtocol) -> [UInt8]? {
        var utf8 = text.utf8.makeIterator()
        let count = text.utf8.count
        guard count % 4 != 1 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(count * 3 / 4)
        var group: UInt32 = 0
        var filled = 0
        while let byte = utf8.next() {
            let value = values[Int(byte)]
            guard value != 0xFF else { return nil }
            group = group << 6 | UInt32(value)
            filled += 1
            if filled == 4 {
                out.append(UInt8(truncatingIfNeeded: group >> 16))
                out.append(UInt8(truncatingIfNeeded: group >> 8))
                out.append(UInt8(truncatingIfNeeded: group))
                group = 0
                filled = 0
            }
        }
        switch filled {
        case 2:
            guard group & 0xF == 0 else { return nil }
            out.append(UInt8(truncatingIfNeeded: group >> 4))
        case 3:
            guard group & 0x3 == 0 else { return nil }
            out.append(UInt8(truncatingIfNeeded: group >> 10))
            out.append(UInt8(truncatingIfNeeded: group >> 2))
        default:
            break
        }
        return out
    }
}

/// What a purchase token says: who logged in, when, and until when vendors may charge them.
public struct PurchaseTokenClaims: Codable, Sendable, Equatable {
    public var user: String
    public var member: String?
    public var loginAtMilliseconds: UInt64
    public var expiresAtMilliseconds: UInt64

    /// The sealed plaintext: tag 0x01, login and expiry as u64 big-endian, then the user and
    /// the member as a length byte and UTF-8 (length 0xFF: no member). Tokens minted before
    /// this layout hold JSON (first byte `{`) and still open, for the 30 minutes they live.
    static let binaryTag: UInt8 = 0x01

    var plaintext: [UInt8] {
        var bytes: [UInt8] = [Self.binaryTag]
        bytes.reserveCapacity(20 + user.utf8.count + (member?.utf8.count ?? 0))
        withUnsafeBytes(of: loginAtMilliseconds.bigEndian) { bytes.append(contentsOf: $0) }
        withUnsafeBytes(of: expiresAtMilliseconds.bigEndian) { bytes.append(contentsOf: $0) }
        // Ledger IDs are at most 64 bytes; the login path only mints tokens for ledger IDs.
        precondition(user.utf8.count < 0xFF && (member?.utf8.count ?? 0) < 0xFF, "purchase token IDs are ledger IDs")
        bytes.append(UInt8(user.utf8.count))
        bytes.append(contentsOf: user.utf8)
        if let member {
            bytes.append(UInt8(member.utf8.count))
            bytes.append(contentsOf: member.utf8)
        } else {
            bytes.append(0xFF)
        }
        return bytes
    }

    init(user: String, member: String?, loginAtMilliseconds: UInt64, expiresAtMilliseconds: UInt64) {
        self.user = user
        self.member = member
        self.loginAtMilliseconds = loginAtMilliseconds
        self.expiresAtMilliseconds = expiresAtMilliseconds
    }

    /// Claims from a token's plaintext, either layout; nil when it is neither.
    init?(plaintext bytes: [UInt8]) {
        guard bytes.first == Self.binaryTag else {
            guard let claims = try? JSONDecoder().decode(PurchaseTokenClaims.self, from: Data(bytes)) else { return nil }
            self = claims
            return
        }
        guard bytes.count >= 19 else { return nil }
        func number(at offset: Int) -> UInt64 { bytes[offset..<(offset + 8)].reduce(UInt64(0)) { $0 << 8 | UInt64($1) } }
        var offset = 17
        func text() -> String?? {
            guard offset < bytes.count else { return nil }
            let count = Int(bytes[offset])
            offset += 1
            if count == 0xFF { return .some(nil) }
            guard offset + count <= bytes.count, let value = String(validating: bytes[offset..<(offset + count)], as: UTF8.self) else { return nil }
            offset += count
            return .some(value)
        }
        guard case .some(.some(let user)) = text(), case .some(let member) = text(), offset == bytes.count else { return nil }
        self.init(user: user, member: member, loginAtMilliseconds: number(at: 1), expiresAtMilliseconds: number(at: 9))
    }
}

public enum PurchaseTokenError: Error, Equatable {
    /// Not a token, altered, or sealed under a key that has rotated away.
    case invalid
    /// Outside the purchase window after login.
    case expired
}

/// Purchase tokens: the user's identity sealed with AES-256-GCM under a key that rotates with
/// time. The key of epoch `e` (`e = time / rotation`) is derived from the master key; a token
/// is readable during its epoch and the next one, and accepted only until the end of the
/// purchase window that began at login. Vendors cannot read it; they hand it back to Tally.
///
/// Form: `pt_` + base64url(epoch as 4 bytes big-endian ‖ nonce ‖ ciphertext ‖ tag).
public struct PurchaseTokens: Sendable {
    let secrets: ServerSecrets
    public let rotationMilliseconds: UInt64
    static let associatedData = Array("tally/purchase-token/v1".utf8)

    public init(secrets: ServerSecrets, rotationMilliseconds: UInt64 = 3_600_000) {
        self.secrets = secrets
        self.rotationMilliseconds = rotationMilliseconds
    }

    func key(epoch: UInt32) -> [UInt8] { secrets.derivedKey("purchase-token/\(epoch)") }

    public func mint(_ claims: PurchaseTokenClaims, now: UInt64) throws -> String {
        let epoch = UInt32(truncatingIfNeeded: now / rotationMilliseconds)
        let sealed = try AESGCM.seal(claims.plaintext, key: key(epoch: epoch), associatedData: Self.associatedData)
        let prefix: [UInt8] = [UInt8(epoch >> 24), UInt8((epoch >> 16) & 0xff), UInt8((epoch >> 8) & 0xff), UInt8(epoch & 0xff)]
        return "pt_" + Base64URL.encode(prefix + sealed)
    }

    public func open(_ token: String, now: UInt64) throws(PurchaseTokenError) -> PurchaseTokenClaims {
        guard token.hasPrefix("pt_"), token.utf8.count <= 1024, let bytes = Base64URL.decode(token.dropFirst(3)),
            bytes.count > 4 + AESGCM.nonceByteCount + AESGCM.tagByteCount
        else { throw .invalid }
        let epoch = bytes[0..<4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        let current = UInt32(truncatingIfNeeded: now / rotationMilliseconds)
        guard epoch == current || epoch &+ 1 == current else {
            throw epoch < current ? .expired : .invalid
        }
        guard let plaintext = try? AESGCM.open(Array(bytes[4...]), key: key(epoch: epoch), associatedData: Self.associatedData),
            let claims = PurchaseTokenClaims(plaintext: plaintext)
        else { throw .invalid }
        guard now < claims.expiresAtMilliseconds, now + 60_000 >= claims.loginAtMilliseconds else { throw .expired }
        return claims
    }
}

/// A vendor sees a user only under a pseudonym of their own: the user ID sealed with AES-GCM
/// under a server key, with the vendor as associated data and a nonce derived from
/// (vendor, user). So it is stable per vendor, different at every vendor, meaningless to the
/// vendor, and Tally can open it again when a vendor names a customer (only the vendor it
/// was made for can).
public struct Pseudonyms: Sendable {
    let nonceKey: [UInt8]
    let sealKey: [UInt8]

    public init(secrets: ServerSecrets) {
        nonceKey = secrets.derivedKey("pseudonym-nonce")
        sealKey = secrets.derivedKey("pseudonym-seal")
    }

    public func pseudonym(user: String, vendor: String) -> String {
        let nonce = Array(HMACSHA256.authenticationCode(key: nonceKey, message: Array((vendor + "\u{0}" + user).utf8)).bytes.prefix(12))
        // Sealing with a valid key and nonce cannot fail.
        let sealed = try! AESGCM.seal(Array(user.utf8), key: sealKey, nonce: nonce, associatedData: Array(vendor.utf8))
        return "p_" + Base64URL.encode(sealed)
    }

    /// The user behind a pseudonym made for `vendor`, or nil for anything else.
    public func user(pseudonym: String, vendor: String) -> String? {
        guard pseudonym.hasPrefix("p_"), pseudonym.utf8.count <= 512, let sealed = Base64URL.decode(pseudonym.dropFirst(2)),
            let plaintext = try? AESGCM.open(sealed, key: sealKey, associatedData: Array(vendor.utf8))
        else { return nil }
        return String(decoding: plaintext, as: UTF8.self)
    }
}

/// What an access grant lets a vendor's site check: this customer (by pseudonym) may open
/// this content until this time.
public struct AccessGrantClaims: Codable, Sendable, Equatable {
    public var transaction: String
    public var vendor: String
    public var customer: String
    public var url: String
    public var expiresAtMilliseconds: UInt64
}

/// Access grants: `ag_` + base64url(JSON claims ‖ HMAC-SHA256 tag). The user gets one from
/// their purchase summary and opens the content with it; the vendor's site checks it with
/// `GET /v1/vendor/access-grants/{grant}`.
public struct AccessGrants: Sendable {
    let key: [UInt8]

    public init(secrets: ServerSecrets) { key = secrets.derivedKey("access-grant") }

    public func issue(_ claims: AccessGrantClaims) throws -> String {
        let payload = Array(try JSONEncoder().encode(claims))
        let tag = HMACSHA256.authenticationCode(key: key, message: payload).bytes
        return "ag_" + Base64URL.encode(payload + tag)
    }

    public func open(_ grant: String) -> AccessGrantClaims? {
        guard grant.hasPrefix("ag_"), grant.utf8.count <= 4096, let bytes = Base64URL.decode(grant.dropFirst(3)), bytes.count > 32
        else { return nil }
        let payload = Array(bytes.dropLast(32))
        guard let tag = SHA256Digest(bytes: Array(bytes.suffix(32))),
            HMACSHA256.constantTimeEquals(tag, HMACSHA256.authenticationCode(key: key, message: payload))
        else { return nil }
        return try? JSONDecoder().decode(AccessGrantClaims.self, from: Data(payload))
    }
}

