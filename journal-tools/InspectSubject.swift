import ArgumentParser

/// What `journal-tool inspect` shows.
enum InspectSubject: String, ExpressibleByArgument, CaseIterable {
    /// The last event, last block and the journal's metadata.
    case head
    /// One event (needs a sequence).
    case event
    /// The block holding a sequence (needs a sequence).
    case block
    /// The key records.
    case keys

    var takesSequence: Bool { self == .event || self == .block }
}
