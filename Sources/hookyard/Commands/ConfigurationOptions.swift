import ArgumentParser
import Foundation
import HookyardConfiguration
import Store

/// Options every command that reads configuration shares.
struct ConfigurationOptions: ParsableArguments {
    @Option(name: .long, help: """
        YAML configuration file (default: for commands that read the database, the file the daemon serving it \
        recorded; else /etc/hookyard/hookyard.yaml if present, else built-in defaults).
        """)
    var config: String?

    @Option(name: .long, help: """
        SQLite database file, or a PostgreSQL URI (postgresql://…); overrides the configuration, HOOKYARD_DATABASE and \
        HOOKYARD_DATABASE_URL.
        """)
    var database: String?

    /// The loaded configuration, or an error that prints every problem with file, line and key.
    ///
    /// The file is found as `serve` finds it (`--config`, else `/etc/hookyard/hookyard.yaml` if it exists, else the
    /// built-in defaults; then the same environment), with one step between for commands against a database
    /// (`recorded`): without `--config`, the configuration file the daemon serving that database recorded is used
    /// when it still exists and is readable, and a note on standard error says so. If that file is invalid, a
    /// read-only command (`rules: false`) notes the problems and goes on with the usual defaults; one that reads the
    /// rules fails.
    /// - Parameters:
    ///   - rules: `false` for commands that only read the database (the rules are not read).
    ///   - recorded: whether the daemon's recorded file may be used; by default, for commands that skip the rules.
    func load(rules: Bool = true, recorded: Bool? = nil) throws -> HookyardConfiguration {
        let environment = ProcessInfoEnvironment.current
        var record: (file: String, location: DatabaseLocation)?
        if config == nil, recorded ?? !rules {
            // The database as the usual sources name it (`--database` over them), to read the daemon's record from.
            var usual = try? ConfigurationLoader.load(path: nil, environment: environment, readRules: false)
            var location = usual?.databaseLocation
            if let database {
                if usual != nil { Self.use(database, in: &usual!) }
                location = usual?.databaseLocation ?? Self.location(of: database)
            }
            if let location, let file = Self.recordedConfigurationFile(location) {
                if FileManager.default.isReadableFile(atPath: file) {
                    record = (file, location)
                } else {
                    Self.note("the configuration the daemon of \(location) recorded, \(file), cannot be read; "
                              + "using the usual defaults (give --config to choose)")
                }
            }
        }
        if let record {
            do {
                var loaded = try ConfigurationLoader.load(path: record.file, environment: environment, readRules: rules)
                // The record was found in this database; the file may name another (or rely on an environment).
                Self.use(record.location, in: &loaded)
                Self.note("using configuration \(record.file) (recorded by the daemon of \(record.location); --config overrides)")
                return loaded
            } catch {
                // A command that acts on the rules and segments (`maintain`) must not act on other ones.
                if rules {
                    throw ValidationError("""
                        invalid configuration (recorded by the daemon of \(record.location); give --config to use another):
                        \(error.description)
                        """)
                }
                // The daemon keeps the configuration it loaded (a reload of an invalid file is refused), so the
                // database is still worth reading: say what is wrong with the file, and go on without it.
                Self.note("the configuration the daemon of \(record.location) recorded, \(record.file), is invalid; "
                          + "using the usual defaults (give --config to choose):\n\(error.description)")
            }
        }
        do {
            var loaded = try ConfigurationLoader.load(path: config, environment: environment, readRules: rules)
            if let database { Self.use(database, in: &loaded) }
            return loaded
        } catch {
            throw ValidationError("invalid configuration:\n\(error.description)")
        }
    }

    /// The configuration file the daemon serving `location` recorded, if any (read-only; `nil` on any error).
    private static func recordedConfigurationFile(_ location: DatabaseLocation) -> String? {
        switch location {
        case .sqlite(let path):
            return DaemonStatus.recordedConfigurationFile(databasePath: path)
        case .postgresql:
            guard let reader = try? StoreReadingOpening.open(location) else { return nil }
            return (try? reader.daemonStatus())??.configFile
        }
    }

    /// `--database`'s value: a PostgreSQL URI selects PostgreSQL, anything else is the SQLite file.
    private static func use(_ database: String, in configuration: inout HookyardConfiguration) {
        use(location(of: database), in: &configuration)
    }

    /// `--database`'s value as a location (a PostgreSQL password comes from the configuration, not from here).
    private static func location(of database: String) -> DatabaseLocation {
        DatabaseLocation.isPostgreSQLURI(database) ? .postgresql(url: database, password: nil) : .sqlite(path: database)
    }

    /// Points `configuration` at `location` (a PostgreSQL password stays the one the configuration resolved).
    private static func use(_ location: DatabaseLocation, in configuration: inout HookyardConfiguration) {
        switch location {
        case .sqlite(let path):
            configuration.database = path
            configuration.databaseURL = nil
        case .postgresql(let url, _):
            configuration.databaseURL = url
        }
    }

    private static func note(_ text: String) {
        FileHandle.standardError.write(Data("note: \(text)\n".utf8))
    }
}

/// The process environment, read where a command loads its configuration. Stateless.
enum ProcessInfoEnvironment {
    static var current: [String: String] { ProcessInfo.processInfo.environment }
}
