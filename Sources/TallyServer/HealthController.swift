import Foundation
import Hummingbird
import Journal
import NIOCore
import Projections

/// `/health` (the process answers), `/ready` (the journal is open and its writer accepting
/// appends, and the read models are running and caught up within a bound) and `/metrics`.
struct HealthController: Sendable {
    let journal: Journal
    let projections: Projections?
    let metrics: TallyMetrics?
    /// Milliseconds since 1970 (the API's clock), for the metrics' ages.
    let now: @Sendable () -> UInt64
    /// Most events the read models may be behind for the service to be ready.
    static let readyLagEventsMax: UInt64 = 10_000

    struct Health: ResponseEncodable {
        let status: String
    }

    struct Readiness: ResponseEncodable {
        let status: String
        /// The last committed journal sequence.
        let journalSequence: UInt64
        /// The last sequence folded into the read models.
        let projectionSequence: UInt64?
    }

    func addRoutes<Context: RequestContext>(to router: Router<Context>) {
        router.get("/health") { _, _ in Health(status: "ok") }
        router.get("/ready") { _, _ -> Response in try readiness() }
        if let metrics, let projections {
            router.get("/metrics") { _, _ -> Response in
                let text = metrics.exposition(journal: journal, projections: projections, nowMilliseconds: now())
                return Response(
                    status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                    body: ResponseBody(byteBuffer: ByteBuffer(bytes: text)))
            }
        }
    }

    func readiness() throws -> Response {
        if let failure = journal.writerFailure {
            return ProblemDocument(
                rule: "journal-writer-stopped", title: "The journal writer has stopped", status: .serviceUnavailable,
                detail: failure
            ).response(headers: [.retryAfter: "30"])
        }
        let head = journal.head
        var folded: UInt64?
        if let projections {
            let status = projections.status
            if let failure = status.failure {
                return ProblemDocument(
                    rule: "projection-stopped", title: "A read model stopped at an event it cannot fold", status: .serviceUnavailable,
                    detail: "sequence \(failure.sequence): \(failure.reason)"
                ).response(headers: [.retryAfter: "30"])
            }
            if head > status.sequence + Self.readyLagEventsMax {
                return ProblemDocument(
                    rule: "projection-behind", title: "The read models are catching up", status: .serviceUnavailable,
                    detail: "at sequence \(status.sequence) of \(head)"
                ).response(headers: [.retryAfter: "1"])
            }
            folded = status.sequence
        }
        let body = try JSONEncoder().encode(Readiness(status: "ready", journalSequence: head, projectionSequence: folded))
        return Response(
            status: .ok, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }
}
