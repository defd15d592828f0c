import Foundation
import Ledger
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization

/// The request context of every Tally route. Bodies are limited well under Hummingbird's 2 MiB
/// default: 64 KiB for ordinary requests (a content registration with a long royalty schedule
/// is a few KiB), 1 MiB for the batched purchase route.
public struct TallyContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The address the connection came from (nil when there is none, as in router tests): the
    /// login throttle counts failures per name and client.
    public let remoteAddress: SocketAddress?
    public init(source: Source) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }
    public var maxUploadSize: Int { RequestBodies.defaultLimit }

    /// The connection's peer: its IP address without the port (a client opens a new
    /// connection, and port, as often as it likes), or `local` when there is none.
    var peer: String { remoteAddress?.ipAddress ?? "local" }

    /// The client as the login throttle knows it: the peer, or, when the peer is one of the
    /// `trusted` reverse proxies, the address it says it forwarded for (``ClientAddress``).
    func client(of request: Request, trusting trusted: TrustedProxies) -> String {
        guard !trusted.isEmpty, trusted.contains(peer) else { return peer }
        return ClientAddress.resolve(peer: peer, forwardedFor: request.headers[values: ClientAddress.forwardedFor], trusted: trusted)
    }
}

/// Who a request came from behind reverse proxies. Only a proxy the operator named is
/// believed: its `X-Forwarded-For` is read from the right (each proxy appends the address it
/// was reached from), skipping the named proxies, and the first address that is not one is the
/// client. What a client wrote into the header itself stands to the left of that and is never
/// reached. An entry that is not an IP address ends the walk at the last proxy: the chain
/// cannot be followed further.
enum ClientAddress {
    static let forwardedFor = HTTPField.Name("X-Forwarded-For")!

    static func resolve(peer: String, forwardedFor lines: [String], trusted: TrustedProxies) -> String {
        let hops = lines.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }
        var client = peer
        for hop in hops.reversed() {
            guard let address = normalized(hop) else { return client }
            client = address
            if !trusted.contains(address) { return address }
        }
        return client
    }

    /// `text` as an IP address in its canonical form (as a connection's peer is written), or
    /// nil when it is not one.
    static func normalized(_ text: String) -> String? {
        guard !text.isEmpty, text.utf8.count <= 45, let address = try? SocketAddress(ipAddress: text, port: 0) else { return nil }
        return address.ipAddress
    }
}

enum RequestBodies {
    static let defaultLimit = 64 * 1024
    static let batchLimit = 1024 * 1024

    /// The body's bytes, refused with 413 beyond `limit` (whether or not Content-Length says
    /// so: a chunked body is counted as it arrives), with 400 when it cannot be read (broken
    /// chunk framing, or a client that went away mid-body: a client's fault, not the server's),
    /// with 408 when it did not arrive in time (``ConnectionGuard``), and with 415
    /// when it is not empty and its `Content-Type` names something other than JSON.
    static func bytes(_ request: Request, limit: Int = defaultLimit, mediaType: String = "application/json") async throws -> [UInt8] {
        if let length = request.headers.value(of: .contentLength).flatMap({ Int($0) }), length > limit {
            throw tooLarge(limit)
        }
        do {
            let buffer = try await request.body.collect(upTo: limit)
            if buffer.readableBytes > 0 { try require(mediaType, request.headers.value(of: .contentType)) }
            return Array(buffer.readableBytesView)
        } catch let error as APIError {
            throw error
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw tooLarge(limit)
        } catch is NIOTooManyBytesError {
            throw tooLarge(limit)
        } catch is RequestBodyTimeout {
            var error = APIError(.requestTimeout, "body-timeout", "The request body took too long to arrive",
                                 detail: "a body must arrive within the server's body timeout of its request's headers; the connection is closed")
            error.headers = [.connection: "close"]
            throw error
        } catch {
            throw APIError(.badRequest, "body-unreadable", "The request body could not be read", detail: "\(error)")
        }
    }

