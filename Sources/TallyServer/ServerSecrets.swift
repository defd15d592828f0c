import Foundation
import Journal
import LMDB
import TallyCrypto

/// The server's own secrets, in `<data>/server/` (each file 0600, created on first start):
///
/// - `master.key`: 32 random bytes (hex). Every other server key is derived from it with
///   HMAC-SHA256 under a distinct label, so one file backs them all up and no two uses share
///   a key: purchase-token keys (one per rotation epoch), vendor pseudonyms, the login index,
///   the encryption of vendor signing secrets, access grants.
/// - `admin.key`, `auditor.key`: the bearer keys of customer service / ops and of auditors,
///   unless given by flag or environment variable.
public struct ServerSecrets: Sendable {
    public let masterKey: [UInt8]
    public let adminKey: String
    public let auditorKey: String

    public static func directory(in dataDirectory: String) -> String { dataDirectory + "/server" }

    /// Loads the secrets, creating what is missing. A file that exists but is not what it
    /// should be (wrong length, not hex, readable by others) is refused, naming the file.
    public static func loadOrCreate(dataDirectory: String, adminKey: String?, auditorKey: String?) throws -> ServerSecrets {
        try load(dataDirectory: dataDirectory, adminKey: adminKey, auditorKey: auditorKey, create: true)!
    }

    /// Checks the secrets already in the data directory, writing nothing: an error names a file
    /// that is not what it should be. Nil when one is missing (`loadOrCreate` would make it).
    public static func existing(dataDirectory: String, adminKey: String?, auditorKey: String?) throws -> ServerSecrets? {
        try load(dataDirectory: dataDirectory, adminKey: adminKey, auditorKey: auditorKey, create: false)
    }

    private static func load(dataDirectory: String, adminKey: String?, auditorKey: String?, create: Bool) throws -> ServerSecrets? {
        let directory = directory(in: dataDirectory)
        if create { try FileSystem.makeDirectory(directory) }
        guard let master = try loadOrCreateFile(directory + "/master.key", create: create, make: { Hex.encode(SecureRandom.bytes(32)) }) else { return nil }
        guard let masterBytes = Hex.decode(master), masterBytes.count == 32 else {
            throw ServerSecretsError(path: directory + "/master.key", message: "not 32 bytes of hex")
        }
        guard let admin = try adminKey ?? loadOrCreateFile(directory + "/admin.key", create: create, make: { "adm_" + Hex.encode(SecureRandom.bytes(24)) }),
              let auditor = try auditorKey ?? loadOrCreateFile(directory + "/auditor.key", create: create, make: { "aud_" + Hex.encode(SecureRandom.bytes(24)) })
        else { return nil }
        for (name, key, given) in [("admin", admin, adminKey != nil), ("auditor", auditor, auditorKey != nil)] where key.utf8.count < 24 {
            // Name where the key came from: the file, or the flag (or its environment variable).
            let source = given ? "--\(name)-key" : directory + "/\(name).key"
            throw ServerSecretsError(path: source, message: "the \(name) key must be at least 24 characters")
        }
        guard admin != auditor else {
            throw ServerSecretsError(path: directory, message: "the admin and auditor keys must differ")
        }
        return ServerSecrets(masterKey: masterBytes, adminKey: admin, auditorKey: auditor)
    }

    /// A key for one purpose, derived from the master key.
    public func derivedKey(_ label: String) -> [UInt8] {
        HMACSHA256.authenticationCode(key: masterKey, message: Array(("tally/server/" + label).utf8)).bytes
    }

    /// The text of a key file (through ``AtomicFile``: a regular file, or what a symbolic link
    /// names, read without blocking), or nil when it does not exist; with `create`, a missing
    /// one is made, atomically and 0600.
    private static func loadOrCreateFile(_ path: String, create: Bool, make: () -> String) throws -> String? {
        let bytes: [UInt8]?
        do {
            bytes = try AtomicFile.read(path)
        } catch JournalError.keyFile(let path, let reason) {
            throw ServerSecretsError(path: path, message: reason)
        }
        if let bytes {
            if let mode = AtomicFile.mode(path), mode & 0o077 != 0 {
                throw ServerSecretsError(path: path, message: "readable by others (mode \(String(mode, radix: 8))); chmod 600 it")
            }
            guard let text = String(validating: bytes, as: UTF8.self)?.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty else {
                throw ServerSecretsError(path: path, message: "empty or not text")
            }
            return text
        }
        guard create else { return nil }
        let value = make()
        do {
            try AtomicFile.write(path, contents: Array((value + "\n").utf8), mode: 0o600)
        } catch {
            throw ServerSecretsError(path: path, message: "cannot be written: \(error)")
        }
        return value
    }
}

public struct ServerSecretsError: Error, CustomStringConvertible {
    public let path: String
    public let message: String
    public var description: String { "\(path): \(message)" }
}
