import Ledger
import Projections

// The replies of the hottest reads (a user's wallets and history, in a `Snapshot`), written by
// hand: `JSONEncoder` was the largest single cost of a read (≈ 19 % of the server's CPU at
// 4,000 reads/s). Each writes exactly `JSONResponse.encoder`'s bytes (keys sorted, absent
// optionals omitted, slashes unescaped); `ReadReplyTests` compares the two on random values.

extension Snapshot: HandWrittenJSON where Value: HandWrittenJSON {
    func writeJSON(to writer: inout JSONWriter) {
        writer.object { writer in
            writer.key("data", first: true); data.writeJSON(to: &writer)
            writer.key("sequence"); writer.unsigned(sequence)
        }
    }
}

extension JSONWriter {
    mutating func optionalKey(_ name: StaticString, _ value: String?) {
        if let value { key(name); string(value) }
    }

    mutating func optionalKey(_ name: StaticString, _ value: UInt64?) {
        if let value { key(name); unsigned(value) }
    }
}

extension WalletsView: HandWrittenJSON {
    func writeJSON(to writer: inout JSONWriter) {
        writer.object { writer in
            writer.key("channel", first: true); writer.string(channel.rawValue)
            writer.key("lots")
            writer.array(lots) { writer, lot in
                writer.object {
                    $0.key("balance", first: true); $0.signed(lot.balance)
                    $0.key("currency"); $0.string(lot.currency.code)
                    $0.key("expired"); $0.bool(lot.expired)
                    $0.optionalKey("expiresAtMilliseconds", lot.expiresAtMilliseconds)
                    $0.key("issuer"); $0.string(lot.issuer)
                    $0.key("lot"); $0.string(lot.lot)
                    if let vendors = lot.vendors { $0.key("vendors"); $0.stringArray(vendors) }
                }
            }
            writer.key("members")
            writer.array(members) { writer, member in
                writer.object {
                    $0.key("active", first: true); $0.bool(member.active)
                    $0.key("member"); $0.string(member.member)
                }
            }
            writer.key("openedAtMilliseconds"); writer.unsigned(openedAtMilliseconds)
            writer.optionalKey("referringVendor", referringVendor)
            writer.optionalKey("representative", representative)
            writer.key("spendingLimits")
            writer.array(spendingLimits) { writer, limit in
                writer.object {
                    $0.key("amount", first: true); $0.signed(limit.amount)
                    $0.key("currency"); $0.string(limit.currency.code)
                    $0.key("kind"); $0.string(limit.kind.rawValue)
                    $0.optionalKey("member", limit.member)
                    $0.optionalKey("vendor", limit.vendor)
                }
            }
            writer.key("status"); writer.string(status)
            writer.key("updatedAtSequence"); writer.unsigned(updatedAtSequence)
            writer.key("user"); writer.string(user)
            writer.key("wallets")
            writer.array(wallets) { writer, wallet in
                writer.object {
                    $0.key("balance", first: true); $0.signed(wallet.balance)
                    $0.key("creditInUse"); $0.signed(wallet.creditInUse)
                    $0.key("creditLimit"); $0.signed(wallet.creditLimit)
                    $0.key("currency"); $0.string(wallet.currency.code)
                    $0.key("held"); $0.signed(wallet.held)
                    $0.key("incentives"); $0.signed(wallet.incentives)
                    $0.key("opened"); $0.bool(wallet.opened)
                    $0.key("pending"); $0.signed(wallet.pending)
                }
            }
        }
    }
}

extension HistoryPage: HandWrittenJSON {
    func writeJSON(to writer: inout JSONWriter) {
        writer.object { writer in
            writer.key("entries", first: true)
            writer.array(entries) { writer, entry in
                writer.object {
                    $0.key("amount", first: true); $0.signed(entry.amount)
                    $0.key("counterparty"); $0.string(entry.counterparty)
                    $0.key("currency"); $0.string(entry.currency.code)
                    $0.key("eventType"); $0.string(entry.eventType)
                    $0.key("held"); $0.signed(entry.held)
                    $0.key("sequence"); $0.unsigned(entry.sequence)
                    $0.key("timeMilliseconds"); $0.unsigned(entry.timeMilliseconds)
                    $0.optionalKey("transaction", entry.transaction)
                }
            }
            writer.optionalKey("nextBefore", nextBefore)
        }
    }
}
