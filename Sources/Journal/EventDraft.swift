/// An event to append: a type name and opaque payload bytes. The journal never interprets the
/// payload; it stores, hashes and signs exactly these bytes.
public struct EventDraft: Sendable, Equatable {
    public var typeName: String
    public var payload: [UInt8]

    public init(typeName: String, payload: [UInt8]) {
        self.typeName = typeName
        self.payload = payload
    }

    /// Checks the format rules; returns the broken rule, or nil.
    public func violation() -> String? {
        let name = typeName.utf8
        if name.isEmpty { return "typeName is empty" }
        if name.count > JournalLimits.typeNameBytesMax {
            return "typeName is \(name.count) bytes; the limit is \(JournalLimits.typeNameBytesMax)"
        }
        for byte in name where !Self.isTypeNameByte(byte) {
            return "typeName may hold only A-Z, a-z, 0-9, '.', '_' and '-'"
        }
        if payload.count > JournalLimits.eventPayloadBytesMax {
            return "payload is \(payload.count) bytes; the limit is \(JournalLimits.eventPayloadBytesMax)"
        }
        return nil
    }

    static func isTypeNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }
}
