import ArgumentParser
import Journal

/// `journal-tool inspect`: shows the journal head, one event, the block holding a sequence, or
/// the key records, as text or JSON.
struct InspectCommand: ParsableCommand, JSONOutputCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show the head, an event, the block holding a sequence, or the key records.",
        discussion: """
            inspect --data DIR head         last event, last block, metadata
            inspect --data DIR event SEQ    type, hash (recomputed), payload (text or hex)
            inspect --data DIR block SEQ    header fields, header hex, signature hex
            inspect --data DIR keys         the key records and their endorsements

            --hex adds the stored bytes (event: the record and its fields by offset; block: the \
            stored record and the signed message; keys: the records). Exits 1 when the event or \
            block does not exist.
            """
    )

    @OptionGroup var data: DataDirectoryOptions

    @Argument(help: ArgumentHelp("What to show.", valueName: "what"))
    var subject: InspectSubject

    @Argument(help: ArgumentHelp("The sequence (for event and block).", valueName: "SEQ"))
    var sequence: UInt64?

    @Flag(name: .customLong("hex"), help: "Also show the stored bytes in hex.")
    var hex = false

    @Flag(name: .customLong("json"), help: "Print JSON instead of text.")
    var json = false

    func validate() throws {
        // A negative number reads as an option to the argument parser, so it never reaches
        // `sequence`: name it as the invalid value it is, not as a missing one.
        if subject.takesSequence && sequence == nil,
           let negative = CommandLine.arguments.dropFirst().prefix(while: { $0 != "--" }).first(where: Self.isNegativeNumber) {
            throw ValidationError("invalid sequence '\(negative)': sequences are whole numbers from 1")
        }
        if sequence == 0 {
            throw ValidationError("invalid sequence '0': sequences are whole numbers from 1")
        }
        if subject.takesSequence && sequence == nil {
            throw ValidationError("inspect \(subject.rawValue) needs a sequence number")
        }
        if !subject.takesSequence && sequence != nil {
            throw ValidationError("inspect \(subject.rawValue) takes no sequence number")
        }
    }

    static func isNegativeNumber(_ argument: String) -> Bool {
        argument.count > 1 && argument.hasPrefix("-") && argument.dropFirst().allSatisfy(\.isNumber)
    }

    func run() throws {
        let storage = try data.openStorage()
        switch subject {
        case .head:
            let head = try HeadDescription.load(storage: storage)
            try emit(head, head.text)
        case .event:
            guard let sequence else { throw ToolExit.usage("inspect event needs a sequence number") }
            guard let event = try EventDescription.load(sequence: sequence, storage: storage, includeRecord: hex) else {
                throw ToolExit.notFound("no event \(sequence) (the journal's last sequence is \(try JournalReader(storage: storage).lastSequence()))")
            }
            try emit(event, event.text)
        case .block:
            guard let sequence else { throw ToolExit.usage("inspect block needs a sequence number") }
            guard let block = try BlockDescription.load(containing: sequence, storage: storage, includeRecord: hex) else {
                throw ToolExit.notFound("no block holds sequence \(sequence) (it is unsealed or past the end)")
            }
            try emit(block, block.text)
        case .keys:
            let records = try KeyRecordDescription.loadAll(storage: storage, keysDirectory: data.keysPath, includeRecord: hex)
            try emit(records, records.map(\.text).joined(separator: "\n\n"))
        }
    }

    private func emit<Value: Encodable>(_ value: Value, _ text: String) throws {
        if json {
            try JSONOutput.print(value)
        } else {
            print(text)
        }
    }
}
