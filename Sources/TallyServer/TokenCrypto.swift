import Foundation
import TallyCrypto

/// Base64url without padding (RFC 4648 §5), for tokens that travel in URLs and headers.
enum Base64URL {
    static func encode(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ text: some StringProtocol) -> [UInt8]? {
        guard text.utf8.allSatisfy({ $0 == 0x2d || $0 == 0x5f || ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7a) })
        else { return nil }
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.utf8.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64).map { Array($0) }
    }
}

/// What a purchase token says: who logged in, when, and until when vendors may charge them.
public struct PurchaseTokenClaims: Codable, Sendable, Equatable {
    public var user: String
    public var member: String?
    public var loginAtMilliseconds: UInt64
    public var expiresAtMilliseconds: UInt64
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
        let plaintext = Array(try JSONEncoder().encode(claims))
        let sealed = try AESGCM.seal(plaintext, key: key(epoch: epoch), associatedData: Self.associatedData)
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
            let claims = try? JSONDecoder().decode(PurchaseTokenClaims.self, from: Data(plaintext))
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

