/// What `journal-tool keys list --json` prints: the journal's key records and the files in `keys/`.
struct KeyListing: Encodable {
    let records: [KeyRecordDescription]
    let keysDirectory: String
    let files: [KeyFileDescription]
}
