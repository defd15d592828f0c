import Foundation
import LMDB
import Synchronization

/// A fresh directory under the system's temporary folder, removed when the value is dropped.
public final class TemporaryDirectory {
    public let path: String

    public init(_ label: String = "tally-test") {
        var template = Array((NSTemporaryDirectory() + "/\(label)-XXXXXX").utf8CString)
        let result = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(result != nil, "mkdtemp failed")
        path = String(cString: template)
    }

    /// Also removes the directory when the process exits. A fixture held for the whole run (in a
    /// `static let`) is never dropped, so without this it would stay behind after every run.
    public func removeAtProcessExit() {
        exitRemovals.withLock { paths in
            if paths == nil {
                atexit { removeExitPaths() }
                paths = []
            }
            paths?.append(path)
        }
    }

    deinit {
        FileSystem.removeTree(path)
    }
}

/// Paths to remove at exit; `nil` until the exit handler is registered.
private let exitRemovals = Mutex<[String]?>(nil)

private func removeExitPaths() {
    let paths = exitRemovals.withLock { paths in
        defer { paths = [] }
        return paths ?? []
    }
    for path in paths { FileSystem.removeTree(path) }
}
