#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Clocks, quantiles and resource counters shared by the benchmarks. Plain Swift, no benchmark
// framework, so that the figures can be read against FACTS.md's C-level probes.

/// Monotonic time in nanoseconds.
@inlinable
public func nowNanoseconds() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
}

public func seconds(since start: UInt64) -> Double {
    Double(nowNanoseconds() - start) / 1e9
}

public func median(_ values: [Double]) -> Double {
    precondition(!values.isEmpty)
    let sorted = values.sorted()
    let middle = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

/// The `q`-quantile (nearest rank) of `sorted`, which must be sorted ascending.
public func quantile(_ sorted: [Double], _ q: Double) -> Double {
    precondition(!sorted.isEmpty)
    let rank = Int((q * Double(sorted.count)).rounded(.up))
    return sorted[min(max(rank - 1, 0), sorted.count - 1)]
}

public struct LatencySummary: Sendable {
    public var p50: Double
    public var p99: Double
    public var max: Double

    /// From latencies in nanoseconds; the summary is in milliseconds (zeros when there are none).
    public init(nanoseconds: [UInt64]) {
        guard !nanoseconds.isEmpty else {
            self.init(p50: 0, p99: 0, max: 0)
            return
        }
        let sorted = nanoseconds.map { Double($0) / 1e6 }.sorted()
        self.init(p50: quantile(sorted, 0.50), p99: quantile(sorted, 0.99), max: sorted.last!)
    }

    public init(p50: Double, p99: Double, max: Double) {
        self.p50 = p50
        self.p99 = p99
        self.max = max
    }
}

#if canImport(Glibc)
let rusageSelf = __rusage_who_t(RUSAGE_SELF.rawValue)
#else
let rusageSelf = RUSAGE_SELF
#endif

/// Process CPU time (all threads, user and system), in seconds.
public func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(rusageSelf, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
        + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

/// Process CPU time and machine pressure, sampled around a measurement, so that a figure taken
/// on the shared machine can be read with how contended it was.
public struct ResourceSample: Sendable {
    public var wallNanoseconds: UInt64
    /// User + system CPU time of this process (all threads), in microseconds.
    public var cpuMicroseconds: Double
    /// Pressure-stall totals (microseconds some task waited) from /proc/pressure, or 0.
    public var cpuStallMicroseconds: Double
    public var ioStallMicroseconds: Double

    public static func now() -> ResourceSample {
        ResourceSample(
            wallNanoseconds: nowNanoseconds(), cpuMicroseconds: processCPUSeconds() * 1e6,
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

public struct ResourceUse: Sendable {
    public var seconds: Double
    public var cpuSeconds: Double
    /// Share of the wall time during which some task on the machine waited for a CPU / for I/O.
    public var cpuPressure: Double
    public var ioPressure: Double

    public init(from start: ResourceSample, to end: ResourceSample) {
        seconds = Double(end.wallNanoseconds - start.wallNanoseconds) / 1e9
        cpuSeconds = (end.cpuMicroseconds - start.cpuMicroseconds) / 1e6
        cpuPressure = (end.cpuStallMicroseconds - start.cpuStallMicroseconds) / 1e6 / seconds
        ioPressure = (end.ioStallMicroseconds - start.ioStallMicroseconds) / 1e6 / seconds
    }

    public init() {
        seconds = 0
        cpuSeconds = 0
        cpuPressure = 0
        ioPressure = 0
    }
}

/// Write counters of this process from /proc/self/io: `wchar` (bytes passed to write, pwrite,
/// writev: what LMDB hands the kernel) and `write_bytes` (what the kernel accounts as sent to the
/// storage layer). Zeros where /proc is missing.
public struct WriteCounters: Sendable {
    public var syscallBytes: UInt64 = 0
    public var storageBytes: UInt64 = 0

    public init(syscallBytes: UInt64 = 0, storageBytes: UInt64 = 0) {
        self.syscallBytes = syscallBytes
        self.storageBytes = storageBytes
    }

    public static func now() -> WriteCounters {
        var counters = WriteCounters()
        guard let text = Machine.readFile("/proc/self/io") else { return counters }
        for line in text.split(separator: "\n") {
            let value = UInt64(line.filter(\.isNumber)) ?? 0
            if line.hasPrefix("wchar:") { counters.syscallBytes = value }
            if line.hasPrefix("write_bytes:") { counters.storageBytes = value }
        }
        return counters
    }

    public static func - (lhs: WriteCounters, rhs: WriteCounters) -> WriteCounters {
        WriteCounters(syscallBytes: lhs.syscallBytes &- rhs.syscallBytes, storageBytes: lhs.storageBytes &- rhs.storageBytes)
    }
}
