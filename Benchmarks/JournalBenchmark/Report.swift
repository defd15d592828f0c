import BenchmarkSupport
/// One measured figure: the median of its runs plus any extra fields, printed as a table row and
/// as one JSON line.
struct Figure {
    var section: String
    /// Stable machine-readable name, e.g. `raw_append`, `journal_append`.
    var name: String
    /// What was varied (`k`, `concurrency`), in order.
    var parameters: [(String, Int)] = []
    var value: Double
    var unit: String
    var runs: [Double] = []
    /// Further numbers (latency quantiles, ratios, batch sizes), in order.
    var extras: [(String, Double)] = []
    /// A target the issue sets, if any, and whether the median meets it.
    var targets: [Target] = []
    var label: String

    struct Target {
        var description: String
        var met: Bool
    }

    var jsonLine: String {
        var fields: [String] = []
        fields.append("\"figure\":" + jsonString(name))
        for (key, value) in parameters { fields.append(jsonString(key) + ":" + String(value)) }
        fields.append("\"value\":" + jsonNumber(value))
        fields.append("\"unit\":" + jsonString(unit))
        if !runs.isEmpty { fields.append("\"runs\":[" + runs.map(jsonNumber).joined(separator: ",") + "]") }
        for (key, value) in extras { fields.append(jsonString(key) + ":" + jsonNumber(value)) }
        if !targets.isEmpty {
            let items = targets.map { "{\"target\":" + jsonString($0.description) + ",\"met\":" + ($0.met ? "true" : "false") + "}" }
            fields.append("\"targets\":[" + items.joined(separator: ",") + "]")
        }
        return "{" + fields.joined(separator: ",") + "}"
    }
}

final class Report {
    private(set) var figures: [Figure] = []
    var context: [(String, String)] = []

    func add(_ figure: Figure) {
        figures.append(figure)
        // Print as we go as well, so that a long run shows its figures early (stderr).
        var line = "  -> \(figure.label): \(formatValue(figure.value, unit: figure.unit))"
        if figure.runs.count > 1 { line += "  (runs: " + figure.runs.map { formatValue($0, unit: figure.unit) }.joined(separator: ", ") + ")" }
        for (key, value) in figure.extras { line += "  \(key)=\(fixed(value, 3))" }
        note(line)
    }

    func formatValue(_ value: Double, unit: String) -> String {
        if unit.hasSuffix("/s") { return grouped(value) + " " + unit }
        if unit == "ratio" { return fixed(value * 100, 1) + " %" }
        return fixed(value, 3) + " " + unit
    }

    func printTable() {
        var lines: [String] = []
        lines.append("")
        lines.append("journal-benchmark results (medians)")
        for (key, value) in context { lines.append("  \(key): \(value)") }
        var section = ""
        for figure in figures {
            if figure.section != section {
                section = figure.section
                lines.append("")
                lines.append("## " + section)
            }
            var row = "  " + pad(figure.label, 46) + pad(formatValue(figure.value, unit: figure.unit), 24, right: true)
            var notes: [String] = []
            for (key, value) in figure.extras {
                switch key {
                case _ where key.hasSuffix("_ms"): notes.append("\(key.dropLast(3)) \(fixed(value, 3)) ms")
                case "ratio_to_raw": notes.append("journal/raw \(fixed(value * 100, 1)) %")
                case _ where key.hasSuffix("_pressure"): notes.append("\(key.dropFirst(8).dropLast(9)) pressure \(fixed(value * 100, 0)) %")
                case _ where key.hasPrefix("cpu_us_per_"): notes.append("cpu \(fixed(value, 2)) us/\(key.dropFirst(11))")
                case "ratio_to_raw_stored_size": notes.append("journal/raw(same size) \(fixed(value * 100, 1)) %")
                default: notes.append("\(key) \(value == value.rounded() ? grouped(value) : fixed(value, 2))")
                }
            }
            if !notes.isEmpty { row += "   " + notes.joined(separator: ", ") }
            for target in figure.targets { row += "   [target \(target.description): \(target.met ? "MET" : "MISSED")]" }
            lines.append(row)
        }
        lines.append("")
        print(lines.joined(separator: "\n"))
        for figure in figures { print(figure.jsonLine) }
    }
}
