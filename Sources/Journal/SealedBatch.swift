import TallyCrypto

/// One committed batch as the writer saw it: the sealed block and its event hashes, kept so
/// that receipts for its events can be built without reading the journal again.
public final class SealedBatch: Sendable {
    public let block: SealedBlock
    public let eventHashes: [SHA256Digest]
    public let typeNames: [String]
    /// The hash of the event before the batch's first.
    public let previousHash: SHA256Digest

    init(block: SealedBlock, eventHashes: [SHA256Digest], typeNames: [String], previousHash: SHA256Digest) {
        precondition(eventHashes.count == Int(block.header.eventCount) && typeNames.count == eventHashes.count)
        self.block = block
        self.eventHashes = eventHashes
        self.typeNames = typeNames
        self.previousHash = previousHash
    }

    /// Receipts of consecutive `sequences` in this batch; the tree is built once for all.
    public func receipts(for sequences: ClosedRange<UInt64>) -> [Receipt] {
        let header = block.header
        precondition(sequences.lowerBound >= header.firstSequence && sequences.upperBound <= header.lastSequence)
        let levels = MerkleTree.levels(of: eventHashes)
        return sequences.map { sequence in
            let index = Int(sequence - header.firstSequence)
            return Receipt(
                sequence: sequence, typeName: typeNames[index], eventHash: eventHashes[index],
                previousHash: index == 0 ? previousHash : eventHashes[index - 1], sealed: block,
                merklePath: MerkleTree.path(for: index, levels: levels))
        }
    }

    /// The receipt of `sequence`, which must be in this batch.
    public func receipt(for sequence: UInt64) -> Receipt {
        let header = block.header
        precondition(sequence >= header.firstSequence && sequence <= header.lastSequence, "sequence outside the batch")
        let index = Int(sequence - header.firstSequence)
        return Receipt(
            sequence: sequence, typeName: typeNames[index], eventHash: eventHashes[index],
            previousHash: index == 0 ? previousHash : eventHashes[index - 1], sealed: block,
            merklePath: MerkleTree.path(for: index, in: eventHashes))
    }
}
