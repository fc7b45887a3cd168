import Alerts
import Contacts
import Foundation
import Jobs
import HTTPServer
import Intake
import Outbound
import Reports
import Store
import Workflows
import Yams

/// Everything `hookyard` can be configured with. Defaults are the ones `make run` uses; where a component has a
/// configuration struct of its own, its defaults are that struct's (`HTTPSettings`, `WorkerSettings`). A value type;
/// thread-safe.
///
/// Sources, later ones winning: built-in defaults, the YAML file, then the environment (`HOOKYARD_LISTEN`,
/// `HOOKYARD_ADMIN_LISTEN`,
/// `HOOKYARD_DATABASE`, `HOOKYARD_DATABASE_URL`, `HOOKYARD_LOG_LEVEL`, `HOOKYARD_WORKERS`, `HOOKYARD_RETRY_*`, `HOOKYARD_MAX_ATTEMPTS`,
/// `STRIPE_API_BASE`, `STRIPE_MAX_RPS`, `INSTANTLY_API_BASE`, `INSTANTLY_MAX_RPS`) and the secrets (`NAME`,
/// `NAME_FILE`, `$CREDENTIALS_DIRECTORY/NAME`).
public struct HookyardConfiguration: Sendable {
    public var listen = "127.0.0.1:8080"
    /// Where `/metrics` is served, apart from the webhooks; empty or `off`: nowhere.
    public var adminListen = "127.0.0.1:9090"
    /// `HOOKYARD_ADMIN_TOKEN` (a secret): when set, every admin route but `/healthz` requires it (`AdminAccess`).
    public var adminTokens: [String] = []
    /// The SQLite database file (`database:` or `database.path`, `HOOKYARD_DATABASE`); unused when `databaseURL` is set.
    public var database = "./hookyard.db"
    /// `database.url` or `HOOKYARD_DATABASE_URL`: a PostgreSQL URI, which selects PostgreSQL (several nodes share it).
    public var databaseURL: String?
    /// `HOOKYARD_DATABASE_PASSWORD` (a secret: also `_FILE` or a systemd credential): PostgreSQL's password, kept out
    /// of the URI.
    public var databasePassword: String?
    /// Where the database is, and so which engine stores it: PostgreSQL when a URL is set, else the SQLite file.
    public var databaseLocation: DatabaseLocation {
        if let databaseURL { return .postgresql(url: databaseURL, password: databasePassword) }
        return .sqlite(path: database)
    }
    public var logLevel = "info"
    public var http = HTTPSettings()
    public var stripe = StripeSettings()
    public var instantly = InstantlySettings()
    public var workers = WorkerSettings()
    public var outbound = OutboundSettings()
    public var rules: [Rule] = []
    /// `http_targets:`, where `http.post` steps send (read with the rules).
    public var httpTargets: [HTTPTargetSettings] = []
    /// `contacts:`: extraction maps, engagement policy, loop guard and rule-run limits.
    public var contacts = ContactSettings()
    /// `retention.payload_days`: raw event bodies older than this many days are pruned; 0 keeps them forever.
    public var retentionPayloadDays = 30
    /// `mcp.allow_writes`: the MCP server (`hookyard mcp`, `POST /mcp`) offers its write tools (retry_job,
    /// discard_job, send_test_event); off by default.
    public var mcpAllowWrites = false
    /// `reports.lookback`: how far before a purchase a touch still counts as its last touch (`hookyard report`).
    public var reportLookbackMilliseconds = ReportQuery.defaultLookbackMilliseconds
    /// `segments:`, in configuration order.
    public var segments: [SegmentDefinition] = []
    /// `segments` compiled; also compiles rules' contact conditions.
    public var segmentCompiler = SegmentCompiler()
    /// `catalog:`: products and their pricing tiers (`hookyard catalog sync`).
    public var catalog = Catalog()
    /// `alerts:` and `HOOKYARD_ALERT_WEBHOOK_URL`.
    public var alerts = AlertSettings()
    /// `deliverability:`: the thresholds the deliverability watch alerts on.
    public var deliverability = DeliverabilityPolicy()
    /// Problems in `contacts:` or `segments:` that a read-only load (`readRules: false`) did not fail on; the
    /// segments concerned are left out. Empty after a full load (problems fail it).
    public var ignoredIssues: [ConfigurationIssue] = []
    /// What is valid but probably not meant, with file and line (a rule path into an Instantly event that names no
    /// documented field); `check-config` prints them as warnings.
    public var warnings: [ConfigurationIssue] = []
    /// The file the configuration came from, `nil` for built-in defaults.
    public var file: String?

