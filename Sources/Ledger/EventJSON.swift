// Hand-written JSON for the hot path: the purchase events and the idempotency digest's
// canonical form of a purchase command.
//
// `JSONEncoder` took ≈ 28 µs per `PurchaseCaptured` and ≈ 5 µs per request digest. The writer
// below emits the same JSON document (keys sorted, absent optionals omitted, integers in
// decimal), so the events still validate against Schemas/events and decode with
// `LedgerEvent(typeName:payload:)`. For the digest it reproduces `JSONEncoder`'s
// `.sortedKeys` output byte for byte (slashes escaped as `\/`), so a digest stored before this
// change still matches the same request (LedgerCodecTests compares the two).

public struct JSONWriter: ~Copyable {
    // The document is written into memory of its own, not into an `[UInt8]`: every
    // `Array.append` asks the runtime whether the array's storage is uniquely referenced, and a
    // purchase event is some 150 small appends (`ledger-benchmark --only codec`). Growth is the
    // only call out of line. Not copyable, so that no copy can share the memory it frees.
    private var base: UnsafeMutablePointer<UInt8>
    private var count: Int
    private var capacity: Int
    /// `JSONEncoder` escapes `/` as `\/` by default; the digest form keeps that.
    let escapeSlashes: Bool

    public init(capacity: Int = 512, escapeSlashes: Bool = false) {
        self.capacity = max(capacity, 16)
        base = .allocate(capacity: self.capacity)
        count = 0
        self.escapeSlashes = escapeSlashes
    }

    deinit { base.deallocate() }

    /// The document written so far.
    public var bytes: [UInt8] { Array(UnsafeBufferPointer(start: base, count: count)) }

    /// Room for `more` bytes after the ones written.
    @inline(__always) private mutating func reserve(_ more: Int) {
        if capacity - count < more { grow(more) }
    }

    @inline(never) private mutating func grow(_ more: Int) {
        let needed = count + more
        var newCapacity = capacity * 2
        while newCapacity < needed { newCapacity *= 2 }
        let newBase = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        newBase.update(from: base, count: count)
        base.deallocate()
        base = newBase
        capacity = newCapacity
    }

    @inline(__always) private mutating func append(_ byte: UInt8) {
        reserve(1)
        base[count] = byte
        count += 1
    }

    @inline(__always) private mutating func append(_ buffer: UnsafeBufferPointer<UInt8>) {
        guard let source = buffer.baseAddress, !buffer.isEmpty else { return }
        reserve(buffer.count)
        (base + count).update(from: source, count: buffer.count)
        count += buffer.count
    }

    @inline(__always) public mutating func raw(_ text: StaticString) {
        append(UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// `"name":` — `first` omits the comma before it.
    @inline(__always) public mutating func key(_ name: StaticString, first: Bool = false) {
        let length = name.utf8CodeUnitCount
        reserve(length + 4)
        if !first {
            base[count] = UInt8(ascii: ",")
            count += 1
        }
        base[count] = UInt8(ascii: "\"")
        (base + count + 1).update(from: name.utf8Start, count: length)
        base[count + 1 + length] = UInt8(ascii: "\"")
        base[count + 2 + length] = UInt8(ascii: ":")
        count += length + 3
    }

    public mutating func string(_ value: String) {
        var value = value
        value.withUTF8 { utf8 in
            reserve(utf8.count + 2)
            base[count] = UInt8(ascii: "\"")
            count += 1
            // Most strings need no escape: found a word at a time, then copied whole.
            if !Self.needsEscape(utf8, slashes: escapeSlashes) {
                append(utf8)
                append(UInt8(ascii: "\""))
                return
            }
            var start = 0
            for index in 0..<utf8.count {
                let byte = utf8[index]
                let escape: Bool = byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
                    || (escapeSlashes && byte == UInt8(ascii: "/"))
                guard escape else { continue }
                append(UnsafeBufferPointer(rebasing: utf8[start..<index]))
                start = index + 1
                append(UInt8(ascii: "\\"))
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): append(byte)
                case 0x08: append(UInt8(ascii: "b"))
                case 0x0C: append(UInt8(ascii: "f"))
                case 0x0A: append(UInt8(ascii: "n"))
                case 0x0D: append(UInt8(ascii: "r"))
                case 0x09: append(UInt8(ascii: "t"))
                default:
                    let hex: StaticString = "0123456789abcdef"
                    raw("u00")
                    append(hex.utf8Start[Int(byte >> 4)])
                    append(hex.utf8Start[Int(byte & 0xF)])
                }
            }
            append(UnsafeBufferPointer(rebasing: utf8[start..<utf8.count]))
            append(UInt8(ascii: "\""))
        }
    }

