import Foundation
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
        for (name, key) in [("admin", admin), ("auditor", auditor)] where key.utf8.count < 24 {
            throw ServerSecretsError(path: name, message: "the \(name) key must be at least 24 characters")
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

    private static func loadOrCreateFile(_ path: String, create: Bool, make: () -> String) throws -> String? {
        if FileManager.default.fileExists(atPath: path) {
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            if let permissions = attributes[.posixPermissions] as? Int, permissions & 0o077 != 0 {
                throw ServerSecretsError(path: path, message: "readable by others (mode \(String(permissions, radix: 8))); chmod 600 it")
            }
            guard let data = FileManager.default.contents(atPath: path),
                let text = String(data: data, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty
            else { throw ServerSecretsError(path: path, message: "empty or not text") }
            return text
        }
        guard create else { return nil }
        let value = make()
        let temporary = path + ".tmp"
        let descriptor = Foundation.open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard descriptor >= 0 else { throw ServerSecretsError(path: temporary, message: "cannot create (errno \(errno))") }
        let bytes = Array((value + "\n").utf8)
        let written = bytes.withUnsafeBytes { Foundation.write(descriptor, $0.baseAddress, $0.count) }
        let synced = fsync(descriptor)
        close(descriptor)
        guard written == bytes.count, synced == 0, rename(temporary, path) == 0 else {
            throw ServerSecretsError(path: path, message: "cannot write (errno \(errno))")
        }
        return value
    }
}

public struct ServerSecretsError: Error, CustomStringConvertible {
    public let path: String
    public let message: String
    public var description: String { "\(path): \(message)" }
}
