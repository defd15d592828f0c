import ArgumentParser
import Foundation
import Journal
import LMDB

/// `journal-tool keys rotate`: an offline key rotation. The journal records the new key,
/// endorsed by the current one, in a commit of its own; the old public key stays published and
/// the old private key is deleted (see Schemas/journal.md §7).
struct KeysRotateCommand: AsyncParsableCommand, JSONOutputCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate",
        abstract: "Rotate the journal's signing key (offline: the service must be stopped).",
        discussion: """
            Opens the journal for writing the way `tally serve` does (checking every file and \
            verifying the tail written since the last verified start), records a new key \
            endorsed by the current one, makes it the active key and closes the journal. \
            Refused (exit 3) while another process has the journal open: a running service \
            keeps signing with the key it loaded.
            """
    )

    @OptionGroup var data: DataDirectoryOptions

    @Flag(name: .customLong("json"), help: "Print JSON instead of text.")
    var json = false

    struct Output: Encodable {
        let previousKeyID: String?
        let keyID: String
        let activatedAt: UInt64
        let publicKeyFiles: [String]
    }

    func run() async throws {
        guard FileSystem.isDirectory(data.journalPath) else {
            throw ToolExit.unreadable("\(data.journalPath): no journal here (keys rotate needs an existing journal)")
        }
        if let holder = JournalLockProbe.otherHolder(of: data.journalPath) {
            throw ToolExit(
                .journalInUse,
                message: "journal-tool: error: \(data.journalPath) is open in process \(holder) (a running `tally serve`?); stop it and retry")
        }
        var configuration = Journal.Configuration(directory: data.directoryPath)
        configuration.createIfMissing = false
        configuration.logger.logLevel = .warning
        let journal = try Journal.open(configuration)
        // The current key is the last on the endorsement chain (Journal.open refuses strays).
        let previous = try journal.keyRecords().last?.keyID
        let newID: KeyID
        do {
            newID = try await journal.rotateSigningKey()
        } catch {
            journal.close()
            throw error
        }
        let records = try journal.keyRecords()
        journal.close()
        let activatedAt = records.first { $0.keyID == newID }?.activatedAt ?? 0
        let store = SigningKeyStore(directory: data.keysPath)
        let output = Output(
            previousKeyID: previous?.hex, keyID: newID.hex, activatedAt: activatedAt,
            publicKeyFiles: records.map { store.publicKeyPath($0.keyID) })
        if json {
            try JSONOutput.print(output)
        } else {
            print("rotated      \(output.previousKeyID ?? "none") -> \(output.keyID)")
            print("activated at sequence \(activatedAt)")
            print("private key  \(store.privateKeyPath(newID))  (the old private key was deleted)")
            for file in output.publicKeyFiles { print("public key   \(file)") }
        }
    }
}