    /// Every body the API takes is JSON (the web pages' forms: `application/x-www-form-urlencoded`).
    /// A body labelled as something else (a form, text, XML) is refused rather than read as
    /// JSON: its sender meant something else by it, and a browser may send `text/plain` across
    /// origins without asking first. Parameters (`; charset=utf-8`) are allowed and the type is
    /// matched without regard to case. A body with no `Content-Type` is taken as `expected`,
    /// since many clients leave it out.
    static func require(_ expected: String, _ contentType: String?) throws {
        guard let contentType else { return }
        // By bytes, not Foundation's trimming and lower-casing: this runs on every write.
        let isBlank = { (byte: UInt8) in byte == 0x20 || byte == 0x09 }
        let mediaType = contentType.utf8.prefix { $0 != UInt8(ascii: ";") }.drop(while: isBlank).reversed().drop(while: isBlank)
        guard mediaType.count == expected.utf8.count,
              zip(mediaType, expected.utf8.reversed()).allSatisfy({ ((0x41...0x5a).contains($0) ? $0 | 0x20 : $0) == $1 })
        else {
            let what = expected == "application/json" ? "JSON" : expected
            throw APIError(.unsupportedMediaType, "unsupported-media-type", "The request body must be \(what)",
                           detail: "Content-Type must be \(expected) (or be left out), got \(contentType.prefix(100))", field: "Content-Type")
        }
    }

    static func tooLarge(_ limit: Int) -> APIError {
        APIError(.contentTooLarge, "body-too-large", "The request body is too large", detail: "at most \(limit) bytes")
    }

