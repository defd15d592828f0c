import Foundation
import Hummingbird
import Ledger

/// An error answer in the form of RFC 9457 (`application/problem+json`). `type` is a stable
/// URI per rule, so clients branch on it rather than on the text. `field` names the request
/// field at fault; `headroom` says, for a spending limit, how much may still be spent.
public struct ProblemDocument: Codable, Sendable, Equatable {
    public static let typeBase = "https://tally.example/problems/"

    public var type: String
    public var title: String
    public var status: Int
    public var detail: String?
    public var field: String?
    public var headroom: Int64?

    public init(rule: String, title: String, status: HTTPResponse.Status, detail: String? = nil, field: String? = nil, headroom: Int64? = nil) {
        self.type = Self.typeBase + rule
        self.title = title
        self.status = status.code
        self.detail = detail
        self.field = field
        self.headroom = headroom
    }

    /// The response carrying this document, with extra headers (such as `Retry-After`).
    public func response(headers extra: HTTPFields = [:]) -> Response {
        var headers: HTTPFields = [.contentType: "application/problem+json"]
        headers.append(contentsOf: extra)
        return Response(
            status: HTTPResponse.Status(code: status), headers: headers,
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: jsonBytes)))
    }
}

extension ProblemDocument {
    /// The document's JSON, as it is sent.
    var jsonBytes: [UInt8] {
        var writer = JSONWriter(capacity: 256)
        writeJSON(to: &writer)
        return writer.bytes
    }

    /// The document as `JSONResponse.encoder` writes it (sorted keys, absent optionals omitted,
    /// slashes unescaped), by hand: error replies and the batch reply's refused items (tested).
    func writeJSON(to writer: inout JSONWriter) {
        writer.object { writer in
            var first = true
            if let detail { writer.key("detail", first: true); writer.string(detail); first = false }
            if let field { writer.key("field", first: first); writer.string(field); first = false }
            if let headroom { writer.key("headroom", first: first); writer.signed(headroom); first = false }
            writer.key("status", first: first); writer.signed(Int64(status))
            writer.key("title"); writer.string(title)
            writer.key("type"); writer.string(type)
        }
    }
}
