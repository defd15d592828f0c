#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Command-line options (and their environment-variable equivalents).
struct Options {
    /// Events (records) per commit for the raw loop and the sequential journal appends.
    var batchSizes: [Int] = [1, 10, 100, 1000]
    /// Multiplies every record count (`--quick` sets 0.05).
    var scale: Double = 1
    /// Each raw/journal measurement is repeated this many times (alternating); the median is reported.
    var repeats = 3
    /// Concurrent-append tasks.
    var concurrency: [Int] = [16, 64]
    /// Seconds each concurrent run lasts.
    var concurrentSeconds: Double = 4
    /// Events in the journal built for the verification run.
    var verifyEvents = 2_000_000
    /// Events per append request (and so per block) when building that journal.
    var verifyBlockEvents = 1000
    /// Payload bytes of each event (and value bytes of each raw record).
    var payloadBytes = 300
    /// Parent of the temporary directory; must be on the disk being measured.
    /// Relative to the working directory (the package root under `swift run`).
    var parentDirectory = ".build-bench/tmp"
    var keepFiles = false
    var sections: Set<String> = Options.allSections

    static let allSections: Set<String> = ["raw", "journal", "concurrent", "verify", "crypto"]

    /// Records per measurement at batch size `k`, sized to run for a few seconds each on the
    /// reference machine (see FACTS.md: ~4k commits/s, ~30k rec/s at 10, ~0.25M at 100, ~1M at 1000).
    func records(forBatch k: Int) -> Int {
        let base: Int
        switch k {
        case 1: base = 10_000
        case 10: base = 100_000
        case 100: base = 1_000_000
        case 1000: base = 2_000_000
        default: base = k * 2_000
        }
        let scaled = Int(Double(base) * scale)
        // Whole commits, at least a few of them.
        return max(k * 5, (scaled / k) * k)
    }

    static let usage = """
        journal-benchmark — durable append and verification throughput of the Tally journal

        usage: swift run -c release journal-benchmark [options]

          --quick               a short run (counts x0.05, 1 repeat, 1 s concurrent runs,
                                100k-event verification); also JOURNAL_BENCH_QUICK=1
          --scale X             multiply every record count by X (JOURNAL_BENCH_SCALE)
          --repeats N           repeats of each raw/journal/concurrent measurement (default 3)
          --sizes 1,10,100,1000 events per commit for the raw loop and sequential appends
          --concurrency 16,64   task counts for concurrent single-event appends
          --seconds S           duration of each concurrent run (default 4)
          --verify-events N     events in the verification journal (default 2000000)
          --payload BYTES       payload bytes per event / value bytes per raw record (default 300)
          --dir PATH            parent of the temporary directory (default .build-bench/tmp);
                                must be on the disk you mean to measure (JOURNAL_BENCH_DIR)
          --only LIST           sections to run: raw,journal,concurrent,verify,crypto
          --keep                keep the temporary directory
          --help

        Output: a table on stdout, then one JSON object per line per figure (lines start with '{').
        Progress goes to stderr. Never run this from the test suite: it writes gigabytes and
        issues thousands of fsyncs.
        """

    static func parse(_ arguments: [String], environment: [String: String]) -> Options {
        var options = Options()
        func applyQuick() {
            options.scale = 0.05
            options.repeats = 1
            options.concurrentSeconds = 1
            options.verifyEvents = 100_000
        }
        if let quick = environment["JOURNAL_BENCH_QUICK"], quick == "1" || quick == "true" { applyQuick() }
        if let scale = environment["JOURNAL_BENCH_SCALE"].flatMap(Double.init) { options.scale = scale }
        if let directory = environment["JOURNAL_BENCH_DIR"], !directory.isEmpty { options.parentDirectory = directory }

        var index = 0
        func value(_ flag: String) -> String {
            index += 1
            guard index < arguments.count else { fail("\(flag) needs a value\n\n\(usage)") }
            return arguments[index]
        }
        func integers(_ flag: String) -> [Int] {
            let list = value(flag).split(separator: ",").map { Int($0.trimmingSpaces) }
            guard !list.isEmpty, list.allSatisfy({ ($0 ?? 0) > 0 }) else { fail("\(flag) takes positive integers, comma-separated") }
            return list.map { $0! }
        }
        while index < arguments.count {
            let argument = arguments[index]
            switch argument {
            case "--quick": applyQuick()
            case "--scale":
                guard let scale = Double(value(argument)), scale > 0 else { fail("--scale takes a positive number") }
                options.scale = scale
            case "--repeats":
                guard let repeats = Int(value(argument)), repeats > 0 else { fail("--repeats takes a positive integer") }
                options.repeats = repeats
            case "--sizes": options.batchSizes = integers(argument)
            case "--concurrency": options.concurrency = integers(argument)
            case "--seconds":
                guard let seconds = Double(value(argument)), seconds > 0 else { fail("--seconds takes a positive number") }
                options.concurrentSeconds = seconds
            case "--verify-events":
                guard let count = Int(value(argument)), count > 0 else { fail("--verify-events takes a positive integer") }
                options.verifyEvents = count
            case "--payload":
                guard let bytes = Int(value(argument)), bytes >= 0 else { fail("--payload takes a byte count") }
                options.payloadBytes = bytes
            case "--dir": options.parentDirectory = value(argument)
            case "--keep": options.keepFiles = true
            case "--only":
                let names = Set(value(argument).split(separator: ",").map { String($0.trimmingSpaces) })
                guard names.isSubset(of: allSections), !names.isEmpty else {
                    fail("--only takes some of: \(allSections.sorted().joined(separator: ","))")
                }
                options.sections = names
            case "--help", "-h":
                print(usage)
                exit(0)
            default:
                fail("unknown argument '\(argument)'\n\n\(usage)")
            }
            index += 1
        }
        guard options.batchSizes.allSatisfy({ $0 <= 10_000 }) else { fail("a journal request holds at most 10000 events") }
        guard options.verifyBlockEvents <= 10_000 else { fail("a block holds at most 10000 events") }
        return options
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var text = self
        while text.first == " " { text.removeFirst() }
        while text.last == " " { text.removeLast() }
        return text
    }
}
