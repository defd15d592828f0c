import Foundation

/// Collects everything a child process writes to a pipe, read on a thread of its own with
/// blocking reads until the end of the stream.
///
/// Not `readabilityHandler`: that handler is a libdispatch read source, and tearing such a
/// source down while child processes come and go has crashed the test process on Linux in
/// `_dispatch_event_loop_drain` (a dangling epoll registration; see swift-corelibs-foundation
/// pull request 5507). This suite's runs hit it twice, each time while children were killed.
public final class StreamCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var buffer = Data()
    private let ended = DispatchSemaphore(value: 0)

    /// Starts reading `handle` (the read end of a pipe) until the end of the stream.
    public init(_ handle: FileHandle) {
        let thread = Thread { [self] in
            while true {
                let data = handle.availableData
                if data.isEmpty { break }
                lock.lock()
                buffer.append(data)
                lock.unlock()
            }
            ended.signal()
        }
        thread.name = "tally.test.stream"
        thread.start()
    }

    /// What has arrived so far.
    public var data: Data {
        lock.lock()
        defer { lock.unlock() }
        return buffer
    }

    public var text: String { String(decoding: data, as: UTF8.self) }

    /// Waits until the stream ends (every writer closed it, as when the child exits).
    public func waitForEnd() {
        ended.wait()
        ended.signal()
    }
}
