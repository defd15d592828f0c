import Foundation
import LMDB
import TallyTestSupport
import Testing
@testable import Projections

#if canImport(Glibc)
import Glibc
#endif

/// Read models written without syncing are folded again after a system restart, and kept after
/// a process crash or a flush.
@Suite("Projections: writes not yet synced")
struct UnsyncedWritesTests {
    static func markers(_ fixture: ProjectionFixture) -> [String] {
        FileSystem.contents(of: fixture.projections.path).filter { $0.hasPrefix(UnsyncedWrites.prefix) }
    }

    static func givenFolded(_ fixture: ProjectionFixture) async throws -> UInt64 {
        try await ProjectionLifecycleTests.givenWorld(fixture)
        try await ProjectionLifecycleTests.traffic(fixture, rounds: 5, tag: "u")
        return try fixture.projections.catchUp()
    }

    @Test("a write leaves a synced marker of this boot; a restarted process of the same boot keeps the read models")
    func processCrashKeeps() async throws {
        let fixture = try ProjectionFixture()
        let bootID = try #require(UnsyncedWrites.currentBootID())
        let folded = try await Self.givenFolded(fixture)
        let names = Self.markers(fixture)
        try #require(names.count == 1)
        let marker = try #require(UnsyncedWrites.Marker(path: fixture.projections.path + "/" + names[0]))
        #expect(marker.bootID == bootID)
        #expect(marker.pid == getpid())

        // No flush, as after kill -9: the same boot reopens them as they are.
        try fixture.reopenProjections(bootID: bootID)
        #expect(fixture.projections.status.sequence == folded)
        #expect(!FileSystem.exists(fixture.projections.path + ".torn"))
    }

    @Test("after a system restart, unflushed read models are set aside and folded again from the journal")
    func systemRestartFoldsAgain() async throws {
        let fixture = try ProjectionFixture()
        let folded = try await Self.givenFolded(fixture)
        let before = try fixture.projections.canonicalDump()

        try fixture.reopenProjections(bootID: "another-boot")
        #expect(fixture.projections.status.sequence == 0)
        #expect(FileSystem.exists(fixture.projections.path + ".torn/data.mdb"))
        #expect(Self.markers(fixture).isEmpty)
        #expect(try fixture.projections.catchUp() == folded)
        #expect(try fixture.projections.canonicalDump() == before)
        // The new read models carry this (other) boot's marker, so the same boot keeps them.
        try fixture.reopenProjections(bootID: "another-boot")
        #expect(fixture.projections.status.sequence == folded)
    }

    @Test("flushed read models survive a system restart; the next write marks them again")
    func flushedSurvive() async throws {
        let fixture = try ProjectionFixture()
        let folded = try await Self.givenFolded(fixture)
        try fixture.projections.flush()
        #expect(Self.markers(fixture).isEmpty)

        try fixture.reopenProjections(bootID: "another-boot")
        #expect(fixture.projections.status.sequence == folded)
        #expect(!FileSystem.exists(fixture.projections.path + ".torn"))

        try await fixture.run(.transfer(from: "alice", to: "bob", currency: .usd, amount: 1))
        #expect(try fixture.projections.catchUp() == folded + 1)
        #expect(Self.markers(fixture).count == 1)
        try fixture.reopenProjections(bootID: "a-third-boot")
        #expect(fixture.projections.status.sequence == 0)
    }

    @Test("a marker that cannot be read, or a system without a boot ID, counts as torn")
    func unreadableMarkerIsTorn() async throws {
        let fixture = try ProjectionFixture()
        let bootID = try #require(UnsyncedWrites.currentBootID())
        let folded = try await Self.givenFolded(fixture)
        try fixture.projections.flush()
        let path = fixture.projections.path + "/" + UnsyncedWrites.prefix + "1-0"
        try Data("tally-projections-unsynced/1\nboot \npid 1\n".utf8).write(to: URL(fileURLWithPath: path))
        try fixture.reopenProjections(bootID: bootID)
        #expect(fixture.projections.status.sequence == 0)
        #expect(try fixture.projections.catchUp() == folded)

        // This process's own marker, of this boot, but the system cannot say which boot it is.
        try fixture.reopenProjections(bootID: nil)
        #expect(fixture.projections.status.sequence == 0)
    }

    @Test("a flush removes the markers of dead processes of this boot and keeps live processes' and other boots'")
    func flushClearsDeadMarkers() async throws {
        let fixture = try ProjectionFixture()
        let bootID = try #require(UnsyncedWrites.currentBootID())
        _ = try await Self.givenFolded(fixture)
        let dead = Process()
        dead.executableURL = URL(fileURLWithPath: "/bin/true")
        try dead.run()
        dead.waitUntilExit()
        let directory = fixture.projections.path
        func plant(_ name: String, boot: String, pid: Int32) throws {
            try Data("tally-projections-unsynced/1\nboot \(boot)\npid \(pid)\n".utf8)
                .write(to: URL(fileURLWithPath: directory + "/" + UnsyncedWrites.prefix + name))
        }
        try plant("dead", boot: bootID, pid: dead.processIdentifier)
        try plant("live", boot: bootID, pid: getppid())
        try plant("old", boot: "another-boot", pid: dead.processIdentifier)
        try fixture.projections.flush()
        #expect(Self.markers(fixture) == [UnsyncedWrites.prefix + "live", UnsyncedWrites.prefix + "old"])
    }
}
