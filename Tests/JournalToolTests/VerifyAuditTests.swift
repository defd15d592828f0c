import Foundation
import Journal
import Ledger
import TallyCrypto
import TallyTestSupport
import Testing
@testable import journal_tool

@Suite("journal-tool verify: the full audit", .serialized)
struct VerifyAuditTests {
    @Test("a ledger journal verifies: chain, signatures, postings, balances equal to the write model, settlements")
    func validLedgerJournal() async throws {
        let data = try await Fixtures.shared.smallJournal()
        let run = try ToolRun.run(["verify", "--data", data, "--json"])
        #expect(run.status == 0, "\(run.summary)")
        #expect(run.errors.isEmpty, "progress must stay quiet when stderr is not a terminal: \(run.errors)")
        let audit = try #require(run.json["audit"] as? [String: Any])
        #expect(audit["mode"] as? String == "ledger")
        let report = try #require(audit["report"] as? [String: Any])
        let events = (run.json["eventsVerified"] as? NSNumber)?.uint64Value
        #expect((report["eventsAudited"] as? NSNumber)?.uint64Value == events)
        #expect(((report["writeModelBalancesCompared"] as? NSNumber)?.intValue ?? 0) > 10)
        #expect((report["settlements"] as? NSNumber)?.intValue == 3)
        // Royalties: 10 % of each captured price to each holder listed.
        let royalties = try #require(report["royaltyTotals"] as? [String: Any])
        let eur = ToolRun.integer(royalties["EUR"])
        let usd = ToolRun.integer(royalties["USD"])
        #expect(eur == 13 * 90)
        #expect(usd == (12 + 1 + 1 + 1 + 2 + 2 + 1) * 2 * 25)  // the clip has no royalties
        // The label's USD royalties (25 a song, 15 songs) were paid out once, at the end.
        #expect((report["royaltyPayouts"] as? NSNumber)?.intValue == 1)
        #expect(ToolRun.integer((report["royaltiesPaidOut"] as? [String: Any])?["USD"]) == 15 * 25)
        // Two refunds of a song (100 and the other 150), one of 300 of a film and the dispute's
        // refund of its other 600.
        #expect((report["refunds"] as? NSNumber)?.intValue == 4)
        #expect(ToolRun.integer((report["refundedTotals"] as? [String: Any])?["USD"]) == 250)
        #expect(ToolRun.integer((report["refundedTotals"] as? [String: Any])?["EUR"]) == 900)
        #expect(report["refundsNote"] is NSNull)

        let text = try ToolRun.run(["verify", "--data", data])
        #expect(text.status == 0)
        #expect(text.output.contains("balances equal the recomputed ones"))
        #expect(text.output.contains("result        valid") || text.output.contains("valid"))
        #expect(text.output.contains("4, 900 EUR, 250 USD given back, never more than the buyer paid"), "\(text.summary)")
    }

    @Test("a range is audited event by event; the write model is compared only for the whole journal")
    func rangeAudit() async throws {
        let data = try await Fixtures.shared.smallJournal()
        let run = try ToolRun.run(["verify", "--data", data, "--from", "10", "--json"])
        #expect(run.status == 0, "\(run.summary)")
        let report = try #require((run.json["audit"] as? [String: Any])?["report"] as? [String: Any])
        #expect(report["writeModelBalancesCompared"] is NSNull)
        #expect((report["writeModelNote"] as? String)?.contains("not compared") == true)
    }

    @Test("a range that does not start at 1 says settlements were not checked against the payable, in text and JSON")
    func rangeSettlementsNotClaimed() async throws {
        let data = try await Fixtures.shared.smallJournal()
        let partial = try ToolRun.run(["verify", "--data", data, "--from", "10", "--json"])
        #expect(partial.status == 0, "\(partial.summary)")
        let report = try #require((partial.json["audit"] as? [String: Any])?["report"] as? [String: Any])
        #expect(ToolRun.integer(report["settlements"]) ?? 0 > 0, "the range holds settlements: \(partial.summary)")
        #expect(report["settlementsAgainstPayable"] as? Bool == false)
        #expect((report["settlementsNote"] as? String)?.contains("not checked against the payable") == true)
        let text = try ToolRun.run(["verify", "--data", data, "--from", "10"])
        #expect(text.status == 0)
        #expect(!text.output.contains("exactly what the payable held"), "\(text.summary)")
        #expect(text.output.contains("not checked against the payable"), "\(text.summary)")

        let whole = try ToolRun.run(["verify", "--data", data, "--json"])
        let wholeReport = try #require((whole.json["audit"] as? [String: Any])?["report"] as? [String: Any])
        #expect(wholeReport["settlementsAgainstPayable"] as? Bool == true)
        #expect(wholeReport["settlementsNote"] is NSNull)
        #expect(try ToolRun.run(["verify", "--data", data]).output.contains("each exactly what the payable held"))
    }

    @Test("a range that starts or ends at 0, or ends before it starts, is a usage error (exit 2) naming the option")
    func badRanges() async throws {
        let data = try await Fixtures.shared.smallJournal()
        for (arguments, says) in [(["--from", "0"], "--from must be at least 1"), (["--through", "0"], "--through must be at least 1"),
                                  (["--from", "5", "--through", "4"], "--through 4 is before --from 5")] {
            let run = try ToolRun.run(["verify", "--data", data] + arguments)
            #expect(run.status == 2, "\(arguments): \(run.summary)")
            #expect(run.errors.contains(says), "\(arguments): \(run.summary)")
        }
    }

