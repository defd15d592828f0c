import ArgumentParser
import Journal
import LMDB

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
        // A data directory provisioned with `keys generate` has keys but no journal until the
        // first start: its key files are listed, with no records.
        try data.requireDirectory()
        let hasJournal = FileSystem.exists(data.journalPath)
        let records = hasJournal
            ? try KeyRecordDescription.loadAll(storage: try data.openStorage(), keysDirectory: data.keysPath, includeRecord: hex) : []
        let listing = KeyListing(
            journal: hasJournal ? data.journalPath : nil, records: records,
            keysDirectory: data.keysPath, files: KeyFileDescription.loadAll(keysDirectory: data.keysPath))
        if json {
            try JSONOutput.print(listing)
            return
        }
        if hasJournal {
            print("key records in \(data.journalPath) (\(listing.records.count)):")
            print(listing.records.map(\.text).joined(separator: "\n\n"))
        } else {
            print("key records: none (\(data.journalPath) does not exist yet; the first start records the signing key)")
        }
        print("")
        print("files in \(listing.keysDirectory) (\(listing.files.count)):")
        for file in listing.files { print(file.text) }
    }
}
