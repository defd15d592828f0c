import Testing
import TallyCrypto
@testable import Journal

@Suite("Merkle tree")
struct MerkleTreeTests {
    static func leaves(_ count: Int) -> [SHA256Digest] {
        (0..<count).map { SHA256.hash([UInt8(truncatingIfNeeded: $0), UInt8(truncatingIfNeeded: $0 >> 8)]) }
    }

    /// RFC 9162's MTH, written recursively, as the reference for the bottom-up builder.
    static func referenceRoot(_ leaves: ArraySlice<SHA256Digest>) -> SHA256Digest {
        if leaves.count == 1 { return leaves.first! }
        var split = 1
        while split * 2 < leaves.count { split *= 2 }
        let left = referenceRoot(leaves.prefix(split))
        let right = referenceRoot(leaves.dropFirst(split))
        return SHA256.hash([MerkleTree.innerNodePrefix] + left.bytes + right.bytes)
    }

    @Test("the root equals RFC 9162's recursive definition for every size up to 70")
    func rootMatchesReference() {
        for count in 1...70 {
            let leaves = Self.leaves(count)
            #expect(MerkleTree.root(of: leaves) == Self.referenceRoot(leaves[...]), "size \(count)")
            var builder = MerkleTree.Builder()
            for leaf in leaves { builder.add(leaf) }
            #expect(builder.root() == Self.referenceRoot(leaves[...]), "streaming, size \(count)")
        }
    }

    @Test("every leaf's path leads to the root, and a changed path, leaf, index or count does not")
    func paths() {
        for count in 1...33 {
            let leaves = Self.leaves(count)
            let root = MerkleTree.root(of: leaves)
            for index in 0..<count {
                let path = MerkleTree.path(for: index, in: leaves)
                #expect(MerkleTree.path(for: index, levels: MerkleTree.levels(of: leaves)) == path)
                #expect(MerkleTree.root(fromLeaf: leaves[index], index: index, count: count, path: path) == root)
                #expect(MerkleTree.root(fromLeaf: SHA256.hash([7, 7]), index: index, count: count, path: path) != root)
                if count > 1 {
                    let otherIndex = (index + 1) % count
                    #expect(MerkleTree.root(fromLeaf: leaves[index], index: otherIndex, count: count, path: path) != root)
                    var changed = path
                    changed[0] = MerkleTree.Step(side: changed[0].side, hash: SHA256.hash([1]))
                    #expect(MerkleTree.root(fromLeaf: leaves[index], index: index, count: count, path: changed) != root)
                }
                #expect(MerkleTree.root(fromLeaf: leaves[index], index: index, count: count, path: path + [MerkleTree.Step(side: .left, hash: root)]) == nil)
            }
        }
    }
}
