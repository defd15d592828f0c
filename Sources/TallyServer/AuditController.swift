import Foundation
import Hummingbird
import Journal
import Ledger
import NIOCore
import ServiceLifecycle
import TallyCrypto

struct AuditEvent: Codable, Sendable {
    var sequence: UInt64
    var hash: String
    var type: String
    /// The payload bytes exactly as hashed, base64.
    var payload: String
}

struct AuditEventPage: Codable, Sendable {
    var events: [AuditEvent]
    var nextFrom: UInt64?
    var head: UInt64
}

struct BlockView: Codable, Sendable {
    var firstSequence: UInt64
    var lastSequence: UInt64
    var chainHead: String
    var merkleRoot: String
    var timeMilliseconds: UInt64
    var keyId: String
    var headerHex: String
    var signature: String
}

struct PublicKeyView: Codable, Sendable {
    var keyId: String
    var publicKeyPEM: String
    var activatedAtMilliseconds: UInt64
    var endorsedBy: String?
    var endorsement: String?
}

struct KeysView: Codable, Sendable {
    var keys: [PublicKeyView]
}

struct HeadView: Codable, Sendable {
    var sequence: UInt64
    var hash: String?
}

/// `/v1/audit/…`: read-only access to the journal itself with the auditor key — events as
/// hashed, blocks, public keys and receipts — and the change feeds (auditors see every event;
/// a vendor sees its own, with customers by pseudonym).
struct AuditController: Sendable {
    let api: TallyAPI
    /// Events about a referral, whose purchases may be other vendors': the referring vendor
    /// sees the reward, never which transactions qualified or were refunded.
    static let referralTypes: Set<String> = ["ReferralRewarded", "ReferralReversed"]

    func addRoutes(to router: Router<TallyContext>) {
        let audit = router.group("v1/audit")
        audit.get("head") { request, _ in try head(request) }
        audit.get("events") { request, _ in try events(request) }
        audit.get("blocks/:sequence") { request, context in try block(request, context) }
        audit.get("keys") { request, _ in try keys(request) }
        audit.get("receipts/:sequence") { request, context in try receipt(request, context) }
        audit.get("feed") { request, _ in
            try api.requireAuditor(request)
            return try feed(request, vendor: nil)
        }
        router.get("v1/vendor/feed") { request, _ in
            let body = try await RequestBodies.bytes(request)
            let vendor = try api.authenticateVendor(request, body: body)
            return try feed(request, vendor: vendor)
        }
    }

    func sequence(_ context: TallyContext) throws -> UInt64 {
        guard let value = UInt64(try context.parameters.require("sequence")), value >= 1 else {
            throw APIError.badField("sequence", "sequence must be a positive integer")
        }
        guard value <= api.journal.head else { throw APIError.notFound("event at that sequence") }
        return value
    }

    func head(_ request: Request) throws -> Response {
        try api.requireAuditor(request)
        let head = api.journal.head
        let hash = head == 0 ? nil : try api.journal.event(at: head)?.hash.hex
        return try JSONResponse.make(HeadView(sequence: head, hash: hash))
    }

    func events(_ request: Request) throws -> Response {
        try api.requireAuditor(request)
        let from = try request.queryUInt("from", min: 1) ?? 1
        let limit = Int(try request.queryUInt("limit", min: 1, max: 1000) ?? 100)
        let stored = try api.journal.events(from: from, limit: limit)
        let page = AuditEventPage(
            events: stored.map { AuditEvent(sequence: $0.sequence, hash: $0.hash.hex, type: $0.typeName, payload: Data($0.payload).base64EncodedString()) },
            nextFrom: stored.count == limit ? stored.last!.sequence + 1 : nil, head: api.journal.head)
        return try JSONResponse.make(page)
    }

    func block(_ request: Request, _ context: TallyContext) throws -> Response {
        try api.requireAuditor(request)
        let sequence = try sequence(context)
        let receipt = try api.journal.receipt(for: sequence)
        return try JSONResponse.make(BlockView(
            firstSequence: receipt.block.firstSequence, lastSequence: receipt.block.lastSequence, chainHead: receipt.block.chainHead.hex,
            merkleRoot: receipt.block.merkleRoot.hex, timeMilliseconds: receipt.block.timeMilliseconds, keyId: receipt.block.keyID,
            headerHex: receipt.block.headerHex, signature: receipt.signature))
    }

    func keys(_ request: Request) throws -> Response {
        try api.requireAuditor(request)
        let records = KeyRecord.rotationOrder(try api.journal.keyRecords())
        let views = (records.chain + records.strays).map { record in
            PublicKeyView(
                keyId: "\(record.keyID)", publicKeyPEM: record.publicKey.pemRepresentation, activatedAtMilliseconds: record.activatedAt,
                endorsedBy: record.endorsingKeyID.map { "\($0)" }, endorsement: record.endorsement.map { Hex.encode($0) })
        }
        return try JSONResponse.make(KeysView(keys: views))
    }

    func receipt(_ request: Request, _ context: TallyContext) throws -> Response {
        try api.requireAuditor(request)
        return try JSONResponse.make(try api.journal.receipt(for: try sequence(context)))
    }

