import Foundation
import NIOCore
import NIOHTTP1

// The timed phase. Each client is a chain of callbacks on its connection's event loop: take the
// next task from the shared counter, build and sign the request, send it, and on the reply
// record the latency and take the next task. No task hops between threads on the hot path.

/// What a purchase ended as.
enum Outcome: UInt8 {
    case unsent = 0, accepted = 1, rejected = 2, failed = 3
}

/// The plan of the timed phase: which purchases each request carries and how to sign it.
final class Plan: @unchecked Sendable {
    let parameters: Parameters
    let draws: Draws
    let users: [UserAccount]
    let vendors: [VendorAccount]
    let noncePrefix: String
    /// Batched mode: request t carries `items[starts[t] ..< starts[t + 1]]`, all of vendor `requestVendor[t]`.
    let starts: [Int]
    let items: [Int32]
    let requestVendor: [Int32]
    /// One outcome per purchase, each written by the one client that sent it.
    let outcomes: UnsafeMutablePointer<UInt8>

    init(parameters: Parameters, draws: Draws, users: [UserAccount], vendors: [VendorAccount], noncePrefix: String) {
        self.parameters = parameters
        self.draws = draws
        self.users = users
        self.vendors = vendors
        self.noncePrefix = noncePrefix
        outcomes = .allocate(capacity: draws.count)
        outcomes.initialize(repeating: Outcome.unsent.rawValue, count: draws.count)
        var starts: [Int] = [0]
        var items: [Int32] = []
        var requestVendor: [Int32] = []
        if parameters.mode == .batched {
            // Consecutive chunks of BATCH purchases; within a chunk, one request per vendor in the
            // order the vendor first appears, its purchases in drawn order.
            items.reserveCapacity(draws.count)
            var chunk = 0
            while chunk < draws.count {
                let end = min(chunk + parameters.batch, draws.count)
                var groups: [Int32: [Int32]] = [:]
                var order: [Int32] = []
                for index in chunk..<end {
                    let vendor = draws.vendor[index]
                    if groups[vendor] == nil { order.append(vendor) }
                    groups[vendor, default: []].append(Int32(index))
                }
                for vendor in order {
                    items += groups[vendor]!
                    starts.append(items.count)
                    requestVendor.append(vendor)
                }
                chunk = end
            }
        }
        self.starts = starts
        self.items = items
        self.requestVendor = requestVendor
    }

    deinit { outcomes.deallocate() }

    var requestCount: Int { parameters.mode == .single ? draws.count : requestVendor.count }

    struct Built {
        var path: String
        var headers: [(String, String)]
        var body: ByteBuffer
    }

    func build(_ task: Int) -> Built {
        switch parameters.mode {
        case .single, .reads:
            let vendor = vendors[Int(draws.vendor[task])]
            let body = Bodies.purchase(
                token: users[Int(draws.user[task])].purchaseToken, vendor: vendor, price: Int(draws.price[task]), currency: parameters.currency)
            let path = "/v1/vendor/purchases"
            let headers = Signer.headers(vendor, method: "POST", path: path, nonce: "\(noncePrefix)-p\(task)", idempotencyKey: String(task), body: body)
            return Built(path: path, headers: headers, body: ByteBuffer(bytes: body))
        case .batched:
            let vendor = vendors[Int(requestVendor[task])]
            let body = Bodies.batch(items[starts[task]..<starts[task + 1]], draws: draws, users: users, vendor: vendor, currency: parameters.currency)
            let path = "/v1/vendor/purchases/batch"
            let headers = Signer.headers(vendor, method: "POST", path: path, nonce: "\(noncePrefix)-b\(task)", idempotencyKey: "batch-\(task)", body: body)
            return Built(path: path, headers: headers, body: ByteBuffer(bytes: body))
        }
    }

    /// The purchases request `task` carries.
    func purchases(of task: Int) -> [Int] {
        parameters.mode == .single ? [task] : items[starts[task]..<starts[task + 1]].map(Int.init)
    }

