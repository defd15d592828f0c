import Foundation
import Ledger
@testable import Projections
import TallyTestSupport
import Testing
@testable import TallyServer

extension TestValues {
    mutating func currency() -> Currency { pick([Currency.usd, .eur, Currency(code: "JPY")!]) }

    mutating func wallets() -> WalletsView {
        WalletsView(
            user: text(), status: "open", channel: pick(AccountChannel.allCases), referringVendor: maybe { $0.text() },
            representative: maybe { $0.text() }, openedAtMilliseconds: unsigned(),
            members: list { MemberView(member: $0.text(), active: $0.bool()) },
            wallets: list {
                WalletView(currency: $0.currency(), opened: $0.bool(), balance: $0.signed(), held: $0.signed(), pending: $0.signed(),
                           creditLimit: $0.signed(), creditInUse: $0.signed(), incentives: $0.signed(), outgoing: $0.signed())
            },
            lots: list {
                LotView(lot: $0.text(), currency: $0.currency(), issuer: $0.text(), balance: $0.signed(),
                        expiresAtMilliseconds: $0.maybe { $0.unsigned() }, vendors: $0.maybe { $0.list { $0.text() } }, expired: $0.bool())
            },
            spendingLimits: list {
                SpendingLimit(kind: $0.pick(SpendingLimit.Kind.allCases), currency: $0.currency(), amount: $0.signed(),
                              member: $0.maybe { $0.text() }, vendor: $0.maybe { $0.text() })
            },
            updatedAtSequence: unsigned())
    }

    mutating func purchase() -> PurchaseView {
        PurchaseView(
            transaction: text(), user: text(), member: maybe { $0.text() }, vendor: text(), content: text(), title: text(), url: text(),
            price: signed(), currency: currency(), amount: signed(), status: pick([.authorized, .captured, .voided, .refunded, .disputed]),
            voidReason: maybe { $0.text() },
            access: AccessTerms(views: maybe { Int($0.signed()) }, hours: maybe { _ in 48 }, days: maybe { _ in 7 }, expiresAtMilliseconds: maybe { $0.unsigned() }),
            remaining: maybe {
                EntitlementRemaining(views: $0.maybe { Int($0.signed()) }, hours: $0.maybe { _ in 1 }, days: $0.maybe { _ in 2 },
                                     expiresAtMilliseconds: $0.maybe { $0.unsigned() })
            },
            fee: maybe { $0.signed() }, royalties: maybe { $0.list { RoyaltyPayment(holder: $0.text(), amount: $0.signed()) } },
            purchasedAtMilliseconds: unsigned(), capturedAtMilliseconds: maybe { $0.unsigned() }, sequence: unsigned(), updatedAtSequence: unsigned())
    }

    mutating func history() -> HistoryPage {
        HistoryPage(
            entries: list {
                HistoryEntry(sequence: $0.unsigned(), timeMilliseconds: $0.unsigned(), eventType: $0.text(), currency: $0.currency(),
                             amount: $0.signed(), held: $0.signed(), counterparty: $0.text(), transaction: $0.maybe { $0.text() })
            },
            nextBefore: maybe { $0.unsigned() })
    }
}

/// The hand-written read replies must be `JSONResponse.encoder`'s bytes for every value.
@Suite("Read replies")
struct ReadReplyTests {
    static func handWritten(_ value: some HandWrittenJSON) -> [UInt8] {
        var writer = JSONWriter()
        value.writeJSON(to: &writer)
        return writer.bytes
    }

    @Test("wallets and history in a snapshot: the same bytes as JSONEncoder, on 500 random values each")
    func sameBytes() throws {
        var values = TestValues(seed: 42)
        for round in 0..<500 {
            let wallets = Snapshot(sequence: values.unsigned(), data: values.wallets())
            #expect(Self.handWritten(wallets) == Array(try JSONResponse.encoder.encode(wallets)), "wallets, round \(round)")
            let history = Snapshot(sequence: values.unsigned(), data: values.history())
            #expect(Self.handWritten(history) == Array(try JSONResponse.encoder.encode(history)), "history, round \(round)")
        }
    }

    @Test("the canonical dump's form (slashes escaped) is JSONEncoder's sorted-keys bytes too: wallets, purchases, history entries, royalty entries and totals")
    func dumpForm() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        func escaped(_ write: (inout JSONWriter) -> Void) -> [UInt8] {
            var writer = JSONWriter(escapeSlashes: true)
            write(&writer)
            return writer.bytes
        }
        var values = TestValues(seed: 11)
        for round in 0..<500 {
            let wallets = values.wallets()
            #expect(escaped { wallets.writeJSON(to: &$0) } == Array(try encoder.encode(wallets)), "wallets, round \(round)")
            let purchase = values.purchase()
            #expect(escaped { purchase.writeJSON(to: &$0) } == Array(try encoder.encode(purchase)), "purchase, round \(round)")
            for entry in values.history().entries {
                #expect(escaped { entry.writeJSON(to: &$0) } == Array(try encoder.encode(entry)), "history, round \(round)")
            }
            let royalties = values.list {
                RoyaltyEntry(sequence: $0.unsigned(), timeMilliseconds: $0.unsigned(), transaction: $0.text(), vendor: $0.text(),
                             currency: $0.currency(), amount: $0.signed())
            }
            #expect(escaped { w in w.array(royalties) { $1.writeJSON(to: &$0) } } == Array(try encoder.encode(royalties)), "royalty entries, round \(round)")
            let totals = values.list {
                RoyaltyCurrencyTotal(currency: $0.currency(), paid: $0.signed(), reversed: $0.signed(), balance: $0.signed())
            }
            #expect(escaped { w in w.array(totals) { $1.writeJSON(to: &$0) } } == Array(try encoder.encode(totals)), "royalty totals, round \(round)")
        }
    }

    @Test("JSONResponse.make takes the hand-written path for these replies and the encoder for others")
    func responsePath() throws {
        var values = TestValues(seed: 7)
        let wallets = Snapshot(sequence: 3, data: values.wallets())
        #expect((wallets as Any) is any HandWrittenJSON)
        #expect(!((Snapshot(sequence: 3, data: ["x": 1]) as Any) is any HandWrittenJSON))
    }
}