    // MARK: Change feed

    /// Server-sent events from `from` (default: the next event to commit): `id` is the
    /// sequence, `event` the type, `data` the event. `limit` ends the stream after that many
    /// events (otherwise it follows new commits until the client goes away).
    func feed(_ request: Request, vendor: String?) throws -> Response {
        let head = api.journal.head
        let from = try request.queryUInt("from", min: 1) ?? (head + 1)
        let limit = try request.queryUInt("limit", max: 1_000_000)
        let journal = api.journal
        let pseudonyms = api.pseudonyms
        let body = ResponseBody { writer in
            var next = from
            var sent: UInt64 = 0
            var idle = 0
            // A stopping server ends its feeds (they would otherwise hold the graceful shutdown
            // open until its deadline); a client that went away is found by the keep-alive's write.
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                if let limit, sent >= limit { break }
                let batch = try journal.events(from: next, limit: 256)
                if batch.isEmpty {
                    idle += 1
                    if idle % 300 == 0 { try await writer.write(ByteBuffer(string: ": keep-alive\n\n")) }
                    try await Task.sleep(for: .milliseconds(50))
                    continue
                }
                idle = 0
                var buffer = ByteBuffer()
                for stored in batch {
                    next = stored.sequence + 1
                    if let limit, sent >= limit { break }
                    guard let data = try Self.feedData(stored, vendor: vendor, pseudonyms: pseudonyms) else { continue }
                    buffer.writeString("id: \(stored.sequence)\nevent: \(stored.typeName)\ndata: ")
                    buffer.writeBytes(data)
                    buffer.writeString("\n\n")
                    sent += 1
                }
                if buffer.readableBytes > 0 {
                    try await writer.write(buffer)
                } else {
                    // A vendor's scan past other vendors' events writes nothing for long
                    // stretches (a million events: seconds); it lets the requests waiting
                    // for this thread run between batches.
                    await Task.yield()
                }
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-store"], body: body)
    }

    /// Whether `bytes` hold `text` between double quotes.
    static func contains(_ bytes: [UInt8], quoted text: String) -> Bool {
        let needle = Array(("\"" + text + "\"").utf8)
        return bytes.withUnsafeBytes { haystack in
            needle.withUnsafeBytes { needle in
                guard haystack.count >= needle.count, let base = haystack.baseAddress else { return false }
                var offset = 0
                let last = haystack.count - needle.count
                while offset <= last {
                    // The next candidate start (a quote), then the whole needle compared there.
                    guard let found = memchr(base + offset, Int32(needle[0]), last - offset + 1) else { return false }
                    let start = base.distance(to: UnsafeRawPointer(found))
                    if memcmp(found, needle.baseAddress!, needle.count) == 0 { return true }
                    offset = start + 1
                }
                return false
            }
        }
    }

    /// What one subscriber may see of an event: everything for auditors; for a vendor, only
    /// its own events, without postings or funding sources (they name user accounts), without
    /// a disputing buyer's reason, and with users replaced by the vendor's pseudonym for them.
    static func feedData(_ stored: StoredEvent, vendor: String?, pseudonyms: Pseudonyms) throws -> [UInt8]? {
        guard let vendor else {
            return Array(try JSONResponse.encoder.encode(AuditEvent(
                sequence: stored.sequence, hash: stored.hash.hex, type: stored.typeName, payload: Data(stored.payload).base64EncodedString())))
        }
        // An event of this vendor's names its ID as a JSON string, so an event whose bytes do not
        // hold `"<vendor>"` is not parsed: a vendor's feed of a busy journal skips the others'
        // events for the cost of a byte search, not a JSON parse each.
        guard Self.contains(stored.payload, quoted: vendor) else { return nil }
        guard var object = try JSONSerialization.jsonObject(with: Data(stored.payload)) as? [String: Any] else { return nil }
        let owner = (object["vendor"] as? String) ?? (object["issuer"] as? String)
        guard owner == vendor else { return nil }
        object.removeValue(forKey: "postings")
        object.removeValue(forKey: "sources")
        object.removeValue(forKey: "idempotency")
        object.removeValue(forKey: "representative")
        if let user = object.removeValue(forKey: "user") as? String {
            object["customer"] = pseudonyms.pseudonym(user: user, vendor: vendor)
        }
        object.removeValue(forKey: "member")
        // The buyer's reason for a dispute is the buyer's words, for customer service: the
        // vendor's list of disputes leaves it out too (`VendorDisputeView`).
        if stored.typeName == "DisputeOpened" { object.removeValue(forKey: "reason") }
        // A referral is about the user's purchases at any vendor: which ones is not the
        // referring vendor's to see (their transaction IDs, and so when they were made). The
        // vendor's history leaves them out the same way (VendorController.history).
        if Self.referralTypes.contains(stored.typeName) {
            object.removeValue(forKey: "qualifyingTransactions")
            object.removeValue(forKey: "transaction")
        }
        object["sequence"] = stored.sequence
        object["type"] = stored.typeName
        return Array(try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
    }
}