    /// `http:`; a value type, thread-safe. The defaults are the server's own (`HTTPParserLimits()`, `HTTPServerConfiguration`'s init): none is
    /// repeated here.
    public struct HTTPSettings: Sendable {
        public var maxRequestLineBytes = Self.serverDefaults.limits.requestLineBytes
        public var maxHeaderBytes = Self.serverDefaults.limits.headerBytes
        public var maxHeaderFields = Self.serverDefaults.limits.headerFields
        public var maxBodyBytes = Self.serverDefaults.limits.bodyBytes
        public var maxConnections = Self.serverDefaults.maxConnections
        public var headerTimeoutSeconds = Self.seconds(Self.serverDefaults.headerTimeout)
        public var bodyTimeoutSeconds = Self.seconds(Self.serverDefaults.bodyTimeout)
        public var idleTimeoutSeconds = Self.seconds(Self.serverDefaults.idleTimeout)
        /// How long a stop waits for requests and jobs in flight: the daemon's, not the server's.
        public var shutdownGraceSeconds = 10

        /// `HTTPServerConfiguration` as its init leaves it (the address is not read from it). A numeric literal address
        /// always parses (no name lookup), so the `try!` cannot trap.
        private static let serverDefaults = HTTPServerConfiguration(address: try! SocketAddress(parsing: "127.0.0.1:0"))

        private static func seconds(_ duration: Duration) -> Int { Int(duration.components.seconds) }
    }

    /// `stripe:` and the Stripe variables (`STRIPE_WEBHOOK_SECRET`, `STRIPE_API_KEY`, …). A value type; thread-safe.
    public struct StripeSettings: Sendable {
        public var webhookSecrets: [String] = []
        public var toleranceSeconds = 300
        /// Empty: dry-run (no Stripe call is sent).
        public var apiKey = ""
        public var apiBase = "https://api.stripe.com"
        public var apiVersion = "2025-12-15.clover"
        /// `nil`: 25/s with a test key, 80/s with a live key.
        public var maxRequestsPerSecond: Double?

        public var isTestKey: Bool { apiKey.hasPrefix("sk_test_") || apiKey.hasPrefix("rk_test_") }
        public var effectiveRequestsPerSecond: Double { maxRequestsPerSecond ?? (apiKey.isEmpty || isTestKey ? 25 : 80) }
    }

    /// `instantly:` and the Instantly variables (`INSTANTLY_WEBHOOK_SECRET`, `INSTANTLY_API_KEY`, …). A value type;
    /// thread-safe.
    public struct InstantlySettings: Sendable {
        public var webhookSecrets: [String] = []
        public var secretHeader = "X-Webhook-Secret"
        /// Empty: dry-run (no Instantly call is sent).
        public var apiKey = ""
        public var apiBase = "https://api.instantly.ai"
        public var maxRequestsPerSecond: Double = 5
        /// `instantly.public_url`: the URL Instantly delivers to (a bare origin gets `/webhooks/instantly`); `nil`: not set.
        public var publicURL: String?
        /// `instantly.webhook_watch_interval`, in milliseconds; 0: Hookyard's webhooks are not watched.
        public var webhookWatchIntervalMilliseconds: Int64 = 600_000
    }

    /// `workers:`; a value type, thread-safe. The defaults are the pool's own (`WorkerPool.Configuration`'s init, `RetryPolicy()`): none is
    /// repeated here.
    public struct WorkerSettings: Sendable {
        public var count = Self.poolDefaults.workers
        public var retryBaseMilliseconds = Self.poolDefaults.retryPolicy.baseMilliseconds
        public var retryCapMilliseconds = Self.poolDefaults.retryPolicy.capMilliseconds
        public var maxAttempts = Self.poolDefaults.retryPolicy.maxAttempts
        public var leaseSeconds = Int(Self.poolDefaults.leaseMilliseconds / 1000)
        /// A job running longer counts as wedged: the systemd watchdog stops being fed (the daemon's, not the pool's).
        public var maxJobSeconds = 300

        public var retryPolicy: RetryPolicy {
            RetryPolicy(baseMilliseconds: retryBaseMilliseconds, capMilliseconds: retryCapMilliseconds, maxAttempts: maxAttempts)
        }

