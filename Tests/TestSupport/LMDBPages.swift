import Foundation

/// Reads and damages the pages of an LMDB data file the way a failing disk would, for tests
/// of what a damaged file does. Knows only what those tests need of LMDB's page layout (4 KiB
/// pages, little-endian fields, 64-bit page numbers).
public struct LMDBPages {
    public static let pageSize = 4096
    public var bytes: [UInt8]

    public init(dataFile: String) throws {
        bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dataFile)))
    }

    public func write(to dataFile: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: dataFile))
    }

    public func uint16(_ offset: Int) -> Int { Int(bytes[offset]) | Int(bytes[offset + 1]) << 8 }

    public func uint64(_ offset: Int) -> Int { (0..<8).reduce(0) { $0 | Int(bytes[offset + $1]) << (8 * $1) } }

    public mutating func setUInt16(_ offset: Int, _ value: Int) {
        bytes[offset] = UInt8(value & 0xFF)
        bytes[offset + 1] = UInt8((value >> 8) & 0xFF)
    }

    /// Where page `page` starts.
    public static func start(_ page: Int) -> Int { page * pageSize }

    /// Page `page`'s kind (`mp_flags`: 1 branch, 2 leaf, 4 overflow).
    public func flags(_ page: Int) -> Int { uint16(Self.start(page) + 10) }

    /// The pages, past the two meta pages, of kind `flags` (reachable or not: older versions
    /// of pages stay in the file until they are reused).
    public func pages(flags: Int) -> [Int] { (2..<(bytes.count / Self.pageSize)).filter { self.flags($0) == flags } }

    /// Where node `index` of page `page` begins.
    public func node(page: Int, _ index: Int) -> Int { Self.start(page) + uint16(Self.start(page) + 16 + 2 * index) }

    /// The number of nodes on page `page`.
    public func nodeCount(page: Int) -> Int { (uint16(Self.start(page) + 12) - 16) / 2 }

    /// The newest snapshot's main tree root.
    public var mainRoot: Int {
        let meta = uint64(144) >= uint64(Self.pageSize + 144) ? 0 : Self.pageSize
        return uint64(meta + 128)
    }

    /// The root page of named database `name` in the newest snapshot, when the main tree is
    /// one leaf (as it is with a few named databases).
    public func root(of name: String) -> Int? {
        let main = mainRoot
        for index in 0..<nodeCount(page: main) {
            let node = node(page: main, index)
            let keySize = uint16(node + 6)
            if String(decoding: bytes[(node + 8)..<(node + 8 + keySize)], as: UTF8.self) == name {
                return uint64(node + 8 + keySize + 40)
            }
        }
        return nil
    }

    /// The child page node `index` of branch page `page` points to.
    public func child(of page: Int, _ index: Int = 0) -> Int {
        let node = node(page: page, index)
        return uint16(node) | uint16(node + 2) << 16 | uint16(node + 4) << 32
    }
}