    /// Whether any byte of `utf8` must be escaped: a control character, `"`, `\\`, or `/` when
    /// `slashes` (the reader's scan for a string's end, eight bytes at a time).
    static func needsEscape(_ utf8: UnsafeBufferPointer<UInt8>, slashes: Bool) -> Bool {
        JSONCursor.special(utf8, from: 0, slashes: slashes) < utf8.count
    }

    public mutating func unsigned(_ value: UInt64) {
        reserve(20)
        if value < 10 {
            base[count] = UInt8(ascii: "0") + UInt8(value)
            count += 1
            return
        }
        var digits = 0
        var rest = value
        while rest > 0 {
            digits += 1
            rest /= 10
        }
        rest = value
        var index = count + digits - 1
        while rest > 0 {
            base[index] = UInt8(ascii: "0") + UInt8(rest % 10)
            rest /= 10
            index -= 1
        }
        count += digits
    }

    public mutating func signed(_ value: Int64) {
        if value < 0 {
            append(UInt8(ascii: "-"))
            unsigned(value.magnitude)
        } else {
            unsigned(UInt64(value))
        }
    }

    public mutating func bool(_ value: Bool) { value ? raw("true") : raw("false") }

    public mutating func array<T>(_ values: [T], _ write: (inout JSONWriter, T) -> Void) {
        append(UInt8(ascii: "["))
        for (index, value) in values.enumerated() {
            if index > 0 { append(UInt8(ascii: ",")) }
            write(&self, value)
        }
        append(UInt8(ascii: "]"))
    }

    public mutating func stringArray(_ values: [String]) { array(values) { $0.string($1) } }

    /// `"name":value`, or nothing when the value is absent (as `JSONEncoder` omits a nil).
    public mutating func optionalKey(_ name: StaticString, _ value: String?) {
        if let value { key(name); string(value) }
    }

    public mutating func optionalKey(_ name: StaticString, _ value: UInt64?) {
        if let value { key(name); unsigned(value) }
    }

    // MARK: Shared pieces (keys in sorted order, as `JSONEncoder` with `.sortedKeys` writes them)

    public mutating func access(_ access: AccessTerms) {
        append(UInt8(ascii: "{"))
        var first = true
        if let days = access.days { key("days", first: first); signed(Int64(days)); first = false }
        if let expires = access.expiresAtMilliseconds { key("expiresAtMilliseconds", first: first); unsigned(expires); first = false }
        if let hours = access.hours { key("hours", first: first); signed(Int64(hours)); first = false }
        if let views = access.views { key("views", first: first); signed(Int64(views)); first = false }
        append(UInt8(ascii: "}"))
    }

    public mutating func object(_ body: (inout JSONWriter) -> Void) {
        append(UInt8(ascii: "{"))
        body(&self)
        append(UInt8(ascii: "}"))
    }

    mutating func postings(_ postings: [Posting]) {
        array(postings) { writer, posting in
            writer.object {
                $0.key("amount", first: true); $0.signed(posting.amount)
                $0.key("credit"); $0.string(posting.credit)
                $0.key("currency"); $0.string(posting.currency.code)
                $0.key("debit"); $0.string(posting.debit)
            }
        }
    }

    mutating func sources(_ sources: [FundingSource]) {
        array(sources) { writer, source in
            writer.object {
                $0.key("account", first: true); $0.string(source.account)
                $0.key("amount"); $0.signed(source.amount)
            }
        }
    }

    mutating func idempotency(_ mark: IdempotencyMark) {
        object {
            $0.key("key", first: true); $0.string(mark.key)
            $0.key("requestDigest"); $0.string(mark.requestDigest)
            $0.key("vendor"); $0.string(mark.vendor)
        }
    }
}

