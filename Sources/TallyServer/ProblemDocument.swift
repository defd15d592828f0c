import Foundation
import Hummingbird

/// An error answer in the form of RFC 9457 (`application/problem+json`). `type` is a stable
/// URI per rule, so clients branch on it rather than on the text.
public struct ProblemDocument: Codable, Sendable, Equatable {
    public static let typeBase = "https://tally.example/problems/"

    public var type: String
    public var title: String
    public var status: Int
    public var detail: String?

    public init(rule: String, title: String, status: HTTPResponse.Status, detail: String? = nil) {
        self.type = Self.typeBase + rule
        self.title = title
        self.status = status.code
        self.detail = detail
    }

    /// The response carrying this document, with extra headers (such as `Retry-After`).
    public func response(headers extra: HTTPFields = [:]) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let body = (try? encoder.encode(self)) ?? Data()
        var headers: HTTPFields = [.contentType: "application/problem+json"]
        headers.append(contentsOf: extra)
        return Response(
            status: HTTPResponse.Status(code: status), headers: headers,
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }
}