    /// Records what the reply says about each purchase of request `task`; a description of
    /// anything that is neither an acceptance nor a ledger refusal.
    func record(_ task: Int, _ reply: HTTPReply) -> String? {
        switch parameters.mode {
        case .single, .reads:
            if reply.status == 201 {
                outcomes[task] = Outcome.accepted.rawValue
                return nil
            }
            if let type = problemType(reply.bytes), type.contains("/ledger/") || type.hasPrefix("ledger/") {
                outcomes[task] = Outcome.rejected.rawValue
                return nil
            }
            outcomes[task] = Outcome.failed.rawValue
            return "purchase \(task): HTTP \(reply.status): \(reply.text.prefix(400))"
        case .batched:
            let indices = starts[task]..<starts[task + 1]
            if reply.status == 200, allAccepted(reply, count: indices.count) {
                for position in indices { outcomes[Int(items[position])] = Outcome.accepted.rawValue }
                return nil
            }
            guard reply.status == 200, let object = try? JSONSerialization.jsonObject(with: Data(reply.bytes)) as? [String: Any],
                let results = object["results"] as? [[String: Any]], results.count == indices.count
            else {
                for position in indices { outcomes[Int(items[position])] = Outcome.failed.rawValue }
                return "batch \(task): HTTP \(reply.status): \(reply.text.prefix(400))"
            }
            var failure: String?
            for (position, result) in zip(indices, results) {
                let purchase = Int(items[position])
                let status = int64(result["status"]) ?? 0
                let type = (result["problem"] as? [String: Any])?["type"] as? String ?? ""
                if status == 201 {
                    outcomes[purchase] = Outcome.accepted.rawValue
                } else if type.contains("/ledger/") || type.hasPrefix("ledger/") {
                    outcomes[purchase] = Outcome.rejected.rawValue
                } else {
                    outcomes[purchase] = Outcome.failed.rawValue
                    failure = failure ?? "batch \(task), purchase \(purchase): item status \(status): \(result)"
                }
            }
            return failure
        }
    }

    /// The batch reply's keys are sorted, so it opens `{"accepted":n,"rejected":m,`: the whole
    /// batch was accepted when that prefix says so (no need to parse the per-item results).
    func allAccepted(_ reply: HTTPReply, count: Int) -> Bool {
        let expected = Array("{\"accepted\":\(count),\"rejected\":0,".utf8)
        guard reply.body.readableBytes >= expected.count else { return false }
        return reply.body.readableBytesView.prefix(expected.count).elementsEqual(expected)
    }

    func problemType(_ bytes: [UInt8]) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else { return nil }
        return object["type"] as? String
    }
}

/// One client: one connection, one request in flight.
final class Client: @unchecked Sendable {
    let connection: Connection
    let plan: Plan
    let counter: Counter
    let finished: EventLoopPromise<Void>
    /// Client-observed latency of each request, nanoseconds (touched only on the event loop).
    var latencies: [UInt64] = []
    var failures: [String] = []
    var requests = 0

    init(connection: Connection, plan: Plan, counter: Counter) {
        self.connection = connection
        self.plan = plan
        self.counter = counter
        finished = connection.eventLoop.makePromise(of: Void.self)
        latencies.reserveCapacity(plan.requestCount / 8 + 16)
    }

    func start() {
        connection.eventLoop.execute { self.step() }
    }

    private func step() {
        let task = counter.next()
        guard task < plan.requestCount else {
            finished.succeed(())
            return
        }
        let built = plan.build(task)
        let started = DispatchTime.now().uptimeNanoseconds
        connection.send(method: .POST, path: built.path, headers: built.headers, body: built.body).whenComplete { result in
            self.latencies.append(DispatchTime.now().uptimeNanoseconds - started)
            self.requests += 1
            switch result {
            case .success(let reply):
                if let failure = self.plan.record(task, reply), self.failures.count < 5 { self.failures.append(failure) }
                self.step()
            case .failure(let error):
                for purchase in self.plan.purchases(of: task) { self.plan.outcomes[purchase] = Outcome.failed.rawValue }
                self.failures.append("request \(task): \(error)")
                // The connection is gone: this client stops; the others take the remaining work.
                self.finished.succeed(())
            }
        }
    }
}
