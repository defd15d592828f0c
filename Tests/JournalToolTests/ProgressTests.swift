import Foundation
import TallyTestSupport
import Testing

@Suite("journal-tool progress", .serialized)
struct ProgressTests {
    @Test("long commands show events done and the rate on a terminal, and nothing when piped")
    func progressOnlyOnTerminal() async throws {
        let data = try await Fixtures.shared.largeJournal()
        // util-linux `script` runs the command on a pseudo-terminal: stderr is then a terminal.
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/script") else {
            Issue.record("/usr/bin/script (util-linux) is needed to give journal-tool a terminal")
            return
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        process.arguments = ["-qec", "\(ToolRun.toolPath) verify --data \(data)", "/dev/null"]
        let output = Pipe()
        process.standardOutput = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(text)")
        #expect(text.contains("events/s"), "\(text)")
        #expect(text.contains("audit:") || text.contains("verify:"), "\(text)")

        let piped = try ToolRun.run(["verify", "--data", data])
        #expect(piped.status == 0)
        #expect(piped.errors.isEmpty, "\(piped.errors)")
    }
}
