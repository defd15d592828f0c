import ArgumentParser
import Journal

/// `journal-tool receipt get`: prints the receipt of a sealed event, built from the journal.
struct ReceiptGetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "Print the receipt (JSON, sorted keys) of an event.",
        discussion: "Exits 1 when the journal holds no sealed event with that sequence."
    )

    @OptionGroup var data: DataDirectoryOptions

    @Argument(help: ArgumentHelp("The event's sequence.", valueName: "SEQ"))
    var sequence: UInt64

    func run() throws {
        let storage = try data.openStorage()
        let receipt: Receipt
        do {
            receipt = try JournalReader(storage: storage).receipt(for: sequence)
        } catch JournalError.notFound(let what) {
            throw ToolExit.notFound(what)
        }
        try JSONOutput.print(receipt)
    }
}
