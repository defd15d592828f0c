import Foundation
import TallyTestSupport
import Testing

/// Crash safety of the read models, which are written in place in LMDB's map without syncing:
/// a real `journal-tool rebuild` process is killed with SIGKILL in the middle of its fold, again
/// and again; each next run resumes from the checkpoint the last commit stored.
@Suite("journal-tool rebuild killed mid-fold", .serialized)
struct RebuildCrashTests {
    @Test("a rebuild killed with SIGKILL at random moments resumes, and the read models it swaps in equal a fresh replay")
    func rebuildSurvivesKills() async throws {
        let copy = try DataCopy(of: try await Fixtures.shared.largeJournal())
        var killedMidway = 0
        for _ in 0..<6 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: ToolRun.toolPath)
            process.arguments = ["rebuild", "--data", copy.path, "--json"]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            usleep(UInt32.random(in: 150_000...900_000))
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                killedMidway += 1
            }
            process.waitUntilExit()
        }
        #expect(killedMidway > 0, "no rebuild was still folding when killed")

        let finished = try ToolRun.run(["rebuild", "--data", copy.path, "--json"])
        #expect(finished.status == 0, "\(finished.summary)")
        let root = TemporaryDirectory()
        let replay = try ToolRun.run(["replay", "--data", copy.path, "--into", root.path + "/models", "--compare-live", "--json"])
        #expect(replay.status == 0, "\(replay.summary)")
        #expect((replay.json["liveComparison"] as? String)?.contains("read models equal") == true, "\(replay.summary)")
        let verify = try ToolRun.run(["verify", "--data", copy.path, "--json"])
        #expect(verify.status == 0, "\(verify.summary)")
    }
}
