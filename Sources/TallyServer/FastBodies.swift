import Ledger

// Hand-written readers of the purchase bodies (the hot routes': one purchase, and a batch of
// them), on `JSONKeyScanner`.
// Each answers nil for anything it does not fully understand, and `RequestBodies.decode` then
// decides with the generic path and its precise error (see `FastDecodable`).

/// The members a single purchase and a batch item share: the token and the content, from the
/// catalog or inline.
struct PurchaseMembers {
    var token: String?
    var content: String?
    var inline: ContentBody?

    /// Reads `key`'s value if it is one of these members: true when read, false when the value
    /// is not understood, nil when `key` is not one of them.
    mutating func read(_ key: String, _ scanner: inout JSONKeyScanner) throws(JSONKeyScanner.Malformed) -> Bool? {
        switch key {
        case "purchaseToken": token = try scanner.text(); return token != nil
        case "content": guard let value = try scanner.optional({ s throws(JSONKeyScanner.Malformed) in try s.text() }) else { return false }; content = value
        case "inline": guard let value = try scanner.optional({ s throws(JSONKeyScanner.Malformed) in try ContentBody.read(&s) }) else { return false }; inline = value
        default: return nil
        }
        return true
    }
}

extension PurchaseBody: FastDecodable {
    static func fastDecode(_ body: [UInt8]) -> PurchaseBody? {
        JSONKeyScanner.reading(body) { scanner throws(JSONKeyScanner.Malformed) -> PurchaseBody? in
            var members = PurchaseMembers()
            var holdSeconds: UInt64?
            let understood = try scanner.members { scanner, key throws(JSONKeyScanner.Malformed) in
                if let read = try members.read(key, &scanner) { return read }
                guard key == "holdSeconds", let value = try scanner.optional({ s throws(JSONKeyScanner.Malformed) in s.uint64() }) else { return false }
                holdSeconds = value
                return true
            }
            guard understood, let token = members.token else { return nil }
            return PurchaseBody(purchaseToken: token, content: members.content, inline: members.inline, holdSeconds: holdSeconds)
        }
    }
}

extension BatchPurchaseBody: FastDecodable {
    static func fastDecode(_ body: [UInt8]) -> BatchPurchaseBody? {
        JSONKeyScanner.reading(body) { scanner throws(JSONKeyScanner.Malformed) -> BatchPurchaseBody? in
            var purchases: [BatchPurchaseItem]?
            let understood = try scanner.members { scanner, key throws(JSONKeyScanner.Malformed) in
                guard key == "purchases" else { return false }
                var items: [BatchPurchaseItem] = []
                let read = try scanner.elements { scanner throws(JSONKeyScanner.Malformed) in
                    guard let item = try BatchPurchaseItem.read(&scanner) else { return false }
                    items.append(item)
                    return true
                }
                purchases = items
                return read
            }
            guard understood, let purchases else { return nil }
            return BatchPurchaseBody(purchases: purchases)
        }
    }
}

extension BatchPurchaseItem {
    static func read(_ scanner: inout JSONKeyScanner) throws(JSONKeyScanner.Malformed) -> BatchPurchaseItem? {
        var members = PurchaseMembers()
        var idempotencyKey: String?
        let understood = try scanner.members { scanner, key throws(JSONKeyScanner.Malformed) in
            if let read = try members.read(key, &scanner) { return read }
            guard key == "idempotencyKey" else { return false }
            idempotencyKey = try scanner.text()
            return idempotencyKey != nil
        }
        guard understood, let idempotencyKey, let token = members.token else { return nil }
        return BatchPurchaseItem(idempotencyKey: idempotencyKey, purchaseToken: token, content: members.content, inline: members.inline)
    }
}

extension ContentBody {
    static func read(_ scanner: inout JSONKeyScanner) throws(JSONKeyScanner.Malformed) -> ContentBody? {
        var content: String?, title: String?, price: Int64?, currency: Currency?, url: String?
        var description: String?
        var access: AccessBody?
        var incentiveIDs: [String]?
        var royalties: [RoyaltyShareBody]?
        let understood = try scanner.members { scanner, key throws(JSONKeyScanner.Malformed) in
            switch key {
            case "content": content = try scanner.text(); return content != nil
            case "title": title = try scanner.text(); return title != nil
            case "url": url = try scanner.text(); return url != nil
            case "price": price = scanner.int64(); return price != nil
            case "currency": currency = try scanner.text().flatMap { Currency(code: $0) }; return currency != nil
            case "description": guard let value = try scanner.optional({ s throws(JSONKeyScanner.Malformed) in try s.text() }) else { return false }; description = value
            case "access": guard let value = try scanner.optional({ s throws(JSONKeyScanner.Malformed) in try AccessBody.read(&s) }) else { return false }; access = value
            case "incentiveIDs":
                guard let value = try scanner.optional({ s throws(JSONKeyScanner.Malformed) -> [String]? in
                    var ids: [String] = []
                    let read = try s.elements { s throws(JSONKeyScanner.Malformed) in
                        guard let id = try s.text() else { return false }
                        ids.append(id)
                        return true
                    }
                    return read ? ids : nil
                }) else { return false }
                incentiveIDs = value
            case "royalties":
                guard let value = try scanner.optional({ s throws(JSONKeyScanner.Malformed) -> [RoyaltyShareBody]? in
                    var shares: [RoyaltyShareBody] = []
                    let read = try s.elements { s throws(JSONKeyScanner.Malformed) in
                        var holder: String?, basisPoints: Int64?
                        let understood = try s.members { s, key throws(JSONKeyScanner.Malformed) in
                            switch key {
                            case "holder": holder = try s.text(); return holder != nil
                            case "basisPoints": basisPoints = s.int64(); return basisPoints != nil
                            default: return false
                            }
                        }
                        guard understood, let holder, let basisPoints else { return false }
                        shares.append(RoyaltyShareBody(holder: holder, basisPoints: basisPoints))
                        return true
                    }
                    return read ? shares : nil
                }) else { return false }
                royalties = value
            default: return false
            }
            return true
        }
        guard understood, let content, let title, let price, let currency, let url else { return nil }
        return ContentBody(
            content: content, title: title, price: price, currency: currency, description: description, url: url, access: access,
            incentiveIDs: incentiveIDs, royalties: royalties)
    }
}

extension AccessBody {
    static func read(_ scanner: inout JSONKeyScanner) throws(JSONKeyScanner.Malformed) -> AccessBody? {
        var access = AccessBody()
        let understood = try scanner.members { scanner, key throws(JSONKeyScanner.Malformed) in
            switch key {
            case "views": guard let value = scanner.optionalInt() else { return false }; access.views = value
            case "hours": guard let value = scanner.optionalInt() else { return false }; access.hours = value
            case "days": guard let value = scanner.optionalInt() else { return false }; access.days = value
            case "expiresAtMilliseconds":
                guard let value = try scanner.optional({ s throws(JSONKeyScanner.Malformed) in s.uint64() }) else { return false }
                access.expiresAtMilliseconds = value
            default: return false
            }
            return true
        }
        return understood ? access : nil
    }
}

