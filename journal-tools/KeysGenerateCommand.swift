import ArgumentParser
import Foundation
import Journal
import LMDB

/// `journal-tool keys generate`: provisions the first signing key of a new data directory, so
/// that the operator can publish its public key (out of band, for auditors) before the first
/// start. `tally serve` then creates the journal under this key.
struct KeysGenerateCommand: ParsableCommand, JSONOutputCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Create the first signing key for a new data directory (mode 0600) and print its key id.",
        discussion: """
            Refuses a data directory that already holds a journal, a signing key or a journal \
            ID: a journal's keys change only by rotation (`keys rotate`).
            """
    )

    @OptionGroup var data: DataDirectoryOptions

    @Flag(name: .customLong("json"), help: "Print JSON instead of text.")
    var json = false

    struct Output: Encodable {
        let keyID: String
        let privateKeyFile: String
        let publicKeyFile: String
    }

    func run() throws {
        let store = SigningKeyStore(directory: data.keysPath)
        if FileSystem.exists(data.journalPath) {
            throw ToolExit.usage("\(data.journalPath) exists: this data directory already has a journal; use `keys rotate`")
        }
        if let existing = try store.loadSigningKey() {
            throw ToolExit.usage("\(existing.path) exists: this data directory already has a signing key")
        }
        if FileSystem.exists(store.journalIDPath) {
            throw ToolExit.usage("\(store.journalIDPath) exists: these keys belong to a journal that was created")
        }
        try FileSystem.makeDirectory(data.directoryPath, mode: 0o700)
        let key = try store.createSigningKey()
        let keyID = KeyID(publicKey: key.publicKey)
        let output = Output(
            keyID: keyID.hex, privateKeyFile: store.privateKeyPath(keyID), publicKeyFile: store.publicKeyPath(keyID))
        if json {
            try JSONOutput.print(output)
        } else {
            print("key id       \(output.keyID)")
            print("private key  \(output.privateKeyFile)  (mode 0600; never leaves this machine)")
            print("public key   \(output.publicKeyFile)  (publish it for auditors)")
        }
    }
}
