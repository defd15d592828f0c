import Foundation
import LMDB
import TallyTestSupport
import Testing

@Suite("LMDB wrapper")
struct EnvironmentTests {
    static func makeEnvironment(_ directory: String, mapSize: Int = 1 << 20, limit: Int = 1 << 30) throws -> (Environment, Database) {
        var configuration = Environment.Configuration()
        configuration.mapSize = mapSize
        configuration.mapSizeLimit = limit
        let environment = try Environment.create(at: directory + "/env", configuration: configuration) { transaction in
            _ = try transaction.openDatabase(named: "items")
        }
        return (environment, try environment.database(named: "items"))
    }

    @Test("puts, gets, deletes and cursors see keys in big-endian numeric order")
    func basicOperations() throws {
        let directory = TemporaryDirectory()
        let (environment, items) = try Self.makeEnvironment(directory.path)
        try environment.write { transaction in
            for value in [300, 2, 70_000, 1] as [UInt64] {
                try transaction.put(items, key: BigEndian.bytes(value), value: Array("v\(value)".utf8))
            }
        }
        let keys: [UInt64] = try environment.read { transaction in
            try transaction.withCursor(items) { cursor in
                var keys: [UInt64] = []
                var found = try cursor.first()
                while found {
                    keys.append(BigEndian.uint64(cursor.key))
                    found = try cursor.next()
                }
                return keys
            }
        }
        #expect(keys == [1, 2, 300, 70_000])
        try environment.write { transaction in
            let first = try transaction.delete(items, key: BigEndian.bytes(2))
            let second = try transaction.delete(items, key: BigEndian.bytes(2))
            #expect(first)
            #expect(!second)
        }
        try environment.read { transaction in
            #expect(try transaction.get(items, key: BigEndian.bytes(300)) == Array("v300".utf8))
            #expect(try transaction.get(items, key: BigEndian.bytes(2)) == nil)
            #expect(try transaction.count(items) == 3)
            let seeked = try transaction.withCursor(items) { cursor in
                try cursor.seek(atOrAfter: BigEndian.bytes(3)) ? BigEndian.uint64(cursor.key) : 0
            }
            #expect(seeked == 300)
        }
    }