    @Test("--audit chain skips the ledger audit; a journal of other events is checked as a journal only")
    func chainOnly() async throws {
        let root = TemporaryDirectory()
        let example = try ToolRun.run(["example", "--data", root.path + "/example"])
        #expect(example.status == 0, "\(example.summary)")
        let auto = try ToolRun.run(["verify", "--data", root.path + "/example", "--json"])
        #expect(auto.status == 0, "\(auto.summary)")
        #expect((auto.json["audit"] as? [String: Any])?["mode"] as? String == "chain")
        let forced = try ToolRun.run(["verify", "--data", root.path + "/example", "--audit", "ledger", "--json"])
        #expect(forced.status == 24, "\(forced.summary)")
        #expect(forced.failureKind == "undecodable-event")
        #expect(forced.failureSequence == 1)
    }

    /// Rewrites one event's payload and re-signs everything after it with the journal's key.
    static func resealed(_ data: String, typeName: String, nth: Int = 0, _ change: (String) -> String) throws -> (DataCopy, UInt64) {
        let copy = try DataCopy(of: data)
        let raw = try RawJournal(copy.path)
        var seen = 0
        for sequence in 1...(try raw.lastSequence()) {
            let event = try raw.event(sequence)
            guard event.typeName == typeName else { continue }
            if seen == nth {
                let text = String(decoding: event.payload, as: UTF8.self)
                let changed = change(text)
                precondition(changed != text, "the change must change the payload")
                try raw.reseal(sequence, payload: Array(changed.utf8))
                return (copy, sequence)
            }
            seen += 1
        }
        throw RawJournalError("no \(typeName) #\(nth)")
    }

    @Test("postings that do not sum to zero per currency are found, even when the key holder re-signed them")
    func unbalancedPostings() async throws {
        let data = try await Fixtures.shared.smallJournal()
        // The vendor's credit is moved to an account of another currency.
        let (copy, sequence) = try Self.resealed(data, typeName: "PurchaseCaptured", nth: 2) {
            $0.replacingOccurrences(of: "\"credit\":\"vendor:shop:USD\"", with: "\"credit\":\"vendor:shop:EUR\"")
        }
        let chain = try ToolRun.run(["verify", "--data", copy.path, "--audit", "chain", "--json"])
        #expect(chain.status == 0, "the re-signed journal passes the journal's own checks: \(chain.summary)")
        let run = try ToolRun.run(["verify", "--data", copy.path, "--json"])
        #expect(run.status == 25, "\(run.summary)")
        #expect(run.failureKind == "unbalanced-postings")
        #expect(run.failureSequence == sequence)
    }

    @Test("an event that does not decode as the ledger event its type names is found")
    func undecodable() async throws {
        let data = try await Fixtures.shared.smallJournal()
        let (copy, sequence) = try Self.resealed(data, typeName: "TokensTransferred") {
            $0.replacingOccurrences(of: "\"amount\":1234", with: "\"amount\":\"1234\"")
        }
        let run = try ToolRun.run(["verify", "--data", copy.path, "--json"])
        #expect(run.status == 24, "\(run.summary)")
        #expect(run.failureKind == "undecodable-event")
        #expect(run.failureSequence == sequence)
    }

    @Test("a royalty listed but not posted, and a settlement above the payable, are settlement inconsistencies")
    func settlementAndRoyalties() async throws {
        let data = try await Fixtures.shared.smallJournal()
        let (royalty, royaltySequence) = try Self.resealed(data, typeName: "PurchaseCaptured", nth: 0) {
            $0.replacingOccurrences(of: "{\"amount\":25,\"holder\":\"label\"}", with: "{\"amount\":26,\"holder\":\"label\"}")
        }
        let royaltyRun = try ToolRun.run(["verify", "--data", royalty.path, "--json"])
        #expect(royaltyRun.status == 27, "\(royaltyRun.summary)")
        #expect(royaltyRun.failureKind == "settlement-inconsistent")
        #expect(royaltyRun.failureSequence == royaltySequence)

        let raw = try RawJournal(data)
        var settled: Int64 = 0
        for sequence in 1...(try raw.lastSequence()) where try raw.event(sequence).typeName == "VendorSettled" {
            let event = try LedgerEvent(typeName: "VendorSettled", payload: try raw.event(sequence).payload)
            if case .vendorSettled(let settlement) = event { settled = settlement.amount }
            break
        }
        #expect(settled > 0)
        let (over, overSequence) = try Self.resealed(data, typeName: "VendorSettled") {
            $0.replacingOccurrences(of: "\"amount\":\(settled)", with: "\"amount\":\(settled + 1)")
        }
        let overRun = try ToolRun.run(["verify", "--data", over.path, "--json"])
        #expect(overRun.status == 27, "\(overRun.summary)")
        #expect(overRun.failureSequence == overSequence)
        #expect((overRun.json["failure"] as? [String: Any])?["message"] as? String ?? "" != "")

        // A royalty payout above what the holder held, re-signed by the key holder.
        let (royaltyOver, royaltyOverSequence) = try Self.resealed(data, typeName: "RoyaltiesPaid") {
            $0.replacingOccurrences(of: "\"amount\":375", with: "\"amount\":376")
        }
        let royaltyOverRun = try ToolRun.run(["verify", "--data", royaltyOver.path, "--json"])
        #expect(royaltyOverRun.status == 27, "\(royaltyOverRun.summary)")
        #expect(royaltyOverRun.failureKind == "settlement-inconsistent")
        #expect(royaltyOverRun.failureSequence == royaltyOverSequence)
        #expect(((royaltyOverRun.json["failure"] as? [String: Any])?["message"] as? String ?? "").contains("roy-label"))
    }

