import Foundation
import TallyTestSupport
import Testing
import TallyCrypto
@testable import Journal

@Suite("Journal appends")
struct JournalAppendTests {
    @Test("appends get gap-free sequences and receipts that verify with the public key and payload")
    func appendAndReceipts() async throws {
        let directory = TemporaryDirectory()
        let journal = try openJournal(directory.path)
        let first = try await journal.append(draft("one"))
        let batch = try await journal.append([draft("two"), draft("three"), draft("four")])
        #expect(first.sequences == 1...1)
        #expect(batch.sequences == 2...4)
        let publicKey = try signingKey(in: directory.path).publicKey
        let receipts = first.receipts + batch.receipts
        for (receipt, text) in zip(receipts, ["one", "two", "three", "four"]) {
            #expect(receipt.violation(publicKey: publicKey, payload: Array(text.utf8)) == nil)
            #expect(receipt.violation(publicKey: publicKey, payload: Array("other".utf8)) != nil)
            // The receipt fetched later is the same as the one returned by append.
            #expect(try journal.receipt(for: receipt.sequence) == receipt)
        }
        #expect(try journal.event(at: 3)?.payload == Array("three".utf8))
        #expect(try journal.event(at: 5) == nil)
        #expect(journal.head == 4)
        #expect(try journal.verify().isValid)
        journal.close()
    }

    @Test("large batches, sealed on the sealer thread beside the writer, verify and give valid receipts", arguments: [63, 64, 65, 1000, 10_000])
    func largeBatches(size: Int) async throws {
        let directory = TemporaryDirectory()
        let journal = try openJournal(directory.path)
        _ = try await journal.append(draft("first"))
        let drafts = (0..<size).map { draft("large-\($0)-" + String(repeating: "x", count: $0 % 300), type: "large.e\($0 % 7)") }
        let commit = try await journal.append(drafts)
        #expect(commit.sequences == 2...UInt64(size + 1))
        let publicKey = try signingKey(in: directory.path).publicKey
        let receipts = commit.receipts
        #expect(receipts.count == size)
        for index in [0, size / 2, size - 1] {
            #expect(receipts[index].violation(publicKey: publicKey, payload: drafts[index].payload) == nil)
            #expect(receipts[index] == commit.batch!.receipt(for: UInt64(index + 2)))
        }
        #expect(try journal.event(at: UInt64(size + 1))?.payload == drafts[size - 1].payload)
        let report = try journal.verify()
        #expect(report.isValid)
        #expect(report.eventsVerified == UInt64(size + 1))
        journal.close()
    }

    @Test("a receipt whose signed header states a range beyond what an Int holds is refused, not a crash")
    func receiptWithHugeRange() async throws {
        let directory = TemporaryDirectory()
        let journal = try openJournal(directory.path)
        defer { journal.close() }
        let receipt = try await journal.append([draft("only")]).receipts[0]
        let key = try signingKey(in: directory.path)
        let header = BlockHeader(firstSequence: 1, lastSequence: .max, chainHead: receipt.block.chainHead, merkleRoot: receipt.block.merkleRoot,
                                 timeMilliseconds: receipt.block.timeMilliseconds, keyID: KeyID(publicKey: key.publicKey))
        var forged = receipt
        forged.block.lastSequence = .max
        forged.block.headerHex = Hex.encode(header.bytes)
        forged.signature = Hex.encode(key.signature(for: header.signedMessage))
        #expect(forged.violation(publicKey: key.publicKey) == "sequence, leafIndex or leafCount do not fit the block")
    }

    @Test("a receipt altered in any field, or checked under another key, is refused")
    func tamperedReceipts() async throws {
        let directory = TemporaryDirectory()
        let journal = try openJournal(directory.path)
        let commit = try await journal.append((1...5).map { draft("e\($0)") })
        let receipt = commit.receipts[2]
        let publicKey = try signingKey(in: directory.path).publicKey
        #expect(receipt.violation(publicKey: publicKey) == nil)
        var altered = receipt
        altered.sequence += 1
        #expect(altered.violation(publicKey: publicKey) != nil)
        altered = receipt
        altered.eventHash = SHA256.hash([1, 2, 3])
        #expect(altered.violation(publicKey: publicKey) != nil)
        altered = receipt
        altered.merklePath.removeLast()
        #expect(altered.violation(publicKey: publicKey) != nil)
        altered = receipt
        var signature = Hex.decode(altered.signature)!
        signature[0] ^= 1
        altered.signature = Hex.encode(signature)
        #expect(altered.violation(publicKey: publicKey) != nil)
        let otherKey = try Ed25519PrivateKey.generate().publicKey
        #expect(receipt.violation(publicKey: otherKey) != nil)
        journal.close()
    }

    @Test("the head and events survive closing and reopening")
    func reopen() async throws {
        let directory = TemporaryDirectory()
        try await buildJournal(directory.path, blocks: 3, perBlock: 5)
        let journal = try openJournal(directory.path)
        #expect(journal.head == 15)
        let next = try await journal.append(draft("sixteen"))
        #expect(next.sequences == 16...16)
        #expect(try journal.verify().eventsVerified == 16)
        journal.close()
    }

