import Foundation
import Hummingbird
import HummingbirdTesting
import Journal
import TallyTestSupport
import Testing
@testable import TallyServer

@Suite("Health routes")
struct HealthRouteTests {
    @Test("/health answers ok, /ready reports the journal's and read models' sequence, /metrics is Prometheus text")
    func healthReadyMetrics() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let health = try await client.send(.get, "/health")
            #expect(health.status == .ok)
            #expect(health.text == #"{"status":"ok"}"#)
            _ = try await client.registerVendor()
            let ready = try await client.send(.get, "/ready")
            #expect(ready.status == .ok)
            #expect(ready.json["status"] as? String == "ready")
            #expect(ready.json["journalSequence"] as? Int == 1)
            let metrics = try await client.send(.get, "/metrics")
            #expect(metrics.status == .ok)
            #expect(metrics.text.contains("tally_journal_head_sequence 1"))
            #expect(metrics.text.contains("tally_http_requests_total{status=\"2xx\"}"))
            #expect(metrics.text.contains("tally_journal_commit_duration_seconds_count 1"))
            #expect(metrics.text.contains("tally_journal_batch_events_count 1"))
        }
    }

    @Test("an unknown path is a 404 problem document")
    func unknownPath() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let reply = try await client.send(.get, "/nothing-here")
            #expect(reply.status == .notFound)
            #expect(reply.headers[.contentType] == "application/problem+json")
            #expect(reply.problemType == "not-found")
        }
    }
}
