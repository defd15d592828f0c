#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Number formatting, JSON lines, notes on stderr and the machine's facts, shared by the
// benchmarks (no Foundation: `String(format:)` is not in FoundationEssentials).

/// Fixed-point formatting without Foundation's `String(format:)`.
public func fixed(_ value: Double, _ digits: Int) -> String {
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

/// 1234567 -> "1,234,567" (rounded to a whole number).
public func grouped(_ value: Double) -> String {
    let negative = value < 0
    let whole = String(UInt64(abs(value).rounded()))
    var out = ""
    for (index, character) in whole.enumerated() {
        if index > 0 && (whole.count - index) % 3 == 0 { out += "," }
        out.append(character)
    }
    return negative && out != "0" ? "-" + out : out
}

public func grouped(_ value: Int64) -> String { grouped(Double(value)) }

public func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
    if text.count >= width { return text }
    let fill = String(repeating: " ", count: width - text.count)
    return right ? fill + text : text + fill
}

/// Progress and notes go to stderr; tables and JSON lines go to stdout.
public func note(_ message: String) {
    var line = message + "\n"
    line.withUTF8 { bytes in
        _ = write(2, bytes.baseAddress, bytes.count)
    }
}

/// A JSON string literal (the names used here are plain ASCII; escape the few that matter).
public func jsonString(_ text: String) -> String {
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

/// A number as JSON: whole numbers without a fraction, others with four digits; NaN and the
/// infinities (which JSON lacks) as `null`.
public func jsonNumber(_ value: Double) -> String {
    if value.isNaN || value.isInfinite { return "null" }
    if value == value.rounded() && abs(value) < 1e15 { return String(Int64(value)) }
    return fixed(value, 4)
}

/// A JSON object built field by field, in order.
public struct JSONLine {
    private var fields: [String] = []

    public init() {}

    public mutating func add(_ key: String, _ value: String) { fields.append(jsonString(key) + ":" + jsonString(value)) }
    public mutating func add(_ key: String, _ value: Double) { fields.append(jsonString(key) + ":" + jsonNumber(value)) }
    public mutating func add(_ key: String, _ value: Int) { fields.append(jsonString(key) + ":" + String(value)) }
    public mutating func add(_ key: String, _ value: Int64) { fields.append(jsonString(key) + ":" + String(value)) }
    public mutating func add(_ key: String, _ value: Bool) { fields.append(jsonString(key) + ":" + (value ? "true" : "false")) }
    public mutating func addRaw(_ key: String, _ json: String) { fields.append(jsonString(key) + ":" + json) }

    public var text: String { "{" + fields.joined(separator: ",") + "}" }
}

/// What the machine is, for the record.
public enum Machine {
    public static func readFile(_ path: String) -> String? {
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

    public static var cpuModel: String {
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

    public static var memory: String {
        let lines = readFile("/proc/meminfo")?.split(separator: "\n") ?? []
        for line in lines where line.hasPrefix("MemTotal:") {
            let digits = line.filter(\.isNumber)
            if let kib = Double(digits) { return fixed(kib / 1_048_576, 1) + " GiB" }
        }
        return "? GiB"
    }

    public static var loadAverage: String {
        readFile("/proc/loadavg").map { String($0.split(separator: " ").prefix(3).joined(separator: " ")) } ?? "?"
    }

    public static var cores: Int { Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) }

    public static var summary: String {
        "\(cores) cores (\(cpuModel)), \(memory) RAM"
    }

    /// The free space of the file system holding `path`.
    public static func fileSystem(of path: String) -> String {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { return "?" }
        let free = Double(info.f_bavail) * Double(info.f_frsize) / 1_073_741_824
        return fixed(free, 0) + " GiB free"
    }

    /// Now, UTC, as `2026-11-25 14:16:50 UTC`.
    public static var utcNow: String {
        var now = time(nil)
        var parts = tm()
        gmtime_r(&now, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday)) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) UTC"
    }
}