    @Test("a write-model balance that differs from the postings, or one no posting explains, is found")
    func writeModelTampered() async throws {
        let data = try await Fixtures.shared.smallJournal()
        let changed = try DataCopy(of: data)
        let raw = try RawJournal(changed.path)
        let last = try raw.lastSequence()
        let stored = try #require(try raw.stateValue("bal/wallet:alice:USD"))
        var value = stored
        value[7] ^= 0x01
        try raw.setState("bal/wallet:alice:USD", value)
        let run = try ToolRun.run(["verify", "--data", changed.path, "--json"])
        #expect(run.status == 26, "\(run.summary)")
        #expect(run.failureKind == "balance-mismatch")
        #expect(run.failureSequence == last)
        #expect(((run.json["failure"] as? [String: Any])?["message"] as? String)?.contains("wallet:alice:USD") == true)

        let extra = try DataCopy(of: data)
        try RawJournal(extra.path).setState("bal/wallet:mallory:USD", withUnsafeBytes(of: Int64(500).bigEndian) { Array($0) })
        let extraRun = try ToolRun.run(["verify", "--data", extra.path, "--json"])
        #expect(extraRun.status == 26, "\(extraRun.summary)")
        #expect(((extraRun.json["failure"] as? [String: Any])?["message"] as? String)?.contains("mallory") == true)
    }

    /// The fixture's refunds and disputes, in journal order: (sequence, type, transaction).
    static func paymentEvents(_ data: String) throws -> [(sequence: UInt64, typeName: String, transaction: String)] {
        let raw = try RawJournal(data)
        var found: [(UInt64, String, String)] = []
        for sequence in 1...(try raw.lastSequence()) {
            let stored = try raw.event(sequence)
            switch try LedgerEvent(typeName: stored.typeName, payload: stored.payload) {
            case .purchaseRefunded(let event): found.append((sequence, stored.typeName, event.transaction))
            case .disputeOpened(let event): found.append((sequence, stored.typeName, event.transaction))
            case .disputeResolved(let event): found.append((sequence, stored.typeName, event.transaction))
            default: break
            }
        }
        return found
    }

    /// Runs `verify --json` on a copy of `data` whose `nth` event of `typeName` `change` rewrote
    /// (and re-signed), and expects a failure of `kind`, with its exit code, at that event (or
    /// at `failsAt`), whose message says `says`.
    static func expectFailure(
        _ data: String, typeName: String, nth: Int, kind: AuditFailure.Kind, says: String, failsAt: UInt64? = nil,
        sourceLocation: SourceLocation = #_sourceLocation, _ change: @escaping (String) -> String
    ) throws {
        let (copy, changed) = try resealed(data, typeName: typeName, nth: nth, change)
        let chain = try ToolRun.run(["verify", "--data", copy.path, "--audit", "chain", "--json"])
        #expect(chain.status == 0, "the re-signed journal passes the journal's own checks: \(chain.summary)", sourceLocation: sourceLocation)
        let run = try ToolRun.run(["verify", "--data", copy.path, "--json"])
        #expect(run.status == kind.exitCode.rawValue, "\(typeName) #\(nth): \(run.summary)", sourceLocation: sourceLocation)
        #expect(run.failureKind == kind.rawValue, "\(run.summary)", sourceLocation: sourceLocation)
        #expect(run.failureSequence == failsAt ?? changed, sourceLocation: sourceLocation)
        let message = (run.json["failure"] as? [String: Any])?["message"] as? String ?? ""
        #expect(message.contains(says), "\(message)", sourceLocation: sourceLocation)
    }