        /// `WorkerPool.Configuration` as its init leaves it (the database location is not read from it).
        private static let poolDefaults = WorkerPool.Configuration(location: .sqlite(path: ""))
    }

    /// `outbound:`: the provider calls' timeouts. A value type; thread-safe.
    public struct OutboundSettings: Sendable {
        public var connectTimeoutMilliseconds = 5_000
        public var timeoutMilliseconds = 30_000
    }

    /// `adminListen` unless the admin listener is turned off.
    public var adminAddress: String? { adminListen.isEmpty || adminListen == "off" ? nil : adminListen }

    public static let defaultFile = "/etc/hookyard/hookyard.yaml"
    public static let logLevels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]

    public var intake: IntakeConfiguration {
        IntakeConfiguration(stripeSecrets: stripe.webhookSecrets, stripeToleranceSeconds: Int64(stripe.toleranceSeconds),
                            instantlySecrets: instantly.webhookSecrets, instantlySecretHeader: instantly.secretHeader,
                            adminListener: adminAddress)
    }

    /// Every secret value configured: webhook secrets, API keys, admin tokens, the HTTP targets' signing secrets.
    /// The servers redact them from logged request paths (`PathRedactor`).
    public var secretValues: [String] {
        stripe.webhookSecrets + instantly.webhookSecrets + [stripe.apiKey, instantly.apiKey] + adminTokens
            + httpTargets.map(\.secret)
    }

    public func serverConfiguration(address: SocketAddress) -> HTTPServerConfiguration {
        var configuration = HTTPServerConfiguration(
            address: address,
            limits: HTTPParserLimits(requestLineBytes: http.maxRequestLineBytes, headerBytes: http.maxHeaderBytes,
                                     headerFields: http.maxHeaderFields, bodyBytes: http.maxBodyBytes),
            headerTimeout: .seconds(http.headerTimeoutSeconds), bodyTimeout: .seconds(http.bodyTimeoutSeconds),
            idleTimeout: .seconds(http.idleTimeoutSeconds), maxConnections: http.maxConnections,
            eventLoopCount: max(1, ProcessInfo.processInfo.activeProcessorCount))
        configuration.secretsToRedact = secretValues
        return configuration
    }
}

/// One problem in the configuration, located as precisely as possible.
public struct ConfigurationIssue: Error, CustomStringConvertible, Equatable {
    /// The file, or the environment variable, the problem is in.
    public var origin: String
    public var line: Int?
    /// The dotted key (`http.max_body_bytes`) or variable name.
    public var key: String
    public var message: String

    public var description: String {
        let place = line.map { "\(origin):\($0)" } ?? origin
        return key.isEmpty ? "\(place): \(message)" : "\(place): \(key): \(message)"
    }
}

/// All problems found; loading reports every one, not just the first.
public struct ConfigurationErrors: Error, CustomStringConvertible {
    public var issues: [ConfigurationIssue]
    public var description: String { issues.map(\.description).joined(separator: "\n") }
}

