// A child process for the journal crash tests. It opens the journal in the data directory
// given as its first argument, appends from several concurrent tasks until it is killed, and
// prints "ack SEQUENCE PAYLOAD" on standard output only after each append is durable.
import Foundation
import Journal

let arguments = CommandLine.arguments
guard arguments.count >= 2 else {
    FileHandle.standardError.write(Data("usage: tally-crash-child DATA-DIRECTORY [TASKS]\n".utf8))
    exit(2)
}
if arguments.count >= 3 && arguments[2] == "--hold-reader" {
    // Hold a read transaction until killed, to leave a stale reader slot behind.
    let storage = try LMDBJournalStorage.open(at: Journal.journalPath(in: arguments[1]), create: false, readOnly: true)
    try storage.read { _ in
        FileHandle.standardOutput.write(Data("holding\n".utf8))
        while true { sleep(1) }
    }
}
let tasks = arguments.count >= 3 ? Int(arguments[2]) ?? 8 : 8
let journal: Journal
do {
    journal = try Journal.open(Journal.Configuration(directory: arguments[1]))
} catch {
    FileHandle.standardError.write(Data("open failed: \(error)\n".utf8))
    exit(1)
}
let run = UUID().uuidString.prefix(8)
FileHandle.standardOutput.write(Data("ready \(journal.head)\n".utf8))
await withTaskGroup(of: Void.self) { group in
    for task in 0..<tasks {
        group.addTask {
            var index = 0
            while true {
                // Mix single appends and small batches, as a loaded server would see.
                let count = index % 5 == 0 ? 3 : 1
                let drafts = (0..<count).map { part in
                    EventDraft(typeName: "crash.test", payload: Array("\(run)-\(task)-\(index)-\(part)".utf8))
                }
                do {
                    let commit = try await journal.append(drafts)
                    var lines = ""
                    for (sequence, draft) in zip(commit.sequences!, drafts) {
                        lines += "ack \(sequence) \(String(decoding: draft.payload, as: UTF8.self))\n"
                    }
                    // Unbuffered: the line reaches the parent before the next append starts.
                    FileHandle.standardOutput.write(Data(lines.utf8))
                } catch {
                    FileHandle.standardError.write(Data("append failed: \(error)\n".utf8))
                    exit(1)
                }
                index += 1
            }
        }
    }
}
