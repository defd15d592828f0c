import Foundation
import TallyCrypto

/// Reads Ed25519 public keys in SubjectPublicKeyInfo PEM form (`journal-<key id>.pub.pem`).
enum PublicKeyFile {
    /// The key in `path`; a missing or unparsable file is a usage error naming it.
    static func load(_ path: String) throws -> Ed25519PublicKey {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ToolExit.unreadable("\(path): cannot read the public key file")
        }
        do {
            return try Ed25519PublicKey(pem: String(decoding: data, as: UTF8.self))
        } catch {
            throw ToolExit.unreadable("\(path): not an Ed25519 public key in PEM form (\(error))")
        }
    }
}