/// Reads the YAML file, applies the environment and secrets, validates. Stateless.
public enum ConfigurationLoader {
    /// - Parameters:
    ///   - path: `--config`; when `nil`, `/etc/hookyard/hookyard.yaml` if it exists, else the defaults.
    ///   - environment: the process environment (a parameter so tests can pass their own).
    ///   - readRules: `false` for commands that only read the database (`stats`, `events`, `jobs`): the rules are
    ///     skipped, so those commands work in a shell that lacks the rules' `${VAR}`s. `contacts:` and `segments:`
    ///     are still read (read-only commands select by segment), but their problems only land in `ignoredIssues`
    ///     (see `readContacts`).
    public static func load(path: String?, environment: [String: String], defaultFile: String = HookyardConfiguration.defaultFile,
                     readRules: Bool = true) throws(ConfigurationErrors) -> HookyardConfiguration {
        var configuration = HookyardConfiguration()
        var issues: [ConfigurationIssue] = []
        let file = path ?? (FileManager.default.fileExists(atPath: defaultFile) ? defaultFile : nil)
        if let file {
            configuration.file = file
            do {
                let text = try String(contentsOfFile: file, encoding: .utf8)
                var reader = YAMLReader(file: file)
                reader.apply(text: text, to: &configuration)
                issues += reader.issues
                readContacts(contacts: reader.contacts, segments: reader.segments, file: file, environment: environment,
                             strict: readRules, into: &configuration, issues: &issues)
                if let node = reader.catalog {
                    var catalogReader = CatalogReader(file: file, environment: environment)
                    configuration.catalog = catalogReader.read(node)
                    if readRules { issues += catalogReader.issues } else { configuration.ignoredIssues += catalogReader.issues }
                }
                if readRules, let targets = reader.httpTargets {
                    var targetReader = HTTPTargetsReader(file: file, environment: environment)
                    configuration.httpTargets = targetReader.read(targets)
                    issues += targetReader.issues
                }
                if readRules, let rules = reader.rules {
                    // After the segments: triggers and `if:` may name them.
                    var ruleReader = RuleReader(file: file, environment: environment, segments: configuration.segmentCompiler,
                                                leadFields: configuration.contacts.leadFields)
                    configuration.rules = ruleReader.read(rules)
                    issues += ruleReader.issues
                    configuration.warnings += ruleReader.warnings
                    // Rule indices match the file's only when every rule was read.
                    if ruleReader.issues.isEmpty {
                        issues += HTTPTargetsReader.ruleIssues(rules: configuration.rules, rulesNode: rules,
                                                               targets: configuration.httpTargets, catalog: configuration.catalog,
                                                               file: file)
                    }
                }
            } catch {
                issues.append(ConfigurationIssue(origin: file, line: nil, key: "", message: "cannot read configuration file: \(error.localizedDescription)"))
            }
        }
        let databaseFromFile = configuration.database != HookyardConfiguration().database
        applyEnvironment(environment, to: &configuration, issues: &issues)
        // Under systemd with StateDirectory=, the database lives there unless the file or HOOKYARD_DATABASE says otherwise.
        if !databaseFromFile, environment["HOOKYARD_DATABASE"]?.isEmpty ?? true,
           let state = environment["STATE_DIRECTORY"]?.split(separator: ":").first, !state.isEmpty {
            configuration.database = (String(state) as NSString).appendingPathComponent("hookyard.db")
        }
        validate(configuration, issues: &issues)
        if !issues.isEmpty { throw ConfigurationErrors(issues: issues) }
        return configuration
    }

    private static func applyEnvironment(_ environment: [String: String], to configuration: inout HookyardConfiguration,
                                         issues: inout [ConfigurationIssue]) {
        if let listen = environment["HOOKYARD_LISTEN"], !listen.isEmpty { configuration.listen = listen }
        // Set but empty turns the admin listener off, like `off`.
        if let admin = environment["HOOKYARD_ADMIN_LISTEN"] { configuration.adminListen = admin }
        if let database = environment["HOOKYARD_DATABASE"], !database.isEmpty { configuration.database = database }
        if let url = environment["HOOKYARD_DATABASE_URL"], !url.isEmpty {
            if let path = environment["HOOKYARD_DATABASE"], !path.isEmpty {
                issues.append(ConfigurationIssue(origin: "environment", line: nil, key: "HOOKYARD_DATABASE_URL",
                                                 message: "both HOOKYARD_DATABASE (a SQLite file, '\(path)') and HOOKYARD_DATABASE_URL (PostgreSQL) are set; set only one"))
            }
            configuration.databaseURL = url
        }
        do {
            configuration.databasePassword = try SecretResolver.resolveWhole("HOOKYARD_DATABASE_PASSWORD", environment: environment)
        } catch { issues.append(error) }
        if let level = environment["HOOKYARD_LOG_LEVEL"], !level.isEmpty { configuration.logLevel = level }
        func number(_ name: String, min: Double, _ set: (Double) -> Void) {
            guard let text = environment[name], !text.isEmpty else { return }
            guard let value = Double(text), value.isFinite, value >= min else {
                return issues.append(ConfigurationIssue(origin: "environment", line: nil, key: name,
                                                        message: "'\(text)' is not a number of at least \(Self.format(min))"))
            }
            set(value)
        }
        func whole(_ name: String, min: Int64, _ set: (Int64) -> Void) {
            guard let text = environment[name], !text.isEmpty else { return }
            guard let value = Int64(text), value >= min, value <= Int64(wholeNumberLimit) else {
                return issues.append(ConfigurationIssue(origin: "environment", line: nil, key: name,
                                                        message: "'\(text)' is not a whole number from \(min) to \(wholeNumberLimit)"))
            }
            set(value)
        }
        whole("HOOKYARD_WORKERS", min: 1) { configuration.workers.count = Int($0) }
        whole("HOOKYARD_RETRY_BASE_MS", min: 1) { configuration.workers.retryBaseMilliseconds = $0 }
        whole("HOOKYARD_RETRY_CAP_MS", min: 1) { configuration.workers.retryCapMilliseconds = $0 }
        whole("HOOKYARD_MAX_ATTEMPTS", min: 1) { configuration.workers.maxAttempts = Int($0) }
        number("STRIPE_MAX_RPS", min: 0.01) { configuration.stripe.maxRequestsPerSecond = $0 }
        number("INSTANTLY_MAX_RPS", min: 0.01) { configuration.instantly.maxRequestsPerSecond = $0 }
        if let base = environment["STRIPE_API_BASE"], !base.isEmpty { configuration.stripe.apiBase = base }
        if let base = environment["INSTANTLY_API_BASE"], !base.isEmpty { configuration.instantly.apiBase = base }
        do {
            if let keys = try SecretResolver.resolve("STRIPE_API_KEY", environment: environment) { configuration.stripe.apiKey = keys[0] }
        } catch { issues.append(error) }
        do {
            if let keys = try SecretResolver.resolve("INSTANTLY_API_KEY", environment: environment) { configuration.instantly.apiKey = keys[0] }
        } catch { issues.append(error) }
        do {
            if let secrets = try SecretResolver.resolve("STRIPE_WEBHOOK_SECRET", environment: environment) {
                configuration.stripe.webhookSecrets = secrets
            }
        } catch { issues.append(error) }
        do {
            if let secrets = try SecretResolver.resolve("INSTANTLY_WEBHOOK_SECRET", environment: environment) {
                configuration.instantly.webhookSecrets = secrets
            }
        } catch { issues.append(error) }
        applyAlertWebhook(environment, to: &configuration, issues: &issues)
        do {
            if let tokens = try SecretResolver.resolve("HOOKYARD_ADMIN_TOKEN", environment: environment) {
                configuration.adminTokens = tokens
                if tokens.contains(where: { $0.count < 16 }) {
                    issues.append(ConfigurationIssue(origin: "environment", line: nil, key: "HOOKYARD_ADMIN_TOKEN",
                                                     message: "a token must be at least 16 characters (e.g. openssl rand -hex 32)"))
                }
            }
        } catch { issues.append(error) }
    }

