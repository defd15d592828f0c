import Foundation
import Synchronization
import Testing
@testable import Journal

/// `startThread`: the name the kernel shows, and the nice value of a thread that may wait
/// (the background scrub runs at 19 so that catch-up and requests get the cores first).
@Suite("Named threads")
struct NamedThreadTests {
    /// The calling thread's name and nice value, as /proc shows them.
    static func ownSchedule() -> (name: String, nice: Int)? {
        guard let stat = try? String(contentsOfFile: "/proc/thread-self/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")"), let open = stat.firstIndex(of: "(") else { return nil }
        let name = String(stat[stat.index(after: open)..<close])
        // After the name: state is field 3, nice is field 19.
        let fields = stat[stat.index(close, offsetBy: 2)...].split(separator: " ")
        guard fields.count > 16, let nice = Int(fields[16]) else { return nil }
        return (name, nice)
    }

    static func schedule(of name: String, niceness: Int32?) async -> (name: String, nice: Int)? {
        await withCheckedContinuation { continuation in
            let body: @Sendable () -> Void = { continuation.resume(returning: ownSchedule()) }
            if let niceness {
                startThread(named: name, niceness: niceness, body)
            } else {
                startThread(named: name, body)
            }
        }
    }

    @Test("a thread carries its name, and the nice value asked for; without one, its creator's")
    func nameAndNiceness() async throws {
        #if os(Linux)
        let creator = try #require(Self.ownSchedule())
        let low = try #require(await Self.schedule(of: "t.low", niceness: 19))
        #expect(low.name == "t.low")
        #expect(low.nice == 19)
        let plain = try #require(await Self.schedule(of: "t.plain", niceness: nil))
        #expect(plain.name == "t.plain")
        #expect(plain.nice == creator.nice || plain.nice <= 0, "a thread started without a niceness is not lowered")
        #endif
    }
}
