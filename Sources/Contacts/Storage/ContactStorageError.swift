/// Why a `ContactStorage` call failed beyond the engine's own errors (for SQLite, `SQLiteError`, which names the failing
/// SQL). A value type; thread-safe.
public enum ContactStorageError: Error, CustomStringConvertible, Sendable, Equatable {
    /// A segment's SQL does not compile, or its `?` placeholders do not match its parameters.
    case segmentQuery(name: String, message: String)
    /// A pending observation's stored JSON cannot be decoded (it was written by an incompatible build).
    case unreadablePendingObservation(eventID: Int64, message: String)
    /// A contact was to be created for an address that is empty once trimmed.
    case emptyEmail
    /// A registration was to be recorded with an empty product or reference (the associated value names which).
    case emptyRegistration(String)

    public var description: String {
        switch self {
        case .segmentQuery(let name, let message): "segment '\(name)' cannot be evaluated: \(message)"
        case .unreadablePendingObservation(let eventID, let message):
            "the pending observation of event \(eventID) cannot be read: \(message)"
        case .emptyEmail: "a contact needs a non-empty email address"
        case .emptyRegistration(let what): "a registration needs a non-empty \(what)"
        }
    }
}
