import Foundation

/// Human output: one `label  value` row per line, labels padded to one column.
struct TextTable {
    private(set) var rows: [(label: String, value: String)] = []

    mutating func add(_ label: String, _ value: String) {
        rows.append((label, value))
    }

    var text: String {
        let width = rows.map(\.label.count).max() ?? 0
        return rows.map { row in
            row.value.isEmpty ? row.label : row.label.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + row.value
        }.joined(separator: "\n")
    }
}
