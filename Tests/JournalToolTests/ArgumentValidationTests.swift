import Foundation
import TallyTestSupport
import Testing

@Suite("journal-tool argument validation", .serialized)
struct ArgumentValidationTests {
    @Test("inspect event and block reject a negative or zero sequence as an invalid value (exit 2), not as a missing one")
    func invalidSequence() async throws {
        let data = try await Fixtures.shared.smallJournal()
        for subject in ["event", "block"] {
            for value in ["-1", "0"] {
                let run = try ToolRun.run(["inspect", "--data", data, subject, value])
                #expect(run.status == 2, "\(subject) \(value): \(run.summary)")
                #expect(run.errors.contains("invalid sequence '\(value)'"), "\(subject) \(value): \(run.summary)")
                #expect(!run.errors.contains("needs a sequence number"), "\(subject) \(value): \(run.summary)")
            }
        }
        let missing = try ToolRun.run(["inspect", "--data", data, "event"])
        #expect(missing.status == 2 && missing.errors.contains("needs a sequence number"), "\(missing.summary)")
        let good = try ToolRun.run(["inspect", "--data", data, "event", "1"])
        #expect(good.status == 0, "\(good.summary)")
    }
}
