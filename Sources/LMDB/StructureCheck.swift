import CLMDB

#if canImport(Glibc)
import Glibc
#endif

/// A walk of every page an environment's committed snapshot reaches, checking what LMDB takes
/// on trust before it follows it.
///
/// liblmdb reads its B-trees through the memory map without checking them: a damaged page
/// makes it fail an `assert` (SIGABRT), read past the end of the file (SIGBUS) or follow a
/// wild pointer (SIGSEGV), in whichever request first touches that page. A damaged data file
/// must instead be refused with its name when it is opened. So before an environment is used,
/// every page reachable from its newest meta page (the free-page tree, the main tree and every
/// named database in it) is read with `pread` and checked:
///
/// - its number is within the last committed page and the file, it is reached only once, and
///   its header names it;
/// - it is a branch above the tree's recorded depth and a leaf at it, with its key count,
///   free-space bounds and node offsets inside the page; a branch has the two keys or more
///   that LMDB asserts (one for the free-page tree), and a child number that is a page;
/// - a leaf node's key and value fit in the page, or its value's overflow pages are where the
///   node says, are marked as such and number what the value's size needs;
/// - a named database's record is an `MDB_db` of a tree without duplicate keys (Tally opens
///   no other kind), and a free-page list holds as many page numbers as it says, each a page.
///
/// Key order is not checked: LMDB does not crash on it. The walk runs inside a read
/// transaction, so that a writer in another process (a server beside `journal-tool verify`)
/// can reuse none of the pages it reads; the meta page it starts from is the newest, whose
/// pages that reader also protects. It reads the pages through a map of its own, only those
/// within the file's length when the walk began (LMDB never shortens a data file).
struct StructureCheck {
    static let operation = "structure check"
    static let pageHeaderSize = 16
    static let nodeHeaderSize = 8
    static let databaseRecordSize = 48
    /// `P_INVALID`: the root of an empty tree.
    static let noPage = UInt64.max

    // Page flags (`mp_flags`) and node flags (`mn_flags`), as mdb.c defines them.
    static let branchPage: UInt16 = 0x01
    static let leafPage: UInt16 = 0x02
    static let overflowPage: UInt16 = 0x04
    static let metaPage: UInt16 = 0x08
    static let kindMask: UInt16 = 0x01 | 0x02 | 0x04 | 0x08 | 0x20 | 0x40
    static let bigData: UInt16 = 0x01
    static let subDatabase: UInt16 = 0x02
    static let duplicates: UInt16 = 0x04
    /// `MDB_DUPSORT | MDB_DUPFIXED | MDB_INTEGERDUP | MDB_REVERSEDUP` in a database's flags.
    static let duplicateFlags: UInt16 = 0x04 | 0x10 | 0x20 | 0x40

    struct Damage: Error {
        let reason: String
    }

    /// A tree's root and shape, as an `MDB_db` records it.
    struct Tree: Equatable {
        let name: String
        let flags: UInt16
        let depth: Int
        let root: UInt64
    }

    private let file: UnsafeRawBufferPointer
    private let fileSize: UInt64
    private let pageSize: Int
    private let lastPage: UInt64
    private var seen: [UInt64]
    /// The page being checked, within `file`.
    private var page: UnsafeRawBufferPointer

