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

    @Test("/metrics tells how many offline fundings and disputes wait for customer service, and for how long")
    func backlogMetrics() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let vendor = try await client.registerVendor()
            let user = try await client.fundedUser("wendy", amount: 1_000)
            let cheque = try await client.user(user, .post, "/v1/me/funds", ["currency": "USD", "amount": 500, "method": "check"])
            #expect(cheque.status == .created, "\(cheque.text)")
            let token = try await client.purchaseToken(user)
            let bought = try await client.vendor(vendor, .post, "/v1/vendor/purchases", ["purchaseToken": token, "inline": APIHarness.Client.inlineContent(price: 100)])
            let transaction = try #require(bought.json["transaction"] as? String, "\(bought.text)")
            harness.clock.advance(milliseconds: 90_000)
            let dispute = try await client.user(user, .post, "/v1/me/disputes", ["transaction": transaction, "reason": "not as described"])
            #expect(dispute.status == .created, "\(dispute.text)")
            let asked = try await client.user(user, .post, "/v1/me/payout-requests", ["currency": "USD", "amount": 10, "method": "card"])
            #expect(asked.status == .created, "\(asked.text)")
            harness.clock.advance(milliseconds: 30_000)
            #expect(await harness.api.projections.waitUntil(sequence: harness.api.journal.head, timeout: .seconds(10)))
            /// A gauge's value in the exposition text.
            func gauge(_ text: String, _ name: String) -> Double? {
                text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.dropFirst(name.count + 1)) }
            }
            let waiting = try await client.send(.get, "/metrics").text
            #expect(gauge(waiting, "tally_pending_fundings") == 1 && gauge(waiting, "tally_open_disputes") == 1, "\(waiting)")
            // The harness's clock was moved on by 120 s since the cheque and 30 s since the dispute
            // (and runs on with real time, a little).
            let fundingAge = try #require(gauge(waiting, "tally_oldest_pending_funding_age_seconds"))
            let disputeAge = try #require(gauge(waiting, "tally_oldest_open_dispute_age_seconds"))
            #expect(fundingAge >= 120 && fundingAge < 150 && disputeAge >= 30 && disputeAge < 60, "\(fundingAge) \(disputeAge)")
            #expect(gauge(waiting, "tally_requested_payouts") == 1, "\(waiting)")
            let payoutAge = try #require(gauge(waiting, "tally_oldest_requested_payout_age_seconds"))
            #expect(payoutAge >= 30 && payoutAge < 60, "\(payoutAge)")

            let funding = try #require(cheque.json["funding"] as? String)
            #expect(try await client.admin(.post, "/v1/admin/funds/\(funding)/clear").status == .ok)
            #expect(await harness.api.projections.waitUntil(sequence: harness.api.journal.head, timeout: .seconds(10)))
            let cleared = try await client.send(.get, "/metrics").text
            #expect(gauge(cleared, "tally_pending_fundings") == 0 && gauge(cleared, "tally_oldest_pending_funding_age_seconds") == 0, "\(cleared)")
            #expect(gauge(cleared, "tally_open_disputes") == 1)
            let payout = try #require(asked.json["payout"] as? String)
            #expect(try await client.admin(.post, "/v1/admin/payout-requests/\(payout)/pay", ["representative": "rep-1"]).status == .ok)
            #expect(await harness.api.projections.waitUntil(sequence: harness.api.journal.head, timeout: .seconds(10)))
            let paid = try await client.send(.get, "/metrics").text
            #expect(gauge(paid, "tally_requested_payouts") == 0 && gauge(paid, "tally_oldest_requested_payout_age_seconds") == 0, "\(paid)")
        }
    }

    @Test("/metrics counts the ledger's refusals by rule and the retries answered with a first answer")
    func refusalMetrics() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let user = try await client.fundedUser("xena", amount: 100)
            _ = try await client.fundedUser("yves", amount: 0)
            func counter(_ name: String) async throws -> Double? {
                let text = try await client.send(.get, "/metrics").text
                return text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.dropFirst(name.count + 1)) }
            }
            let rule = "tally_ledger_refusals_total{rule=\"insufficientFunds\"}"
            #expect(try await counter(rule) == 0)
            #expect(try await counter("tally_idempotent_replays_total") == 0)
            for _ in 0..<2 {
                let refused = try await client.user(user, .post, "/v1/me/transfers", ["toLogin": "yves", "currency": "USD", "amount": 500])
                #expect(refused.problemType == "ledger/insufficient-funds")
            }
            var headers = client.bearer(user.session)
            headers[.idempotencyKey] = "metrics-1"
            for _ in 0..<3 {
                let sent = try await client.send(.post, "/v1/me/transfers", headers: headers, body: client.json(["toLogin": "yves", "currency": "USD", "amount": 5]))
                #expect(sent.status == .created, "\(sent.text)")
            }
            #expect(try await counter(rule) == 2)
            #expect(try await counter("tally_idempotent_replays_total") == 2)
            #expect(try await counter("tally_ledger_refusals_total{rule=\"idempotencyConflict\"}") == 0)
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
