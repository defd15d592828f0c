import Journal
import TallyCrypto
import BenchmarkSupport

/// Reference rates of the primitives the write path and the verifier are built from, to read
/// the journal's figures against (all single-threaded).
struct CryptoRates {
    /// SHA-256 of 300-byte inputs with one reused `SHA256` instance.
    var sha256Reused: Double
    /// SHA-256 of 300-byte inputs, a new context each time (`SHA256.hash`).
    var sha256OneShot: Double
    /// `EventRecord.eventHash` (prefix + body, two updates) of one stored event body.
    var eventHash: Double
    /// `EventRecord.parse` of one stored record.
    var recordParse: Double
    /// Merkle root over 1000 leaves, per leaf.
    var merklePerLeaf: Double
    var ed25519Sign: Double
    var ed25519Verify: Double
}

@inline(never)
func blackHole(_ digest: SHA256Digest, into accumulator: inout UInt8) {
    digest.withUnsafeBytes { accumulator ^= $0[0] }
}

/// Known-answer checks (FIPS 180-2 vectors), so that a figure is never taken from a broken hasher.
func checkSHA256() {
    let abc = SHA256.hash(Array("abc".utf8)).hex
    guard abc == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" else { fail("SHA-256(\"abc\") gave \(abc)") }
    let hasher = SHA256()
    hasher.reset()
    let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 300)
    var remaining = 1_000_000
    while remaining > 0 {
        let count = min(remaining, chunk.count)
        chunk.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
        remaining -= count
    }
    let million = hasher.finish().hex
    guard million == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0" else {
        fail("SHA-256 of a million 'a' gave \(million)")
    }
}

func measureCrypto(scale: Double, payloadBytes: Int) throws -> CryptoRates {
    checkSHA256()
    var sink: UInt8 = 0
    let hashCount = max(10_000, Int(4_000_000 * scale))
    let input = fillerBytes(300, seed: 99)
    let hasher = SHA256()

    // SHA-256, reused context.
    var start = nowNanoseconds()
    input.withUnsafeBytes { buffer in
        for _ in 0..<hashCount { blackHole(hasher.digest(buffer), into: &sink) }
    }
    let reused = Double(hashCount) / seconds(since: start)

    // SHA-256, one-shot.
    let oneShotCount = hashCount / 4
    start = nowNanoseconds()
    for _ in 0..<oneShotCount { blackHole(SHA256.hash(input), into: &sink) }
    let oneShot = Double(oneShotCount) / seconds(since: start)

    // The event hash and the record parse, on a record as the journal stores it.
    let nameBytes = Array(benchmarkTypeName.utf8)
    let payload = fillerBytes(payloadBytes, seed: 7)
    var record = [UInt8](repeating: 0, count: EventRecord.storedSize(typeNameBytes: nameBytes.count, payloadBytes: payload.count))
    record[32] = EventRecord.formatVersion
    record[33] = UInt8(nameBytes.count)
    withUnsafeBytes(of: UInt32(payload.count).bigEndian) { record.replaceSubrange(34..<38, with: $0) }
    record.replaceSubrange(38..<(38 + nameBytes.count), with: nameBytes)
    record.replaceSubrange((38 + nameBytes.count)..., with: payload)
    var previous = SHA256Digest.zero
    start = nowNanoseconds()
    record.withUnsafeBytes { buffer in
        let body = UnsafeRawBufferPointer(rebasing: buffer[EventRecord.bodyOffset...])
        for sequence in 1...UInt64(hashCount) {
            previous = EventRecord.eventHash(sequence: sequence, previous: previous, body: body, hasher: hasher)
        }
    }
    blackHole(previous, into: &sink)
    let eventHash = Double(hashCount) / seconds(since: start)

    start = nowNanoseconds()
    record.withUnsafeBytes { buffer in
        for _ in 0..<hashCount {
            if case .success(let view) = EventRecord.parse(buffer) { sink ^= UInt8(truncatingIfNeeded: view.payload.count) }
        }
    }
    let parse = Double(hashCount) / seconds(since: start)

    // Merkle root over 1000 leaves.
    let leaves = (0..<1000).map { index in SHA256.hash(fillerBytes(32, seed: UInt64(index) &+ 1)) }
    var scratch: [SHA256Digest] = []
    let roots = max(10, hashCount / 1000)
    start = nowNanoseconds()
    for _ in 0..<roots { blackHole(MerkleTree.root(of: leaves, hasher: hasher, scratch: &scratch), into: &sink) }
    let merkle = Double(roots * leaves.count) / seconds(since: start)

    // Ed25519: one signature per block when writing, one verification per block when verifying.
    let key = try Ed25519PrivateKey.generate()
    let message = BlockHeader.signatureDomain + [UInt8](repeating: 1, count: BlockHeader.byteCount)
    let signCount = max(500, Int(20_000 * scale))
    var signature: [UInt8] = []
    start = nowNanoseconds()
    for _ in 0..<signCount { signature = key.signature(for: message); sink ^= signature[0] }
    let sign = Double(signCount) / seconds(since: start)
    let publicKey = key.publicKey
    start = nowNanoseconds()
    for _ in 0..<signCount / 2 where publicKey.isValidSignature(signature, for: message) { sink ^= 1 }
    let verify = Double(signCount / 2) / seconds(since: start)

    if sink == 0x5a { note("(sink \(sink))") }  // keep the work observable
    return CryptoRates(
        sha256Reused: reused, sha256OneShot: oneShot, eventHash: eventHash, recordParse: parse,
        merklePerLeaf: merkle, ed25519Sign: sign, ed25519Verify: verify)
}
