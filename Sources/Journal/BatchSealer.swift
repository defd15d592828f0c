import Foundation
import TallyCrypto

/// A thread that runs the hash chain of large batches beside the writer (see ``SealJob``), so
/// that the chain overlaps with copying the records into LMDB and building the Merkle tree on
/// the other core.
final class BatchSealer: @unchecked Sendable {
    private let condition = NSCondition()
    private var job: SealJob?
    private var stopping = false
    private var stopped = false

    init() {
        startThread(named: "tally.sealer", qualityOfService: .userInitiated) { [self] in run() }
    }

    /// Hands a job to the sealing thread. The writer submits one job at a time and waits for its
    /// chain before the next.
    func submit(_ job: SealJob) {
        condition.lock()
        precondition(self.job == nil, "one seal job at a time")
        self.job = job
        condition.signal()
        condition.unlock()
    }

    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while !stopped { condition.wait() }
        condition.unlock()
    }

    private func run() {
        let hasher = SHA256()
        while true {
            condition.lock()
            while job == nil && !stopping { condition.wait() }
            guard let current = job else {
                stopped = true
                condition.broadcast()
                condition.unlock()
                return
            }
            job = nil
            condition.unlock()
            current.chain(hasher: hasher)
        }
    }
}
