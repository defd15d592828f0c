import TallyCrypto

/// The Merkle tree over one block's event hashes.
///
/// Leaves are the event hashes themselves (they are already domain-separated SHA-256 values,
/// so no leaf can be mistaken for an inner node). An inner node is
/// `SHA-256(0x01 || left || right)`. Levels are built bottom-up, pairing neighbours left to
/// right; an odd node at the end of a level is carried up unchanged. This gives the same tree
/// shape as RFC 9162's MTH (split at the largest power of two below n). The root of a
/// one-event block is that event's hash.
public enum MerkleTree {
    public static let innerNodePrefix: UInt8 = 0x01

    /// One step of an audit path: a sibling hash and the side it is on.
    public struct Step: Sendable, Equatable, Codable {
        public enum Side: String, Sendable, Codable { case left, right }
        public let side: Side
        public let hash: SHA256Digest

        public init(side: Side, hash: SHA256Digest) {
            self.side = side
            self.hash = hash
        }
    }

    @inline(__always)
    static func node(_ left: SHA256Digest, _ right: SHA256Digest, hasher: SHA256) -> SHA256Digest {
        var buffer: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, innerNodePrefix)
        return withUnsafeMutableBytes(of: &buffer) { raw in
            raw[0] = innerNodePrefix
            left.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: raw[1..<33]).copyMemory(from: $0) }
            right.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: raw[33..<65]).copyMemory(from: $0) }
            return hasher.digest(UnsafeRawBufferPointer(rebasing: raw[0..<65]))
        }
    }

    /// The root over `leaves` (at least one). `scratch` is reused between calls to avoid allocation.
    public static func root(of leaves: [SHA256Digest], hasher: SHA256, scratch: inout [SHA256Digest]) -> SHA256Digest {
        leaves.withUnsafeBufferPointer { root(of: $0, hasher: hasher, scratch: &scratch) }
    }

    public static func root(of leaves: UnsafeBufferPointer<SHA256Digest>, hasher: SHA256, scratch: inout [SHA256Digest]) -> SHA256Digest {
        precondition(!leaves.isEmpty, "a block holds at least one event")
        if leaves.count == 1 { return leaves[0] }
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: leaves)
        var count = scratch.count
        while count > 1 {
            var write = 0
            var read = 0
            while read + 1 < count {
                scratch[write] = node(scratch[read], scratch[read + 1], hasher: hasher)
                write += 1
                read += 2
            }
            if read < count {
                scratch[write] = scratch[read]
                write += 1
            }
            count = write
        }
        return scratch[0]
    }

    public static func root(of leaves: [SHA256Digest]) -> SHA256Digest {
        var scratch: [SHA256Digest] = []
        return root(of: leaves, hasher: SHA256(), scratch: &scratch)
    }

    /// Builds the root leaf by leaf, so that it can be computed while the leaves are produced.
    /// It keeps the roots of the complete subtrees seen so far (sizes are distinct powers of two,
    /// largest first), merges two of equal size as soon as they exist, and at the end folds the
    /// rest from the right: the same tree as the level-by-level definition (RFC 9162's MTH).
    public struct Builder {
        private var sizes: [Int] = []
        private var roots: [SHA256Digest] = []
        private let hasher: SHA256

        public init(hasher: SHA256 = SHA256(), capacity: Int = 32) {
            self.hasher = hasher
            sizes.reserveCapacity(capacity)
            roots.reserveCapacity(capacity)
        }

        public mutating func add(_ leaf: SHA256Digest) {
            var size = 1
            var hash = leaf
            while let last = sizes.last, last == size {
                hash = MerkleTree.node(roots.removeLast(), hash, hasher: hasher)
                sizes.removeLast()
                size *= 2
            }
            sizes.append(size)
            roots.append(hash)
        }

        /// The root of the leaves added (at least one).
        public func root() -> SHA256Digest {
            precondition(!roots.isEmpty, "a block holds at least one event")
            var hash = roots[roots.count - 1]
            for index in stride(from: roots.count - 2, through: 0, by: -1) {
                hash = MerkleTree.node(roots[index], hash, hasher: hasher)
            }
            return hash
        }
    }

    /// Every level of the tree, leaves first, root last: build once, then take many paths.
    public static func levels(of leaves: [SHA256Digest], hasher: SHA256 = SHA256()) -> [[SHA256Digest]] {
        precondition(!leaves.isEmpty)
        var levels = [leaves]
        while levels[levels.count - 1].count > 1 {
            let level = levels[levels.count - 1]
            var next: [SHA256Digest] = []
            next.reserveCapacity((level.count + 1) / 2)
            var read = 0
            while read + 1 < level.count {
                next.append(node(level[read], level[read + 1], hasher: hasher))
                read += 2
            }
            if read < level.count { next.append(level[read]) }
            levels.append(next)
        }
        return levels
    }

    /// The audit path of leaf `index` in a tree given by its `levels`.
    public static func path(for index: Int, levels: [[SHA256Digest]]) -> [Step] {
        var position = index
        var steps: [Step] = []
        for level in levels where level.count > 1 {
            if position % 2 == 1 {
                steps.append(Step(side: .left, hash: level[position - 1]))
            } else if position + 1 < level.count {
                steps.append(Step(side: .right, hash: level[position + 1]))
            }
            position /= 2
        }
        return steps
    }

    /// The audit path of leaf `index`, from the leaf's level up.
    public static func path(for index: Int, in leaves: [SHA256Digest], hasher: SHA256 = SHA256()) -> [Step] {
        precondition(index >= 0 && index < leaves.count)
        return path(for: index, levels: levels(of: leaves, hasher: hasher))
    }

    /// The root implied by a leaf, its index, the leaf count and an audit path, or nil when the
    /// path's length or sides do not fit the index and count.
    public static func root(
        fromLeaf leaf: SHA256Digest, index: Int, count: Int, path: [Step], hasher: SHA256 = SHA256()
    ) -> SHA256Digest? {
        guard count >= 1, index >= 0, index < count else { return nil }
        var hash = leaf
        var position = index
        var width = count
        var steps = path[...]
        while width > 1 {
            if position % 2 == 1 {
                guard let step = steps.popFirst(), step.side == .left else { return nil }
                hash = node(step.hash, hash, hasher: hasher)
            } else if position + 1 < width {
                guard let step = steps.popFirst(), step.side == .right else { return nil }
                hash = node(hash, step.hash, hasher: hasher)
            }
            position /= 2
            width = (width + 1) / 2
        }
        return steps.isEmpty ? hash : nil
    }
}