    @Test("a write closure that throws changes nothing")
    func abortedWrite() throws {
        struct Stop: Error {}
        let directory = TemporaryDirectory()
        let (environment, items) = try Self.makeEnvironment(directory.path)
        #expect(throws: Stop.self) {
            try environment.write { transaction in
                try transaction.put(items, key: [1], value: [1])
                throw Stop()
            }
        }
        #expect(try environment.read { try $0.get(items, key: [1]) } == nil)
    }

    @Test("append refuses a key out of order, and no-overwrite refuses an existing key")
    func putOptions() throws {
        let directory = TemporaryDirectory()
        let (environment, items) = try Self.makeEnvironment(directory.path)
        try environment.write { try $0.put(items, key: BigEndian.bytes(5), value: [5], options: .append) }
        #expect { try environment.write { try $0.put(items, key: BigEndian.bytes(4), value: [4], options: .append) } } throws: {
            ($0 as? LMDBError)?.kind == .keyOutOfOrder
        }
        #expect { try environment.write { try $0.put(items, key: BigEndian.bytes(5), value: [6], options: .noOverwrite) } } throws: {
            ($0 as? LMDBError)?.kind == .keyExists
        }
        #expect(try environment.read { try $0.get(items, key: BigEndian.bytes(5)) } == [5])
    }

    /// Puts 2,000 values of 1,000 bytes in one write, well past a 64 KiB map, and checks that
    /// the write ran again after the map grew.
    static func fillPastMap(_ environment: Environment, _ items: Database, value: [UInt8]) throws {
        var runs = 0
        try environment.write { transaction in
            runs += 1
            for index in 0..<2000 as Range<UInt64> {
                try transaction.put(items, key: BigEndian.bytes(index), value: value)
            }
        }
        #expect(runs > 1, "the write ran again after the map grew")
        #expect(environment.mapSize > 64 << 10)
    }

    @Test("the map grows when a write fills it, and the write lands whole")
    func mapGrows() throws {
        let directory = TemporaryDirectory()
        let (environment, items) = try Self.makeEnvironment(directory.path, mapSize: 64 << 10)
        try Self.fillPastMap(environment, items, value: [UInt8](repeating: 7, count: 1000))
        #expect(try environment.read { try $0.count(items) } == 2000)
    }

    @Test("a refused put names the rule and the environment's path; the refused write changes nothing")
    func refusedPutNamesPath() throws {
        let directory = TemporaryDirectory()
        let (environment, items) = try Self.makeEnvironment(directory.path)
        try environment.write { try $0.put(items, key: [2], value: [20]) }
        for (key, options, kind) in [([UInt8(2)], WriteTransaction.PutOptions.noOverwrite, LMDBError.Kind.keyExists),
                                     ([UInt8(1)], .append, .keyOutOfOrder)] {
            do {
                try environment.write { try $0.put(items, key: key, value: [99], options: options) }
                Issue.record("a put with \(options) of key \(key) was accepted")
            } catch let error as LMDBError {
                #expect(error.kind == kind)
                #expect(error.path == environment.path)
                #expect(error.description.contains(environment.path))
            }
        }
        #expect(try environment.read { try $0.get(items, key: [2]) } == [20])
        #expect(try environment.read { try $0.get(items, key: [1]) } == nil)
    }

    /// A relaxed environment written in place (MDB_WRITEMAP), as the read models are.
    static func writingInPlace(mapSize: Int) -> Environment.Configuration {
        var configuration = Environment.Configuration()
        configuration.durability = .relaxed
        configuration.writesInPlace = true
        configuration.mapSize = mapSize
        return configuration
    }

    @Test("writing in place: commits land and survive reopening, the map grows, a pwrite open is refused beside it, and a truncated file is still refused")
    func writesInPlace() throws {
        let directory = TemporaryDirectory()
        let path = directory.path + "/env"
        let configuration = Self.writingInPlace(mapSize: 64 << 10)
        let value = [UInt8](repeating: 7, count: 1000)
        do {
            let environment = try Environment.create(at: path, configuration: configuration) { _ = try $0.openDatabase(named: "items") }
            let items = try environment.database(named: "items")
            try Self.fillPastMap(environment, items, value: value)
            // LMDB sizes the file to the map when it writes in place.
            #expect(FileSystem.fileSize(path + "/data.mdb") == environment.mapSize)
        }
        do {
            let environment = try Environment.open(at: path, configuration: configuration)
            let items = try environment.database(named: "items")
            #expect(try environment.read { try $0.count(items) } == 2000)
            #expect(try environment.read { try $0.get(items, key: BigEndian.bytes(1999)) } == value)
            var plain = Environment.Configuration()
            plain.durability = .relaxed
            #expect {
                _ = try Environment.open(at: path, configuration: plain)
            } throws: { error in
                guard let error = error as? LMDBError else { return false }
                return error.kind == .io(errno: EBUSY) && error.message.contains("MDB_WRITEMAP")
            }
        }
        // Cut far short of the last committed page: refused, and not extended back to the map.
        #expect(truncate(path + "/data.mdb", 64 << 10) == 0)
        #expect {
            _ = try Environment.open(at: path, configuration: configuration)
        } throws: { error in
            guard let error = error as? LMDBError else { return false }
            return error.kind == .corrupted && error.path == path + "/data.mdb" && error.message.contains("truncated")
        }
        #expect(FileSystem.fileSize(path + "/data.mdb") == 64 << 10)
    }

    @Test("opening with a smaller map never cuts the data file: another process may map the pages past the cut")
    func neverShrinks() throws {
        let directory = TemporaryDirectory()
        let path = directory.path + "/env"
        var configuration = Self.writingInPlace(mapSize: 1 << 20)
        do {
            let environment = try Environment.create(at: path, configuration: configuration) { _ = try $0.openDatabase(named: "items") }
            let items = try environment.database(named: "items")
            try environment.write { try $0.put(items, key: [1], value: [2]) }
        }
        #expect(FileSystem.fileSize(path + "/data.mdb") == 1 << 20)
        configuration.mapSize = 64 << 10
        let reopened = try Environment.open(at: path, configuration: configuration)
        #expect(FileSystem.fileSize(path + "/data.mdb") == 1 << 20, "LMDB would have cut it to the 64 KiB map")
        #expect(reopened.mapSize >= 1 << 20)
        let items = try reopened.database(named: "items")
        #expect(try reopened.read { try $0.get(items, key: [1]) } == [2])
    }

    @Test("a write past the map size limit fails with mapFull and nothing is half-written")
    func mapLimit() throws {
        let directory = TemporaryDirectory()
        let (environment, items) = try Self.makeEnvironment(directory.path, mapSize: 64 << 10, limit: 256 << 10)
        try environment.write { try $0.put(items, key: [0], value: [0]) }
        let value = [UInt8](repeating: 7, count: 1000)
        #expect {
            try environment.write { transaction in
                for index in 1..<2000 as Range<UInt64> {
                    try transaction.put(items, key: BigEndian.bytes(index), value: value)
                }
            }
        } throws: { error in
            guard let error = error as? LMDBError else { return false }
            return error.kind == .mapFull && error.message.contains("may not grow past")
        }
        #expect(try environment.read { try $0.count(items) } == 1)
    }

    @Test("creation is atomic: an initialiser that fails leaves nothing behind, and an existing path is refused")
    func atomicCreation() throws {
        struct Stop: Error {}
        let directory = TemporaryDirectory()
        #expect(throws: Stop.self) {
            _ = try Environment.create(at: directory.path + "/env") { _ in throw Stop() }
        }
        #expect(FileSystem.contents(of: directory.path).isEmpty)
        _ = try Self.makeEnvironment(directory.path)
        #expect { _ = try Self.makeEnvironment(directory.path) } throws: { ($0 as? LMDBError)?.kind == .keyExists }
        #expect(FileSystem.contents(of: directory.path) == ["env"])
    }

    @Test("opening refuses a missing, empty, foreign or truncated data file, naming it")
    func openRefusals() throws {
        let directory = TemporaryDirectory()
        let path = directory.path + "/env"
        #expect { _ = try Environment.open(at: path) } throws: { ($0 as? LMDBError)?.kind == .notFound }
        try FileSystem.makeDirectory(path)
        #expect { _ = try Environment.open(at: path) } throws: { ($0 as? LMDBError)?.kind == .notFound }
        _ = FileManager.default.createFile(atPath: path + "/data.mdb", contents: Data())
        #expect { _ = try Environment.open(at: path) } throws: {
            guard let error = $0 as? LMDBError else { return false }
            return error.kind == .corrupted && error.path == path + "/data.mdb" && error.message.contains("empty")
        }
        _ = FileManager.default.createFile(atPath: path + "/data.mdb", contents: Data(repeating: 0x33, count: 20_000))
        #expect { _ = try Environment.open(at: path) } throws: { ($0 as? LMDBError)?.kind == .corrupted }
        FileSystem.removeTree(path)
        do {
            let (environment, items) = try Self.makeEnvironment(directory.path)
            try environment.write { transaction in
                for index in 0..<500 as Range<UInt64> {
                    try transaction.put(items, key: BigEndian.bytes(index), value: [UInt8](repeating: 1, count: 500))
                }
            }
        }
        let size = FileSystem.fileSize(path + "/data.mdb")!
        #expect(truncate(path + "/data.mdb", off_t(size / 2)) == 0)
        #expect { _ = try Environment.open(at: path) } throws: {
            guard let error = $0 as? LMDBError else { return false }
            return error.kind == .corrupted && error.message.contains("truncated")
        }
    }

    @Test("a reader on one thread sees its snapshot while another thread writes")
    func snapshotIsolation() async throws {
        let directory = TemporaryDirectory()
        let (environment, items) = try Self.makeEnvironment(directory.path)
        try environment.write { try $0.put(items, key: [1], value: [1]) }
        try environment.read { transaction in
            let writer = Thread {
                try? environment.write { try $0.put(items, key: [1], value: [2]) }
            }
            writer.start()
            while !writer.isFinished { usleep(1000) }
            let seen = try transaction.get(items, key: [1])
            #expect(seen == [1])
        }
        #expect(try environment.read { try $0.get(items, key: [1]) } == [2])
    }

    @Test("a second open of the same data file in the process shares the first's handle, under any path")
    func secondOpenShares() throws {
        let directory = TemporaryDirectory()
        let (first, items) = try Self.makeEnvironment(directory.path)
        try first.write { try $0.put(items, key: [1], value: [1]) }
        let other = try Self.makeEnvironment(directory.path + "/elsewhere").0
        #expect(!other.sharesHandle(with: first))
        do {
            let second = try Environment.open(at: directory.path + "/./env")
            #expect(second.sharesHandle(with: first))
            let itemsAgain = try second.database(named: "items")
            try second.write { try $0.put(itemsAgain, key: [2], value: [2]) }
            #expect(try first.read { try $0.get(items, key: [2]) } == [2])
            var readOnly = Environment.Configuration()
            readOnly.readOnly = true
            let third = try Environment.open(at: directory.path + "/env", configuration: readOnly)
            #expect(third.sharesHandle(with: first))
            #expect(try third.read { try $0.get(items, key: [1]) } == [1])
        }
        // The others are gone; the first still reads and writes, and grows its map.
        try first.write { try $0.put(items, key: [3], value: [UInt8](repeating: 3, count: 3 << 20)) }
        #expect(try first.read { try $0.get(items, key: [3])?.count } == 3 << 20)
    }

    @Test("a read-write open of a data file this process holds read-only is refused, naming the file")
    func readWriteOverReadOnlyRefused() throws {
        let directory = TemporaryDirectory()
        _ = try Self.makeEnvironment(directory.path)
        var readOnly = Environment.Configuration()
        readOnly.readOnly = true
        do {
            let held = try Environment.open(at: directory.path + "/env", configuration: readOnly)
            #expect {
                _ = try Environment.open(at: directory.path + "/env")
            } throws: { error in
                guard let error = error as? LMDBError else { return false }
                return error.kind == .io(errno: EBUSY) && error.path == directory.path + "/env/data.mdb"
                    && error.message.contains("read-only")
            }
            let items = try held.database(named: "items")
            _ = try held.read { try $0.get(items, key: [1]) }
        }
        // Once the read-only holder is gone, the same open succeeds.
        let writable = try Environment.open(at: directory.path + "/env")
        let items = try writable.database(named: "items")
        try writable.write { try $0.put(items, key: [1], value: [1]) }
    }

    /// Before handles were shared, each open here re-initialised the lock file under the reader:
    /// for a moment its transactions took the older meta page and missed the last commit.
    @Test("opening and closing the same environment on one thread never disturbs readers on another")
    func reopeningDoesNotDisturbReaders() throws {
        let directory = TemporaryDirectory()
        let (environment, items) = try Self.makeEnvironment(directory.path)
        for round in 0..<2 {
            // Two rounds, so that the last commit is once on each of the two meta pages.
            try environment.write { try $0.put(items, key: [UInt8(round)], value: [UInt8(round)]) }
            let path = directory.path + "/env"
            let opener = Thread {
                for _ in 0..<200 {
                    _ = try? Environment.open(at: path)
                }
            }
            opener.start()
            var reads = 0
            var misses = 0
            while !opener.isFinished || reads == 0 {
                let found = try environment.read { transaction in
                    try (0...round).allSatisfy { try transaction.get(items, key: [UInt8($0)]) != nil }
                }
                if !found { misses += 1 }
                reads += 1
            }
            #expect(misses == 0, "\(misses) of \(reads) reads missed the last commit")
        }
    }

    @Test("a directory in place of an LMDB data file is named as the file, not the environment")
    func dataFileKinds() throws {
        let root = TemporaryDirectory()
        let path = root.path + "/env"
        _ = try Environment.create(at: path) { _ in }
        try FileManager.default.removeItem(atPath: path + "/data.mdb")
        try FileManager.default.createDirectory(atPath: path + "/data.mdb", withIntermediateDirectories: false)
        do {
            _ = try Environment.open(at: path)
            Issue.record("a directory was opened as a data file")
        } catch {
            #expect(error.path == path + "/data.mdb", "\(error)")
            #expect(error.message.contains("not a regular file"), "\(error)")
        }
    }

}
