import Foundation
import LMDB
import TallyCrypto

/// The journal's signing keys on disk, in the data directory's `keys/` folder:
///
/// - `journal-signing-<key id>.pem`: the active private key (PKCS #8 PEM, mode 0600). Exactly
///   one may exist. A rotated-out private key is deleted: old blocks are already signed.
/// - `journal-<key id>.pub.pem`: every public key the journal has used (SubjectPublicKeyInfo
///   PEM), published for auditors, kept forever.
/// - `journal-signing-<key id>.pem.pending`: a new key during a rotation, before the journal
///   has recorded it.
public struct SigningKeyStore: Sendable {
    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    static let privatePrefix = "journal-signing-"
    static let privateSuffix = ".pem"
    static let pendingSuffix = ".pem.pending"
    static let publicPrefix = "journal-"
    static let publicSuffix = ".pub.pem"

    public func privateKeyPath(_ keyID: KeyID) -> String { directory + "/" + Self.privatePrefix + keyID.hex + Self.privateSuffix }
    public func pendingKeyPath(_ keyID: KeyID) -> String { directory + "/" + Self.privatePrefix + keyID.hex + Self.pendingSuffix }
    public func publicKeyPath(_ keyID: KeyID) -> String { directory + "/" + Self.publicPrefix + keyID.hex + Self.publicSuffix }

    /// The active signing key, or nil when there is none. Refuses a key file that is readable by
    /// others, unparsable, not Ed25519, or whose name does not match its key.
    public func loadSigningKey() throws -> (key: Ed25519PrivateKey, path: String)? {
        let names = FileSystem.contents(of: directory).filter {
            $0.hasPrefix(Self.privatePrefix) && $0.hasSuffix(Self.privateSuffix)
        }
        guard !names.isEmpty else { return nil }
        guard names.count == 1 else {
            throw JournalError.keyFile(
                path: directory, reason: "holds \(names.count) signing keys (\(names.joined(separator: ", "))); exactly one may be active")
        }
        let path = directory + "/" + names[0]
        return (try loadPrivateKey(path), path)
    }

    func loadPrivateKey(_ path: String) throws -> Ed25519PrivateKey {
        if let mode = AtomicFile.mode(path), mode & 0o077 != 0 {
            throw JournalError.keyFile(
                path: path, reason: "is readable by group or others (mode \(String(mode, radix: 8))); it must be 0600")
        }
        guard let bytes = try AtomicFile.read(path) else {
            throw JournalError.keyFile(path: path, reason: "does not exist")
        }
        let key: Ed25519PrivateKey
        do {
            key = try Ed25519PrivateKey(pem: String(decoding: bytes, as: UTF8.self))
        } catch {
            throw JournalError.keyFile(path: path, reason: "is not an Ed25519 private key in PEM form (\(error))")
        }
        let keyID = KeyID(publicKey: key.publicKey)
        let name = String(path.split(separator: "/").last ?? "")
        if !name.contains(keyID.hex) {
            throw JournalError.keyFile(path: path, reason: "holds key \(keyID), which its name does not match")
        }
        return key
    }

    /// Writes a new key as the active signing key and publishes its public key.
    public func createSigningKey() throws -> Ed25519PrivateKey {
        try FileSystem.makeDirectory(directory, mode: 0o700)
        let key = try Ed25519PrivateKey.generate()
        let keyID = KeyID(publicKey: key.publicKey)
        try publish(key.publicKey)
        try AtomicFile.write(privateKeyPath(keyID), contents: Array(key.pemRepresentation.utf8), mode: 0o600)
        return key
    }

    /// `keys/journal-id`: the ID of the journal these keys belong to, written once the journal
    /// exists. Keys without it (a first start that crashed before creating the journal, or a
    /// key provisioned before the first start) may start a new journal; keys with it may not.
    public var journalIDPath: String { directory + "/journal-id" }

    public func journalID() throws -> [UInt8]? {
        guard let bytes = try AtomicFile.read(journalIDPath) else { return nil }
        let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let id = Hex.decode(text), id.count == 16 else {
            throw JournalError.keyFile(path: journalIDPath, reason: "is not a 32-digit hexadecimal journal ID")
        }
        return id
    }

    func recordJournalID(_ id: [UInt8]) throws {
        try FileSystem.makeDirectory(directory, mode: 0o700)
        try AtomicFile.write(journalIDPath, contents: Array((Hex.encode(id) + "\n").utf8), mode: 0o644)
    }

    /// Writes a public key file (idempotent).
    public func publish(_ publicKey: Ed25519PublicKey) throws {
        try FileSystem.makeDirectory(directory, mode: 0o700)
        let path = publicKeyPath(KeyID(publicKey: publicKey))
        if FileSystem.exists(path) { return }
        try AtomicFile.write(path, contents: Array(publicKey.pemRepresentation.utf8), mode: 0o644)
    }

    /// Every published public key. A file that does not parse is an error naming it.
    public func publishedKeys() throws -> [Ed25519PublicKey] {
        let names = FileSystem.contents(of: directory).filter {
            $0.hasPrefix(Self.publicPrefix) && $0.hasSuffix(Self.publicSuffix)
        }
        return try names.map { name in
            let path = directory + "/" + name
            guard let bytes = try AtomicFile.read(path) else { throw JournalError.keyFile(path: path, reason: "vanished") }
            do {
                return try Ed25519PublicKey(pem: String(decoding: bytes, as: UTF8.self))
            } catch {
                throw JournalError.keyFile(path: path, reason: "is not an Ed25519 public key in PEM form (\(error))")
            }
        }
    }

    /// Step 1 of a rotation: the new key is written beside the active one as pending.
    func stagePending(_ key: Ed25519PrivateKey) throws {
        try publish(key.publicKey)
        try AtomicFile.write(pendingKeyPath(KeyID(publicKey: key.publicKey)), contents: Array(key.pemRepresentation.utf8), mode: 0o600)
    }

    /// The pending key of an interrupted rotation, if any.
    func pendingKey(_ keyID: KeyID) throws -> Ed25519PrivateKey? {
        let path = pendingKeyPath(keyID)
        guard FileSystem.exists(path) else { return nil }
        return try loadPrivateKey(path)
    }

    /// Step 3 of a rotation, after the journal recorded the new key: the pending key becomes
    /// the active one and the old private key is destroyed.
    func promotePending(_ keyID: KeyID, retiring old: KeyID?) throws {
        try FileSystem.rename(pendingKeyPath(keyID), to: privateKeyPath(keyID))
        if let old {
            unlinkIfPresent(privateKeyPath(old))
        }
        try FileSystem.sync(directory)
    }

    private func unlinkIfPresent(_ path: String) {
        _ = path.withCString { unlink($0) }
    }
}

#if canImport(Glibc)
import Glibc
#endif
