import Synchronization
import TallyCrypto

/// One committed batch as the writer saw it: the sealed block and its event hashes, kept so
/// that receipts for its events can be built without reading the journal again.
///
/// It keeps the writer's seal job (its drafts and hash buffer) rather than copies of them, so
/// handing a batch back to its callers costs nothing per event.
public final class SealedBatch: Sendable {
    public let block: SealedBlock
    /// The hash of the event before the batch's first.
    public let previousHash: SHA256Digest
    private let job: SealJob
    /// The block's Merkle tree, built by the first caller that asks for a receipt: every
    /// caller of a group commit asks for its own, and each built the whole tree again.
    private let tree = Mutex<[[SHA256Digest]]?>(nil)

    init(job: SealJob) {
        self.job = job
        self.block = job.sealedBlock()
        self.previousHash = job.previous
    }

    public var eventHashes: [SHA256Digest] { job.eventHashes }

    var typeNames: [String] { job.drafts.map(\.typeName) }

    /// Receipts of consecutive `sequences` in this batch; the tree is built once for all.
    public func receipts(for sequences: ClosedRange<UInt64>) -> [Receipt] {
        let header = block.header
        precondition(sequences.lowerBound >= header.firstSequence && sequences.upperBound <= header.lastSequence)
        let levels = treeLevels()
        let hashes = levels[0]
        return sequences.map { sequence in
            let index = Int(sequence - header.firstSequence)
            return Receipt(
                sequence: sequence, typeName: job.drafts[index].typeName, eventHash: hashes[index],
                previousHash: index == 0 ? previousHash : hashes[index - 1], sealed: block,
                merklePath: MerkleTree.path(for: index, levels: levels))
        }
    }

    /// Every level of the block's Merkle tree, leaves (the event hashes) first.
    private func treeLevels() -> [[SHA256Digest]] {
        tree.withLock { tree in
            if let tree { return tree }
            let levels = MerkleTree.levels(of: eventHashes)
            tree = levels
            return levels
        }
    }

    /// The receipt of `sequence`, which must be in this batch.
    public func receipt(for sequence: UInt64) -> Receipt {
        let header = block.header
        precondition(sequence >= header.firstSequence && sequence <= header.lastSequence, "sequence outside the batch")
        let index = Int(sequence - header.firstSequence)
        let hashes = eventHashes
        return Receipt(
            sequence: sequence, typeName: job.drafts[index].typeName, eventHash: hashes[index],
            previousHash: index == 0 ? previousHash : hashes[index - 1], sealed: block,
            merklePath: MerkleTree.path(for: index, in: hashes))
    }
}
