import CLMDB

/// A handle on a named database inside an ``Environment``. Handles are opened once, by name,
/// and stay valid for the life of the environment; they can be shared between threads.
public struct Database: Sendable, Hashable {
    public let name: String
    let handle: MDB_dbi

    init(name: String, handle: MDB_dbi) {
        self.name = name
        self.handle = handle
    }
}
