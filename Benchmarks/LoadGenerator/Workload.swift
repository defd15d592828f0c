import BenchmarkSupport
import Foundation

// The standard purchase workload (/work/shared/bench/WORKLOAD.md) as this generator runs it: its
// parameters and the purchases, drawn column-wise. The generator, the rounding rule and the
// cross-check totals are BenchmarkSupport's (`StandardWorkload`), shared with ledger-benchmark.

enum Mode: String {
    /// One purchase per request (`POST /v1/vendor/purchases`).
    case single
    /// Consecutive chunks of `BATCH` purchases, one `POST /v1/vendor/purchases/batch` per vendor
    /// present in the chunk (a batch is signed by one vendor).
    case batched
    /// Setup and N single purchases, then reads offered at a fixed rate (`Reads.swift`).
    case reads
}

struct Parameters {
    var users = 10_000
    var vendors = 100
    var purchases = 200_000
    var clients = 16
    var batch = 1000
    var seed: UInt64 = 42
    var initial: Int64 = 1_000_000
    var currency = "USD"
    var url = "http://127.0.0.1:8080"
    var adminKey = ""
    var mode = Mode.single
    /// Concurrent requests during setup and read-back (untimed); defaults to max(C, 32).
    var setupClients = 32
    /// What the server does to make an acknowledged purchase durable (reported verbatim).
    var durability = "journal: LMDB default durable commit (data pages then meta page synced), group commit, acknowledged after commit"

    static let feeBasisPoints = StandardWorkload.feeBasisPoints
    static let royaltyBasisPoints = StandardWorkload.royaltyBasisPoints

    var isDefault: Bool {
        StandardWorkload.isDefault(users: users, vendors: vendors, purchases: purchases, seed: seed, initial: initial, currency: currency)
    }

    static func fromEnvironment() throws -> Parameters {
        let environment = ProcessInfo.processInfo.environment
        var parameters = Parameters()
        func int(_ name: String, _ range: ClosedRange<Int>) throws -> Int? {
            guard let text = environment[name], !text.isEmpty else { return nil }
            guard let value = Int(text), range.contains(value) else { throw UsageError("\(name) must be an integer in \(range), got '\(text)'") }
            return value
        }
        if let value = try int("U", 1...10_000_000) { parameters.users = value }
        if let value = try int("V", 1...100_000) { parameters.vendors = value }
        if let value = try int("N", 1...100_000_000) { parameters.purchases = value }
        if let value = try int("C", 1...4096) { parameters.clients = value }
        if let value = try int("BATCH", 1...1000) { parameters.batch = value }
        if let text = environment["SEED"], !text.isEmpty {
            guard let value = UInt64(text) else { throw UsageError("SEED must be an unsigned 64-bit integer, got '\(text)'") }
            parameters.seed = value
        }
        if let text = environment["INITIAL"], !text.isEmpty {
            guard let value = Int64(text), value > 0 else { throw UsageError("INITIAL must be a positive integer, got '\(text)'") }
            parameters.initial = value
        }
        if let text = environment["CURRENCY"], !text.isEmpty { parameters.currency = text }
        if let text = environment["TALLY_URL"], !text.isEmpty { parameters.url = text }
        guard let key = environment["TALLY_ADMIN_KEY"], !key.isEmpty else { throw UsageError("TALLY_ADMIN_KEY is required (the server's admin bearer key)") }
        parameters.adminKey = key
        if let text = environment["MODE"], !text.isEmpty {
            guard let mode = Mode(rawValue: text) else { throw UsageError("MODE must be single, batched or reads, got '\(text)'") }
            parameters.mode = mode
        }
        parameters.setupClients = max(parameters.clients, 32)
        if let value = try int("SETUP_C", 1...4096) { parameters.setupClients = value }
        if let text = environment["DURABILITY"], !text.isEmpty { parameters.durability = text }
        return parameters
    }
}

struct UsageError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The N purchases, drawn in order i = 0 ..< N, stored column-wise.
struct Draws: Sendable {
    var user: [Int32]
    var vendor: [Int32]
    var price: [Int32]

    init(_ parameters: Parameters) {
        let count = parameters.purchases
        var user: [Int32] = [], vendor: [Int32] = [], price: [Int32] = []
        user.reserveCapacity(count); vendor.reserveCapacity(count); price.reserveCapacity(count)
        StandardWorkload.draw(seed: parameters.seed, users: parameters.users, vendors: parameters.vendors, count: count) {
            user.append(Int32($0))
            vendor.append(Int32($1))
            price.append(Int32($2))
        }
        (self.user, self.vendor, self.price) = (user, vendor, price)
    }

    var count: Int { price.count }
}

typealias Totals = WorkloadTotals

extension WorkloadTotals {
    /// WORKLOAD.md's cross-check for the default parameters.
    static var workloadDefaults: WorkloadTotals { defaults }

    /// What the accepted purchases must add up to (integer units, rounding down).
    static func expected(_ draws: Draws, accepted: (Int) -> Bool) -> WorkloadTotals {
        var totals = WorkloadTotals()
        for index in 0..<draws.count where accepted(index) { totals.add(price: Int64(draws.price[index])) }
        return totals
    }
}
