import LMDB
import Ledger

// The layout of a read-model slot (one LMDB database). Every key is UTF-8 text, optionally
// followed by a zero byte and a big-endian UInt64 (a sequence or a time), so that a cursor
// walks one subject's entries in numeric order. IDs never contain `:` or a zero byte (the
// ledger allows only `A-Z a-z 0-9 . _ -`), so the text parts split unambiguously.
//
// Records are binary (schema 2, `ViewCodec.swift`): a tag byte (kind and layout version), then
// the fields as Ledger's `ByteWriter` writes them. Schema 1 stored them as sorted-keys JSON,
// which the canonical dump still prints. Schema 3 stores the balance history and the time index
// in chunks of up to 100 points (`SeriesChunk`), and the per-subject logs (history, a user's
// purchases, royalty entries) in chunks of entries (`LogChunk`), each keyed by its first point
// or entry; schema 2 had one LMDB entry per point and per log entry, and the canonical dump
// still prints one line for each.
//
// | key | value | model |
// |---|---|---|
// | `schema` | u64be, the slot's schema version | - |
// | `ckpt/<model>` | u64be, the last sequence folded into that model | each |
// | `tmax` | u64be, the largest event time folded so far | point in time |
// | `ti/` 0 `<time u64be>` | chunk, tag 0xB8: points (time, the last sequence whose events so far all have time <= time) from that time on | point in time |
// | `bal/<account>` | i64be, the balance now | point in time |
// | `bh/<account>` 0 `<seq>` | chunk, tag 0xB7: points (seq, i64 balance after event seq) from seq on | point in time |
// | `user/<user>` | `WalletsView`, binary, tag 0xB1 | wallets |
// | `lot/<lot>` | the owning user's ID, binary, tag 0xB2 | wallets |
// | `vendor/<vendor>` | `VendorSettlementView`, binary, tag 0xB3 | vendor settlement |
// | `txn/<transaction>` | `PurchaseView`, binary, tag 0xB4 | purchases |
// | `pu/<user>` 0 `<seq>` | log chunk (0xB9) from seq on: each entry the transaction created at its seq | purchases |
// | `vr/<vendor>/<reference>` 0 `<seq>` | log chunk (0xB9) from seq on: each entry the transaction the vendor created at its seq with that `vendorData.reference` (printable text, never a zero byte) | purchases |
// | `hw/<user>:<CUR>` 0 `<seq>` | log chunk (0xB9) from seq on: each entry a `HistoryEntry` (`HistoryCodec`) | history |
// | `hv/<vendor>` 0 `<seq>` | log chunk (0xB9) from seq on: each entry a `HistoryEntry` (`HistoryCodec`) | history |
// | `rs/<holder>` | `[RoyaltyCurrencyTotal]`, binary, tag 0xB5 | royalties |
// | `re/<holder>` 0 `<seq>` | log chunk (0xB9) from seq on: each entry the event's `[RoyaltyEntry]`, tag 0xB6 | royalties |
// | `fund/<funding>` | `FundingView`, binary, tag 0xBA | cases |
// | `dsp/<dispute>` | `DisputeView`, binary, tag 0xBB | cases |
// | `pay/<payout>` | `PayoutCase`, binary, tag 0xBC | cases |
// | `open/funds` 0 `<seq>` | the funding ID added at seq, while it is pending (deleted once cleared or failed) | cases |
// | `open/disputes` 0 `<seq>` | the dispute ID opened at seq, while it is open (deleted once resolved) | cases |
// | `uf/<user>` 0 `<seq>` | log chunk (0xB9) from seq on: each entry the funding added at its seq | cases |
// | `ud/<user>` 0 `<seq>` | log chunk (0xB9) from seq on: each entry the dispute opened at its seq | cases |
// | `vd/<vendor>` 0 `<seq>` | log chunk (0xB9) from seq on: each entry the dispute of the vendor's sale opened at its seq | cases |
// | `up/<user>` 0 `<seq>` | log chunk (0xB9) from seq on: each entry the payout made at its seq | cases |
// | `preq/<payout>` | `PayoutRequestCase`, binary, tag 0xBE | cases |
// | `open/payouts` 0 `<seq>` | the payout requested at seq, while it waits (deleted once paid or declined) | cases |
// | `ur/<user>` 0 `<seq>` | log chunk (0xB9) from seq on: each entry the payout requested at its seq | cases |
// | `hpay/<payout>` | `RoyaltyPayoutCase`, binary, tag 0xBD | royalties |
// | `hp/<holder>` 0 `<seq>` | log chunk (0xB9) from seq on: each entry the royalty payout made at its seq | royalties |
enum Keys {
    static let models = ["balances", "cases", "history", "purchases", "royalties", "vendors", "wallets"]
    static let schema = bytes("schema")
    static let maxTime = bytes("tmax")

    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// `prefix` then `id`, without building the joined String.
    static func bytes(_ prefix: String, _ id: String) -> [UInt8] {
        var key: [UInt8] = []
        key.reserveCapacity(prefix.utf8.count + id.utf8.count)
        key.append(contentsOf: prefix.utf8)
        key.append(contentsOf: id.utf8)
        return key
    }

    static func checkpoint(_ model: String) -> [UInt8] { bytes("ckpt/" + model) }

