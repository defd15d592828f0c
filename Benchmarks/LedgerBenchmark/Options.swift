#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Ledger

/// The workload's environment variables (WORKLOAD.md), the benchmark's own, and flags.
struct Options {
    var workload = Workload(users: 10_000, vendors: 100, purchases: 200_000, seed: 42, initial: 1_000_000, currency: .usd)
    /// Concurrent clients in single mode, one purchase per `Ledger.execute`.
    var concurrency = 16
    /// Purchases per `Ledger.executeBatch` request in batched mode.
    var batch = 1000
    /// Concurrent clients in batched mode, each taking the next chunk of `batch` purchases.
    var batchClients = 1
    /// Purchases in the single-mode timed phase (nil: all N).
    var singlePurchases: Int?
    var content: Workload.ContentMode = .catalog
    /// Repeats of the in-memory decide-and-fold run (each from a fresh world).
    var repeats = 3
    var sections: Set<String> = Options.allSections
    /// Parent of the temporary journal directories; must be on the disk being measured.
    var parentDirectory = ".build-ledgerbench/tmp"
    var keepFiles = false
    /// Fold the whole journal again after each end-to-end run and compare with the live write model.
    var checkReplay = false

    static let allSections: Set<String> = ["decide", "components", "codec", "batch", "single"]

    static let usage = """
        ledger-benchmark — the standard purchase workload (WORKLOAD.md) on the Tally ledger

        usage: swift build -c release --scratch-path .build-ledgerbench --product ledger-benchmark
               .build-ledgerbench/release/ledger-benchmark [options]

        Environment (WORKLOAD.md): U users (10000), V vendors (100), N purchases (200000),
        C single-mode clients (16), BATCH purchases per request (1000), SEED (42),
        INITIAL units per user (1000000), CURRENCY (USD). Also BATCH_CLIENTS (1): concurrent
        clients in batched mode; SINGLE_N (N): purchases in single mode; CONTENT (catalog|inline).

          --quick               smoke run: N=20000, U=1000, 1 repeat (other variables still apply)
          --only LIST           sections: decide,components,codec,batch,single (default: all)
          --repeats R           repeats of the in-memory decide-and-fold run and of the codec
                                passes (default 3)
          --content MODE        catalog (default: each vendor sells p1...p500) or inline terms
          --batch-clients K     concurrent batched clients (BATCH_CLIENTS)
          --single-n COUNT      purchases in single mode (SINGLE_N)
          --check-replay        after each journal run, fold the whole journal from empty and
                                compare with the live write model (slow)
          --dir PATH            parent of the temporary journals (default .build-ledgerbench/tmp)
          --keep                keep the temporary journals
          --help

        Output: progress on stderr; a summary table, then one JSON line per figure on stdout.
        With the default parameters every run must end on WORKLOAD.md's totals; if one does not,
        the benchmark says CROSS-CHECK FAILED and exits with status 2.
        """

    static func parse(_ arguments: [String]) -> Options {
        var options = Options()
        func environment(_ name: String) -> String? {
            guard let value = getenv(name) else { return nil }
            let text = String(cString: value)
            return text.isEmpty ? nil : text
        }
        func positive(_ name: String, _ text: String) -> Int {
            guard let value = Int(text), value > 0 else { fail("\(name) must be a positive integer, got '\(text)'") }
            return value
        }
        // --quick first, so that explicit variables and later flags override it.
        if arguments.contains("--quick") {
            options.workload.purchases = 20_000
            options.workload.users = 1_000
            options.repeats = 1
        }
        if let text = environment("U") { options.workload.users = positive("U", text) }
        if let text = environment("V") { options.workload.vendors = positive("V", text) }
        if let text = environment("N") { options.workload.purchases = positive("N", text) }
        if let text = environment("C") { options.concurrency = positive("C", text) }
        if let text = environment("BATCH") { options.batch = positive("BATCH", text) }
        if let text = environment("BATCH_CLIENTS") { options.batchClients = positive("BATCH_CLIENTS", text) }
        if let text = environment("SINGLE_N") { options.singlePurchases = positive("SINGLE_N", text) }
        if let text = environment("SEED") {
            guard let seed = UInt64(text) else { fail("SEED must be an unsigned 64-bit integer") }
            options.workload.seed = seed
        }
        if let text = environment("INITIAL") { options.workload.initial = Int64(positive("INITIAL", text)) }
        if let text = environment("CURRENCY") {
            guard let currency = Currency(code: text) else { fail("CURRENCY \(text) is not a currency Tally knows") }
            options.workload.currency = currency
        }
        if let text = environment("CONTENT") {
            guard let mode = Workload.ContentMode(rawValue: text) else { fail("CONTENT is catalog or inline") }
            options.content = mode
        }

        var index = 0
        func value(_ flag: String) -> String {
            index += 1
            guard index < arguments.count else { fail("\(flag) needs a value\n\n\(usage)") }
            return arguments[index]
        }
        while index < arguments.count {
            let argument = arguments[index]
            switch argument {
            case "--quick": break
            case "--only":
                let names = Set(value(argument).split(separator: ",").map(String.init))
                guard !names.isEmpty, names.isSubset(of: allSections) else {
                    fail("--only takes some of: \(allSections.sorted().joined(separator: ","))")
                }
                options.sections = names
            case "--repeats": options.repeats = positive(argument, value(argument))
            case "--content":
                guard let mode = Workload.ContentMode(rawValue: value(argument)) else { fail("--content is catalog or inline") }
                options.content = mode
            case "--batch-clients": options.batchClients = positive(argument, value(argument))
            case "--single-n": options.singlePurchases = positive(argument, value(argument))
            case "--check-replay": options.checkReplay = true
            case "--dir": options.parentDirectory = value(argument)
            case "--keep": options.keepFiles = true
            case "--help", "-h":
                print(usage)
                exit(0)
            default:
                fail("unknown argument '\(argument)'\n\n\(usage)")
            }
            index += 1
        }
        guard options.batch <= Ledger.batchCommandsMax else { fail("BATCH is at most \(Ledger.batchCommandsMax)") }
        guard options.workload.vendors <= 10_000 else { fail("V is at most 10000 here (each vendor registers 500 items)") }
        return options
    }
}
