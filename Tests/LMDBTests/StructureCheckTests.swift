import Foundation
import LMDB
import TallyTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Damaged pages of the kinds that made liblmdb abort, read past the file or follow a wild
/// pointer: each is refused when the environment is opened, naming the file, before anything
/// reads through the map.
@Suite("LMDB structure check")
struct StructureCheckTests {

    /// An environment with a tree three levels deep ("items"), values on overflow pages
    /// ("big"), and freed pages (deletes in later commits), closed.
    static func pristine(_ directory: String) throws -> String {
        let path = directory + "/pristine"
        let environment = try Environment.create(at: path) { transaction in
            _ = try transaction.openDatabase(named: "items")
            _ = try transaction.openDatabase(named: "big")
        }
        let items = try environment.database(named: "items")
        let big = try environment.database(named: "big")
        for round in 0..<4 as Range<UInt64> {
            try environment.write { transaction in
                for index in 0..<3000 as Range<UInt64> {
                    try transaction.put(items, key: BigEndian.bytes(round * 3000 + index), value: [UInt8](repeating: UInt8(round), count: 120))
                }
                try transaction.put(big, key: BigEndian.bytes(round), value: [UInt8](repeating: 7, count: 9000))
            }
        }
        try environment.write { transaction in
            for index in stride(from: 0, to: 12000, by: 3) as StrideTo<UInt64> { _ = try transaction.delete(items, key: BigEndian.bytes(index)) }
        }
        return path
    }

    /// A copy of `source` with `damage` applied to its data file's pages.
    static func damaged(_ source: String, in directory: String, _ name: String, _ damage: (inout LMDBPages) -> Void) throws -> String {
        let path = directory + "/" + name
        try FileSystem.makeDirectory(path)
        var pages = try LMDBPages(dataFile: source + "/data.mdb")
        damage(&pages)
        try pages.write(to: path + "/data.mdb")
        return path
    }

    @Test("a healthy environment passes: branch pages, overflow values, freed pages")
    func healthy() throws {
        let directory = TemporaryDirectory()
        let path = try Self.pristine(directory.path)
        let pages = try LMDBPages(dataFile: path + "/data.mdb")
        #expect(!pages.pages(flags: 0x01).isEmpty, "the items tree has branch pages")
        #expect(!pages.pages(flags: 0x04).isEmpty, "the big values are on overflow pages")
        let environment = try Environment.open(at: path)
        try environment.checkStructure()
        let items = try environment.database(named: "items")
        #expect(try environment.read { try $0.get(items, key: BigEndian.bytes(1)) } == [UInt8](repeating: 0, count: 120))
    }

