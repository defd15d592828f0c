import Dispatch
import Journal
import Ledger
import Projections

// The parallel half of the audit: the workers decode each event of a chunk, make the checks
// that need nothing but the event, and reduce it to what the in-order fold needs (the
// postings as account indices and amounts, a capture's totals, or the event itself for the
// few kinds whose checks need the history).

extension LedgerAudit {
    /// Stored records copied out of the journal in one buffer (not one array per event), for
    /// the workers to decode while the reader goes on.
    struct RecordChunk {
        var bytes: [UInt8] = []
        var sequences: [UInt64] = []
        /// The end of each record in `bytes`; each starts where the one before ends.
        var ends: [Int] = []

        var count: Int { sequences.count }

        mutating func append(sequence: UInt64, record: UnsafeRawBufferPointer) {
            bytes.append(contentsOf: record)
            sequences.append(sequence)
            ends.append(bytes.count)
        }

        mutating func removeAll() {
            bytes.removeAll(keepingCapacity: true)
            sequences.removeAll(keepingCapacity: true)
            ends.removeAll(keepingCapacity: true)
        }

        func range(_ index: Int) -> Range<Int> {
            (index == 0 ? 0 : ends[index - 1])..<ends[index]
        }

        /// The type name and payload of record `index` (for naming why it does not decode).
        func record(_ index: Int) -> (typeName: String, payload: [UInt8]) {
            bytes.withUnsafeBytes { bytes in
                guard case .success(let view) = EventRecord.parse(UnsafeRawBufferPointer(rebasing: bytes[range(index)])) else {
                    preconditionFailure("event \(sequences[index]) no longer parses")
                }
                return (String(decoding: view.typeName, as: UTF8.self), Array(view.payload))
            }
        }
    }

    /// A posting reduced for the fold: an account index, or `-1 - i` for the name
    /// `unresolved[i]` of its slice (an account the workers did not know), and the amount.
    struct FoldPosting {
        let debit: Int32
        let credit: Int32
        let amount: Int64
    }

    /// What the fold needs of one event beyond its postings.
    enum Content {
        /// It does not decode: the fold names why (``LedgerAudit/classify(_:sequence:typeName:payload:)``).
        case undecodable(any Error)
        /// A capture, with the sum of its royalties and its fee, and its payment (which names
        /// its currency).
        case capture(royalties: Int64, fee: Int64, payment: RefundAudit.Step)
        /// A refund or a dispute, checked against what the buyer paid.
        case payment(RefundAudit.Step)
        /// A vendor's registration or settlement, funds or a payout that wait or end a wait, or
        /// a referral's events, checked against the history.
        case history(LedgerEvent)
        /// A credit line's approved limit, which bounds how much of it is in use.
        case creditLimit(account: String, limit: Int64)
        /// Nothing but its postings.
        case plain
    }

    struct DecodedEvent {
        let sequence: UInt64
        /// Its place in the chunk's records.
        let recordIndex: Int
        let content: Content
        /// Its postings do not balance per currency (or move a non-positive amount).
        let postingsFailure: AuditFailure?
        /// A capture whose royalties and fee do not match its postings, or a refund that
        /// disagrees with its own postings.
        let ownFailure: AuditFailure?
        /// What it changes in its user's spending limits or spending (with the whole history).
        let spending: SpendingAudit.Input?
        /// It is a purchase whose URL is held to its vendor's sites (with the whole history), and
        /// how it fared against them as they were when the chunk began.
        let checksSite: Bool
        let siteFailure: AuditFailure?
        let postingCount: Int
        /// The end of its postings in its slice's `postings` (they start where the previous
        /// event's end).
        let postingsEnd: Int
    }

    /// The events of one worker's share of a chunk, in order.
    struct DecodedSlice {
        var events: [DecodedEvent] = []
        var postings: [FoldPosting] = []
        var unresolved: [String] = []

        func name(_ reference: Int32) -> String {
            unresolved[Int(-1 - reference)]
        }

        mutating func reference(_ account: String, known: StringIndex?) -> Int32 {
            if let index = known?.index(of: account) { return Int32(index) }
            unresolved.append(account)
            return Int32(-unresolved.count)
        }
    }

    /// A chunk of records being decoded by the workers, then folded.
    final class DecodingChunk: @unchecked Sendable {
        // `records` is read by the workers and `slices` written by them (each its own
        // element) only between `start` and the end of `wait`; the reading thread touches
        // neither in between.
        private(set) var records: RecordChunk
        private(set) var slices: [DecodedSlice]
        /// The last event folded when the workers began (see ``start``).
        private(set) var sitesAsOf: UInt64 = 0
        private let sliceEvents: Int
        private let done = DispatchGroup()

        init(records: RecordChunk, sliceEvents: Int) {
            self.records = records
            self.sliceEvents = sliceEvents
            slices = Array(repeating: DecodedSlice(), count: (records.count + sliceEvents - 1) / sliceEvents)
        }

