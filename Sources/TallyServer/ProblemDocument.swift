import Foundation
import Hummingbird

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
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let body = (try? encoder.encode(self)) ?? Data()
        var headers: HTTPFields = [.contentType: "application/problem+json"]
        headers.append(contentsOf: extra)
        return Response(
            status: HTTPResponse.Status(code: status), headers: headers,
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }
}
