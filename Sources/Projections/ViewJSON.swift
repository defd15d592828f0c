import Ledger

// The views written as JSON by hand: exactly `JSONEncoder`'s `.sortedKeys` bytes (absent
// optionals omitted), with slashes escaped or not as the writer says. The canonical dump writes
// them with `\/` (`JSONEncoder`'s default), the HTTP replies without (`JSONResponse.encoder`);
// `JSONEncoder` was most of a read's CPU and 44 % of `journal-tool replay` (its dump).
// Tests compare both forms with `JSONEncoder` on random values.

extension WalletsView {
    public func writeJSON(to writer: inout JSONWriter) {
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
                    $0.key("outgoing"); $0.signed(wallet.outgoing)
                    $0.key("pending"); $0.signed(wallet.pending)
                }
            }
        }
    }
}

extension HistoryEntry {
    public func writeJSON(to writer: inout JSONWriter) {
        writer.object {
            $0.key("amount", first: true); $0.signed(amount)
            $0.key("counterparty"); $0.string(counterparty)
            $0.key("currency"); $0.string(currency.code)
            $0.key("eventType"); $0.string(eventType)
            $0.key("held"); $0.signed(held)
            $0.key("sequence"); $0.unsigned(sequence)
            $0.key("timeMilliseconds"); $0.unsigned(timeMilliseconds)
            $0.optionalKey("transaction", transaction)
        }
    }
}

extension HistoryPage {
    public func writeJSON(to writer: inout JSONWriter) {
        writer.object { writer in
            writer.key("entries", first: true)
            writer.array(entries) { writer, entry in entry.writeJSON(to: &writer) }
            writer.optionalKey("nextBefore", nextBefore)
        }
    }
}

extension PurchaseView {
    public func writeJSON(to writer: inout JSONWriter) {
        writer.object { writer in
            writer.key("access", first: true); writer.access(access)
            writer.key("amount"); writer.signed(amount)
            writer.optionalKey("capturedAtMilliseconds", capturedAtMilliseconds)
            writer.key("content"); writer.string(content)
            writer.key("currency"); writer.string(currency.code)
            if let fee { writer.key("fee"); writer.signed(fee) }
            writer.optionalKey("member", member)
            writer.key("price"); writer.signed(price)
            writer.key("purchasedAtMilliseconds"); writer.unsigned(purchasedAtMilliseconds)
            if let remaining {
                writer.key("remaining")
                writer.object { writer in
                    var first = true
                    if let days = remaining.days { writer.key("days", first: first); writer.signed(Int64(days)); first = false }
                    if let expires = remaining.expiresAtMilliseconds { writer.key("expiresAtMilliseconds", first: first); writer.unsigned(expires); first = false }
                    if let hours = remaining.hours { writer.key("hours", first: first); writer.signed(Int64(hours)); first = false }
                    if let views = remaining.views { writer.key("views", first: first); writer.signed(Int64(views)) }
                }
            }
            if let royalties {
                writer.key("royalties")
                writer.array(royalties) { writer, royalty in
                    writer.object {
                        $0.key("amount", first: true); $0.signed(royalty.amount)
                        $0.key("holder"); $0.string(royalty.holder)
                    }
                }
            }
            writer.key("sequence"); writer.unsigned(sequence)
            writer.key("status"); writer.string(status.rawValue)
            writer.key("title"); writer.string(title)
            writer.key("transaction"); writer.string(transaction)
            writer.key("updatedAtSequence"); writer.unsigned(updatedAtSequence)
            writer.key("url"); writer.string(url)
            writer.key("user"); writer.string(user)
            writer.key("vendor"); writer.string(vendor)
            writer.optionalKey("voidReason", voidReason)
        }
    }
}

extension RoyaltyEntry {
    public func writeJSON(to writer: inout JSONWriter) {
        writer.object {
            $0.key("amount", first: true); $0.signed(amount)
            $0.key("currency"); $0.string(currency.code)
            $0.key("sequence"); $0.unsigned(sequence)
            $0.key("timeMilliseconds"); $0.unsigned(timeMilliseconds)
            $0.key("transaction"); $0.string(transaction)
            $0.key("vendor"); $0.string(vendor)
        }
    }
}

extension RoyaltyCurrencyTotal {
    public func writeJSON(to writer: inout JSONWriter) {
        writer.object {
            $0.key("balance", first: true); $0.signed(balance)
            $0.key("currency"); $0.string(currency.code)
            $0.key("paid"); $0.signed(paid)
            $0.key("reversed"); $0.signed(reversed)
        }
    }
}
