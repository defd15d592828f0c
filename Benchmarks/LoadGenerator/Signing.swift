import Foundation
import TallyCrypto

/// A vendor of this run: its server-given ID and signing key, its site and its rights holder.
struct VendorAccount: Sendable {
    var index: Int
    var id: String
    var keyID: String
    var secret: [UInt8]
    var site: String
    var holder: String
}

/// A user of this run and the purchase token vendors charge it with.
struct UserAccount: Sendable {
    var index: Int
    var id: String
    var login: String
    var session: String
    var purchaseToken: String
}

/// Vendor request signatures, as `Sources/TallyServer/VendorSignature.swift` defines them:
/// HMAC-SHA256 with the vendor's secret over
/// `tally-request-v1\nMETHOD\npath?query\ntimestamp\nnonce\nidempotency-key\nhex(SHA-256(body))`.
enum Signer {
    static func headers(
        _ vendor: VendorAccount, method: String, path: String, nonce: String, idempotencyKey: String?, body: [UInt8]
    ) -> [(String, String)] {
        let timestamp = String(time(nil))
        let digest = SHA256.hash(body).hex
        var message = "tally-request-v1\n"
        message.reserveCapacity(200)
        message += method; message += "\n"
        message += path; message += "\n"
        message += timestamp; message += "\n"
        message += nonce; message += "\n"
        message += idempotencyKey ?? ""; message += "\n"
        message += digest
        let signature = HMACSHA256.authenticationCode(key: vendor.secret, message: Array(message.utf8)).hex
        var headers: [(String, String)] = [
            ("Tally-Key", vendor.keyID), ("Tally-Timestamp", timestamp), ("Tally-Nonce", nonce), ("Tally-Signature", signature),
        ]
        if let idempotencyKey { headers.append(("Idempotency-Key", idempotencyKey)) }
        return headers
    }
}

/// Request bodies, written by hand (keys in a fixed order; every value is one this program
/// generated, so nothing needs escaping beyond what `jsonString` does).
enum Bodies {
    static func jsonString(_ text: String) -> String {
        // Tokens, IDs and URLs need no escape: one scan, one copy (escaping scalar by scalar
        // was 10 % of the generator's CPU, which the server shares the two cores with).
        if !text.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            return "\"" + text + "\""
        }
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            default:
                if scalar.value < 0x20 { out += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count) + String(scalar.value, radix: 16) }
                else { out.unicodeScalars.append(scalar) }
            }
        }
        return out + "\""
    }

    /// The content's terms at `price`: a royalty of 1000 basis points to the vendor's single
    /// rights holder; the URL under the vendor's registered site.
    static func inlineTerms(_ vendor: VendorAccount, price: Int, currency: String, into out: inout String) {
        out += "{\"content\":\"p\(price)\",\"title\":\"Article at \(price)\",\"price\":\(price),\"currency\":"
        out += jsonString(currency)
        out += ",\"url\":"
        out += jsonString("\(vendor.site)articles/\(price)")
        out += ",\"royalties\":[{\"holder\":"
        out += jsonString(vendor.holder)
        out += ",\"basisPoints\":\(Parameters.royaltyBasisPoints)}]}"
    }

    /// `PurchaseBody` with the content inline.
    static func purchase(token: String, vendor: VendorAccount, price: Int, currency: String) -> [UInt8] {
        var out = "{\"purchaseToken\":"
        out.reserveCapacity(512)
        out += jsonString(token)
        out += ",\"inline\":"
        inlineTerms(vendor, price: price, currency: currency, into: &out)
        out += "}"
        return Array(out.utf8)
    }

    /// `BatchPurchaseBody`: one item per purchase index, each with its own idempotency key (`i`).
    static func batch(_ items: ArraySlice<Int32>, draws: Draws, users: [UserAccount], vendor: VendorAccount, currency: String) -> [UInt8] {
        var out = "{\"purchases\":["
        out.reserveCapacity(items.count * 420 + 20)
        var first = true
        for item in items {
            let index = Int(item)
            if !first { out += "," }
            first = false
            out += "{\"idempotencyKey\":\"\(index)\",\"purchaseToken\":"
            out += jsonString(users[Int(draws.user[index])].purchaseToken)
            out += ",\"inline\":"
            inlineTerms(vendor, price: Int(draws.price[index]), currency: currency, into: &out)
            out += "}"
        }
        out += "]}"
        return Array(out.utf8)
    }
}
