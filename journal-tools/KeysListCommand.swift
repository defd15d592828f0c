import ArgumentParser
import Journal

/// `journal-tool keys list`: the key records in the journal and the files in `keys/`.
struct KeysListCommand: ParsableCommand, JSONOutputCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the journal's key records and the key files in DIR/keys.",
        discussion: "Private key files are listed by name and mode only; their contents are never read."
    )

    @OptionGroup var data: DataDirectoryOptions

    @Flag(name: .customLong("hex"), help: "Also show each stored key record in hex.")
    var hex = false

    @Flag(name: .customLong("json"), help: "Print JSON instead of text.")
    var json = false

    func run() throws {
        let storage = try data.openStorage()
        let listing = KeyListing(
            records: try KeyRecordDescription.loadAll(storage: storage, keysDirectory: data.keysPath, includeRecord: hex),
            keysDirectory: data.keysPath, files: KeyFileDescription.loadAll(keysDirectory: data.keysPath))
        if json {
            try JSONOutput.print(listing)
            return
        }
        print("key records in \(data.journalPath) (\(listing.records.count)):")
        print(listing.records.map(\.text).joined(separator: "\n\n"))
        print("")
        print("files in \(listing.keysDirectory) (\(listing.files.count)):")
        for file in listing.files { print(file.text) }
    }
}