        /// Decodes every record, on the other cores (`pipelined`: returns at once; call `wait`)
        /// or before returning.
        /// `following`: the users whose spending events are handed over in full (nil: none are
        /// checked, see ``SpendingAudit``).
        /// `sites`: each vendor's sites after event `sitesAsOf`, to hold purchases to (nil: none are).
        func start(
            known: StringIndex?, foldsBalances: Bool, following: Set<String>?, sites: [String: [String]]?, sitesAsOf: UInt64,
            pipelined: Bool
        ) {
            self.sitesAsOf = sitesAsOf
            guard pipelined else {
                decode(known: known, foldsBalances: foldsBalances, following: following, sites: sites)
                return
            }
            done.enter()
            DispatchQueue.global().async {
                self.decode(known: known, foldsBalances: foldsBalances, following: following, sites: sites)
                self.done.leave()
            }
        }

        func wait() {
            done.wait()
        }

        /// The records' buffers, emptied, for the next chunk (after `wait`).
        func recycled() -> RecordChunk {
            var recycled = RecordChunk()
            swap(&recycled, &records)
            recycled.removeAll()
            return recycled
        }

        private func decode(known: StringIndex?, foldsBalances: Bool, following: Set<String>?, sites: [String: [String]]?) {
            let records = self.records
            let sliceEvents = self.sliceEvents
            slices.withUnsafeMutableBufferPointer { buffer in
                nonisolated(unsafe) let output = buffer
                records.bytes.withUnsafeBytes { bytes in
                    nonisolated(unsafe) let bytes = bytes
                    DispatchQueue.concurrentPerform(iterations: output.count) { slice in
                        let start = slice * sliceEvents
                        let end = min(records.count, start + sliceEvents)
                        var decoded = DecodedSlice()
                        decoded.events.reserveCapacity(end - start)
                        decoded.postings.reserveCapacity(foldsBalances ? (end - start) * 4 : 0)
                        for index in start..<end {
                            LedgerAudit.decode(
                                UnsafeRawBufferPointer(rebasing: bytes[records.range(index)]), sequence: records.sequences[index],
                                recordIndex: index, known: known, foldsBalances: foldsBalances, following: following, sites: sites,
                                into: &decoded)
                        }
                        output[slice] = decoded
                    }
                }
            }
        }
    }

    /// Decodes one stored record and appends what the fold needs of it to `slice`.
    static func decode(
        _ record: UnsafeRawBufferPointer, sequence: UInt64, recordIndex: Int, known: StringIndex?, foldsBalances: Bool,
        following: Set<String>?, sites: [String: [String]]?,
        into slice: inout DecodedSlice
    ) {
        guard case .success(let view) = EventRecord.parse(record) else {
            // The verifier parsed this record already; a snapshot cannot change under us.
            preconditionFailure("event \(sequence) no longer parses")
        }
        let event: LedgerEvent
        do {
            // The records are bytes of a [UInt8] (``RecordChunk``), so typed UInt8 memory.
            event = try LedgerEvent(
                typeName: String(decoding: view.typeName, as: UTF8.self), payload: view.payload.assumingMemoryBound(to: UInt8.self))
        } catch {
            slice.events.append(DecodedEvent(
                sequence: sequence, recordIndex: recordIndex, content: .undecodable(error), postingsFailure: nil,
                ownFailure: nil, spending: nil, checksSite: false, siteFailure: nil, postingCount: 0, postingsEnd: slice.postings.count))
            return
        }
        let postings = event.postings
        if foldsBalances {
            for posting in postings {
                let debit = slice.reference(posting.debit, known: known)
                let credit = slice.reference(posting.credit, known: known)
                slice.postings.append(FoldPosting(debit: debit, credit: credit, amount: posting.amount))
            }
        }
        let content: Content
        var ownFailure: AuditFailure?
        switch event {
        case .purchaseCaptured(let captured):
            content = .capture(
                royalties: captured.royalties.reduce(0) { $0 &+ $1.amount }, fee: captured.fee, payment: RefundAudit.capture(captured))
            ownFailure = Self.captureFailure(captured, at: sequence) ?? PurchaseAudit.failure(captured, at: sequence)
        case .vendorRegistered, .vendorSettled, .royaltiesPaid:
            content = .history(event)
        case .creditLineApproved(let approved):
            content = .creditLimit(account: LedgerAccount.creditLine(user: approved.user, currency: approved.currency).name, limit: approved.limit)
        default:
            ownFailure = RefundAudit.ownFailure(event, at: sequence) ?? PurchaseAudit.failure(event, at: sequence)
                ?? FundsAudit.failure(event, at: sequence)
            if case .vendorUpdated = event {
                // Its sites are noted in order; its fee rate is the refund audit's step.
                content = .history(event)
            } else if let step = RefundAudit.step(of: event) {
                content = .payment(step)
            } else {
                content = PendingFundsAudit.concerns(event) || ReferralAudit.concerns(event) ? .history(event) : .plain
            }
        }
        slice.events.append(DecodedEvent(
            sequence: sequence, recordIndex: recordIndex, content: content,
            postingsFailure: postingsFailure(event, at: sequence), ownFailure: ownFailure,
            spending: following.flatMap { SpendingAudit.input(of: event, following: $0) },
            checksSite: sites != nil && checksSite(event), siteFailure: sites.flatMap { siteFailure(event, sites: $0, at: sequence) },
            postingCount: postings.count, postingsEnd: slice.postings.count))
    }
}