    @Test("each kind of damaged page is refused at open, naming the file and the page")
    func damagedPages() throws {
        let directory = TemporaryDirectory()
        let pristine = try Self.pristine(directory.path)
        let pages = try LMDBPages(dataFile: pristine + "/data.mdb")
        // Pages the newest snapshot reaches: the items tree's root (a branch), the leaf at the
        // end of its first branches, and the first big value's overflow page.
        let root = try #require(pages.root(of: "items"))
        #expect(pages.flags(root) == 0x01)
        var leafPage = root
        while pages.flags(leafPage) == 0x01 { leafPage = pages.child(of: leafPage) }
        let branch = LMDBPages.start(root)
        let leaf = LMDBPages.start(leafPage)
        let firstLeafNode = pages.node(page: leafPage, 0)
        let bigNode = pages.node(page: try #require(pages.root(of: "big")), 0)
        #expect(pages.uint16(bigNode + 4) == 0x01, "the big value is on overflow pages")
        let overflow = LMDBPages.start(pages.uint64(bigNode + 8 + pages.uint16(bigNode + 6)))
        let secondBranchNode = pages.node(page: root, 1)

        let cases: [(name: String, expected: String, damage: (inout LMDBPages) -> Void)] = [
            // mdb.c asserts that a branch holds two keys or more (SIGABRT).
            ("one-key-branch", "is a branch with 1 key(s)", { $0.setUInt16(branch + 12, 16 + 2) }),
            ("branch-as-leaf", "should be a branch page", { $0.setUInt16(branch + 10, 0x02) }),
            // The child's page number, bits 16 to 31.
            ("child-past-file", "not a page of the file", { $0.setUInt16(secondBranchNode + 2, 0x7FFF) }),
            ("node-outside-page", "outside the page's nodes", { $0.setUInt16(branch + 16, 4094) }),
            ("huge-key", "key runs past the page", { $0.setUInt16(firstLeafNode + 6, 0xFFFF) }),
            // A value size past the page: LMDB would copy from beyond the map (SIGSEGV or SIGBUS).
            ("huge-value", "value runs past the page", { $0.setUInt16(firstLeafNode + 2, 0x00FF) }),
            ("wrong-page-number", "is headed as page", { $0.bytes[leaf] ^= 0x01 }),
            ("overflow-count", "is not an overflow page of", { $0.setUInt16(overflow + 12, 200) }),
            ("duplicate-flag", "duplicate data", { $0.setUInt16(firstLeafNode + 4, 0x04) }),
        ]
        for (name, expected, damage) in cases {
            let path = try Self.damaged(pristine, in: directory.path, name, damage)
            #expect(performing: { _ = try Environment.open(at: path) }, throws: { error in
                guard let error = error as? LMDBError else { return false }
                let matches = error.kind == .corrupted && error.path == path + "/data.mdb"
                    && error.message.contains("damaged") && error.message.contains(expected)
                if !matches { Issue.record("\(name): \(error)") }
                return matches
            })
        }
    }

    @Test("one damaged byte in any page's header, node offsets or node headers is refused at open, or is harmless: every record still reads")
    func randomDamage() throws {
        let directory = TemporaryDirectory()
        let pristine = try Self.pristine(directory.path)
        let source = try LMDBPages(dataFile: pristine + "/data.mdb")
        let pageCount = source.bytes.count / LMDBPages.pageSize
        // splitmix64, seeded: the same 400 cases on every run.
        var state: UInt64 = 0x7A11
        func next(_ bound: Int) -> Int {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Int((z ^ (z >> 31)) % UInt64(max(bound, 1)))
        }
        var refused = 0, harmless = 0
        for trial in 0..<400 {
            var pages = source
            let page = 2 + next(pageCount - 2)
            let start = LMDBPages.start(page)
            let nodes = (pages.flags(page) & 0x03) != 0 ? max(0, min(pages.nodeCount(page: page), 2040)) : 0
            var offset = start + next(16)
            switch next(3) {
            case 1 where nodes > 0:
                offset = start + 16 + next(2 * nodes)
            case 2 where nodes > 0:
                let node = pages.node(page: page, next(nodes))
                if node >= start + 16, node + 8 <= start + LMDBPages.pageSize { offset = node + next(8) }
            default:
                break
            }
            pages.bytes[offset] ^= UInt8(1 + next(255))
            let path = directory.path + "/trial-\(trial)"
            try FileSystem.makeDirectory(path)
            try pages.write(to: path + "/data.mdb")
            do {
                let environment = try Environment.open(at: path)
                var touched = 0
                for name in ["items", "big"] {
                    let database = try environment.database(named: name)
                    try environment.read { transaction in
                        try transaction.withCursor(database) { cursor in
                            var more = try cursor.first()
                            while more {
                                // Every byte of every key and value, so a wild pointer would fault here.
                                touched &+= cursor.key.reduce(0) { $0 &+ Int($1) } &+ cursor.value.reduce(0) { $0 &+ Int($1) }
                                more = try cursor.next()
                            }
                        }
                    }
                }
                harmless += touched == 0 ? 0 : 1
            } catch is LMDBError {
                refused += 1
            }
            FileSystem.removeTree(path)
        }
        #expect(refused > 0, "some damage reached a page the snapshot uses")
        #expect(refused + harmless == 400)
    }

    @Test("the check sees no damage while another thread commits, frees and reuses pages")
    func concurrentWriter() async throws {
        let directory = TemporaryDirectory()
        let path = try Self.pristine(directory.path)
        let environment = try Environment.open(at: path)
        let items = try environment.database(named: "items")
        let big = try environment.database(named: "big")
        let writer = Task.detached {
            var random = SystemRandomNumberGenerator()
            for round in 0..<300 {
                try environment.write { transaction in
                    for _ in 0..<200 {
                        let key = BigEndian.bytes(UInt64.random(in: 0..<20000, using: &random))
                        if Bool.random(using: &random) {
                            try transaction.put(items, key: key, value: [UInt8](repeating: UInt8(round % 256), count: Int.random(in: 1...300, using: &random)))
                        } else {
                            _ = try transaction.delete(items, key: key)
                        }
                    }
                    try transaction.put(big, key: BigEndian.bytes(UInt64(round % 7)), value: [UInt8](repeating: 1, count: Int.random(in: 5000...20000, using: &random)))
                }
            }
        }
        for _ in 0..<200 {
            try environment.checkStructure()
            await Task.yield()
        }
        try await writer.value
        try environment.checkStructure()
    }
}
