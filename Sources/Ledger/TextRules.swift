/// What free text may hold, wherever it enters Tally (the ledger's names, titles, reasons and
/// URLs; the server's logins, names and e-mail addresses).
public enum TextRules {
    /// Whether `text` holds a control character (Unicode category Cc: U+0000–U+001F and
    /// U+007F–U+009F). None is ever needed in these fields, and each can hide or forge what an
    /// operator's terminal, a log line or a vendor's page shows.
    public static func containsControlCharacter(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { bytes in
            var previous: UInt8 = 0
            for byte in bytes {
                // C0 and DEL are single bytes; C1 is U+0080–U+009F, encoded 0xC2 0x80–0x9F.
                if byte < 0x20 || byte == 0x7F || (previous == 0xC2 && (0x80...0x9F).contains(byte)) { return true }
                previous = byte
            }
            return false
        }
    }
}
