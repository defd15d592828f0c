import Dispatch

/// A value computed on another thread while the caller goes on; ``result()`` waits for it.
/// Long folds and `journal-tool`'s commands use it to keep both cores busy (the next batch read
/// while one is folded, a segment read while another is written).
public final class BackgroundResult<Value>: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    // Written once by the worker before it signals; read only after the wait.
    private var outcome: Result<Value, any Error>?

    public init(_ work: @escaping () throws -> Value) {
        let body = UncheckedSendable(work)
        DispatchQueue.global(qos: .userInitiated).async { [self] in
            outcome = Result { try body.value() }
            done.signal()
        }
    }

    /// Waits for the work (once; later calls return at once) and returns its value or throws
    /// its error.
    public func result() throws -> Value {
        done.wait()
        done.signal()
        return try outcome!.get()
    }
}

/// Hands a value that is used by one thread at a time to another thread.
private struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
