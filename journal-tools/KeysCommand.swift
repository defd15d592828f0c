import ArgumentParser

/// `journal-tool keys`: the journal's signing keys.
struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "List, generate and rotate the journal's signing keys.",
        subcommands: [KeysListCommand.self, KeysGenerateCommand.self, KeysRotateCommand.self]
    )
}
