import TallyCrypto

/// The canonical text dump of a read model: one line per entry, in byte order of the keys,
/// `key TAB value`, where a balance (`bal/...`, 8 bytes) is its decimal value, a value that is
/// UTF-8 text without tabs or newlines (the ledger's JSON records) is that text, and anything
/// else is `hex:` and its bytes in hex. Two read models are equal exactly when their dumps are
/// equal byte for byte; the dump's SHA-256 is printed to compare them at a glance.
enum CanonicalDump {
    static let header = "# tally canonical dump v1"

    static func lines(_ entries: [(key: [UInt8], value: [UInt8])], model: String) -> [String] {
        var lines = ["\(header): \(model)"]
        lines.reserveCapacity(entries.count + 1)
        for (key, value) in entries.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            lines.append(text(key) + "\t" + valueText(key: key, value: value))
        }
        return lines
    }

    static func text(_ bytes: [UInt8]) -> String {
        if let string = String(validating: bytes, as: UTF8.self), !string.contains("\t"), !string.contains("\n") {
            return string
        }
        return "hex:" + Hex.encode(bytes)
    }

    static func valueText(key: [UInt8], value: [UInt8]) -> String {
        if key.starts(with: LedgerAudit.balancePrefix), value.count == 8, let balance = LedgerAudit.balance(value) {
            return String(balance)
        }
        return text(value)
    }

    static func digest(_ lines: [String]) -> String {
        let hasher = SHA256()
        for line in lines {
            hasher.update(Array(line.utf8))
            hasher.update([0x0A])
        }
        return hasher.finish().hex
    }
}
