import Foundation

/// Executables built beside the test binary (`tally`, `journal-tool`, `tally-crash-child`),
/// found from the running test executable so that tests can start them as real processes.
public enum BuiltProduct {
    public static func path(_ name: String) -> String {
        var directory = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        // swift test may run the test binary from inside an .xctest bundle.
        for _ in 0..<3 {
            let candidate = directory.appendingPathComponent(name).path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return directory.appendingPathComponent(name).path
    }
}
