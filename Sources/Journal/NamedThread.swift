import Foundation

/// Starts `body` on a thread of its own named `name`, as `top -H`, `perf` and `/proc` show it.
/// The name is set from inside the thread: on Linux, Foundation does not pass a name set before
/// `start` to the kernel, and the thread would carry its creator's name. The kernel keeps at
/// most 15 bytes of it.
public func startThread(named name: String, qualityOfService: QualityOfService = .default, _ body: @escaping @Sendable () -> Void) {
    precondition(name.utf8.count <= 15, "a thread name has at most 15 bytes")
    let thread = Thread {
        Thread.current.name = name
        body()
    }
    thread.qualityOfService = qualityOfService
    thread.start()
}
