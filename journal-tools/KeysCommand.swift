import ArgumentParser

/// `journal-tool keys`: the journal's signing keys.
struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Show the journal's signing keys.",
        subcommands: [KeysListCommand.self]
    )
}
