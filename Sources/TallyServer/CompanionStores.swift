import LMDB
import TallyCrypto

/// The stores a data directory keeps beside its journal (`credentials/`, `identity/`,
/// `identity-keys/`) carry an owner mark (``Environment/claim(owner:)``): the journal's id, and
/// for the credential store also a check value of `server/master.key`, whose derived keys seal
/// its vendor secrets. A store copied in from another data directory, or a master key that is
/// not the one the credentials were written with, is then refused at start instead of serving
/// someone else's logins, people or vendor keys. A store written before marks existed is
/// claimed by the journal it is found with.
enum CompanionStores {
    struct Store {
        let path: String
        let what: String
        /// The mark this data directory's store carries.
        let owner: [UInt8]
    }

    static let journalIDCount = 16

    static func stores(in directory: String, journalID: [UInt8], secrets: ServerSecrets?) -> [Store] {
        let keyCheck = secrets.map { Array($0.derivedKey("store-owner").prefix(8)) } ?? []
        return [
            Store(path: directory + "/credentials", what: "the credential store", owner: journalID + keyCheck),
            Store(path: directory + "/identity", what: "the identity store", owner: journalID),
            Store(path: directory + "/identity-keys", what: "the per-user identity keys", owner: journalID),
        ]
    }

    /// Checks each store that exists against its mark; with `claim`, records the mark in a
    /// store that has none (otherwise reads only, so that a refused start writes nothing).
    static func check(directory: String, journalID: [UInt8], secrets: ServerSecrets?, claim: Bool) throws {
        for store in stores(in: directory, journalID: journalID, secrets: secrets) where FileSystem.exists(store.path) {
            var configuration = Environment.Configuration()
            configuration.readOnly = !claim
            let environment = try Environment.open(at: store.path, configuration: configuration)
            let found = claim ? try environment.claim(owner: store.owner) : try environment.owner()
            guard let found else { continue }
            try compare(found, with: store)
        }
    }

    static func compare(_ found: [UInt8], with store: Store) throws {
        let foundJournal = Array(found.prefix(journalIDCount))
        let ownJournal = Array(store.owner.prefix(journalIDCount))
        guard foundJournal == ownJournal else {
            throw ServerSecretsError(
                path: store.path,
                message: "\(store.what) belongs to journal \(Hex.encode(foundJournal)), not to this directory's journal \(Hex.encode(ownJournal)); restore this directory's own")
        }
        // The master key's check, where both sides know it (a start without master.key yet has none).
        let foundCheck = found.dropFirst(journalIDCount)
        let ownCheck = store.owner.dropFirst(journalIDCount)
        guard foundCheck.isEmpty || ownCheck.isEmpty || foundCheck.elementsEqual(ownCheck) else {
            throw ServerSecretsError(
                path: store.path,
                message: "\(store.what) was written with another server/master.key; restore the master key it was written with")
        }
    }
}