    @Test("a refund that gives back more than was paid, misstates what remains or disagrees with its postings is found")
    func refundsTampered() async throws {
        let data = try await Fixtures.shared.smallJournal()
        let payments = try Self.paymentEvents(data)
        #expect(payments.map(\.typeName) == [
            "PurchaseRefunded", "PurchaseRefunded", "PurchaseRefunded", "DisputeOpened", "DisputeResolved", "DisputeOpened", "DisputeResolved"])
        let song = payments[0].transaction, film = payments[2].transaction
        #expect(song != film)
        /// Each tamper: the event changed (type, which of that type), the text replaced in it, what
        /// the failure says, and where it is found (at the changed event unless said).
        let tampers: [(typeName: String, nth: Int, replacing: [(String, String)], says: String, failsAt: UInt64?)] = [
            // The film's refund of 300 named as one of the song, which bob did not buy.
            ("PurchaseRefunded", 2, [("\"transaction\":\"\(film)\"", "\"transaction\":\"\(song)\"")],
             "names buyer bob and vendor shop, who did not make that purchase", nil),
            // The song's first refund says 149 remains where 250 less 100 is 150.
            ("PurchaseRefunded", 0, [("\"remaining\":150", "\"remaining\":149")], "but 250 less 100 is 150", nil),
            // A refund that states more than its postings move.
            ("PurchaseRefunded", 1, [("\"refunded\":150", "\"refunded\":151")], "gives back 151 but its postings move 150", nil),
            // A refund of a purchase never captured.
            ("PurchaseRefunded", 0, [("\"transaction\":\"\(song)\"", "\"transaction\":\"tx-999999\"")], "which was never captured", nil),
            // A dispute of the song after its whole price went back.
            ("DisputeOpened", 0, [("\"transaction\":\"\(film)\"", "\"transaction\":\"\(song)\""), ("\"user\":\"bob\"", "\"user\":\"alice\"")],
             "whole price went back already", nil),
            // A dispute that says it disputes other than what is still paid (600 of the film's 900).
            ("DisputeOpened", 0, [("\"disputed\":600", "\"disputed\":900")], "says it disputes 900", nil),
            // The song's first refund sent to another user's wallet; then named as that user's too.
            ("PurchaseRefunded", 0, [("\"credit\":\"wallet:alice:USD\"", "\"credit\":\"wallet:bob:USD\"")],
             "to wallet:bob:USD, not to its buyer alice", nil),
            ("PurchaseRefunded", 0, [("\"credit\":\"wallet:alice:USD\"", "\"credit\":\"wallet:bob:USD\""), ("\"user\":\"alice\"", "\"user\":\"bob\"")],
             "names buyer bob and vendor shop, who did not make that purchase", nil),
            // The song's first refund takes the writer's part of its royalties from the label.
            ("PurchaseRefunded", 0, [("\"debit\":\"holder:writer:USD\"", "\"debit\":\"holder:label:USD\"")],
             "from holder:label:USD, but its split of 100 takes", nil),
            // The film's dispute refund takes the studio's part from a holder the film never paid.
            ("DisputeResolved", 0, [("\"debit\":\"holder:studio:EUR\"", "\"debit\":\"holder:label:EUR\"")],
             "from holder:label:EUR, but its split of 600 takes 0", nil),
            // Carol's rejected dispute said to be decided by rule; naming Bob's dispute, decided
            // already; its reserve given to another vendor's payable.
            ("DisputeResolved", 1, [("\"decidedBy\":\"customerService\"", "\"decidedBy\":\"rule\"")],
             "is decided by rule, but only an unauthorized charge's dispute is", nil),
            ("DisputeResolved", 1, [("\"dispute\":\"d-carol\"", "\"dispute\":\"d-bob\"")], "dispute d-bob is resolved, but it is not open", nil),
            ("DisputeResolved", 1, [("\"credit\":\"vendor:news:USD\"", "\"credit\":\"vendor:shop:USD\"")],
             "reserved goes back to news's payable", nil),
            // Carol's own charge marked unauthorized when opened: only a charge by a member
            // since revoked is.
            ("DisputeOpened", 1, [("\"unauthorized\":false", "\"unauthorized\":true")],
             "dispute d-carol marks the charge unauthorized, but it was made by carol itself", nil),
            // A rejected dispute that says something went back.
            ("DisputeResolved", 1, [("\"refunded\":0", "\"refunded\":5")], "was rejected but says 5 went back", nil),
        ]
        for tamper in tampers {
            try Self.expectFailure(data, typeName: tamper.typeName, nth: tamper.nth, kind: .refundInconsistent, says: tamper.says, failsAt: tamper.failsAt) { text in
                tamper.replacing.reduce(text) { $0.replacingOccurrences(of: $1.0, with: $1.1) }
            }
        }
    }

    @Test("a purchase paid by another than its buyer, for another price, to another vendor, held for another or released to another is found (exit 38)")
    func purchasesTampered() async throws {
        let data = try await Fixtures.shared.smallJournal()
        // Alice's first purchase: a song from shop at 250 (royalties 25 each to label and writer), from her wallet.
        let capture = "PurchaseCaptured"
        let tampers: [(typeName: String, replacing: [(String, String)], says: String)] = [
            (capture, [("\"price\":250", "\"price\":90")], "lists royalties label 25, writer 25 where its schedule gives label 9, writer 9"),
            (capture, [("wallet:alice:USD", "wallet:bob:USD")], "draws 250 from wallet:bob:USD, not from its buyer alice's wallet or credit line"),
            (capture, [("\"debit\":\"wallet:alice:USD\"", "\"debit\":\"wallet:bob:USD\"")],
             "pays with wallet:bob:USD -> vendor:shop:USD 250, where its sources give wallet:alice:USD -> vendor:shop:USD 250"),
            (capture, [("vendor:shop:USD", "vendor:news:USD")],
             "pays with wallet:alice:USD -> vendor:news:USD 250, where its sources give wallet:alice:USD -> vendor:shop:USD 250"),
            (capture, [("\"amount\":250,\"credit\"", "\"amount\":200,\"credit\""), ("\"amount\":250}", "\"amount\":200}")],
             "draws 200 from its sources for a price of 250"),
            // Bob's hold of a song from news, held for carol.
            ("PurchaseAuthorized", [("\"credit\":\"holds:bob:USD\"", "\"credit\":\"holds:carol:USD\"")],
             "holds with wallet:bob:USD -> holds:carol:USD 250, where its sources give wallet:bob:USD -> holds:bob:USD 250"),
            // Carol's voided hold given back to alice; released under an ID never authorized.
            ("PurchaseVoided", [("\"credit\":\"wallet:carol:USD\"", "\"credit\":\"wallet:alice:USD\"")],
             "moves 250 from holds:carol:USD to wallet:alice:USD, not from its buyer carol's held funds back to the buyer"),
            ("PurchaseVoided", [("\"transaction\":\"tx-", "\"transaction\":\"tx-9999")],
             "releases a hold, but none is open: never authorized, or captured or released already"),
        ]
        for tamper in tampers {
            try Self.expectFailure(data, typeName: tamper.typeName, nth: 0, kind: .purchaseInconsistent, says: tamper.says) { text in
                tamper.replacing.reduce(text) { $0.replacingOccurrences(of: $1.0, with: $1.1) }
            }
        }
    }

    @Test("a purchase over a spending limit its buyer had set is found at the purchase (exit 38); the honest journal passes")
    func spendingLimitTampered() async throws {
        let data = try await Fixtures.shared.smallJournal()
        let lastHold = try Self.ledgerEvents(data).last { $0.event.typeName == "PurchaseAuthorized" }?.sequence
        // referred spent 250, then had 250 held under a daily limit of 600: with a limit of 400
        // that hold would have been refused.
        try Self.expectFailure(data, typeName: "SpendingLimitSet", nth: 0, kind: .purchaseInconsistent,
                               says: "of referred at news breaks a spending limit set before it: 250 would bring spending to 500, over the perDay limit of 400",
                               failsAt: try #require(lastHold)) {
            $0.replacingOccurrences(of: "\"amount\":600", with: "\"amount\":400")
        }
    }

    @Test("money that came from a credit line, given back to the wallet while the credit is still in use, by a refund (exit 36) or a release (exit 38), is found")
    func creditGivenBackToTheWallet() async throws {
        let root = TemporaryDirectory()
        let data = root.path + "/data"
        do {
            let (journal, ledger) = try LedgerJournal.open(data)
            defer { journal.close() }
            try await Self.shopAndAlice(ledger, feeBasisPoints: 500, settlement: SettlementPolicy(thresholdAmount: 1_000_000), holders: ["label"], funds: 100)
            _ = try await ledger.execute(.approveCreditLine(user: "alice", currency: LedgerJournal.usd, limit: 1_000))
            // 100 from the wallet and 150 on credit, refunded whole: 150 back to the credit line.
            let bought = try await ledger.execute(.purchase(user: "alice", vendor: "shop", content: .catalog("song")))
            _ = try await ledger.execute(.refund(vendor: "shop", transaction: bought.transaction!, reason: "r"))
            // Held the same way (100 from the wallet, 150 on credit), then voided: 150 back to the credit line.
            let held = try await ledger.execute(.authorize(user: "alice", vendor: "shop", content: .catalog("song"), holdSeconds: 600))
            _ = try await ledger.execute(.void(vendor: "shop", transaction: held.transaction!))
        }
        let honest = try ToolRun.run(["verify", "--data", data, "--json"])
        #expect(honest.status == 0, "\(honest.summary)")
        let toWallet: (String) -> String = {
            $0.replacingOccurrences(of: "\"credit\":\"credit:alice:USD\"", with: "\"credit\":\"wallet:alice:USD\"")
        }
        try Self.expectFailure(data, typeName: "PurchaseRefunded", nth: 0, kind: .refundInconsistent,
                               says: "gives back 0 to credit:alice:USD, where the ledger's rule gives it 150 (150 of alice's credit in use)", toWallet)
        let hold = try #require(try Self.ledgerEvents(data).lazy.compactMap { entry -> String? in
            if case .purchaseAuthorized(let authorized) = entry.event { authorized.transaction } else { nil }
        }.first)
        try Self.expectFailure(data, typeName: "PurchaseVoided", nth: 0, kind: .purchaseInconsistent,
                               says: "the release of \(hold) gives back 0 to credit:alice:USD, where the ledger's rule gives it 150 (150 of alice's credit in use)",
                               toWallet)
    }

    /// A vendor `shop` selling `song` at 250 from its catalog, and alice with `funds` in a USD wallet.
    static func shopAndAlice(
        _ ledger: Ledger, feeBasisPoints: Int64, settlement: SettlementPolicy, holders: [String], funds: Int64
    ) async throws {
        for command: LedgerCommand in [
            .registerVendor(vendor: "shop", name: "Shop", sites: ["https://shop.example/"], feeBasisPoints: feeBasisPoints, settlement: settlement),
            .registerContent(vendor: "shop", terms: LedgerJournal.terms("song", vendor: "shop", price: 250, holders: holders)),
            .openAccount(user: "alice", channel: .providerSite),
            .openWallet(user: "alice", currency: LedgerJournal.usd),
            .addFunds(funding: "card", user: "alice", currency: LedgerJournal.usd, amount: funds, method: .card),
        ] {
            _ = try await ledger.execute(command)
        }
    }

    /// Every event of the journal in `data`, decoded, with its sequence.
    static func ledgerEvents(_ data: String) throws -> [(sequence: UInt64, event: LedgerEvent)] {
        let raw = try RawJournal(data)
        return try (1...(try raw.lastSequence())).map { sequence in
            let stored = try raw.event(sequence)
            return (sequence, try LedgerEvent(typeName: stored.typeName, payload: stored.payload))
        }
    }

    @Test("a settlement that says its threshold or its period made it due, when its vendor's policy says otherwise, is found (exit 27); the ledger's own pass")
    func settlementTriggers() async throws {
        let root = TemporaryDirectory()
        let data = root.path + "/data"
        do {
            let clock = LedgerJournal.SteppedClock()
            let (journal, ledger) = try LedgerJournal.open(data, clock: clock)
            defer { journal.close() }
            try await Self.shopAndAlice(ledger, feeBasisPoints: 0, settlement: SettlementPolicy(thresholdAmount: 500, periodSeconds: 3_600), holders: [],
                                        funds: 10_000)
            // 500 payable: due by its threshold. Then 250, due an hour later by its period.
            for _ in 0..<2 { _ = try await ledger.execute(.purchase(user: "alice", vendor: "shop", content: .catalog("song"))) }
            clock.now += 1_000
            _ = try await ledger.execute(.settle(vendor: "shop", currency: LedgerJournal.usd, force: false))
            _ = try await ledger.execute(.purchase(user: "alice", vendor: "shop", content: .catalog("song")))
            clock.now += 3_600_000
            _ = try await ledger.execute(.settle(vendor: "shop", currency: LedgerJournal.usd, force: false))
        }
        let honest = try ToolRun.run(["verify", "--data", data, "--json"])
        #expect(honest.status == 0, "\(honest.summary)")
        #expect((honest.json["audit"] as? [String: Any]).flatMap { ($0["report"] as? [String: Any])?["settlements"] as? Int } == 2)
        let start = LedgerJournal.startMilliseconds
        try Self.expectFailure(data, typeName: "VendorSettled", nth: 0, kind: .settlementInconsistent,
                               says: "settlement of shop says its period made it due, but its policy (threshold 500, period due at \(start + 3_600_000)) makes 500 USD due by its threshold at \(start + 1_000)") {
            $0.replacingOccurrences(of: "\"trigger\":\"threshold\"", with: "\"trigger\":\"period\"")
        }
        try Self.expectFailure(data, typeName: "VendorSettled", nth: 1, kind: .settlementInconsistent,
                               says: "settlement of shop says its threshold made it due, but its policy (threshold 500, period due at \(start + 3_601_000)) makes 250 USD due by its period") {
            $0.replacingOccurrences(of: "\"trigger\":\"period\"", with: "\"trigger\":\"threshold\"")
        }
    }

    @Test("a purchase of content outside its vendor's sites at the time is found at the purchase (exit 38)")
    func sitesTampered() async throws {
        let data = try await Fixtures.shared.smallJournal()
        let clip = try Self.ledgerEvents(data).last { $0.event.typeName == "PurchaseCaptured" }?.sequence
        // The first purchase, sold from another site than shop's.
        try Self.expectFailure(data, typeName: "PurchaseCaptured", nth: 0, kind: .purchaseInconsistent,
                               says: "sells https://evil.example/song, which is not under shop's sites then (https://shop.example/)") {
            // URLs are stored with their slashes escaped (`https:\/\/...`), as Foundation writes them.
            $0.replacingOccurrences(of: "shop.example", with: "evil.example")
        }
        // news never moved to its second site: its last sale, from there, is outside its sites.
        try Self.expectFailure(data, typeName: "VendorUpdated", nth: 0, kind: .purchaseInconsistent,
                               says: "sells https://news.example.org/clip, which is not under news's sites then (https://news.example/)",
                               failsAt: try #require(clip)) {
            $0.replacingOccurrences(of: "news.example.org", with: "news.example")
        }
    }

    @Test("a capture whose fee is not its vendor's rate, or a hold captured after it expired or on other terms, is found (exit 38)")
    func feesAndHoldsTampered() async throws {
        let data = try await Fixtures.shared.smallJournal()
        let raw = try RawJournal(data)
        var firstShopCapture: UInt64?
        var heldCapture: UInt64?
        var captures = 0
        var heldCaptureIndex = 0
        for sequence in 1...(try raw.lastSequence()) {
            let stored = try raw.event(sequence)
            if case .purchaseCaptured(let captured) = try LedgerEvent(typeName: stored.typeName, payload: stored.payload) {
                if captured.vendor == "shop", firstShopCapture == nil { firstShopCapture = sequence }
                if !captured.oneStep { (heldCapture, heldCaptureIndex) = (sequence, captures) }
                captures += 1
            }
        }
        // Alice's first purchase: a song from shop at 250, whose fee at shop's 500 basis points is 12.
        try Self.expectFailure(data, typeName: "PurchaseCaptured", nth: 0, kind: .purchaseInconsistent,
                               says: "pays a fee of 13, where shop's rate of 500 basis points gives 12 of 250") {
            $0.replacingOccurrences(of: "\"fee\":12", with: "\"fee\":13")
                .replacingOccurrences(of: "\"amount\":12,\"credit\":\"fees:USD\"", with: "\"amount\":13,\"credit\":\"fees:USD\"")
        }
        try Self.expectFailure(data, typeName: "VendorRegistered", nth: 0, kind: .purchaseInconsistent,
                               says: "pays a fee of 12, where shop's rate of 400 basis points gives 10 of 250", failsAt: firstShopCapture) {
            $0.replacingOccurrences(of: "\"feeBasisPoints\":500", with: "\"feeBasisPoints\":400")
        }
        // Bob's hold of a song from news, captured in the same millisecond it was authorized.
        let authorized = LedgerJournal.startMilliseconds
        try Self.expectFailure(data, typeName: "PurchaseAuthorized", nth: 0, kind: .purchaseInconsistent,
                               says: "is captured at \(authorized), but its hold expired at \(authorized)", failsAt: heldCapture) {
            $0.replacingOccurrences(of: "\"holdExpiresAtMilliseconds\":\(authorized + 600_000)", with: "\"holdExpiresAtMilliseconds\":\(authorized)")
        }
        // Its capture paying the writer's royalty to mallory: consistent in itself, not with the hold.
        try Self.expectFailure(data, typeName: "PurchaseCaptured", nth: heldCaptureIndex, kind: .purchaseInconsistent,
                               says: "captures other terms, sources or member than its authorization held") {
            $0.replacingOccurrences(of: "writer", with: "mallory")
        }
    }

    @Test("a dispute that reserves less than the vendor's part the payable holds is found (exit 36)")
    func reserveTampered() async throws {
        let data = try await Fixtures.shared.smallJournal()
        let raw = try RawJournal(data)
        var reserved: Int64 = 0
        for sequence in 1...(try raw.lastSequence()) where try raw.event(sequence).typeName == "DisputeOpened" {
            if case .disputeOpened(let opened) = try LedgerEvent(typeName: "DisputeOpened", payload: try raw.event(sequence).payload) {
                reserved = opened.reserved
            }
            break
        }
        #expect(reserved > 1)
        try Self.expectFailure(data, typeName: "DisputeOpened", nth: 0, kind: .refundInconsistent,
                               says: "dispute d-bob reserves \(reserved - 1), where the vendor's part") {
            $0.replacingOccurrences(of: "\"reserved\":\(reserved)", with: "\"reserved\":\(reserved - 1)")
                .replacingOccurrences(of: "\"amount\":\(reserved),", with: "\"amount\":\(reserved - 1),")
        }
    }

    @Test("a settlement or royalty payout paid elsewhere than the settlement clearing account, or of less than the payable held, is found (exit 27)")
    func payoutsElsewhere() async throws {
        let data = try await Fixtures.shared.smallJournal()
        let tampers: [(typeName: String, replacing: [(String, String)], says: String)] = [
            ("VendorSettled", [("\"credit\":\"settlement:USD\"", "\"credit\":\"wallet:alice:USD\"")], "not vendor:shop:USD -> settlement:USD"),
            ("RoyaltiesPaid", [("\"credit\":\"settlement:USD\"", "\"credit\":\"wallet:alice:USD\"")],
             "royalty payout roy-label states 375 but its postings move holder:label:USD -> wallet:alice:USD 375, not holder:label:USD -> settlement:USD 375"),
            ("RoyaltiesPaid", [("\"amount\":375", "\"amount\":374")], "royalty payout roy-label pays 374 USD, but holder:label:USD held 375"),
        ]
        for tamper in tampers {
            try Self.expectFailure(data, typeName: tamper.typeName, nth: 0, kind: .settlementInconsistent, says: tamper.says) { text in
                tamper.replacing.reduce(text) { $0.replacingOccurrences(of: $1.0, with: $1.1) }
            }
        }
    }

    @Test("an incentive lot funded by another than its issuer, spent where it may not be, or expired to another account; a referral reward paid to another vendor or of another amount: found")
    func incentivesAndReferralsTampered() async throws {
        let data = try await Fixtures.shared.smallJournal()
        let raw = try RawJournal(data)
        var lotPurchase: UInt64?
        for sequence in 1...(try raw.lastSequence()) {
            let stored = try raw.event(sequence)
            if case .purchaseCaptured(let captured) = try LedgerEvent(typeName: stored.typeName, payload: stored.payload),
               captured.sources.contains(where: { $0.account == "lot:promo-alice:USD" }) {
                lotPurchase = sequence
            }
        }
        #expect(lotPurchase != nil)
        try Self.expectFailure(data, typeName: "IncentiveIssued", nth: 0, kind: .fundsInconsistent,
                               says: "incentive lot promo-alice for alice is issued with fees:USD -> lot:promo-alice:USD 300, where provider's tokens move incentives:provider:USD -> lot:promo-alice:USD 300") {
            $0.replacingOccurrences(of: "\"debit\":\"incentives:provider:USD\"", with: "\"debit\":\"fees:USD\"")
        }
        try Self.expectFailure(data, typeName: "IncentiveIssued", nth: 0, kind: .purchaseInconsistent,
                               says: "draws on lot promo-alice, which may not pay for it: it may be spent only at news, not at shop", failsAt: lotPurchase) {
            $0.replacingOccurrences(of: "\"vendors\":[\"shop\"]", with: "\"vendors\":[\"news\"]")
        }
        try Self.expectFailure(data, typeName: "IncentiveExpired", nth: 0, kind: .fundsInconsistent,
                               says: "the expiry of incentive lot promo-alice gives what was left to wallet:alice:USD, not back to its issuer provider's incentives:provider:USD") {
            $0.replacingOccurrences(of: "\"credit\":\"incentives:provider:USD\"", with: "\"credit\":\"wallet:alice:USD\"")
        }
        // An expiry that leaves part of the lot in it, its posting agreeing with it.
        let events = try Self.ledgerEvents(data)
        var expired: Int64 = 0
        for case .incentiveExpired(let event) in events.map(\.event) { expired = event.amount }
        #expect(expired > 1)
        try Self.expectFailure(data, typeName: "IncentiveExpired", nth: 0, kind: .fundsInconsistent,
                               says: "the expiry of incentive lot promo-alice gives back \(expired - 1), where the lot held \(expired): an expiry gives back all that is left") {
            $0.replacingOccurrences(of: "\"amount\":\(expired)", with: "\"amount\":\(expired - 1)")
        }
        try Self.expectFailure(data, typeName: "ReferralRewarded", nth: 0, kind: .fundsInconsistent,
                               says: "the referral reward of news for referred moves fees:USD -> vendor:shop:USD 40, where the provider pays it: fees:USD -> vendor:news:USD 40") {
            $0.replacingOccurrences(of: "\"credit\":\"vendor:news:USD\"", with: "\"credit\":\"vendor:shop:USD\"")
        }
        try Self.expectFailure(data, typeName: "ReferralRewarded", nth: 0, kind: .fundsInconsistent,
                               says: "the referral reward of shop for referred: referred was brought by news") {
            $0.replacingOccurrences(of: "news", with: "shop")
        }
        try Self.expectFailure(data, typeName: "ReferralRewarded", nth: 0, kind: .fundsInconsistent,
                               says: "the referral reward of news for referred pays 30 USD, where the policy pays 40 USD") {
            $0.replacingOccurrences(of: "\"amount\":40", with: "\"amount\":30")
        }
        // A reward that names alice's first purchase instead of the one referred made.
        var firstPurchase: String?, qualifying: [String] = []
        for entry in events {
            switch entry.event {
            case .purchaseCaptured(let captured) where firstPurchase == nil: firstPurchase = captured.transaction
            case .referralRewarded(let rewarded): qualifying = rewarded.qualifyingTransactions
            default: break
            }
        }
        let alices = try #require(firstPurchase)
        #expect(qualifying.count == 1)
        try Self.expectFailure(data, typeName: "ReferralRewarded", nth: 0, kind: .fundsInconsistent,
                               says: "the referral reward of news for referred names \(alices), which does not qualify: a purchase of alice") {
            $0.replacingOccurrences(of: "\"\(qualifying[0])\"", with: "\"\(alices)\"")
        }
    }

    @Test("funds added, cleared, transferred or paid back to another user than the event names, or ending a wait that is not theirs, are found (exit 39)")
    func fundsTampered() async throws {
        let data = try await Fixtures.shared.smallJournal()
        let tampers: [(typeName: String, nth: Int, replacing: (String, String), says: String)] = [
            ("FundsAdded", 0, ("\"credit\":\"wallet:alice:USD\"", "\"credit\":\"wallet:bob:USD\""),
             "funds card-alice for alice moves 50000 from funding:card:USD to wallet:bob:USD, where it moves from funding:card:USD to alice's credit line or wallet"),
            ("FundsAdded", 0, ("{\"amount\":50000,\"currency\"", "{\"amount\":49000,\"currency\""), "funds card-alice for alice moves 50000 of its amount 49000"),
            ("FundsAdded", 6, ("\"credit\":\"pending:alice:USD\"", "\"credit\":\"pending:bob:USD\""),
             "funds check-alice for alice moves funding:check:USD -> pending:bob:USD 7000, where offline funds move funding:check:USD -> pending:alice:USD 7000"),
            ("FundsAdded", 6, ("\"pending\":true", "\"pending\":false"), "says pending is false for check, which is offline"),
            ("FundsCleared", 0, ("\"credit\":\"wallet:alice:USD\"", "\"credit\":\"wallet:bob:USD\""),
             "the clearing of funds check-alice for alice moves 7000 from pending:alice:USD to wallet:bob:USD"),
            ("TokensTransferred", 0, ("\"credit\":\"wallet:bob:USD\"", "\"credit\":\"wallet:carol:USD\""),
             "the transfer from alice to bob moves 1234 from wallet:alice:USD to wallet:carol:USD, where it moves from wallet:alice:USD to bob's credit line or wallet"),
            ("TokensTransferred", 0, ("\"debit\":\"wallet:alice:USD\"", "\"debit\":\"wallet:carol:USD\""),
             "moves 1234 from wallet:carol:USD to wallet:bob:USD"),
            // Money that waits, and what ends it (``PendingFundsAudit``).
            ("FundsCleared", 0, ("\"funding\":\"check-alice\"", "\"funding\":\"card-alice\""),
             "the clearing of funds card-alice: nothing waits under that ID (it never began, or it ended already)"),
            ("FundsFailed", 0, ("funding:moneyOrder:USD", "funding:check:USD"),
             "the failure of funds order-carol of carol moves pending:carol:USD -> funding:check:USD 3000, where the 3000 carol added by moneyOrder goes back"),
            ("PayoutRequested", 0, ("\"debit\":\"wallet:bob:USD\"", "\"debit\":\"wallet:alice:USD\""),
             "the request of payout ask-bob moves wallet:alice:USD -> outgoing:bob:USD 700, where it moves wallet:bob:USD -> outgoing:bob:USD 700"),
            ("FundsReturned", 1, ("bankDebit", "card"),
             "the payment of payout ask-bob is of 700 USD to bob by card, where bob asked for 700 USD by bankDebit"),
            ("FundsReturned", 1, ("\"payout\":\"ask-bob\"", "\"payout\":\"back-alice\""),
             "the payment of payout back-alice: nothing waits under that ID"),
            ("PayoutDeclined", 0, ("\"amount\":400", "\"amount\":300"),
             "the decline of payout ask-carol is of 300 EUR to carol by bankDebit, where carol asked for 400 EUR by bankDebit"),
        ]
        for tamper in tampers {
            try Self.expectFailure(data, typeName: tamper.typeName, nth: tamper.nth, kind: .fundsInconsistent, says: tamper.says) {
                $0.replacingOccurrences(of: tamper.replacing.0, with: tamper.replacing.1)
            }
        }
    }

    @Test("a range that starts after a capture says its refunds were not checked against what was paid")
    func refundsInRange() async throws {
        let data = try await Fixtures.shared.smallJournal()
        let payments = try Self.paymentEvents(data)
        // From the first refund on: the song's and the film's captures came before it.
        let run = try ToolRun.run(["verify", "--data", data, "--from", String(payments[0].sequence), "--json"])
        #expect(run.status == 0, "\(run.summary)")
        let report = try #require((run.json["audit"] as? [String: Any])?["report"] as? [String: Any])
        // The film was captured after the song's refunds, so its refund and dispute are checked.
        #expect(ToolRun.integer(report["refunds"]) == 2)
        #expect((report["refundsNote"] as? String)?.contains("2 refunds or disputes of purchases captured before the range were not checked") == true,
                "\(report)")
        let text = try ToolRun.run(["verify", "--data", data, "--from", String(payments[0].sequence)])
        #expect(text.output.contains("were not checked against what was paid"), "\(text.summary)")
    }
}
