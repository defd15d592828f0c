import Foundation
import Hummingbird
import Journal

/// `/health` (the process answers) and `/ready` (the journal is open and its writer is
/// accepting appends).
struct HealthController: Sendable {
    let journal: Journal

    struct Health: ResponseEncodable {
        let status: String
    }

    struct Readiness: ResponseEncodable {
        let status: String
        /// The last committed journal sequence.
        let journalSequence: UInt64
    }

    func addRoutes(to router: Router<BasicRequestContext>) {
        router.get("/health") { _, _ in Health(status: "ok") }
        router.get("/ready") { _, _ -> Response in
            if let failure = journal.writerFailure {
                return ProblemDocument(
                    rule: "journal-writer-stopped", title: "The journal writer has stopped", status: .serviceUnavailable,
                    detail: failure
                ).response(headers: [.retryAfter: "30"])
            }
            let body = try JSONEncoder().encode(Readiness(status: "ready", journalSequence: journal.head))
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
        }
    }
}
