import ArgumentParser
import Foundation
import Journal
import TallyCrypto

/// `journal-tool example` (hidden): writes the small journal used as the worked example in
/// `Schemas/journal.md` and prints its stored bytes.
///
/// Block 1 is reproducible byte for byte: a fixed, public example key (seed 0x00...0x1f), a
/// fixed clock, fixed events. The journal then rotates to a fresh random key and appends one
/// more event, so that the example also shows an endorsement; that part differs on every run.
struct ExampleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "example",
        abstract: "Create the worked-example journal of Schemas/journal.md (never for real use).",
        shouldDisplay: false
    )

    /// The example key's seed: bytes 0x00...0x1f. Public knowledge; it signs nothing real.
    static let exampleSeed = (0..<32).map { UInt8($0) }
    /// 2026-01-01T00:00:00Z.
    static let exampleTimeMilliseconds: UInt64 = 1_767_225_600_000

    static let firstBlockEvents = [
        EventDraft(typeName: "greeting", payload: Array("hello".utf8)),
        EventDraft(typeName: "greeting", payload: Array("bonjour".utf8)),
        EventDraft(typeName: "greeting", payload: Array("hola".utf8)),
    ]
    static let secondBlockEvents = [EventDraft(typeName: "binary", payload: [0xde, 0xad, 0xbe, 0xef])]

    @OptionGroup var data: DataDirectoryOptions

    func run() async throws {
        let directory = data.directoryPath
        let files = FileManager.default
        if files.fileExists(atPath: data.journalPath) || files.fileExists(atPath: data.keysPath) {
            throw ToolExit.usage("\(directory) already holds a journal or keys; the example needs an empty directory")
        }
        try files.createDirectory(atPath: data.keysPath, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try files.setAttributes([.posixPermissions: 0o700], ofItemAtPath: directory)

        let key = try Ed25519PrivateKey(seed: Self.exampleSeed)
        let keyID = KeyID(publicKey: key.publicKey)
        let store = SigningKeyStore(directory: data.keysPath)
        try store.publish(key.publicKey)
        guard files.createFile(
            atPath: store.privateKeyPath(keyID), contents: Data(key.pemRepresentation.utf8),
            attributes: [.posixPermissions: 0o600])
        else { throw ToolExit.usage("\(store.privateKeyPath(keyID)): cannot write the example key") }

        var configuration = Journal.Configuration(directory: directory)
        let time = Self.exampleTimeMilliseconds
        configuration.clock = { time }
        configuration.logger.logLevel = .warning
        let journal = try Journal.open(configuration)
        _ = try await journal.append(Self.firstBlockEvents)
        let rotatedID = try await journal.rotateSigningKey()
        _ = try await journal.append(Self.secondBlockEvents)
        journal.close()

        print("example journal in \(directory) (never use its key for anything real)")
        print("first key      \(keyID.hex)  seed \(Hex.encode(Self.exampleSeed))")
        print("               \(store.publicKeyPath(keyID))")
        print("second key     \(rotatedID.hex)  random, from the rotation before event 4")
        print("               \(store.publicKeyPath(rotatedID))")
        print("clock          \(time) ms = \(TimeText.iso8601(milliseconds: time))")
        try printContents(journal.storage)
    }

    /// Prints every stored event, block and key record in hex.
    private func printContents(_ storage: LMDBJournalStorage) throws {
        try storage.read { reader in
            try reader.forEachEventRecord(from: 1) { sequence, record in
                guard case .success(let view) = EventRecord.parse(record) else { return true }
                print("")
                print("event \(sequence)  type \(String(decoding: view.typeName, as: UTF8.self))  payload \(Hex.encode(view.payload))")
                print("  key        \(Hex.encode(withUnsafeBytes(of: sequence.bigEndian) { Array($0) }))")
                print("  record     \(Hex.encode(record))")
                print("  hash       \(view.storedHash.hex)")
                print("  body       \(Hex.encode(view.body))")
                return true
            }
            try reader.forEachBlockRecord(endingAtOrAfter: 1) { storedUnder, bytes in
                guard case .success(let block) = SealedBlock.parse(bytes) else { return true }
                print("")
                print("block \(block.header.firstSequence)...\(block.header.lastSequence)  stored under \(storedUnder)  key \(block.header.keyID.hex)")
                print("  header     \(Hex.encode(block.header.bytes))")
                print("  signature  \(Hex.encode(block.signature))")
                print("  message    \(Hex.encode(block.header.signedMessage))")
                return true
            }
            for entry in try reader.keyRecords() {
                print("")
                print("key record \(KeyID(value: entry.keyID).hex)")
                print("  record     \(Hex.encode(entry.bytes))")
            }
        }
    }
}
