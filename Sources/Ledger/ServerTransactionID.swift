/// The transaction IDs the ledger creates: `tx-` and the sequence of the event that created the
/// transaction (its authorization, or its one-step capture), in decimal.
public enum ServerTransactionID {
    public static func make(_ sequence: UInt64) -> String {
        "tx-" + String(sequence)
    }

    /// The sequence of a server-created transaction ID `tx-<sequence>` written exactly as
    /// the decider writes it (no sign, no leading zero), so that it reads back identical.
    /// Read from the UTF-8 bytes: `tx-`, then 1 to 20 ASCII digits with no leading zero (or
    /// exactly `0`) that fit a UInt64 — what `hasPrefix("tx-")`, `UInt64(_:)` and comparing
    /// with `"tx-" + String(sequence)` accept, without building a string (a test holds the two
    /// to the same answers).
    public static func sequence(of transaction: String) -> UInt64? {
        if let answer = transaction.utf8.withContiguousStorageIfAvailable({ sequence(bytes: $0) }) { return answer }
        var copy = transaction
        copy.makeContiguousUTF8()
        return copy.utf8.withContiguousStorageIfAvailable { sequence(bytes: $0) } ?? nil
    }

    public static func sequence(bytes: UnsafeBufferPointer<UInt8>) -> UInt64? {
        let count = bytes.count
        guard count >= 4, count <= 23, bytes[0] == UInt8(ascii: "t"), bytes[1] == UInt8(ascii: "x"), bytes[2] == UInt8(ascii: "-")
        else { return nil }
        if bytes[3] == UInt8(ascii: "0") { return count == 4 ? 0 : nil }
        var value: UInt64 = 0
        for index in 3..<count {
            let digit = bytes[index] &- UInt8(ascii: "0")
            guard digit < 10 else { return nil }
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(digit))
            if overflow1 || overflow2 { return nil }
            value = sum
        }
        return value
    }
}
