import Foundation
import Hummingbird
import Ledger
import NIOCore
import TallyCrypto
import Testing
@testable import TallyServer

/// The hand-written codecs on the purchase route: base64url, the purchase token's plaintext
/// and the purchase reply. Each is checked against what Foundation produces.
@Suite("Token and reply codecs")
struct TokenCodecTests {
    static let secrets = ServerSecrets(masterKey: Array(repeating: 7, count: 32), adminKey: String(repeating: "a", count: 24), auditorKey: String(repeating: "b", count: 24))

    /// Foundation's base64, made url-safe and unpadded: the reference.
    static func reference(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    @Test("base64url encodes as Foundation does and decodes back, at every length from 0 to 300")
    func base64RoundTrip() {
        var generator = SystemRandomNumberGenerator()
        for count in 0...300 {
            let bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let text = Base64URL.encode(bytes)
            #expect(text == Self.reference(bytes))
            #expect(Base64URL.decode(text) == bytes)
            #expect(Base64URL.decode(Substring(text)) == bytes)
        }
        #expect(Base64URL.encode(Array("\u{FB}\u{FF}".utf8)) == "w7vDvw")
        #expect(Base64URL.decode("-_-_") == [0xFB, 0xFF, 0xBF])
    }

    @Test("base64url refuses padding, other alphabets, impossible lengths and non-canonical trailing bits")
    func base64Refusals() {
        #expect(Base64URL.decode("QQ==") == nil)   // padding
        #expect(Base64URL.decode("+/+/") == nil)   // the standard alphabet
        #expect(Base64URL.decode("QUJD R") == nil) // a space
        #expect(Base64URL.decode("QUJDR") == nil)  // 5 characters: no byte count gives that
        #expect(Base64URL.decode("QR") == nil)     // "Q" then "R" leaves bits set that "QQ" does not
        #expect(Base64URL.decode("QUE") == [0x41, 0x41])
        #expect(Base64URL.decode("QUF") == nil)    // "QUE" with a trailing bit set
        #expect(Base64URL.decode("é") == nil)
        #expect(Base64URL.decode("") == [])
    }

    @Test("purchase token claims: binary layout round trip, JSON tokens minted before still open, damage is refused")
    func claims() throws {
        for member in [nil, "kid", String(repeating: "m", count: 64)] {
            for user in ["u", "user-1.x_y", String(repeating: "u", count: 64)] {
                let claims = PurchaseTokenClaims(user: user, member: member, loginAtMilliseconds: 1_764_000_000_123, expiresAtMilliseconds: .max)
                let bytes = claims.plaintext
                #expect(bytes.first == PurchaseTokenClaims.binaryTag)
                #expect(PurchaseTokenClaims(plaintext: bytes) == claims)
                #expect(PurchaseTokenClaims(plaintext: Array(try JSONEncoder().encode(claims))) == claims)
                for cut in 0..<bytes.count {
                    #expect(PurchaseTokenClaims(plaintext: Array(bytes[..<cut])) == nil, "cut at \(cut)")
                }
                #expect(PurchaseTokenClaims(plaintext: bytes + [0]) == nil)
            }
        }
        #expect(PurchaseTokenClaims(plaintext: [0x02] + Array(repeating: 0, count: 20)) == nil)
        #expect(PurchaseTokenClaims(plaintext: Array("{\"user\":1}".utf8)) == nil)
    }

    @Test("a token opens only inside its window and under its key; a token minted as JSON opens too")
    func tokens() throws {
        let tokens = PurchaseTokens(secrets: Self.secrets)
        let now: UInt64 = 1_764_000_000_000
        let claims = PurchaseTokenClaims(user: "alice", member: "kid", loginAtMilliseconds: now, expiresAtMilliseconds: now + 1_800_000)
        let token = try tokens.mint(claims, now: now)
        #expect(try tokens.open(token, now: now + 1) == claims)
        #expect(throws: PurchaseTokenError.expired) { try tokens.open(token, now: now + 1_800_000) }
        #expect(throws: PurchaseTokenError.invalid) { try tokens.open(String(token.dropLast()) + (token.last == "A" ? "B" : "A"), now: now + 1) }
        #expect(throws: PurchaseTokenError.invalid) { try PurchaseTokens(secrets: ServerSecrets(masterKey: Array(repeating: 8, count: 32), adminKey: Self.secrets.adminKey, auditorKey: Self.secrets.auditorKey)).open(token, now: now + 1) }

        // The JSON plaintext of tokens minted before the binary layout.
        let epoch = UInt32(now / tokens.rotationMilliseconds)
        let sealed = try AESGCM.seal(Array(try JSONEncoder().encode(claims)), key: tokens.key(epoch: epoch), associatedData: PurchaseTokens.associatedData)
        let legacy = "pt_" + Base64URL.encode([UInt8(epoch >> 24), UInt8((epoch >> 16) & 0xff), UInt8((epoch >> 8) & 0xff), UInt8(epoch & 0xff)] + sealed)
        #expect(try tokens.open(legacy, now: now + 1) == claims)
    }

    @Test("pseudonyms open again for their vendor only")
    func pseudonyms() {
        let pseudonyms = Pseudonyms(secrets: Self.secrets)
        let name = pseudonyms.pseudonym(user: "alice", vendor: "shop")
        #expect(name == pseudonyms.pseudonym(user: "alice", vendor: "shop"))
        #expect(name != pseudonyms.pseudonym(user: "alice", vendor: "other"))
        #expect(pseudonyms.user(pseudonym: name, vendor: "shop") == "alice")
        #expect(pseudonyms.user(pseudonym: name, vendor: "other") == nil)
    }

    @Test("the hand-written purchase reply is JSONResponse.encoder's bytes, every optional present and absent")
    func purchaseReply() throws {
        let odd = "sl/ash \"quote\" back\\slash tab\t nl\n ctl\u{01} é 🎵"
        for variant in 0..<128 {
            let present = { (bit: Int) in variant & (1 << bit) != 0 }
            let view = VendorPurchaseView(
                transaction: "t-\(variant)", customer: "p_abc", vendor: "shop", content: present(0) ? odd : "c",
                title: "Title \(variant)", url: "https://shop.example/a/b?x=\(variant)", currency: "USD",
                amount: Int64(variant) * 1_000_000_007 - 5, status: present(1) ? "captured" : "held",
                fee: present(2) ? Int64(variant) : nil,
                royalties: present(3) ? [RoyaltyView(holder: "h/1", amount: 3), RoyaltyView(holder: odd, amount: -4)] : (present(4) ? [] : nil),
                vendorNet: present(4) ? .min : nil, holdExpiresAtMilliseconds: present(1) ? nil : .max,
                timeMilliseconds: present(0) ? 0 : 1_764_000_000_000, sequence: present(2) ? nil : UInt64(variant),
                refunded: present(5) ? Int64(variant) : nil,
                vendorData: present(6) ? VendorData(reference: present(0) ? nil : odd, parameters: present(1) ? ["b": odd, "a.1": "x/y", "Z-9": ""] : nil) : nil)
            var writer = JSONWriter()
            view.writeJSON(to: &writer)
            #expect(writer.bytes == Array(try JSONResponse.encoder.encode(view)), "variant \(variant)")
        }
    }
}

@Suite("Bearer tokens")
struct BearerTokenTests {
    static func request(authorization: String?) -> Request {
        var head = HTTPRequest(method: .get, scheme: "http", authority: "localhost", path: "/v1/me/wallets")
        if let authorization { head.headerFields[.authorization] = authorization }
        return Request(head: head, body: RequestBody(buffer: ByteBuffer()))
    }

    @Test("the token after `Bearer `, with spaces and tabs around it trimmed; nothing else is a token")
    func parsing() {
        #expect(Self.request(authorization: "Bearer abc").bearerToken == "abc")
        #expect(Self.request(authorization: "Bearer  \tabc.def \t ").bearerToken == "abc.def")
        #expect(Self.request(authorization: "Bearer a b").bearerToken == "a b")
        #expect(Self.request(authorization: "Bearer é").bearerToken == "é")
        #expect(Self.request(authorization: "Bearer ").bearerToken == nil)
        #expect(Self.request(authorization: "Bearer \t ").bearerToken == nil)
        #expect(Self.request(authorization: "Basic abc").bearerToken == nil)
        #expect(Self.request(authorization: "bearer abc").bearerToken == nil)
        #expect(Self.request(authorization: nil).bearerToken == nil)
    }
}
