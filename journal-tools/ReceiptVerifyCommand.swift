import ArgumentParser
import Foundation
import Journal
import TallyCrypto

/// `journal-tool receipt verify`: checks a receipt with nothing but the journal's public key
/// (and optionally the event's payload), as a vendor or user would.
struct ReceiptVerifyCommand: ParsableCommand, JSONOutputCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Verify a receipt (JSON) under a journal public key.",
        discussion: """
            Checks that the block header in the receipt is signed by the key, that the Merkle \
            path leads from the event hash to the header's Merkle root, and, with --payload, \
            that the event hash is the hash of those payload bytes at the receipt's sequence \
            after its previous hash. Exit codes: 0 valid; 1 invalid (the reason is printed); \
            2 the receipt or key file cannot be read.
            """
    )

    @Argument(help: ArgumentHelp("The receipt, as printed by `receipt get` or returned by the API; - for stdin.", valueName: "FILE"))
    var receiptFile: String

    @Option(name: .customLong("public-key"), help: ArgumentHelp("The journal's Ed25519 public key (PEM).", valueName: "PEMFILE"))
    var publicKeyFile: String

    @Option(name: .customLong("payload"), help: ArgumentHelp("The event's payload bytes, to check against the event hash.", valueName: "FILE"))
    var payloadFile: String?

    @Flag(name: .customLong("json"), help: "Print a JSON object instead of text.")
    var json = false

    func run() throws {
        let receipt = try Self.loadReceipt(receiptFile)
        let publicKey = try PublicKeyFile.load(publicKeyFile)
        var payload: [UInt8]?
        if let payloadFile {
            guard let data = FileManager.default.contents(atPath: payloadFile) else {
                throw ToolExit.unreadable("\(payloadFile): cannot read the payload file")
            }
            payload = Array(data)
        }
        let violation = receipt.violation(publicKey: publicKey, payload: payload)
        let outcome = ReceiptVerification(
            valid: violation == nil, reason: violation, sequence: receipt.sequence, eventHash: receipt.eventHash.hex,
            block: "\(receipt.block.firstSequence)...\(receipt.block.lastSequence)", keyID: receipt.block.keyID,
            payloadChecked: payload != nil)
        if json {
            try JSONOutput.print(outcome)
        } else if let violation {
            print("invalid: \(violation)")
        } else {
            // The type name is covered by the event hash, which only a payload lets us recompute.
            let type = payload != nil ? " (\(receipt.typeName))" : ""
            var line = "valid: event \(receipt.sequence)\(type) with hash \(receipt.eventHash.hex) is in block "
            line += "\(outcome.block), signed by key \(receipt.block.keyID) at \(TimeText.iso8601(milliseconds: receipt.block.timeMilliseconds))"
            line += payload != nil ? "; the payload (and its type) match the event hash" : "; its type and payload are checked only with --payload"
            print(line)
        }
        if violation != nil { throw ToolExit.printed(.checkFailed) }
    }

    /// Decodes a receipt file; anything that is not a receipt is a usage error naming the file.
    static func loadReceipt(_ path: String) throws -> Receipt {
        let data: Data?
        if path == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            data = FileManager.default.contents(atPath: path)
        }
        guard let data else { throw ToolExit.unreadable("\(path): cannot read the receipt file") }
        do {
            return try JSONDecoder().decode(Receipt.self, from: data)
        } catch let error as DecodingError {
            throw ToolExit.unreadable("\(path): not a Tally receipt: \(Self.describe(error))")
        }
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
            return keys.isEmpty ? "" : "\(keys): "
        }
        switch error {
        case .keyNotFound(let key, let context): return "\(path(context))missing key '\(key.stringValue)'"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            return path(context) + context.debugDescription
        @unknown default: return "\(error)"
        }
    }
}
