import Foundation
import HTTPTypes
import Hummingbird
import TallyCrypto

/// Collects a response body written in process.
struct BodyCollector {
    final class Bytes: @unchecked Sendable {
        var value: [UInt8] = []
    }

    let bytes = Bytes()

    var writer: any ResponseBodyWriter { Writer(bytes: bytes) }

    struct Writer: ResponseBodyWriter {
        let bytes: Bytes
        mutating func write(_ buffer: ByteBuffer) async throws { bytes.value += buffer.readableBytesView }
        consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
    }
}

/// The JSON API's routes, called in process by the web pages: a request built from a form,
/// answered exactly as the same request over HTTP would be.
struct InProcessAPI {
    let responder: any HTTPResponder<TallyContext>

    struct Answer {
        let status: Int
        let json: Any?
    }

    /// Who a call is from: a bearer (a user's session, the admin key), or a vendor whose
    /// requests are signed as its own client would sign them.
    enum Caller {
        case bearer(String)
        case vendor(keyID: String, secret: [UInt8], nowSeconds: UInt64)
        case anonymous
    }

    func call(_ method: HTTPRequest.Method, _ path: String, bearer: String?, body: [String: Any]?, context: TallyContext) async throws -> Answer {
        try await call(method, path, as: bearer.map { .bearer($0) } ?? .anonymous, body: body, context: context)
    }

    /// `idempotencyKey` is sent as the request's `Idempotency-Key`; a vendor's write without one
    /// gets a fresh one, as every vendor write needs one.
    func call(
        _ method: HTTPRequest.Method, _ path: String, as caller: Caller, body: [String: Any]?, idempotencyKey key: String? = nil,
        forwardedFor: [String] = [], context: TallyContext
    ) async throws -> Answer {
        var fields: HTTPFields = [.contentType: "application/json"]
        for hop in forwardedFor { fields.append(HTTPField(name: ClientAddress.forwardedFor, value: hop)) }
        let bytes = try body.map { [UInt8](try JSONSerialization.data(withJSONObject: $0)) } ?? []
        switch caller {
        case .bearer(let token):
            fields[.authorization] = "Bearer " + token
            if let key { fields[.idempotencyKey] = key }
        case .vendor(let keyID, let secret, let nowSeconds):
            let nonce = Hex.encode(SecureRandom.bytes(16))
            let idempotencyKey = method == .get ? nil : key ?? "web-" + Hex.encode(SecureRandom.bytes(12))
            fields[.tallyKey] = keyID
            fields[.tallyTimestamp] = String(nowSeconds)
            fields[.tallyNonce] = nonce
            fields[.tallySignature] = VendorSignature.sign(
                secret: secret, method: method.rawValue, pathAndQuery: path, timestamp: String(nowSeconds), nonce: nonce,
                idempotencyKey: idempotencyKey, body: bytes)
            if let idempotencyKey { fields[.idempotencyKey] = idempotencyKey }
        case .anonymous:
            break
        }
        let request = Request(
            head: HTTPRequest(method: method, scheme: "http", authority: "localhost", path: path, headerFields: fields),
            body: RequestBody(buffer: ByteBuffer(bytes: bytes)))
        let response: Response
        do {
            response = try await responder.respond(to: request, context: context)
        } catch let error as APIError {
            return Answer(status: error.status.code, json: try JSONSerialization.jsonObject(with: Data(error.problem.jsonBytes)))
        }
        let collector = BodyCollector()
        try await response.body.write(collector.writer)
        let data = collector.bytes.value
        return Answer(status: response.status.code, json: data.isEmpty ? nil : try? JSONSerialization.jsonObject(with: Data(data)))
    }

    /// `id` as one segment of a path, or nil when it holds anything but letters, digits, `-`,
    /// `_` and `.` (no ID Tally makes does), so a typed ID cannot reach another route.
    /// A query parameter's value: every byte but ASCII letters, digits and `-._~` (RFC 3986's
    /// unreserved) percent-encoded.
    static func queryValue(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? ""
    }

    private static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    static func segment(_ id: String) -> String? {
        guard !id.isEmpty, id != ".", id != "..",
              id.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || "-_.".unicodeScalars.contains($0) })
        else { return nil }
        return id
    }
}
