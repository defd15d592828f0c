import ArgumentParser

/// `journal-tool receipt`: get the receipt of an event, or verify a receipt alone.
struct ReceiptCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "receipt",
        abstract: "Get or verify the receipt of an event.",
        subcommands: [ReceiptVerifyCommand.self, ReceiptGetCommand.self]
    )
}
