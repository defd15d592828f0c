import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Starts `body` on a thread of its own named `name`, as `top -H`, `perf` and `/proc` show it.
/// The name is set from inside the thread: on Linux, Foundation does not pass a name set before
/// `start` to the kernel, and the thread would carry its creator's name. The kernel keeps at
/// most 15 bytes of it. A `niceness` above 0 lowers the thread's scheduling priority (Linux
/// keeps a nice value per thread): work that may wait, such as the background scrub, then
/// yields the cores to the work the service is waiting for.
public func startThread(
    named name: String, qualityOfService: QualityOfService = .default, niceness: Int32 = 0, _ body: @escaping @Sendable () -> Void
) {
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
        // On Linux the nice value belongs to the thread, and 0 names the calling one.
        if niceness > 0 { _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, niceness) }
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
