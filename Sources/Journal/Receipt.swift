import TallyCrypto

/// Proof that an event is in the journal: its hash, the signed header of the block that sealed
/// it, and the Merkle path from the event hash to the block's root. A vendor or user can keep
/// it and check it alone, with SHA-256 and Ed25519 (see `Schemas/journal.md`).
public struct Receipt: Codable, Sendable, Equatable {
    public static let formatName = "tally-receipt/1"

    public struct Block: Codable, Sendable, Equatable {
        public var firstSequence: UInt64
        public var lastSequence: UInt64
        public var chainHead: SHA256Digest
        public var merkleRoot: SHA256Digest
        public var timeMilliseconds: UInt64
        public var keyID: String
        /// The 97 header bytes in hex: exactly what the signature covers (after the domain prefix).
        public var headerHex: String
    }

    public var format: String = Receipt.formatName
    public var sequence: UInt64
    public var typeName: String
    public var eventHash: SHA256Digest
    /// The hash of the event before this one (zero for event 1), to recompute `eventHash`
    /// from the payload.
    public var previousHash: SHA256Digest
    public var block: Block
    /// The block's Ed25519 signature, hex.
    public var signature: String
    /// The event's index among the block's events, and how many events the block holds.
    public var leafIndex: Int
    public var leafCount: Int
    public var merklePath: [MerkleTree.Step]

    public init(
        sequence: UInt64, typeName: String, eventHash: SHA256Digest, previousHash: SHA256Digest,
        sealed: SealedBlock, merklePath: [MerkleTree.Step]
    ) {
        let header = sealed.header
        self.sequence = sequence
        self.typeName = typeName
        self.eventHash = eventHash
        self.previousHash = previousHash
        self.block = Block(
            firstSequence: header.firstSequence, lastSequence: header.lastSequence, chainHead: header.chainHead,
            merkleRoot: header.merkleRoot, timeMilliseconds: header.timeMilliseconds, keyID: header.keyID.hex,
            headerHex: Hex.encode(header.bytes))
        self.signature = Hex.encode(sealed.signature)
        self.leafIndex = Int(sequence - header.firstSequence)
        self.leafCount = Int(header.eventCount)
        self.merklePath = merklePath
    }

    /// Checks the receipt under `publicKey`; with `payload`, also that the event hash is the
    /// hash of that payload at this sequence. Returns the broken rule, or nil when it holds.
    public func violation(publicKey: Ed25519PublicKey, payload: [UInt8]? = nil) -> String? {
        guard format == Self.formatName else { return "format is '\(format)', not '\(Self.formatName)'" }
        guard let headerBytes = Hex.decode(block.headerHex),
              case .success(let header) = headerBytes.withUnsafeBytes({ BlockHeader.parse($0) })
        else { return "block.headerHex is not a block header" }
        guard header.firstSequence == block.firstSequence, header.lastSequence == block.lastSequence,
              header.chainHead == block.chainHead, header.merkleRoot == block.merkleRoot,
              header.timeMilliseconds == block.timeMilliseconds, header.keyID.hex == block.keyID
        else { return "block fields differ from the signed header bytes" }
        guard KeyID(publicKey: publicKey) == header.keyID else {
            return "block is signed by key \(header.keyID), not by the given key \(KeyID(publicKey: publicKey))"
        }
        guard let signatureBytes = Hex.decode(signature), signatureBytes.count == 64,
              publicKey.isValidSignature(signatureBytes, for: header.signedMessage)
        else { return "signature does not verify" }
        // Compared as UInt64: a signed header may state any range, beyond what an Int holds.
        guard sequence >= header.firstSequence, sequence <= header.lastSequence,
              leafIndex >= 0, UInt64(leafIndex) == sequence - header.firstSequence,
              leafCount >= 0, UInt64(leafCount) == header.eventCount
        else { return "sequence, leafIndex or leafCount do not fit the block" }
        guard let root = MerkleTree.root(fromLeaf: eventHash, index: leafIndex, count: leafCount, path: merklePath) else {
            return "merklePath does not fit leafIndex and leafCount"
        }
        guard root == header.merkleRoot else { return "merklePath does not lead from eventHash to the block's Merkle root" }
        if sequence == header.lastSequence && eventHash != header.chainHead {
            return "the block's last event hash is not its chain head"
        }
        if let payload {
            let draft = EventDraft(typeName: typeName, payload: payload)
            if let rule = draft.violation() { return "payload: \(rule)" }
            var record = [UInt8](repeating: 0, count: EventRecord.storedSize(typeNameBytes: typeName.utf8.count, payloadBytes: payload.count))
            let computed = record.withUnsafeMutableBytes { buffer in
                EventRecord.write(draft, sequence: sequence, previous: previousHash, into: buffer, hasher: SHA256())
            }
            guard computed == eventHash else { return "eventHash is not the hash of this payload at this sequence" }
        }
        return nil
    }
}
