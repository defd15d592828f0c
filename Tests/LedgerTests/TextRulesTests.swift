import Ledger
import Testing

@Suite("Text rules")
struct TextRulesTests {
    @Test("a control character is found exactly where Unicode says one is (category Cc), alone or inside text")
    func controlCharactersAreUnicodes() {
        var disagreements: [UInt32] = []
        for value in UInt32(0)...0x2FFFF {
            guard let scalar = Unicode.Scalar(value) else { continue }
            let isControl = scalar.properties.generalCategory == .control
            let text = String(Character(scalar))
            if TextRules.containsControlCharacter(text) != isControl
                || TextRules.containsControlCharacter("aé" + text + "€z") != isControl
            {
                disagreements.append(value)
            }
        }
        #expect(disagreements.isEmpty, "\(disagreements.prefix(10).map { String($0, radix: 16) })")
        #expect(!TextRules.containsControlCharacter(""))
        #expect(!TextRules.containsControlCharacter("Â\u{A0}ŀ"), "0xC2 as a lead byte of a character that is not C1")
    }
}