    /// Checks the environment `handle` has open, whose data file is `dataFile`; a damaged page
    /// is thrown as `.corrupted`, naming the file, the page and the rule it breaks.
    static func run(handle: OpaquePointer, dataFile: String) throws(LMDBError) {
        try Environment.checkFileLength(handle: handle, dataFile: dataFile)
        var transaction: OpaquePointer?
        try LMDBError.check(mdb_txn_begin(handle, nil, UInt32(MDB_RDONLY), &transaction), "mdb_txn_begin", path: dataFile)
        defer { mdb_txn_abort(transaction) }
        let pinned = UInt64(mdb_txn_id(transaction))

        let descriptor = Glibc.open(dataFile, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            let code = errno
            throw LMDBError(kind: .io(errno: code), code: code, operation: "open", path: dataFile, message: String(cString: strerror(code)))
        }
        defer { close(descriptor) }
        do {
            let meta = try newestMeta(descriptor: descriptor, pinned: pinned)
            var size = stat()
            guard fstat(descriptor, &size) == 0, size.st_size > 0 else { throw Damage(reason: "the data file cannot be measured") }
            let length = Int(size.st_size)
            guard let map = mmap(nil, length, PROT_READ, MAP_SHARED, descriptor, 0), map != MAP_FAILED else {
                throw Damage(reason: "the data file cannot be mapped (\(String(cString: strerror(errno))))")
            }
            defer { munmap(map, length) }
            var check = StructureCheck(
                file: UnsafeRawBufferPointer(start: map, count: length), pageSize: meta.pageSize, lastPage: meta.lastPage)
            try check.walk(meta.free, freeTree: true)
            try check.walk(meta.main, freeTree: false)
        } catch let damage as Damage {
            throw LMDBError(
                kind: .corrupted, code: MDB_CORRUPTED, operation: Self.operation, path: dataFile,
                message: "damaged: \(damage.reason)")
        } catch {
            throw LMDBError(kind: .corrupted, code: MDB_CORRUPTED, operation: Self.operation, path: dataFile, message: "\(error)")
        }
    }

    private init(file: UnsafeRawBufferPointer, pageSize: Int, lastPage: UInt64) {
        self.file = file
        self.fileSize = UInt64(file.count)
        self.pageSize = pageSize
        self.lastPage = lastPage
        self.seen = [UInt64](repeating: 0, count: Int(lastPage / 64) + 1)
        self.page = UnsafeRawBufferPointer(rebasing: file[0..<0])
    }

    // MARK: Meta pages

    struct Meta: Equatable {
        var pageSize: Int
        var lastPage: UInt64
        var transaction: UInt64
        var free: Tree
        var main: Tree
    }

    /// The meta page with the newest transaction. A commit in another process may rewrite a
    /// meta page while it is read, so both are read until two readings agree.
    private static func newestMeta(descriptor: Int32, pinned: UInt64) throws -> Meta {
        var previous: Meta?
        for _ in 0..<20 {
            let first = try readMeta(descriptor: descriptor, offset: 0)
            let second = try readMeta(descriptor: descriptor, offset: UInt64(first.pageSize))
            let newest = second.transaction > first.transaction ? second : first
            if newest == previous {
                guard newest.transaction >= pinned else {
                    throw Damage(reason: "the newest meta page records transaction \(newest.transaction), older than the one just begun (\(pinned))")
                }
                return newest
            }
            previous = newest
        }
        throw Damage(reason: "the meta pages kept changing while they were read")
    }

