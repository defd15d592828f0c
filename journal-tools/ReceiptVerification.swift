/// The outcome of `journal-tool receipt verify`, as printed with `--json`.
struct ReceiptVerification: Encodable {
    let valid: Bool
    /// The broken rule, or nil when the receipt is valid.
    let reason: String?
    let sequence: UInt64
    let eventHash: String
    let block: String
    let keyID: String
    let payloadChecked: Bool

    enum CodingKeys: String, CodingKey { case valid, reason, sequence, eventHash, block, keyID, payloadChecked }

    /// Every key is present; `reason` is `null` when the receipt is valid.
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(valid, forKey: .valid)
        try container.encode(reason, forKey: .reason)
        try container.encode(sequence, forKey: .sequence)
        try container.encode(eventHash, forKey: .eventHash)
        try container.encode(block, forKey: .block)
        try container.encode(keyID, forKey: .keyID)
        try container.encode(payloadChecked, forKey: .payloadChecked)
    }
}
