/// What `journal-tool keys list --json` prints: the journal's key records and the files in `keys/`.
struct KeyListing: Encodable {
    /// The journal the records come from; nil before the first start created it (right after
    /// `keys generate`), when there are no records yet.
    let journal: String?
    let records: [KeyRecordDescription]
    let keysDirectory: String
    let files: [KeyFileDescription]

    enum CodingKeys: String, CodingKey { case journal, records, keysDirectory, files }

    /// Every key is present; `journal` is `null` when there is no journal yet.
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(journal, forKey: .journal)
        try container.encode(records, forKey: .records)
        try container.encode(keysDirectory, forKey: .keysDirectory)
        try container.encode(files, forKey: .files)
    }
}