    public static func format(_ value: Double) -> String {
        value.rounded() == value ? String(Int64(value)) : String(value)
    }

    private static func validate(_ configuration: HookyardConfiguration, issues: inout [ConfigurationIssue]) {
        let origin = configuration.file ?? "defaults"
        do {
            _ = try SocketAddress(parsing: configuration.listen)
        } catch {
            issues.append(ConfigurationIssue(origin: origin, line: nil, key: "listen", message: error.description))
        }
        if let admin = configuration.adminAddress {
            do {
                _ = try SocketAddress(parsing: admin)
            } catch {
                issues.append(ConfigurationIssue(origin: origin, line: nil, key: "admin_listen (HOOKYARD_ADMIN_LISTEN)", message: error.description))
            }
        }
        if configuration.database.isEmpty {
            issues.append(ConfigurationIssue(origin: origin, line: nil, key: "database", message: "must not be empty"))
        }
        if let url = configuration.databaseURL, !DatabaseLocation.isPostgreSQLURI(url) {
            issues.append(ConfigurationIssue(origin: origin, line: nil, key: "database.url (HOOKYARD_DATABASE_URL)",
                                             message: "'\(DatabaseLocation.postgresql(url: url, password: nil))' is not a PostgreSQL URI; "
                                                 + "write postgresql://USER@HOST:5432/DATABASE?sslmode=require (the password in HOOKYARD_DATABASE_PASSWORD or its _FILE)"))
        }
        for (key, base) in [("stripe.api_base (STRIPE_API_BASE)", configuration.stripe.apiBase),
                            ("instantly.api_base (INSTANTLY_API_BASE)", configuration.instantly.apiBase)] {
            if !(base.hasPrefix("https://") || base.hasPrefix("http://")) || base.hasSuffix("/") {
                issues.append(ConfigurationIssue(origin: origin, line: nil, key: key,
                                                 message: "'\(base)' must be an http(s) URL without a trailing slash"))
            }
        }
        if configuration.workers.retryCapMilliseconds < configuration.workers.retryBaseMilliseconds {
            issues.append(ConfigurationIssue(origin: origin, line: nil, key: "workers.retry_cap_ms",
                                             message: "must not be below workers.retry_base_ms"))
        }
        if !HookyardConfiguration.logLevels.contains(configuration.logLevel) {
            issues.append(ConfigurationIssue(origin: origin, line: nil, key: "log_level",
                                             message: "'\(configuration.logLevel)' is not one of \(HookyardConfiguration.logLevels.joined(separator: ", "))"))
        }
    }
}