    @Test("many concurrent appenders get distinct sequences in per-caller order, and every receipt verifies")
    func concurrentAppenders() async throws {
        let directory = TemporaryDirectory()
        let journal = try openJournal(directory.path)
        let publicKey = try signingKey(in: directory.path).publicKey
        let callers = 16
        let appendsPerCaller = 60
        let results = try await withThrowingTaskGroup(of: [(UInt64, Receipt)].self) { group in
            for caller in 0..<callers {
                group.addTask {
                    var mine: [(UInt64, Receipt)] = []
                    for index in 0..<appendsPerCaller {
                        let commit = try await journal.append(draft("caller-\(caller)-\(index)"))
                        mine.append((commit.sequences!.lowerBound, commit.receipts[0]))
                    }
                    return mine
                }
            }
            var all: [[(UInt64, Receipt)]] = []
            for try await mine in group { all.append(mine) }
            return all
        }
        var seen = Set<UInt64>()
        for mine in results {
            let sequences = mine.map(\.0)
            #expect(sequences == sequences.sorted(), "one caller's appends keep their order")
            for (sequence, receipt) in mine {
                #expect(seen.insert(sequence).inserted, "sequence \(sequence) given twice")
                let payload = try journal.event(at: sequence)!.payload
                #expect(receipt.violation(publicKey: publicKey, payload: payload) == nil)
            }
        }
        #expect(seen == Set(1...UInt64(callers * appendsPerCaller)))
        let statistics = journal.commitStatistics
        #expect(statistics.events == UInt64(callers * appendsPerCaller))
        #expect(try journal.verify().isValid)
        journal.close()
    }

    @Test(
        "an invalid event draft is refused with the broken rule and appends nothing",
        arguments: [
            (EventDraft(typeName: "", payload: [1]), "typeName is empty"),
            (EventDraft(typeName: "has space", payload: [1]), "typeName may hold only"),
            (EventDraft(typeName: String(repeating: "a", count: 65), payload: [1]), "typeName is 65 bytes"),
            (EventDraft(typeName: "big", payload: [UInt8](repeating: 0, count: JournalLimits.eventPayloadBytesMax + 1)), "payload is"),
        ])
    func invalidDrafts(invalid: EventDraft, rule: String) async throws {
        let directory = TemporaryDirectory()
        let journal = try openJournal(directory.path)
        _ = try await journal.append(draft("before"))
        await #expect {
            _ = try await journal.append([draft("valid"), invalid])
        } throws: { error in
            guard case JournalError.invalidEvent(let reason) = error else { return false }
            return reason.contains(rule)
        }
        #expect(journal.head == 1)
        #expect(try journal.event(at: 2) == nil)
        journal.close()
    }

    @Test("a command that throws appends nothing and changes no state, while the rest of its batch commits")
    func rejectedCommand() async throws {
        struct Refused: Error {}
        let directory = TemporaryDirectory()
        let journal = try openJournal(directory.path)
        async let accepted = journal.write { context in
            JournalEffect(events: [draft("accepted")], stateChanges: [.put(key: [1], value: [42])], outcome: context.nextSequence)
        }
        async let refused: Bool = {
            do {
                _ = try await journal.write { (_: JournalWriteContext) throws -> JournalEffect<Void> in throw Refused() }
                return false
            } catch is Refused {
                return true
            }
        }()
        let first = try await accepted
        #expect(try await refused)
        #expect(first.outcome == first.sequences!.lowerBound)
        let seen = try await journal.write { context in
            JournalEffect(events: [], outcome: try context.state([1]))
        }
        #expect(seen.outcome == [42])
        #expect(seen.sequences == nil)
        #expect(journal.head == 1)
        journal.close()
    }

    @Test("a full queue refuses appends at once as overloaded instead of growing")
    func overloaded() async throws {
        let directory = TemporaryDirectory()
        let journal = try openJournal(directory.path, queueCapacity: 2)
        let gate = DispatchSemaphore(value: 0)
        let entered = DispatchSemaphore(value: 0)
        // Hold the writer inside a command so the queue fills behind it.
        let held = Task {
            try await journal.write { _ in
                entered.signal()
                gate.wait()
                return JournalEffect(events: [draft("held")], outcome: ())
            }
        }
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                entered.wait()
                continuation.resume()
            }
        }
        var waiting: [Task<JournalCommit<Void>, any Error>] = []
        for index in 0..<2 {
            waiting.append(Task { try await journal.append(draft("queued-\(index)")) })
        }
        while journal.queuedRequests < 2 {
            try await Task.sleep(for: .milliseconds(5))
        }
        await #expect {
            _ = try await journal.append(draft("one too many"))
        } throws: { error in
            guard case JournalError.overloaded(let seconds) = error else { return false }
            return seconds > 0
        }
        gate.signal()
        _ = try await held.value
        for task in waiting { _ = try await task.value }
        #expect(journal.head == 3)
        journal.close()
    }

    @Test("appends after close are refused")
    func closed() async throws {
        let directory = TemporaryDirectory()
        let journal = try openJournal(directory.path)
        journal.close()
        await #expect {
            _ = try await journal.append(draft("late"))
        } throws: { error in
            if case JournalError.closed = error { return true }
            return false
        }
    }
}