    /// `prefix` 0 `number` (big-endian).
    static func numbered(_ prefix: String, _ number: UInt64) -> [UInt8] {
        var key = Array(prefix.utf8)
        key.reserveCapacity(key.count + 9)
        key.append(0)
        withUnsafeBytes(of: number.bigEndian) { key.append(contentsOf: $0) }
        return key
    }

    static func timeIndex(_ time: UInt64) -> [UInt8] { numbered("ti/", time) }
    static func balance(_ account: String) -> [UInt8] { bytes("bal/", account) }
    static func balanceHistory(_ account: String, _ sequence: UInt64) -> [UInt8] { numbered("bh/" + account, sequence) }
    static func walletHistoryPrefix(user: String, currency: Currency) -> String { "hw/\(user):\(currency.code)" }
    static func vendorHistoryPrefix(vendor: String) -> String { "hv/" + vendor }
    static func userPurchases(_ user: String) -> String { "pu/" + user }
    static func royaltyEntries(_ holder: String) -> String { "re/" + holder }
    static let pendingFundings = "open/funds"
    static let openDisputes = "open/disputes"
    static let requestedPayouts = "open/payouts"
    static func userFundings(_ user: String) -> String { "uf/" + user }
    static func userDisputes(_ user: String) -> String { "ud/" + user }
    static func userPayouts(_ user: String) -> String { "up/" + user }
    static func holderPayouts(_ holder: String) -> String { "hp/" + holder }
    static func userPayoutRequests(_ user: String) -> String { "ur/" + user }
    static func vendorDisputes(_ vendor: String) -> String { "vd/" + vendor }
    /// A vendor's purchases under one of its references (`vendorData.reference`). Vendor IDs
    /// hold no '/' and references no control character, so no list's name begins another's
    /// followed by the zero byte of `numbered`.
    static func vendorReferences(_ vendor: String, _ reference: String) -> String { "vr/" + vendor + "/" + reference }
}

enum Integers {
    static func encode(_ value: UInt64) -> [UInt8] { BigEndian.bytes(value) }
    static func encode(_ value: Int64) -> [UInt8] { BigEndian.bytes(UInt64(bitPattern: value)) }

    static func uint64(_ bytes: UnsafeRawBufferPointer) -> UInt64? {
        bytes.count == 8 ? BigEndian.uint64(bytes) : nil
    }

    static func uint64(_ bytes: [UInt8]?) -> UInt64? {
        guard let bytes, bytes.count == 8 else { return nil }
        return BigEndian.uint64(bytes)
    }

    static func int64(_ bytes: [UInt8]?) -> Int64? {
        uint64(bytes).map { Int64(bitPattern: $0) }
    }
}

extension LedgerEvent {
    /// The time the ledger stamped on the event.
    var timeMilliseconds: UInt64 {
        switch self {
        case .accountOpened(let event): return event.timeMilliseconds
        case .memberAdded(let event): return event.timeMilliseconds
        case .memberRemoved(let event): return event.timeMilliseconds
        case .walletOpened(let event): return event.timeMilliseconds
        case .creditLineApproved(let event): return event.timeMilliseconds
        case .spendingLimitSet(let event): return event.timeMilliseconds
        case .fundsAdded(let event): return event.timeMilliseconds
        case .fundsCleared(let event): return event.timeMilliseconds
        case .fundsFailed(let event): return event.timeMilliseconds
        case .fundsReturned(let event): return event.timeMilliseconds
        case .payoutRequested(let event): return event.timeMilliseconds
        case .payoutDeclined(let event): return event.timeMilliseconds
        case .vendorRegistered(let event): return event.timeMilliseconds
        case .vendorUpdated(let event): return event.timeMilliseconds
        case .contentRegistered(let event): return event.timeMilliseconds
        case .purchaseAuthorized(let event): return event.timeMilliseconds
        case .purchaseCaptured(let event): return event.timeMilliseconds
        case .purchaseVoided(let event): return event.timeMilliseconds
        case .purchaseRefunded(let event): return event.timeMilliseconds
        case .tokensTransferred(let event): return event.timeMilliseconds
        case .vendorSettled(let event): return event.timeMilliseconds
        case .royaltiesPaid(let event): return event.timeMilliseconds
        case .disputeOpened(let event): return event.timeMilliseconds
        case .disputeResolved(let event): return event.timeMilliseconds
        case .incentiveIssued(let event): return event.timeMilliseconds
        case .incentiveExpired(let event): return event.timeMilliseconds
        case .referralPolicySet(let event): return event.timeMilliseconds
        case .referralRewarded(let event): return event.timeMilliseconds
        case .referralReversed(let event): return event.timeMilliseconds
        case .entitlementUsed(let event): return event.timeMilliseconds
        }
    }

    /// The purchase transaction the event is about, if any.
    var transactionID: String? {
        switch self {
        case .purchaseAuthorized(let event): return event.transaction
        case .purchaseCaptured(let event): return event.transaction
        case .purchaseVoided(let event): return event.transaction
        case .purchaseRefunded(let event): return event.transaction
        case .disputeOpened(let event): return event.transaction
        case .disputeResolved(let event): return event.transaction
        case .referralReversed(let event): return event.transaction
        case .entitlementUsed(let event): return event.transaction
        default: return nil
        }
    }
}
