/// Where Hookyard's database is, and so which storage engine holds it: an embedded SQLite file (the default) or a
/// PostgreSQL database that several nodes share (`HOOKYARD_DATABASE_URL`, `database.url`).
///
/// A value; `description` never shows a password (a URI's password is masked; one from a file is never held in the
/// URI). Each storage domain opens its implementation for a location (`SQLite…` or `PostgreSQL…`).
public enum DatabaseLocation: Sendable, Equatable, CustomStringConvertible {
    /// The SQLite database file at `path`.
    case sqlite(path: String)
    /// The PostgreSQL database at `url` (a libpq URI); `password`, when given, overrides the URI's (read from a file
    /// or a systemd credential).
    case postgresql(url: String, password: String?)

    /// The engine's name as configuration and logs spell it: `sqlite` or `postgresql`.
    public var engine: String {
        switch self {
        case .sqlite: "sqlite"
        case .postgresql: "postgresql"
        }
    }

    /// The SQLite file's path, or `nil` for PostgreSQL.
    public var sqlitePath: String? {
        if case .sqlite(let path) = self { return path }
        return nil
    }

    /// Whether `text` is a PostgreSQL connection URI (`postgresql://…` or `postgres://…`), which selects PostgreSQL.
    public static func isPostgreSQLURI(_ text: String) -> Bool {
        text.hasPrefix("postgresql://") || text.hasPrefix("postgres://")
    }

    /// The path, or the URI with any password replaced by `***`.
    public var description: String {
        switch self {
        case .sqlite(let path): return path
        case .postgresql(let url, _): return Self.maskingPassword(in: url)
        }
    }

    /// `postgresql://user:secret@host/db` → `postgresql://user:***@host/db`; `password=secret` in a key/value string
    /// or a query parameter → `password=***`.
    static func maskingPassword(in url: String) -> String {
        var text = url
        if let scheme = text.range(of: "://") {
            let authorityEnd = text[scheme.upperBound...].firstIndex(where: { $0 == "/" || $0 == "?" }) ?? text.endIndex
            if let at = text[scheme.upperBound..<authorityEnd].lastIndex(of: "@"),
               let colon = text[scheme.upperBound..<at].firstIndex(of: ":") {
                text.replaceSubrange(text.index(after: colon)..<at, with: "***")
            }
        }
        var masked = ""
        var rest = Substring(text)
        while let range = rest.range(of: "password=") {
            masked += rest[..<range.upperBound] + "***"
            rest = rest[range.upperBound...]
            let end = rest.firstIndex(where: { $0 == "&" || $0 == " " }) ?? rest.endIndex
            rest = rest[end...]
        }
        return masked + rest
    }
}