    /// Decodes a JSON object strictly: malformed JSON, a non-object, a wrong type, a missing
    /// field, a field named twice in one object, and any field the type does not know (for
    /// example a `balance` sent to an endpoint that has none) are each refused with the field
    /// named; nothing unknown is ever ignored, and nothing ambiguous is read either way.
    static func decode<T: Codable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        if let fast = T.self as? any FastDecodable.Type, let value = fast.fastDecode(bytes) as? T { return value }
        return try decodeGeneric(type, from: bytes)
    }

    /// The generic strict decoding (what `decode` does for a body without a fast reader, or one
    /// its fast reader declines).
    static func decodeGeneric<T: Codable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        guard !bytes.isEmpty else {
            throw APIError(.badRequest, "malformed-json", "The request body must be a JSON object", detail: "the body is empty")
        }
        let scan: JSONKeyScanner.Scan
        do {
            scan = try JSONKeyScanner.scan(bytes)
        } catch {
            if let duplicate = error.duplicate {
                throw APIError(.badRequest, "duplicate-field", "The request names a field more than once", detail: error.reason, field: duplicate)
            }
            throw APIError(.badRequest, "malformed-json", "The request body is not valid JSON", detail: error.reason)
        }
        guard scan.isObject else {
            throw APIError(.badRequest, "malformed-json", "The request body must be a JSON object")
        }
        // Every number the API takes is an integer (minor units, seconds, counts): a fraction,
        // an exponent (even 1e2 or 1.0) or a value beyond 64 bits is refused with its field,
        // never rounded or read as something else (Foundation reads 1e2 as 100). A number where
        // a string or an object belongs is the decoder's wrong type, said by it.
        func notAnInteger(_ number: (path: String, text: String)) -> APIError {
            APIError(.badRequest, "wrong-type", "A field has the wrong type",
                     detail: "\(number.path) must be an integer in plain digits within its range, got \(number.text.prefix(40))", field: number.path)
        }
        let value: T
        do {
            value = try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch let error as DecodingError {
            // Foundation's decoder fails on 1.5 or 2^63 in an Int64 field without saying where.
            // A negative number where a UInt64 belongs fails the same way.
            if case .dataCorrupted = error, let number = scan.nonInteger ?? scan.beyondInt64 ?? scan.negative { throw notAnInteger(number) }
            throw describe(error)
        }
        // Every key the client sent must be a stored property of the type it was decoded
        // into (found by reflection, so a key sent as null is checked too). Reflection is slow,
        // so the key paths already known good for this type are remembered and a body that
        // uses only those skips it (and the `JSONSerialization` tree reflection compares with).
        let typeKey = ObjectIdentifier(T.self)
        if !knownKeyPaths.withLock({ $0[typeKey].map { scan.paths.isSubset(of: $0) } ?? false }) {
            guard let raw = try? JSONSerialization.jsonObject(with: Data(bytes), options: []) else {
                if let number = scan.nonInteger { throw notAnInteger(number) }
                throw APIError(.badRequest, "malformed-json", "The request body is not valid JSON")
            }
            if let unknown = unknownField(sent: raw, decoded: value, path: "") {
                throw APIError(.badRequest, "unknown-field", "The request has a field this endpoint does not accept", detail: "unknown field \(unknown)", field: unknown)
            }
            knownKeyPaths.withLock { $0[typeKey, default: []].formUnion(scan.paths) }
        }
        if let number = scan.nonInteger { throw notAnInteger(number) }
        return value
    }

    /// Key paths (`inline.access.views`; array elements as `[]`) that passed the reflection
    /// check, per body type.
    static let knownKeyPaths = Mutex<[ObjectIdentifier: Set<String>]>([:])

    /// The value inside an optional, or the value itself.
    private static func unwrapped(_ value: Any) -> Any? {
        let mirror = Mirror(reflecting: value)
        guard mirror.displayStyle == .optional else { return value }
        return mirror.children.first.map { unwrapped($0.value) } ?? nil
    }

    private static func unknownField(sent: Any, decoded: Any, path: String) -> String? {
        guard let decoded = unwrapped(decoded) else { return nil }
        if let sentArray = sent as? [Any] {
            guard let decodedArray = decoded as? [Any] else { return nil }
            for (index, element) in sentArray.enumerated() where index < decodedArray.count {
                if let nested = unknownField(sent: element, decoded: decodedArray[index], path: "\(path)[\(index)]") { return nested }
            }
            return nil
        }
        guard let sentObject = sent as? [String: Any] else { return nil }
        let mirror = Mirror(reflecting: decoded)
        guard mirror.displayStyle == .struct else { return nil }
        var fields: [String: Any] = [:]
        for child in mirror.children {
            if let label = child.label { fields[label] = child.value }
        }
        for key in sentObject.keys.sorted() {
            let here = path.isEmpty ? key : path + "." + key
            guard let field = fields[key] else { return here }
            if let nested = unknownField(sent: sentObject[key]!, decoded: field, path: here) { return nested }
        }
        return nil
    }

    private static func fieldPath(_ codingPath: [any CodingKey]) -> String {
        var path = ""
        for key in codingPath {
            if let index = key.intValue {
                path += "[\(index)]"
            } else {
                path += path.isEmpty ? key.stringValue : "." + key.stringValue
            }
        }
        return path
    }

    private static func describe(_ error: DecodingError) -> APIError {
        switch error {
        case .keyNotFound(let key, let context):
            let field = fieldPath(context.codingPath + [key])
            return APIError(.badRequest, "missing-field", "A required field is missing", detail: "\(field) is required", field: field)
        case .valueNotFound(_, let context):
            let field = fieldPath(context.codingPath)
            return APIError(.badRequest, "missing-field", "A required field is null", detail: "\(field) must not be null", field: field)
        case .typeMismatch(let type, let context):
            let field = fieldPath(context.codingPath)
            return APIError(.badRequest, "wrong-type", "A field has the wrong type", detail: "\(field) must be \(describe(type))", field: field)
        case .dataCorrupted(let context):
            let field = fieldPath(context.codingPath)
            return APIError(.badRequest, "invalid-field", "A field's value is not valid", detail: "\(field): \(context.debugDescription)", field: field)
        @unknown default:
            return APIError(.badRequest, "invalid-field", "A field's value is not valid")
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Int64.Type, is Int.Type, is UInt64.Type, is Int32.Type: return "an integer"
        case is Bool.Type: return "true or false"
        default:
            let name = String(describing: type)
            if name.hasPrefix("Array") { return "an array" }
            if name.hasPrefix("Dictionary") { return "an object" }
            return "a \(name)"
        }
    }
}

