import Foundation
import LMDB

/// A fresh directory under the system's temporary folder, removed when the value is dropped.
public final class TemporaryDirectory {
    public let path: String

    public init(_ label: String = "tally-test") {
        var template = Array((NSTemporaryDirectory() + "/\(label)-XXXXXX").utf8CString)
        let result = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(result != nil, "mkdtemp failed")
        path = String(cString: template)
    }

    deinit {
        FileSystem.removeTree(path)
    }
}