/// Reads secrets from the environment, a file named by `NAME_FILE`, or a systemd credential.
public enum SecretResolver {
    /// The secret list for `name` (comma-separated values), or `nil` when none of the sources has it (an empty
    /// systemd credential counts as none).
    /// - Throws: `ConfigurationIssue` when `NAME` and `NAME_FILE` are both set, or a named file cannot be read.
    public static func resolve(_ name: String, environment: [String: String]) throws(ConfigurationIssue) -> [String]? {
        guard let text = try text(name, environment: environment) else { return nil }
        let secrets = split(text)
        if secrets.isEmpty {
            throw ConfigurationIssue(origin: "environment", line: nil, key: name, message: "secret is empty")
        }
        return secrets
    }

    /// The secret for `name` as one value (trimmed, commas kept: a password), or `nil` when no source has it.
    /// - Throws: as `resolve(_:environment:)`.
    public static func resolveWhole(_ name: String, environment: [String: String]) throws(ConfigurationIssue) -> String? {
        guard let text = try text(name, environment: environment) else { return nil }
        let secret = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if secret.isEmpty {
            throw ConfigurationIssue(origin: "environment", line: nil, key: name, message: "secret is empty")
        }
        return secret
    }

    /// The text of `NAME`, `NAME_FILE`'s file or the credential `NAME`; `nil` when none has it (an empty credential
    /// counts as none).
    private static func text(_ name: String, environment: [String: String]) throws(ConfigurationIssue) -> String? {
        let direct = environment[name].flatMap { $0.isEmpty ? nil : $0 }
        let fileName = environment["\(name)_FILE"].flatMap { $0.isEmpty ? nil : $0 }
        if direct != nil, fileName != nil {
            throw ConfigurationIssue(origin: "environment", line: nil, key: name,
                                     message: "both \(name) and \(name)_FILE are set; set only one")
        }
        var text = direct
        if let fileName { text = try read(fileName, variable: "\(name)_FILE") }
        if text == nil, let directory = environment["CREDENTIALS_DIRECTORY"], !directory.isEmpty {
            let path = (directory as NSString).appendingPathComponent(name)
            if FileManager.default.fileExists(atPath: path) {
                // An empty credential is one the admin left unset: `LoadCredential=` fails the start when its file is
                // missing, so install.sh creates an empty file for each secret not given (an API key left out runs
                // that provider in dry-run).
                let credential = try read(path, variable: "CREDENTIALS_DIRECTORY")
                if split(credential).isEmpty { return nil }
                text = credential
            }
        }
        return text
    }

    /// Splits a comma-separated secret list, trimming whitespace and newlines.
    public static func split(_ text: String) -> [String] {
        text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
    }

    private static func read(_ path: String, variable: String) throws(ConfigurationIssue) -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationIssue(origin: "environment", line: nil, key: variable,
                                     message: "cannot read secret file '\(path)' (missing, or not readable by this user)")
        }
        return String(decoding: data, as: UTF8.self)
    }
}

/// Walks the YAML node tree, applying known keys and recording every unknown key or wrong type with its line.
public struct YAMLReader: ConfigurationSectionReader {
    public let file: String
    public var issues: [ConfigurationIssue] = []
    /// The `rules:` node, read by `RuleReader` once the environment is known (rules expand `${VAR}`).
    public var rules: Node?
    /// The `contacts:` and `segments:` nodes, read by `ContactConfigurationReader` with the environment.
    public var contacts: Node?
    public var segments: Node?
    /// The `catalog:` node, read by `CatalogReader` with the environment.
    public var catalog: Node?
    /// The `http_targets:` node, read by `HTTPTargetsReader` with the environment (secrets are `${VAR}`s).
    public var httpTargets: Node?

    public init(file: String) { self.file = file }

