#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Small helpers: a monotonic clock, quantiles, number formatting, machine facts and output.
// Plain Swift, no benchmark framework (same style as Benchmarks/JournalBenchmark).

/// Monotonic time in nanoseconds.
@inline(__always)
func nowNanoseconds() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
}

func seconds(since start: UInt64) -> Double {
    Double(nowNanoseconds() - start) / 1e9
}

/// The `q`-quantile (nearest rank) of `sorted`, which must be sorted ascending.
func quantile(_ sorted: [Double], _ q: Double) -> Double {
    precondition(!sorted.isEmpty)
    let rank = Int((q * Double(sorted.count)).rounded(.up))
    return sorted[min(max(rank - 1, 0), sorted.count - 1)]
}

struct LatencySummary {
    var p50: Double
    var p99: Double
    var max: Double

    /// From latencies in nanoseconds; the summary is in milliseconds.
    init(nanoseconds: [UInt64]) {
        guard !nanoseconds.isEmpty else {
            p50 = 0
            p99 = 0
            max = 0
            return
        }
        let sorted = nanoseconds.map { Double($0) / 1e6 }.sorted()
        p50 = quantile(sorted, 0.50)
        p99 = quantile(sorted, 0.99)
        max = sorted.last!
    }
}

/// Fixed-point formatting without Foundation's `String(format:)`.
func fixed(_ value: Double, _ digits: Int) -> String {
    if value.isNaN || value.isInfinite { return "\(value)" }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let negative = value < 0
    let scaled = (abs(value) * scale).rounded()
    let whole = UInt64(scaled / scale)
    var text = String(whole)
    if digits > 0 {
        let fraction = UInt64(scaled - Double(whole) * scale)
        var fractionText = String(fraction)
        while fractionText.count < digits { fractionText = "0" + fractionText }
        text += "." + fractionText
    }
    return negative ? "-" + text : text
}

/// 1234567 -> "1,234,567".
func grouped(_ value: Double) -> String {
    let negative = value < 0
    let whole = String(UInt64(abs(value).rounded()))
    var out = ""
    for (index, character) in whole.enumerated() {
        if index > 0 && (whole.count - index) % 3 == 0 { out += "," }
        out.append(character)
    }
    return negative ? "-" + out : out
}

func grouped(_ value: Int64) -> String { grouped(Double(value)) }

/// Progress and notes go to stderr; results go to stdout.
func note(_ message: String) {
    var line = message + "\n"
    line.withUTF8 { bytes in
        _ = write(2, bytes.baseAddress, bytes.count)
    }
}

func fail(_ message: String) -> Never {
    note("ledger-benchmark: " + message)
    exit(1)
}

/// A JSON string literal (plain ASCII names; escape the few characters that matter).
func jsonString(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}

func jsonNumber(_ value: Double) -> String {
    if value.isNaN || value.isInfinite { return "null" }
    if value == value.rounded() && abs(value) < 1e15 { return String(Int64(value)) }
    return fixed(value, 4)
}

/// A JSON object built field by field, in order.
struct JSONLine {
    private var fields: [String] = []

    mutating func add(_ key: String, _ value: String) { fields.append(jsonString(key) + ":" + jsonString(value)) }
    mutating func add(_ key: String, _ value: Double) { fields.append(jsonString(key) + ":" + jsonNumber(value)) }
    mutating func add(_ key: String, _ value: Int) { fields.append(jsonString(key) + ":" + String(value)) }
    mutating func add(_ key: String, _ value: Int64) { fields.append(jsonString(key) + ":" + String(value)) }
    mutating func add(_ key: String, _ value: Bool) { fields.append(jsonString(key) + ":" + (value ? "true" : "false")) }
    mutating func addRaw(_ key: String, _ json: String) { fields.append(jsonString(key) + ":" + json) }

    var text: String { "{" + fields.joined(separator: ",") + "}" }
}

/// Process CPU time (all threads), for CPU per purchase.
func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF_WHO, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
        + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

/// Write counters of this process from /proc/self/io: `wchar` (bytes passed to write, pwrite,
/// writev: what LMDB hands the kernel) and `write_bytes` (what the kernel accounts as sent to the
/// storage layer). Zeros where /proc is missing.
struct WriteCounters {
    var syscallBytes: UInt64 = 0
    var storageBytes: UInt64 = 0

    static func now() -> WriteCounters {
        var counters = WriteCounters()
        guard let text = Machine.readFile("/proc/self/io") else { return counters }
        for line in text.split(separator: "\n") {
            let value = UInt64(line.filter(\.isNumber)) ?? 0
            if line.hasPrefix("wchar:") { counters.syscallBytes = value }
            if line.hasPrefix("write_bytes:") { counters.storageBytes = value }
        }
        return counters
    }

    static func - (lhs: WriteCounters, rhs: WriteCounters) -> WriteCounters {
        WriteCounters(syscallBytes: lhs.syscallBytes &- rhs.syscallBytes, storageBytes: lhs.storageBytes &- rhs.storageBytes)
    }
}

#if canImport(Glibc)
let RUSAGE_SELF_WHO = __rusage_who_t(RUSAGE_SELF.rawValue)
#else
let RUSAGE_SELF_WHO = RUSAGE_SELF
#endif

enum Machine {
    static func readFile(_ path: String) -> String? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = fread(&buffer, 1, buffer.count, file)
            if count <= 0 { break }
            bytes += buffer[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static var cpuModel: String {
        let lines = readFile("/proc/cpuinfo")?.split(separator: "\n") ?? []
        for line in lines where line.hasPrefix("model name") {
            if let colon = line.firstIndex(of: ":") {
                var text = line[line.index(after: colon)...]
                while text.first == " " { text.removeFirst() }
                return String(text)
            }
        }
        return "unknown CPU"
    }

    static var memory: String {
        let lines = readFile("/proc/meminfo")?.split(separator: "\n") ?? []
        for line in lines where line.hasPrefix("MemTotal:") {
            let digits = line.filter(\.isNumber)
            if let kib = Double(digits) { return fixed(kib / 1_048_576, 1) + " GiB" }
        }
        return "? GiB"
    }

    static var loadAverage: String {
        readFile("/proc/loadavg").map { String($0.split(separator: " ").prefix(3).joined(separator: " ")) } ?? "?"
    }

    static var cores: Int { Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) }

    static var summary: String {
        "\(cores) cores (\(cpuModel)), \(memory) RAM"
    }

    /// Now, UTC, as `2026-11-25 14:16:50 UTC`.
    static var utcNow: String {
        var now = time(nil)
        var parts = tm()
        gmtime_r(&now, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday)) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) UTC"
    }
}
