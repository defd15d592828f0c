/// Every limit of the journal, named, with their relationships checked.
public enum JournalLimits {
    /// Event type names are short ASCII identifiers (`PurchaseCaptured`, `test.event`).
    public static let typeNameBytesMax = 64
    /// One event's payload. Larger documents belong outside the journal.
    public static let eventPayloadBytesMax = 1 << 20
    /// Events one write request may append (a batched API call, an import).
    public static let requestEventsMax = 10_000
    /// Events sealed into one block by one commit. A request never spans blocks.
    public static let batchEventsMax = 10_000
    /// Payload bytes one commit may carry.
    public static let batchBytesMax = 64 << 20
    /// Requests waiting for the writer; past this, appends are refused as overloaded.
    public static let queueRequestsMax = 65_536
    /// How long a refused caller is told to wait before retrying, in seconds.
    public static let retryAfterSeconds = 1

    static func check() {
        assert(batchEventsMax >= requestEventsMax, "a request must fit in one batch")
        assert(batchBytesMax >= eventPayloadBytesMax, "an event must fit in one batch")
        assert(typeNameBytesMax <= Int(UInt8.max), "the type length is one byte")
        assert(eventPayloadBytesMax <= Int(UInt32.max), "the payload length is four bytes")
    }
}
