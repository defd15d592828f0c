import Foundation
import Hummingbird
import Journal
import Ledger
import Prometheus
import Projections

/// The service's Prometheus metrics, in a registry of its own (not the process-wide metrics
/// system, so that several servers in one test process do not share counters).
public final class TallyMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    let requests: [String: Counter]
    let latency: DurationHistogram
    let journalHead: Gauge
    let projectionSequence: Gauge
    let projectionLag: Gauge
    let commitBatches: Gauge
    let committedEvents: Gauge
    let meanBatchSize: Gauge
    let queuedRequests: Gauge
    let pendingFundings: Gauge
    let openDisputes: Gauge
    let oldestPendingFundingAge: Gauge
    let oldestOpenDisputeAge: Gauge
    let requestedPayouts: Gauge
    let oldestRequestedPayoutAge: Gauge
    let commitDuration: DurationHistogram
    let batchSize: ValueHistogram
    let refusals: [LedgerRejection.Rule: Counter]
    let replays: Counter

    static let statusClasses = ["2xx", "3xx", "4xx", "5xx"]

    public init() {
        var requests: [String: Counter] = [:]
        for statusClass in Self.statusClasses {
            requests[statusClass] = registry.makeCounter(
                name: "tally_http_requests_total", labels: [("status", statusClass)], help: "HTTP requests answered, by status class")
        }
        self.requests = requests
        latency = registry.makeDurationHistogram(
            name: "tally_http_request_duration_seconds",
            buckets: [.microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
                      .milliseconds(20), .milliseconds(50), .milliseconds(100), .milliseconds(500), .seconds(1)],
            help: "Time from request to response head")
        journalHead = registry.makeGauge(name: "tally_journal_head_sequence", help: "Last committed journal sequence")
        projectionSequence = registry.makeGauge(name: "tally_projection_sequence", help: "Last journal sequence folded into the read models")
        projectionLag = registry.makeGauge(name: "tally_projection_lag_events", help: "Committed events not yet in the read models")
        commitBatches = registry.makeGauge(name: "tally_journal_commits_total", help: "Group commits since start")
        committedEvents = registry.makeGauge(name: "tally_journal_committed_events_total", help: "Events committed since start")
        meanBatchSize = registry.makeGauge(name: "tally_journal_mean_batch_events", help: "Mean events per group commit since start")
        queuedRequests = registry.makeGauge(name: "tally_journal_queued_requests", help: "Append requests waiting for the writer")
        pendingFundings = registry.makeGauge(
            name: "tally_pending_fundings", help: "Offline fundings waiting for customer service to clear or fail them")
        openDisputes = registry.makeGauge(name: "tally_open_disputes", help: "Disputes waiting for customer service to resolve them")
        oldestPendingFundingAge = registry.makeGauge(
            name: "tally_oldest_pending_funding_age_seconds", help: "How long the oldest pending funding has waited (0 when none)")
        oldestOpenDisputeAge = registry.makeGauge(
            name: "tally_oldest_open_dispute_age_seconds", help: "How long the oldest open dispute has waited (0 when none)")
        requestedPayouts = registry.makeGauge(
            name: "tally_requested_payouts", help: "Payouts users asked for, waiting for customer service to pay or decline them")
        oldestRequestedPayoutAge = registry.makeGauge(
            name: "tally_oldest_requested_payout_age_seconds", help: "How long the oldest payout request has waited (0 when none)")
        commitDuration = registry.makeDurationHistogram(
            name: "tally_journal_commit_duration_seconds",
            buckets: [.microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5),
                      .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100)],
            help: "Time to decide, write and durably commit one group-commit batch")
        batchSize = registry.makeValueHistogram(
            name: "tally_journal_batch_events", buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096],
            help: "Events per group-commit batch")
        var refusals: [LedgerRejection.Rule: Counter] = [:]
        for rule in LedgerRejection.Rule.allCases {
            refusals[rule] = registry.makeCounter(
                name: "tally_ledger_refusals_total", labels: [("rule", rule.name)], help: "Commands the ledger refused, by rule")
        }
        self.refusals = refusals
        replays = registry.makeCounter(
            name: "tally_idempotent_replays_total", help: "Requests answered with the first answer to an earlier one with the same Idempotency-Key")
    }

    /// Counts a command's outcome: a refusal by its rule, a retry answered from the first result.
    func record(_ outcome: Result<LedgerResult, LedgerRejection>) {
        switch outcome {
        case .success(let result): if result.replayed { replays.increment() }
        case .failure(let rejection): refusals[rejection.rule]?.increment()
        }
    }

    func recordCommit(events: Int, duration: Duration) {
        commitDuration.record(duration)
        batchSize.record(Double(events))
    }

    func record(status: Int, duration: Duration) {
        let statusClass = "\(min(max(status / 100, 2), 5))xx"
        requests[statusClass]?.increment()
        latency.record(duration)
    }

    /// The exposition text, with the gauges read from the journal and projections now
    /// (`nowMilliseconds` for the age of the oldest waiting cases).
    func exposition(journal: Journal, projections: Projections, nowMilliseconds: UInt64) -> [UInt8] {
        let head = journal.head
        let folded = projections.status.sequence
        journalHead.set(Int64(head))
        projectionSequence.set(Int64(folded))
        projectionLag.set(Int64(head > folded ? head - folded : 0))
        let statistics = journal.commitStatistics
        commitBatches.set(Int64(statistics.batches))
        committedEvents.set(Int64(statistics.events))
        meanBatchSize.set(statistics.batches == 0 ? 0 : Double(statistics.events) / Double(statistics.batches))
        queuedRequests.set(Int64(journal.queuedRequests))
        // The queues as the read models have them; a read that fails leaves the last values.
        if let backlog = try? projections.read({ try $0.caseBacklog() }) {
            func age(_ since: UInt64?) -> Double { since.map { nowMilliseconds > $0 ? Double(nowMilliseconds - $0) / 1000 : 0 } ?? 0 }
            pendingFundings.set(Int64(backlog.pendingFundings))
            openDisputes.set(Int64(backlog.openDisputes))
            oldestPendingFundingAge.set(age(backlog.oldestPendingFundingMilliseconds))
            oldestOpenDisputeAge.set(age(backlog.oldestOpenDisputeMilliseconds))
            requestedPayouts.set(Int64(backlog.requestedPayouts))
            oldestRequestedPayoutAge.set(age(backlog.oldestRequestedPayoutMilliseconds))
        }
        var output: [UInt8] = []
        registry.emit(into: &output)
        return output
    }
}

/// Counts every request and its latency, by status class.
struct RequestMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: TallyMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        do {
            let response = try await next(request, context)
            metrics.record(status: response.status.code, duration: ContinuousClock.now - start)
            return response
        } catch {
            metrics.record(status: 500, duration: ContinuousClock.now - start)
            throw error
        }
    }
}