extension JSONWriter {
    /// The terms as one JSON object.
    mutating func termsObject(_ value: ContentTerms) {
        object { writer in
            writer.key("access", first: true)
            writer.access(value.access)
            writer.key("content"); writer.string(value.content)
            writer.key("currency"); writer.string(value.currency.code)
            writer.key("description"); writer.string(value.description)
            writer.key("incentiveIDs"); writer.stringArray(value.incentiveIDs)
            writer.key("price"); writer.signed(value.price)
            writer.key("royalties")
            writer.array(value.royalties) { writer, share in
                writer.object {
                    $0.key("basisPoints", first: true); $0.signed(share.basisPoints)
                    $0.key("holder"); $0.string(share.holder)
                }
            }
            writer.key("title"); writer.string(value.title)
            writer.key("url"); writer.string(value.url)
        }
    }
}

enum EventJSON {
    static func purchaseCaptured(_ event: PurchaseCaptured) -> [UInt8] {
        var writer = JSONWriter(capacity: 768)
        writer.object { writer in
            writer.key("entitlement", first: true); writer.access(event.entitlement)
            writer.key("fee"); writer.signed(event.fee)
            if let mark = event.idempotency { writer.key("idempotency"); writer.idempotency(mark) }
            if let member = event.member { writer.key("member"); writer.string(member) }
            writer.key("oneStep"); writer.bool(event.oneStep)
            writer.key("postings"); writer.postings(event.postings)
            writer.key("rounding"); writer.string(event.rounding)
            writer.key("royalties")
            writer.array(event.royalties) { writer, royalty in
                writer.object {
                    $0.key("amount", first: true); $0.signed(royalty.amount)
                    $0.key("holder"); $0.string(royalty.holder)
                }
            }
            writer.key("sources"); writer.sources(event.sources)
            writer.key("terms"); writer.termsObject(event.terms)
            writer.key("timeMilliseconds"); writer.unsigned(event.timeMilliseconds)
            writer.key("transaction"); writer.string(event.transaction)
            writer.key("user"); writer.string(event.user)
            writer.key("vendor"); writer.string(event.vendor)
        }
        return writer.bytes
    }

    static func purchaseAuthorized(_ event: PurchaseAuthorized) -> [UInt8] {
        var writer = JSONWriter(capacity: 640)
        writer.object { writer in
            writer.key("holdExpiresAtMilliseconds", first: true); writer.unsigned(event.holdExpiresAtMilliseconds)
            if let mark = event.idempotency { writer.key("idempotency"); writer.idempotency(mark) }
            if let member = event.member { writer.key("member"); writer.string(member) }
            writer.key("postings"); writer.postings(event.postings)
            writer.key("sources"); writer.sources(event.sources)
            writer.key("terms"); writer.termsObject(event.terms)
            writer.key("timeMilliseconds"); writer.unsigned(event.timeMilliseconds)
            writer.key("transaction"); writer.string(event.transaction)
            writer.key("user"); writer.string(event.user)
            writer.key("vendor"); writer.string(event.vendor)
        }
        return writer.bytes
    }

    /// The canonical bytes of a command for its idempotency digest: `JSONEncoder`'s sorted-keys
    /// form, written by hand for one-step purchases and authorisations, from the catalog or
    /// inline, without vendor data (the hot cases); nil for anything else.
    static func digestForm(_ command: LedgerCommand) -> [UInt8]? {
        var writer = JSONWriter(capacity: 256, escapeSlashes: true)
        switch command {
        case .purchase(let user, let member, let vendor, let content, nil):
            writer.raw("{\"purchase\":{\"content\":")
            writer.contentReference(content)
            if let member { writer.key("member"); writer.string(member) }
            writer.key("user"); writer.string(user)
            writer.key("vendor"); writer.string(vendor)
        case .authorize(let user, let member, let vendor, let content, let holdSeconds, nil):
            writer.raw("{\"authorize\":{\"content\":")
            writer.contentReference(content)
            writer.key("holdSeconds"); writer.unsigned(holdSeconds)
            if let member { writer.key("member"); writer.string(member) }
            writer.key("user"); writer.string(user)
            writer.key("vendor"); writer.string(vendor)
        default:
            return nil
        }
        writer.raw("}}")
        return writer.bytes
    }
}

extension JSONWriter {
    /// `ContentReference` as the synthesized `Codable` writes it: `{"catalog":{"_0":id}}` or
    /// `{"inline":{"_0":terms}}`.
    mutating func contentReference(_ content: ContentReference) {
        switch content {
        case .catalog(let id):
            raw("{\"catalog\":{\"_0\":")
            string(id)
        case .inline(let terms):
            raw("{\"inline\":{\"_0\":")
            termsObject(terms)
        }
        raw("}}")
    }
}
