/// Why `journal-tool import` refused an export, beyond the journal's own checks (which keep
/// their `verify` codes 10-23). Stable exit codes, never renumbered.
enum ImportFailure: String, CaseIterable {
    /// `manifest.json` is missing, does not parse, or is not a `tally-export/1` manifest.
    case badManifest = "bad-manifest"
    /// A file the manifest lists is not in the export.
    case missingSegment = "missing-segment"
    /// A file's size or SHA-256 differs from the manifest's (changed or truncated file).
    case checksumMismatch = "checksum-mismatch"
    /// A file matches its checksum but does not decompress, or its entries break the layout
    /// or disagree with the manifest (the manifest was rewritten to match a tampered file).
    case corruptSegment = "corrupt-segment"
    /// Segments are not in sequence order: reordered, duplicated, or one is left out of the
    /// manifest's list.
    case segmentOrder = "segment-order"
    /// The imported journal ends before, or with another head than, the manifest says.
    case headMismatch = "head-mismatch"

    var exitCode: ToolExitCode {
        switch self {
        case .badManifest: return ToolExitCode(rawValue: 30)
        case .missingSegment: return ToolExitCode(rawValue: 31)
        case .checksumMismatch: return ToolExitCode(rawValue: 32)
        case .corruptSegment: return ToolExitCode(rawValue: 33)
        case .segmentOrder: return ToolExitCode(rawValue: 34)
        case .headMismatch: return ToolExitCode(rawValue: 35)
        }
    }

    var exitCodeSummary: String {
        switch self {
        case .badManifest: return "manifest.json is missing, unparsable or of another format"
        case .missingSegment: return "a file the manifest lists is missing"
        case .checksumMismatch: return "a file's size or SHA-256 differs from the manifest"
        case .corruptSegment: return "a file does not decompress or its entries are wrong"
        case .segmentOrder: return "segments reordered, duplicated or left out"
        case .headMismatch: return "the imported head is not the manifest's"
        }
    }

    func failure(sequence: UInt64, _ message: String) -> ReportedFailure {
        ReportedFailure(kind: rawValue, exitCode: exitCode, sequence: sequence, message: message)
    }
}
