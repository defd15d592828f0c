import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Starts `body` on a thread of its own named `name`, as `top -H`, `perf` and `/proc` show it.
/// The name is set from inside the thread: on Linux, Foundation does not pass a name set before
/// `start` to the kernel, and the thread would carry its creator's name. The kernel keeps at
/// most 15 bytes of it.
public func startThread(named name: String, qualityOfService: QualityOfService = .default, _ body: @escaping @Sendable () -> Void) {
    precondition(name.utf8.count <= 15, "a thread name has at most 15 bytes")
    let thread = Thread {
        Thread.current.name = name
        // And to the kernel directly: Foundation's setter did not always reach it (a worker
        // was seen under its creator's dispatch-queue name).
        #if canImport(Glibc)
        let descriptor = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
        if descriptor >= 0 {
            _ = Array(name.utf8).withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            close(descriptor)
        }
        #endif
        body()
    }
    thread.qualityOfService = qualityOfService
    thread.start()
}

/// A flag one thread sets and a thread's loop reads, to stop between steps.
public final class StopFlag: Sendable {
    private let flag = Mutex(false)
    public init() {}
    public func set() { flag.withLock { $0 = true } }
    public var isSet: Bool { flag.withLock { $0 } }
}
