import Synchronization
import TallyCrypto

#if canImport(Glibc)
import Glibc
#endif

/// The sealing work of one commit batch: the hash chain over its drafts, the Merkle root and
/// the block signature. It depends only on the drafts and the chain head, not on storage, so
/// for a large batch it runs on the ``BatchSealer`` thread while the writer copies the records
/// into the transaction: the writer stores event `i` as soon as its hash is published.
final class SealJob: @unchecked Sendable {
    let drafts: [EventDraft]
    let firstSequence: UInt64
    let previous: SHA256Digest
    let timeMilliseconds: UInt64
    let signer: Ed25519PrivateKey
    let keyID: KeyID
    /// Written by the sealing thread before `published` counts it.
    let hashes: UnsafeMutablePointer<SHA256Digest>
    /// How many hashes are written (release/acquire orders the writes to `hashes`).
    private let published = Atomic<Int>(0)
    private let finished = Atomic<Bool>(false)
    /// Written before `finished` is set.
    private(set) var block: SealedBlock?

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

    /// Computes everything, on whichever thread calls it.
    func seal(hasher: SHA256, merkleHasher: SHA256) {
        var chain = previous
        // The Merkle root grows with the chain, so only its last few nodes are left at the end.
        var merkle = MerkleTree.Builder(hasher: merkleHasher)
        for index in drafts.indices {
            chain = EventRecord.eventHash(of: drafts[index], sequence: firstSequence + UInt64(index), previous: chain, hasher: hasher)
            (hashes + index).initialize(to: chain)
            published.store(index + 1, ordering: .releasing)
            merkle.add(chain)
        }
        let header = BlockHeader(
            firstSequence: firstSequence, lastSequence: lastSequence, chainHead: chain,
            merkleRoot: merkle.root(), timeMilliseconds: timeMilliseconds, keyID: keyID)
        block = SealedBlock(header: header, signature: signer.signature(for: header.signedMessage))
        finished.store(true, ordering: .releasing)
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

    /// Waits until the block is sealed and returns it.
    func sealedBlock() -> SealedBlock {
        var spins = 0
        while !finished.load(ordering: .acquiring) {
            spins += 1
            if spins > 64 { sched_yield() }
        }
        return block!
    }

    var eventHashes: [SHA256Digest] { Array(UnsafeBufferPointer(start: hashes, count: drafts.count)) }
}
