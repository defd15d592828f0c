import TallyCrypto
import Journal

/// A public key `verify` trusts, and the file it came from.
struct TrustedKey: Encodable {
    let publicKey: Ed25519PublicKey
    let file: String

    var keyID: KeyID { KeyID(publicKey: publicKey) }

    enum CodingKeys: String, CodingKey { case keyID, file }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(keyID.hex, forKey: .keyID)
        try container.encode(file, forKey: .file)
    }
}