    private static func readMeta(descriptor: Int32, offset: UInt64) throws -> Meta {
        var buffer = [UInt8](repeating: 0, count: 160)
        let count = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, 160, off_t(offset)) }
        guard count == 160 else { throw Damage(reason: "the meta page at byte \(offset) cannot be read") }
        return try buffer.withUnsafeBytes { bytes throws -> Meta in try meta(bytes, offset: offset) }
    }

    private static func meta(_ bytes: UnsafeRawBufferPointer, offset: UInt64) throws -> Meta {
        let magic = bytes.uint32(at: 16), version = bytes.uint32(at: 20)
        guard magic == 0xBEEF_C0DE, version == 1 else {
            throw Damage(reason: "the meta page at byte \(offset) has magic \(magic) and version \(version)")
        }
        let pageSize = Int(bytes.uint32(at: 40))
        guard pageSize >= 512, pageSize <= 65536, pageSize & (pageSize - 1) == 0 else {
            throw Damage(reason: "the meta page at byte \(offset) records a page size of \(pageSize)")
        }
        func tree(at start: Int, _ name: String) -> Tree {
            Tree(name: name, flags: bytes.uint16(at: start + 4), depth: Int(bytes.uint16(at: start + 6)), root: bytes.uint64(at: start + 40))
        }
        return Meta(
            pageSize: pageSize, lastPage: bytes.uint64(at: 136), transaction: bytes.uint64(at: 144),
            free: tree(at: 40, "free-page"), main: tree(at: 88, "main"))
    }

    // MARK: Trees

    private mutating func walk(_ tree: Tree, freeTree: Bool) throws {
        if tree.root == Self.noPage {
            guard tree.depth == 0 else { throw Damage(reason: "the \(tree.name) tree is empty but records depth \(tree.depth)") }
            return
        }
        guard (1...32).contains(tree.depth) else { throw Damage(reason: "the \(tree.name) tree records depth \(tree.depth)") }
        try visit(tree.root, level: 1, tree: tree, freeTree: freeTree)
    }

    private mutating func visit(_ number: UInt64, level: Int, tree: Tree, freeTree: Bool) throws {
        // Built only for a refusal: this runs for every page.
        var context: String { "page \(number) of the \(tree.name) tree" }
        try claim(number, pages: 1, { context })
        read(number)
        let isBranch = level < tree.depth
        let header = pageHeader()
        guard header.number == number else { throw Damage(reason: "\(context) is headed as page \(header.number)") }
        guard header.flags & Self.kindMask == (isBranch ? Self.branchPage : Self.leafPage) else {
            throw Damage(reason: "\(context) should be a \(isBranch ? "branch" : "leaf") page (level \(level) of \(tree.depth)), its flags are \(header.flags)")
        }
        let lower = Int(header.lower), upper = Int(header.upper)
        guard lower >= Self.pageHeaderSize, lower <= upper, upper <= pageSize, (lower - Self.pageHeaderSize) % 2 == 0 else {
            throw Damage(reason: "\(context) has free space from \(lower) to \(upper)")
        }
        let keys = (lower - Self.pageHeaderSize) / 2
        if isBranch {
            let least = freeTree ? 1 : 2
            guard keys >= least else { throw Damage(reason: "\(context) is a branch with \(keys) key(s)") }
        } else if level > 1 {
            guard keys >= 1 else { throw Damage(reason: "\(context) is a leaf with no key") }
        }
        // The nodes are read before any child is visited: `visit` reuses the page buffer.
        var children: [UInt64] = []
        var overflows: [(page: UInt64, size: Int, node: Int)] = []
        var databases: [Tree] = []
        var freeLists: [(start: Int, size: Int)] = []
        for index in 0..<keys {
            let offset = Int(page.uint16(at: Self.pageHeaderSize + 2 * index))
            guard offset >= upper, offset + Self.nodeHeaderSize <= pageSize else {
                throw Damage(reason: "\(context): node \(index) starts at \(offset), outside the page's nodes")
            }
            let low = UInt64(page.uint16(at: offset)), high = UInt64(page.uint16(at: offset + 2))
            let flags = page.uint16(at: offset + 4)
            let keySize = Int(page.uint16(at: offset + 6))
            let keyStart = offset + Self.nodeHeaderSize
            guard keyStart + keySize <= pageSize else {
                throw Damage(reason: "\(context): node \(index)'s \(keySize)-byte key runs past the page")
            }
            if isBranch {
                children.append(low | high << 16 | UInt64(flags) << 32)
                continue
            }
            let size = Int(low | high << 16)
            let valueStart = keyStart + keySize
            guard flags & ~(Self.bigData | Self.subDatabase) == 0 else {
                throw Damage(reason: "\(context): node \(index) has flags \(flags) (duplicate data, which these files never hold, or none LMDB defines)")
            }
            if flags & Self.bigData != 0 {
                guard flags & Self.subDatabase == 0, valueStart + 8 <= pageSize else {
                    throw Damage(reason: "\(context): node \(index)'s overflow page number runs past the page")
                }
                overflows.append((page.uint64(at: valueStart), size, index))
                continue
            }
            guard valueStart + size <= pageSize else {
                throw Damage(reason: "\(context): node \(index)'s \(size)-byte value runs past the page")
            }
            if flags & Self.subDatabase != 0 {
                guard !freeTree, level == tree.depth, tree.name == "main", size == Self.databaseRecordSize else {
                    throw Damage(reason: "\(context): node \(index) claims a named database where none can be")
                }
                let name = String(decoding: UnsafeRawBufferPointer(rebasing: page[keyStart..<valueStart]), as: UTF8.self)
                let record = Tree(
                    name: "'\(name)'", flags: page.uint16(at: valueStart + 4), depth: Int(page.uint16(at: valueStart + 6)),
                    root: page.uint64(at: valueStart + 40))
                guard record.flags & Self.duplicateFlags == 0 else {
                    throw Damage(reason: "\(context): named database \(record.name) has flags \(record.flags) (duplicate keys, which these files never hold)")
                }
                databases.append(record)
            } else if freeTree {
                freeLists.append((valueStart, size))
            }
        }
        for (start, size) in freeLists { try checkFreeList(UnsafeRawBufferPointer(rebasing: page[start..<(start + size)]), context) }
        for child in children { try visit(child, level: level + 1, tree: tree, freeTree: freeTree) }
        for overflow in overflows {
            try visitOverflow(overflow.page, size: overflow.size, "\(context): node \(overflow.node)'s overflow value", freeTree: freeTree)
        }
        for database in databases { try walk(database, freeTree: false) }
    }

    /// A value stored on its own pages: the first page is headed and counts them.
    private mutating func visitOverflow(_ number: UInt64, size: Int, _ context: @autoclosure () -> String, freeTree: Bool) throws {
        let pages = UInt64((Self.pageHeaderSize - 1 + size) / pageSize + 1)
        try claim(number, pages: pages, { "\(context()) at page \(number)" })
        read(number)
        let header = pageHeader()
        guard header.number == number, header.flags & Self.kindMask == Self.overflowPage, UInt64(header.pages) == pages else {
            throw Damage(reason: "\(context()) at page \(number) is not an overflow page of \(pages) page(s) (headed as page \(header.number), flags \(header.flags), \(header.pages) page(s))")
        }
        if freeTree {
            let start = Int(number) * pageSize + Self.pageHeaderSize
            try checkFreeList(UnsafeRawBufferPointer(rebasing: file[start..<(start + size)]), context())
        }
    }

    /// A list of freed pages: a count, then that many page numbers.
    private func checkFreeList(_ bytes: UnsafeRawBufferPointer, _ context: @autoclosure () -> String) throws {
        guard bytes.count >= 8, bytes.count % 8 == 0, bytes.uint64(at: 0) == UInt64(bytes.count / 8 - 1) else {
            throw Damage(reason: "\(context()): a free-page list of \(bytes.count) bytes does not hold the count it starts with")
        }
        for index in 1..<(bytes.count / 8) {
            let number = bytes.uint64(at: index * 8)
            guard number >= 2, number <= lastPage else {
                throw Damage(reason: "\(context()): the free-page list names page \(number), not a page of the file (last \(lastPage))")
            }
        }
    }

    // MARK: Pages

    /// Marks pages `number ..< number + pages` as reached, refusing one outside the committed
    /// pages or the file, a meta page, or one reached before.
    private mutating func claim(_ number: UInt64, pages: UInt64, _ context: () -> String) throws {
        let (end, past) = number.addingReportingOverflow(pages)
        let (bytes, beyond) = end.multipliedReportingOverflow(by: UInt64(pageSize))
        guard number >= 2, !past, !beyond, end - 1 <= lastPage, bytes <= fileSize else {
            throw Damage(reason: "\(context()) is not a page of the file (pages 2 to \(lastPage), \(fileSize) bytes)")
        }
        for page in number..<end {
            let word = Int(page / 64), bit = UInt64(1) << (page % 64)
            guard seen[word] & bit == 0 else { throw Damage(reason: "\(context()): page \(page) is reached twice") }
            seen[word] |= bit
        }
    }

    /// Makes page `number` (claimed: within the file) the one `page` shows.
    private mutating func read(_ number: UInt64) {
        let start = Int(number) * pageSize
        page = UnsafeRawBufferPointer(rebasing: file[start..<(start + pageSize)])
    }

    private func pageHeader() -> (number: UInt64, flags: UInt16, lower: UInt16, upper: UInt16, pages: UInt32) {
        (page.uint64(at: 0), page.uint16(at: 10), page.uint16(at: 12), page.uint16(at: 14), page.uint32(at: 12))
    }
}

/// Fields of LMDB's pages, in the machine's order as LMDB writes them (Tally runs on
/// little-endian machines only). The caller has checked that they lie within the bytes.
private extension UnsafeRawBufferPointer {
    func uint16(at offset: Int) -> UInt16 { loadUnaligned(fromByteOffset: offset, as: UInt16.self) }
    func uint32(at offset: Int) -> UInt32 { loadUnaligned(fromByteOffset: offset, as: UInt32.self) }
    func uint64(at offset: Int) -> UInt64 { loadUnaligned(fromByteOffset: offset, as: UInt64.self) }
}
