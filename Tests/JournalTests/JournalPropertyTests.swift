import Foundation
import PropertyBased
import TallyTestSupport
import Testing
import TallyCrypto
@testable import Journal

/// Invariants of the journal over random histories: every history verifies and every receipt
/// checks; flipping any one bit of any stored event is caught at exactly that event.
@Suite("Journal properties")
struct JournalPropertyTests {
    @Test("any history of append requests verifies, with gap-free sequences and valid receipts")
    func historiesVerify() async throws {
        await propertyCheck(count: 25, input: Gen.int(in: 1...40).array(of: 1...12)) { requestSizes in
            do {
                let directory = TemporaryDirectory()
                let journal = try openJournal(directory.path)
                let publicKey = try signingKey(in: directory.path).publicKey
                var expectedNext: UInt64 = 1
                for (request, size) in requestSizes.enumerated() {
                    let drafts = (0..<size).map { draft("request-\(request)-event-\($0)", type: "prop.e\(size % 3)") }
                    let commit = try await journal.append(drafts)
                    #expect(commit.sequences == expectedNext...(expectedNext + UInt64(size) - 1))
                    expectedNext += UInt64(size)
                    for (receipt, sent) in zip(commit.receipts, drafts) {
                        #expect(receipt.violation(publicKey: publicKey, payload: sent.payload) == nil)
                    }
                }
                let report = try journal.verify()
                #expect(report.isValid)
                #expect(report.eventsVerified == UInt64(requestSizes.reduce(0, +)))
                journal.close()
            } catch {
                Issue.record(error)
            }
        }
    }

    @Test("flipping any bit of any stored event is reported at that event")
    func anyBitFlipIsCaught() async throws {
        let directory = TemporaryDirectory()
        try await buildJournal(directory.path, blocks: 6, perBlock: 7)
        let raw = try RawJournal(directory.path)
        let total = 42
        await propertyCheck(count: 60, input: Gen.int(in: 1...total), Gen.int(in: 0...10_000), Gen.int(in: 0...7)) { sequence, offset, bit in
            do {
                let original = try raw.record(UInt64(sequence))!
                var tampered = original
                let position = offset % tampered.count
                tampered[position] ^= UInt8(1) << UInt8(bit)
                try raw.setRecord(UInt64(sequence), tampered)
                let report = try verifyWithPublishedKeys(directory.path)
                try raw.setRecord(UInt64(sequence), original)
                #expect(report.failure?.sequence == UInt64(sequence), "byte \(position) bit \(bit): \(String(describing: report.failure))")
                #expect([.eventHashMismatch, .malformedEvent].contains(report.failure?.kind))
            } catch {
                Issue.record(error)
            }
        }
        #expect(try verifyWithPublishedKeys(directory.path).isValid)
    }
}
