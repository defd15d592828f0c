import Synchronization
import TallyCrypto

#if canImport(Glibc)
import Glibc
#endif

/// The sealing work of one commit batch: the hash chain over its drafts, the Merkle root and
/// the block signature. It depends only on the drafts and the chain head, not on storage.
///
/// A small batch is sealed whole by the writer (``seal(hasher:merkleHasher:)``). For a large
/// batch the work is split over the two threads: the ``BatchSealer`` thread runs the chain
/// (``chain(hasher:)``, each hash depends on the one before), while the writer takes each hash
/// as it is published, copies the record into the transaction and adds the hash to the Merkle
/// tree; the writer then signs (``finish(merkleRoot:)``). The chain is the longest serial part,
/// so nothing else waits on the sealer's thread.
final class SealJob: @unchecked Sendable {
    let drafts: [EventDraft]
    let firstSequence: UInt64
    let previous: SHA256Digest
    let timeMilliseconds: UInt64
    let signer: Ed25519PrivateKey
    let keyID: KeyID
    /// Written by the chaining thread before `published` counts it.
    let hashes: UnsafeMutablePointer<SHA256Digest>
    /// How many hashes are written (release/acquire orders the writes to `hashes`).
    private let published = Atomic<Int>(0)
    /// Set by the thread that signs, before the job is handed back; read after.
    private var block: SealedBlock?

    init(drafts: [EventDraft], firstSequence: UInt64, previous: SHA256Digest, timeMilliseconds: UInt64,
         signer: Ed25519PrivateKey, keyID: KeyID) {
        self.drafts = drafts
        self.firstSequence = firstSequence
        self.previous = previous
        self.timeMilliseconds = timeMilliseconds
        self.signer = signer
        self.keyID = keyID
        hashes = .allocate(capacity: drafts.count)
    }

    deinit {
        hashes.deallocate()
    }

    var lastSequence: UInt64 { firstSequence + UInt64(drafts.count) - 1 }

    /// Computes everything on the calling thread.
    func seal(hasher: SHA256, merkleHasher: SHA256) {
        var chain = previous
        // The Merkle root grows with the chain, so only its last few nodes are left at the end.
        var merkle = MerkleTree.Builder(hasher: merkleHasher)
        for index in drafts.indices {
            chain = EventRecord.eventHash(of: drafts[index], sequence: firstSequence + UInt64(index), previous: chain, hasher: hasher)
            (hashes + index).initialize(to: chain)
            merkle.add(chain)
        }
        published.store(drafts.count, ordering: .releasing)
        finish(merkleRoot: merkle.root())
    }

    /// Computes and publishes the hash chain only (the sealer thread's part of a large batch).
    func chain(hasher: SHA256) {
        var chain = previous
        for index in drafts.indices {
            chain = EventRecord.eventHash(of: drafts[index], sequence: firstSequence + UInt64(index), previous: chain, hasher: hasher)
            (hashes + index).initialize(to: chain)
            published.store(index + 1, ordering: .releasing)
        }
    }

    /// Signs the block once every hash is published and the Merkle root of them is known.
    func finish(merkleRoot: SHA256Digest) {
        precondition(published.load(ordering: .acquiring) == drafts.count, "the block is signed after its whole chain")
        let header = BlockHeader(
            firstSequence: firstSequence, lastSequence: lastSequence, chainHead: hashes[drafts.count - 1],
            merkleRoot: merkleRoot, timeMilliseconds: timeMilliseconds, keyID: keyID)
        block = SealedBlock(header: header, signature: signer.signature(for: header.signedMessage))
    }

    /// Waits until the chaining thread has published every hash (and so is done with the job).
    func waitForChain() {
        if drafts.isEmpty { return }
        _ = hash(at: drafts.count - 1)
    }

    /// Waits until the hash of draft `index` is published and returns it.
    @inline(__always)
    func hash(at index: Int) -> SHA256Digest {
        var spins = 0
        while published.load(ordering: .acquiring) <= index {
            spins += 1
            if spins > 64 { sched_yield() }
        }
        return hashes[index]
    }

    /// The signed block (after `seal` or `finish`).
    func sealedBlock() -> SealedBlock {
        guard let block else { preconditionFailure("the block is read after it is signed") }
        return block
    }

    var eventHashes: [SHA256Digest] { Array(UnsafeBufferPointer(start: hashes, count: drafts.count)) }
}
