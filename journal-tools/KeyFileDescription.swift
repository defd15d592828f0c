import Foundation
import Journal
import TallyCrypto

/// One file in the data directory's `keys/` folder. Private key files are listed by name and
/// mode only; their contents are never read.
struct KeyFileDescription: Encodable {
    enum Role: String, Encodable {
        /// `journal-<key id>.pub.pem`: a published public key.
        case publicKey = "public-key"
        /// `journal-signing-<key id>.pem`: the active private key (mode 0600).
        case signingKey = "signing-key"
        /// `journal-signing-<key id>.pem.pending`: a new key during a rotation.
        case pendingKey = "pending-key"
        case other
    }

    let name: String
    let path: String
    let role: Role
    /// Permission bits, octal (`0644`).
    let mode: String
    /// The key id the name gives.
    let keyIDFromName: String?
    /// For a public key file: the key id of its contents (nil when it does not parse).
    let keyIDOfContents: String?
    /// A problem: a public key whose contents do not match its name, a private key readable by
    /// group or others.
    let problem: String?

    static func loadAll(keysDirectory: String) -> [KeyFileDescription] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: keysDirectory)) ?? []).sorted()
        return names.map { name in describe(name: name, directory: keysDirectory) }
    }

    static func describe(name: String, directory: String) -> KeyFileDescription {
        let path = directory + "/" + name
        let permissions = (try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? Int
        let mode = permissions.map { "0" + String($0, radix: 8) } ?? "?"
        var role = Role.other
        var idText: String?
        if name.hasPrefix("journal-signing-") && name.hasSuffix(".pem.pending") {
            role = .pendingKey
            idText = String(name.dropFirst("journal-signing-".count).dropLast(".pem.pending".count))
        } else if name.hasPrefix("journal-signing-") && name.hasSuffix(".pem") {
            role = .signingKey
            idText = String(name.dropFirst("journal-signing-".count).dropLast(".pem".count))
        } else if name.hasPrefix("journal-") && name.hasSuffix(".pub.pem") {
            role = .publicKey
            idText = String(name.dropFirst("journal-".count).dropLast(".pub.pem".count))
        }
        let nameID = idText.flatMap { KeyID(hex: $0) }
        var contentsID: KeyID?
        var problem: String?
        switch role {
        case .publicKey:
            if let data = FileManager.default.contents(atPath: path),
               let key = try? Ed25519PublicKey(pem: String(decoding: data, as: UTF8.self)) {
                contentsID = KeyID(publicKey: key)
                if contentsID != nameID { problem = "holds key \(contentsID!.hex), which its name does not match" }
            } else {
                problem = "is not an Ed25519 public key in PEM form"
            }
        case .signingKey, .pendingKey:
            if let permissions, permissions & 0o077 != 0 { problem = "is readable by group or others; it must be 0600" }
        case .other:
            break
        }
        return KeyFileDescription(
            name: name, path: path, role: role, mode: mode, keyIDFromName: nameID?.hex, keyIDOfContents: contentsID?.hex,
            problem: problem)
    }

    enum CodingKeys: String, CodingKey { case name, path, role, mode, keyIDFromName, keyIDOfContents, problem }

    /// Every key is present; absent values are `null`.
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(path, forKey: .path)
        try container.encode(role, forKey: .role)
        try container.encode(mode, forKey: .mode)
        try container.encode(keyIDFromName, forKey: .keyIDFromName)
        try container.encode(keyIDOfContents, forKey: .keyIDOfContents)
        try container.encode(problem, forKey: .problem)
    }

    var text: String {
        var line = "\(mode)  \(role.rawValue.padding(toLength: 11, withPad: " ", startingAt: 0))  \(name)"
        if let problem { line += "  PROBLEM: \(problem)" }
        return line
    }
}
