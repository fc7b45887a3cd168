#if canImport(Glibc)
import Glibc
#endif
import Foundation
import PostgreSQL
import Store
import Synchronization

/// A throwaway PostgreSQL cluster for the tests: `initdb` in a temporary directory, listening only on a Unix socket
/// in that directory (no TCP port, nothing shared with the machine), started once per test process and stopped when
/// the process ends (a watcher process stops it even when the test process is killed). Each test asks for a new,
/// empty database (`makeDatabase()`), so tests never see each other's rows.
///
/// Binaries: `$HOOKYARD_POSTGRESQL_BIN`, else the newest `/usr/lib/postgresql/*/bin` (Debian's `postgresql`, which
/// `scripts/ensure-deps.sh` installs for `make test`). As root (CI), the server runs as the `postgres` user, since
/// PostgreSQL refuses to run as root. The cluster runs with `fsync=off`: the tests check behaviour, not the disk;
/// the benchmarks use a cluster with the defaults.
///
/// Thread-safe.
public final class PostgreSQLTestServer: Sendable {
    /// The directory holding the socket (`.s.PGSQL.5432`), the data directory and the server's log.
    public let directory: String
    public let port = 5432
    private let databaseCount = Mutex(0)

    private static let shared = Mutex<Result<PostgreSQLTestServer, TestServerError>?>(nil)

    /// What went wrong starting the server, with what to do about it.
    public struct TestServerError: Error, CustomStringConvertible {
        public let description: String
    }

    /// The process's server, started on first use. - Throws: `TestServerError` naming what is missing.
    public static func start() throws -> PostgreSQLTestServer {
        try shared.withLock { state in
            if state == nil { state = Result { try PostgreSQLTestServer() }.mapError { $0 as? TestServerError ?? TestServerError(description: "\($0)") } }
            return try state!.get()
        }
    }

    /// The URI of database `name` on this server, as Hookyard takes it in `HOOKYARD_DATABASE_URL`.
    public func url(database name: String) -> String {
        "postgresql:///\(name)?host=\(directory)&port=\(port)&user=postgres"
    }

    /// A new empty database, and its URI.
    public func makeDatabase() throws -> String {
        let number = databaseCount.withLock { count in
            count += 1
            return count
        }
        let name = "test_\(getpid())_\(number)"
        let admin = try PostgreSQLConnection(url: url(database: "postgres"))
        defer { admin.close() }
        try admin.execute("CREATE DATABASE \(name)")
        return url(database: name)
    }

    /// A new database with Hookyard's whole schema (`PostgreSQLSchema`, migrated once per process into a template
    /// that each such database is copied from), and its URI.
    public func makeStoreDatabase() throws -> String {
        try templateReady.withLock { ready in
            guard !ready else { return }
            let admin = try PostgreSQLConnection(url: url(database: "postgres"))
            defer { admin.close() }
            try admin.execute("CREATE DATABASE hookyard_template")
            try PostgreSQLStoreConnection.open(url: url(database: "hookyard_template")).close()
            ready = true
        }
        let name = "store_\(getpid())_\(databaseCount.withLock { count in count += 1; return count })"
        let admin = try PostgreSQLConnection(url: url(database: "postgres"))
        defer { admin.close() }
        try admin.execute("CREATE DATABASE \(name) TEMPLATE hookyard_template")
        return url(database: name)
    }

    private let templateReady = Mutex(false)

    private init() throws {
        let binaries = try Self.binaryDirectory()
        let runAsPostgres = geteuid() == 0
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("hookyard-postgresql-\(getpid())-\(UUID().uuidString.prefix(8))").path
        self.directory = directory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if runAsPostgres {
            guard getpwnam("postgres") != nil else {
                throw TestServerError(description: "running as root, and there is no 'postgres' user to run the test server as: install Debian's postgresql package (scripts/ensure-deps.sh does)")
            }
            try Self.run("/bin/chown", ["postgres", directory], in: directory)
        }
        let data = directory + "/data"
        try Self.run(binaries + "/initdb", ["-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"],
                     asPostgres: runAsPostgres, in: directory)
        let options = "-k \(directory) -p \(port) -c listen_addresses='' -c fsync=off -c full_page_writes=off " +
            "-c max_connections=300 -c shared_buffers=64MB"
        try Self.run(binaries + "/pg_ctl", ["-D", data, "-o", options, "-l", directory + "/server.log", "-w", "start"],
                     asPostgres: runAsPostgres, in: directory)
        // Stops the server when this process ends, however it ends.
        let stop = (runAsPostgres ? "runuser -u postgres -- " : "") + "'\(binaries)/pg_ctl' -D '\(data)' -m immediate stop"
        let watcher = Process()
        watcher.executableURL = URL(fileURLWithPath: "/bin/sh")
        watcher.arguments = ["-c", "while kill -0 \(getpid()) 2>/dev/null; do sleep 0.5; done; \(stop) >/dev/null 2>&1; rm -rf '\(directory)'"]
        watcher.standardOutput = FileHandle.nullDevice
        watcher.standardError = FileHandle.nullDevice
        try watcher.run()
    }

    private static func binaryDirectory() throws -> String {
        if let configured = ProcessInfo.processInfo.environment["HOOKYARD_POSTGRESQL_BIN"] { return configured }
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [])
            .compactMap(Int.init).sorted(by: >)
        for version in versions where FileManager.default.isExecutableFile(atPath: "\(root)/\(version)/bin/initdb") {
            return "\(root)/\(version)/bin"
        }
        throw TestServerError(description: "no PostgreSQL server found under \(root): run scripts/ensure-deps.sh (or `make test`), which installs Debian's postgresql package, or set HOOKYARD_POSTGRESQL_BIN")
    }

    /// Runs a command to its end through `/bin/sh` (`system`), as `postgres` when asked, its output in a file that
    /// an error quotes. (Foundation's `Process` can miss the exit of a child whose own children, the server, live
    /// on, so it is not used here.)
    private static func run(_ executable: String, _ arguments: [String], asPostgres: Bool = false, in directory: String) throws {
        func quoted(_ text: String) -> String { "'" + text.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'" }
        let command = ([executable] + arguments).map(quoted).joined(separator: " ")
        let log = directory + "/command.log"
        let status = system((asPostgres ? "runuser -u postgres -- " : "") + command + " >\(quoted(log)) 2>&1 </dev/null")
        guard status == 0 else {
            let printed = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            throw TestServerError(description: "\(command) failed (status \(status)): \(printed)")
        }
    }
}