    public mutating func apply(text: String, to configuration: inout HookyardConfiguration) {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            issues.append(ConfigurationIssue(origin: file, line: Self.line(of: error), key: "", message: "invalid YAML: \(error)"))
            return
        } catch {
            issues.append(ConfigurationIssue(origin: file, line: nil, key: "", message: "invalid YAML: \(error)"))
            return
        }
        guard let root else { return }  // an empty file means defaults
        guard let mapping = root.mapping else { return issue(root, "", "top level must be a mapping of keys") }
        for (keyNode, value) in mapping {
            let key = keyNode.string ?? ""
            switch key {
            case "listen": string(value, key) { configuration.listen = $0 }
            case "admin_listen": string(value, key) { configuration.adminListen = $0 }
            case "database":
                // `database: FILE` (SQLite), or a mapping with `path:` (SQLite) or `url:` (PostgreSQL).
                if value.mapping == nil {
                    string(value, key) { configuration.database = $0 }
                } else {
                    section(value, key) { reader, name, node in
                        switch name {
                        case "path": reader.string(node, "database.path") { configuration.database = $0 }
                        case "url": reader.string(node, "database.url") { configuration.databaseURL = $0.isEmpty ? nil : $0 }
                        default: reader.issue(node, "database.\(name)", "unknown key (database has path, url)")
                        }
                    }
                }
            case "log_level": string(value, key) { configuration.logLevel = $0 }
            case "http": section(value, key) { reader, name, node in
                let path = "http.\(name)"
                switch name {
                case "max_request_line_bytes": reader.int(node, path, min: 256) { configuration.http.maxRequestLineBytes = $0 }
                case "max_header_bytes": reader.int(node, path, min: 1024) { configuration.http.maxHeaderBytes = $0 }
                case "max_header_fields": reader.int(node, path, min: 8) { configuration.http.maxHeaderFields = $0 }
                case "max_body_bytes": reader.int(node, path, min: 1024) { configuration.http.maxBodyBytes = $0 }
                case "max_connections": reader.int(node, path, min: 1) { configuration.http.maxConnections = $0 }
                case "header_timeout_seconds": reader.int(node, path, min: 1) { configuration.http.headerTimeoutSeconds = $0 }
                case "body_timeout_seconds": reader.int(node, path, min: 1) { configuration.http.bodyTimeoutSeconds = $0 }
                case "idle_timeout_seconds": reader.int(node, path, min: 1) { configuration.http.idleTimeoutSeconds = $0 }
                case "shutdown_grace_seconds": reader.int(node, path, min: 0) { configuration.http.shutdownGraceSeconds = $0 }
                default: reader.unknown(node, path)
                }
            }
            case "stripe": section(value, key) { reader, name, node in
                let path = "stripe.\(name)"
                switch name {
                case "webhook_secret": reader.string(node, path) { configuration.stripe.webhookSecrets = SecretResolver.split($0) }
                case "tolerance_seconds": reader.int(node, path, min: 0) { configuration.stripe.toleranceSeconds = $0 }
                case "api_key": reader.string(node, path) { configuration.stripe.apiKey = $0 }
                case "api_base": reader.string(node, path) { configuration.stripe.apiBase = $0 }
                case "api_version": reader.string(node, path) { configuration.stripe.apiVersion = $0 }
                case "max_rps": reader.number(node, path, min: 0.01) { configuration.stripe.maxRequestsPerSecond = $0 }
                default: reader.unknown(node, path)
                }
            }
            case "instantly": section(value, key) { reader, name, node in
                let path = "instantly.\(name)"
                switch name {
                case "webhook_secret": reader.string(node, path) { configuration.instantly.webhookSecrets = SecretResolver.split($0) }
                case "secret_header":
                    var header: String?
                    reader.string(node, path) { header = $0 }
                    if let header {
                        if header.isEmpty || header.contains(where: { !($0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_")) }) {
                            reader.issue(node, path, "'\(header)' is not a valid header name")
                        } else {
                            configuration.instantly.secretHeader = header
                        }
                    }
                case "api_key": reader.string(node, path) { configuration.instantly.apiKey = $0 }
                case "api_base": reader.string(node, path) { configuration.instantly.apiBase = $0 }
                case "max_rps": reader.number(node, path, min: 0.01) { configuration.instantly.maxRequestsPerSecond = $0 }
                case "public_url":
                    var text: String?
                    reader.string(node, path) { text = $0 }
                    if let text {
                        do throws(InstantlyIntakeURL.Problem) {
                            configuration.instantly.publicURL = try InstantlyIntakeURL.resolve(text)
                        } catch {
                            reader.issue(node, path, error.description)
                        }
                    }
                case "webhook_watch_interval":
                    var text: String?
                    reader.string(node, path) { text = $0 }
                    if let text {
                        if let milliseconds = InstantlyIntakeURL.watchInterval(text) {
                            configuration.instantly.webhookWatchIntervalMilliseconds = milliseconds
                        } else {
                            reader.issue(node, path, "'\(text)' is not an interval such as 30s, 10m or 1h (at least 1s; 0 turns the watcher off)")
                        }
                    }
                default: reader.unknown(node, path)
                }
            }
            case "workers": section(value, key) { reader, name, node in
                let path = "workers.\(name)"
                switch name {
                case "count": reader.int(node, path, min: 1) { configuration.workers.count = $0 }
                case "retry_base_ms": reader.int(node, path, min: 1) { configuration.workers.retryBaseMilliseconds = Int64($0) }
                case "retry_cap_ms": reader.int(node, path, min: 1) { configuration.workers.retryCapMilliseconds = Int64($0) }
                case "max_attempts": reader.int(node, path, min: 1) { configuration.workers.maxAttempts = $0 }
                case "lease_seconds": reader.int(node, path, min: 5) { configuration.workers.leaseSeconds = $0 }
                case "max_job_seconds": reader.int(node, path, min: 1) { configuration.workers.maxJobSeconds = $0 }
                default: reader.unknown(node, path)
                }
            }
            case "outbound": section(value, key) { reader, name, node in
                let path = "outbound.\(name)"
                switch name {
                case "connect_timeout_ms": reader.int(node, path, min: 100) { configuration.outbound.connectTimeoutMilliseconds = $0 }
                case "timeout_ms": reader.int(node, path, min: 100) { configuration.outbound.timeoutMilliseconds = $0 }
                default: reader.unknown(node, path)
                }
            }
            case "rules": rules = value
            case "contacts": contacts = value
            case "segments": segments = value
            case "catalog": catalog = value
            case "http_targets": httpTargets = value
            case "alerts": readAlerts(value, into: &configuration)
            case "deliverability": readDeliverability(value, into: &configuration)
            case "retention": section(value, key) { reader, name, node in
                let path = "retention.\(name)"
                switch name {
                case "payload_days": reader.int(node, path, min: 0) { configuration.retentionPayloadDays = $0 }
                default: reader.unknown(node, path)
                }
            }
            case "reports": section(value, key) { reader, name, node in
                let path = "reports.\(name)"
                switch name {
                case "lookback":
                    var text: String?
                    reader.string(node, path) { text = $0 }
                    guard let text else { break }
                    if let milliseconds = try? ReportQuery.lookbackMilliseconds(text, field: path) {
                        configuration.reportLookbackMilliseconds = milliseconds
                    } else {
                        reader.issue(node, path, "'\(text)' is not a duration: use whole weeks, days or hours such as 30d, 2w or 12h")
                    }
                default: reader.unknown(node, path)
                }
            }
            case "mcp": section(value, key) { reader, name, node in
                let path = "mcp.\(name)"
                switch name {
                case "allow_writes":
                    guard let flag = node.bool else { return reader.issue(node, path, "must be true or false") }
                    configuration.mcpAllowWrites = flag
                default: reader.unknown(node, path)
                }
            }
            default:
                issue(keyNode, key, "unknown key (the top level has \(Self.topLevelKeys.joined(separator: ", ")))"
                      + ClosestMatch.suggestion(for: key, among: Self.topLevelKeys))
            }
        }
    }

    /// The keys `apply` reads at the top level, in the order the documentation lists them.
    public static let topLevelKeys = ["listen", "admin_listen", "database", "log_level", "http", "stripe", "instantly", "workers",
                               "outbound", "rules", "http_targets", "contacts", "segments", "catalog", "alerts",
                               "deliverability", "retention", "reports", "mcp"]

    public mutating func unknown(_ node: Node, _ key: String) {
        issue(node, key, "unknown key")
    }

    private mutating func section(_ node: Node, _ key: String, _ body: (inout YAMLReader, String, Node) -> Void) {
        guard let mapping = node.mapping else { return issue(node, key, "must be a mapping") }
        for (name, value) in mapping {
            body(&self, name.string ?? "", value)
        }
    }

    private mutating func string(_ node: Node, _ key: String, _ set: (String) -> Void) {
        guard let scalar = node.scalar else { return issue(node, key, "must be a string") }
        set(scalar.string)
    }

    private static func line(of error: YamlError) -> Int? {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): mark.line
        default: nil
        }
    }
}