/// A reply written by hand on a hot route. `writeJSON` must give exactly the bytes
/// `JSONResponse.encoder` gives for the same value (sorted keys, absent optionals omitted,
/// slashes unescaped): each conformance has a test comparing the two.
protocol HandWrittenJSON {
    func writeJSON(to writer: inout JSONWriter)
}

enum JSONResponse {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    /// A JSON response with sorted keys: the same value always gives the same bytes (which is
    /// what lets an idempotent retry answer byte for byte).
    static func make<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok, headers extra: HTTPFields = [:]) throws -> Response {
        let body: [UInt8]
        if let value = value as? any HandWrittenJSON {
            var writer = JSONWriter(capacity: 512)
            value.writeJSON(to: &writer)
            body = writer.bytes
        } else {
            body = Array(try encoder.encode(value))
        }
        var headers: HTTPFields = [.contentType: "application/json"]
        headers.append(contentsOf: extra)
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }
}

extension HTTPFields {
    /// `self[name]` (the values of every field of that name, joined with ", "), in one pass and
    /// without its generic lazy `joined` when the field is given once, as it nearly always is:
    /// that join was about 4 % of the request threads' samples in HTTP single mode.
    func value(of name: Element.Name) -> String? {
        let canonical = name.canonicalName
        var found: String?
        for field in self where field.name.canonicalName == canonical {
            if found != nil { return self[name] }
            found = field.value
        }
        return found
    }
}

extension Request {
    /// The bearer token of `Authorization: Bearer …`, if any.
    var bearerToken: String? {
        guard let value = headers.value(of: .authorization), value.hasPrefix("Bearer ") else { return nil }
        // Spaces and tabs around the token, trimmed by hand: Foundation's
        // `trimmingCharacters(in: .whitespaces)` was 6 % of a read's CPU.
        let utf8 = value.utf8.dropFirst(7)
        let isBlank = { (byte: UInt8) in byte == 0x20 || byte == 0x09 }
        guard let first = utf8.firstIndex(where: { !isBlank($0) }), let last = utf8.lastIndex(where: { !isBlank($0) }) else { return nil }
        return String(Substring(utf8[first...last]))
    }

    /// A query parameter's value; a parameter given more than once is refused (as a body's
    /// repeated member is): which of its values a cache, a proxy or the server would use is
    /// not for the client to guess.
    func query(_ name: String) throws -> String? {
        var found: Substring?
        var count = 0
        for (key, value) in uri.queryParameters where key == name {
            found = value
            count += 1
        }
        guard count <= 1 else {
            throw APIError(.badRequest, "duplicate-parameter", "The request names a query parameter more than once",
                           detail: "\(name) is given \(count) times", field: name)
        }
        return found.map(String.init)
    }

    /// A query parameter as an unsigned integer from `min` to `max`, in plain digits (no sign:
    /// `+5` and `-0` are not what a client meant to send), refused with the parameter named and
    /// the range it must be in.
    func queryUInt(_ name: String, min: UInt64 = 0, max: UInt64 = .max) throws -> UInt64? {
        guard let text = try query(name) else { return nil }
        guard !text.isEmpty, text.utf8.allSatisfy({ (0x30...0x39).contains($0) }), let value = UInt64(text), (min...max).contains(value) else {
            throw APIError.badField(name, "\(name) must be an integer from \(min) to \(max) in plain digits")
        }
        return value
    }
}
