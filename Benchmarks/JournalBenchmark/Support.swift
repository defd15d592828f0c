#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Small helpers: a monotonic clock, statistics, number formatting and output. Plain Swift, no
// benchmark framework, so that the figures can be read against FACTS.md's C-level probes.

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

func median(_ values: [Double]) -> Double {
    precondition(!values.isEmpty)
    let sorted = values.sorted()
    let middle = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
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
        let sorted = nanoseconds.map { Double($0) / 1e6 }.sorted()
        p50 = quantile(sorted, 0.50)
        p99 = quantile(sorted, 0.99)
        max = sorted.last!
    }

    init(p50: Double, p99: Double, max: Double) {
        self.p50 = p50
        self.p99 = p99
        self.max = max
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
    let whole = String(UInt64(max(value, 0).rounded()))
    var out = ""
    for (index, character) in whole.enumerated() {
        if index > 0 && (whole.count - index) % 3 == 0 { out += "," }
        out.append(character)
    }
    return out
}

func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
    if text.count >= width { return text }
    let fill = String(repeating: " ", count: width - text.count)
    return right ? fill + text : text + fill
}

/// Progress and notes go to stderr; the table and the JSON lines go to stdout.
func note(_ message: String) {
    var line = message + "\n"
    line.withUTF8 { bytes in
        _ = write(2, bytes.baseAddress, bytes.count)
    }
}

func fail(_ message: String) -> Never {
    note("journal-benchmark: " + message)
    exit(1)
}

/// Deterministic filler bytes (xorshift), so that payloads are not all zero.
func fillerBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var state = seed | 1
    return (0..<count).map { _ in
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return UInt8(truncatingIfNeeded: state)
    }
}

/// A JSON string literal (the names used here are plain ASCII; escape the few that matter).
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

/// Process CPU time and machine pressure, sampled around a measurement, so that a figure taken
/// on the shared machine can be read with how contended it was.
struct ResourceSample {
    var wallNanoseconds: UInt64
    /// User + system CPU time of this process (all threads), in microseconds.
    var cpuMicroseconds: Double
    /// Pressure-stall totals (microseconds some task waited) from /proc/pressure, or 0.
    var cpuStallMicroseconds: Double
    var ioStallMicroseconds: Double

    static func now() -> ResourceSample {
        var usage = rusage()
        getrusage(RUSAGE_SELF_WHO, &usage)
        let cpu = Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1e6
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec)
        return ResourceSample(
            wallNanoseconds: nowNanoseconds(), cpuMicroseconds: cpu,
            cpuStallMicroseconds: pressureTotal("/proc/pressure/cpu"), ioStallMicroseconds: pressureTotal("/proc/pressure/io"))
    }

    /// The "some ... total=" figure of a PSI file.
    static func pressureTotal(_ path: String) -> Double {
        guard let text = Machine.readFile(path) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix("some") {
            for field in line.split(separator: " ") where field.hasPrefix("total=") {
                return Double(field.dropFirst(6)) ?? 0
            }
        }
        return 0
    }
}

struct ResourceUse {
    var seconds: Double
    var cpuSeconds: Double
    /// Share of the wall time during which some task on the machine waited for a CPU / for I/O.
    var cpuPressure: Double
    var ioPressure: Double

    init(from start: ResourceSample, to end: ResourceSample) {
        seconds = Double(end.wallNanoseconds - start.wallNanoseconds) / 1e9
        cpuSeconds = (end.cpuMicroseconds - start.cpuMicroseconds) / 1e6
        cpuPressure = (end.cpuStallMicroseconds - start.cpuStallMicroseconds) / 1e6 / seconds
        ioPressure = (end.ioStallMicroseconds - start.ioStallMicroseconds) / 1e6 / seconds
    }

    init() {
        seconds = 0
        cpuSeconds = 0
        cpuPressure = 0
        ioPressure = 0
    }
}

#if canImport(Glibc)
let RUSAGE_SELF_WHO = __rusage_who_t(RUSAGE_SELF.rawValue)
#else
let RUSAGE_SELF_WHO = RUSAGE_SELF
#endif
