import Alerts
import ArgumentParser
import Dispatch
import Foundation
import HTTPServer
import Intake
import Jobs
import Logging
import Metrics
import Outbound
import Reports
import Store
import Synchronization
import Workflows

/// `hookyard serve`: run the daemon until SIGTERM or SIGINT.
struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the webhook receiver.")

    @OptionGroup var options: ConfigurationOptions

    func run() throws {
        signal(SIGPIPE, SIG_IGN)
        // Stop signals are caught before anything starts, so a SIGTERM at any instant (even before READY=1) ends in
        // the graceful stop below rather than the default action: one that arrives while starting is acted on as
        // soon as the daemon is up. A SIGHUP while starting is reloaded once the reload handler runs.
        let signals = StopSignals.install()
        let settings = try options.load()
        let logger = Logging.makeLogger(level: settings.logLevel)
        let address = try SocketAddress(parsing: settings.listen)

        logger.info("starting", metadata: [
            "version": "\(Hookyard.version)",
            "listen": "\(settings.listen)",
            "admin_listen": "\(settings.adminAddress ?? "off")",
            "database": "\(settings.database)",
            "config": "\(settings.file ?? "defaults")",
            "stripe_webhook_secret": "\(Self.describe(settings.stripe.webhookSecrets))",
            "instantly_webhook_secret": "\(Self.describe(settings.instantly.webhookSecrets))",
            "rules": "\(settings.rules.map(\.name).joined(separator: ","))",
            "segments": "\(settings.segments.map(\.name).joined(separator: ","))",
            "http_targets": "\(settings.httpTargets.map(\.name).joined(separator: ","))",
            "workers": .stringConvertible(settings.workers.count),
            "stripe_api": "\(settings.stripe.apiKey.isEmpty ? "dry-run" : "\(settings.stripe.apiBase) at \(ConfigurationLoader.format(settings.stripe.effectiveRequestsPerSecond))/s")",
            "instantly_api": "\(settings.instantly.apiKey.isEmpty ? "dry-run" : "\(settings.instantly.apiBase) at \(ConfigurationLoader.format(settings.instantly.maxRequestsPerSecond))/s")",
            "alert_webhook": "\(AlertComponents.describeWebhook(settings))",
        ])
        if settings.stripe.apiKey.isEmpty || settings.instantly.apiKey.isEmpty {
            let missing = [settings.stripe.apiKey.isEmpty ? "STRIPE_API_KEY" : nil, settings.instantly.apiKey.isEmpty ? "INSTANTLY_API_KEY" : nil]
                .compactMap { $0 }.joined(separator: " and ")
            logger.warning("dry-run: \(missing) not set; those calls are recorded in each job's output, not sent")
        }
        let descriptorLimit = Self.raiseOpenFileLimit()
        if descriptorLimit < settings.http.maxConnections + 64 {
            logger.warning("open-file limit is below http.max_connections + 64; raise LimitNOFILE or lower max_connections",
                           metadata: ["limit": .stringConvertible(descriptorLimit),
                                      "max_connections": .stringConvertible(settings.http.maxConnections)])
        }
        if settings.stripe.webhookSecrets.isEmpty {
            logger.warning("STRIPE_WEBHOOK_SECRET is not set: Stripe webhooks will be answered 503")
        }
        if settings.instantly.webhookSecrets.isEmpty {
            logger.warning("INSTANTLY_WEBHOOK_SECRET is not set: Instantly webhooks will be answered 503")
        }

        let poolBox = Mutex<WorkerPool?>(nil)
        let clock = DaemonClock.make(logger: logger)
        let alertsBox = Mutex<AlertComponents?>(nil)
        let metrics = HookyardMetrics(version: Hookyard.version, jobCounts: Self.jobCounts(database: settings.database, logger: logger),
                                      activeAlerts: { alertsBox.withLock { $0 }?.center.activeCounts() ?? [] },
                                      deliverability: { alertsBox.withLock { $0 }?.metricsSamples(databasePath: settings.database) ?? [] })
        let alerts = AlertComponents(settings, logger: logger, metrics: metrics, daemon: true, clock: clock)
        alertsBox.withLock { $0 = alerts }
        let storeAlerts = StoreCommitAlerts(alerts: alerts.center, databasePath: settings.database)
        let writer: EventWriter
        do {
            writer = try EventWriter(path: settings.database, logger: logger,
                                     onCommit: { poolBox.withLock { $0 }?.wake() },
                                     onCommitFailure: { storeAlerts.commitFailed(error: $0) }, onRecovery: { storeAlerts.commitSucceeded() })
        } catch {
            logger.critical("cannot open the database", metadata: ["database": "\(settings.database)", "error": "\(error)"])
            LogOutput.standard.flush()
            throw ExitCode(1)
        }
        let limiters = Limiters(settings)
        let runner = ActionRunner(httpTargets: Self.httpTargets(settings, metrics: metrics))
        let providers = Self.providers(settings, limiters: limiters, metrics: metrics)
        let engine = WorkflowEngine(rules: settings.rules, contacts: settings.contactPolicy, catalog: settings.catalog,
                                    providers: providers, runner: runner,
                                    logger: logger, clock: clock, deliverability: alerts.deliverability, alertWebhook: alerts.webhook,
                                    stripeAPIVersion: settings.stripe.apiVersion)
        let pool = WorkerPool(
            configuration: WorkerPool.Configuration(databasePath: settings.database, workers: settings.workers.count,
                                                    leaseMilliseconds: Int64(settings.workers.leaseSeconds) * 1000,
                                                    retryPolicy: settings.workers.retryPolicy,
                                                    intakeIsBusy: { writer.isUnderLoad }),
            handler: engine.jobKinds, logger: logger, metrics: metrics, clock: clock, deadJobs: alerts.deadJobs)
        do {
            try pool.start()
        } catch {
            logger.critical("cannot start the workers", metadata: ["database": "\(settings.database)", "error": "\(error)"])
            writer.close()
            LogOutput.standard.flush()
            throw ExitCode(1)
        }
        poolBox.withLock { $0 = pool }
        let maintenance = ContactMaintenance(
            configuration: .init(databasePath: settings.database, retentionMilliseconds: settings.retentionMilliseconds),
            engine: engine, logger: logger, clock: clock, onJobsQueued: { pool.wake() },
            deliverability: alerts.deliverability, deadJobs: alerts.deadJobs)
        maintenance.start()
        let router = IntakeRouter(configuration: settings.intake, writer: writer, logger: logger, metrics: metrics)
        var serverConfiguration = settings.serverConfiguration(address: address)
        // Socket activation: systemd holds the listening socket, so deliveries queue in it across restarts.
        serverConfiguration.inheritedListenerDescriptor = SystemdNotifier.inheritedListener()
        let server = HTTPServer(configuration: serverConfiguration, responder: router, logger: logger)
        let bound: SocketAddress
        do {
            bound = try server.start()
        } catch {
            logger.critical("cannot listen", metadata: ["listen": "\(settings.listen)", "error": "\(error)",
                                                        "hint": "\(Self.listenHint(error, setting: "HOOKYARD_LISTEN (or listen: in the configuration)"))"])
            pool.stop(gracePeriod: .seconds(settings.http.shutdownGraceSeconds))
            writer.close()
            LogOutput.standard.flush()
            throw ExitCode(1)
        }
        logger.info("listening", metadata: ["address": "\(bound)",
                                            "socket": "\(serverConfiguration.inheritedListenerDescriptor == nil ? "own" : "inherited from systemd")"])
        let admin = Self.startAdmin(settings, metrics: metrics, reportPage: Self.reportPage(settings, clock: clock, logger: logger),
                                    logger: logger)
        let wallClock = { Int64(Date().timeIntervalSince1970 * 1000) }
        do {
            try DaemonStatus.recordStart(DaemonStatus(pid: getpid(), version: Hookyard.version, startedAt: wallClock(),
                                                      stripeLive: !settings.stripe.apiKey.isEmpty,
                                                      instantlyLive: !settings.instantly.apiKey.isEmpty,
                                                      configFile: settings.file.map { URL(fileURLWithPath: $0).standardizedFileURL.path }),
                                         databasePath: settings.database)
        } catch {
            // Only the CLI reads it (`stats`, and the configuration file commands use): a warning, not a refusal to serve.
            logger.warning("cannot record the daemon's status for `hookyard stats`", metadata: ["error": "\(error)"])
        }
        let notifier = SystemdNotifier()
        notifier.send("READY=1\nSTATUS=listening on \(bound)")
        let monitor = ServiceMonitor(notifier: notifier, server: server, writer: writer, pool: pool, databasePath: settings.database,
                                     watchdog: SystemdNotifier.watchdogInterval(),
                                     maxJobMilliseconds: Int64(settings.workers.maxJobSeconds) * 1000, logger: logger)
        monitor.start()
        let webhookWatcher = Self.startInstantlyWebhookWatcher(settings, transport: providers.instantly, alerts: alerts.center,
                                                               logger: logger)

        // SIGHUP: reload the rules, segments, contact settings, retention and rate limits from the configuration; an
        // invalid file changes nothing. (Caught since the start, so a SIGHUP while starting never kills.)
        let stopping = Atomic<Bool>(false)
        let reload: @Sendable () -> Void = { [options] in
            notifier.send("RELOADING=1\nMONOTONIC_USEC=\(DispatchTime.now().uptimeNanoseconds / 1000)")
            defer { notifier.send("READY=1") }
            let fresh: HookyardConfiguration
            do {
                fresh = try options.load()
            } catch {
                logger.error("configuration reload refused; the running configuration stays",
                             metadata: ["error": "\((error as? ValidationError)?.message ?? "\(error)")"])
                return
            }
            engine.update(rules: fresh.rules, contacts: fresh.contactPolicy, catalog: fresh.catalog, stripeAPIVersion: fresh.stripe.apiVersion)
            runner.update(httpTargets: Self.httpTargets(fresh, metrics: metrics))
            maintenance.update(retentionMilliseconds: fresh.retentionMilliseconds)
            limiters.update(fresh)
            alerts.update(fresh)
            logger.notice("configuration reloaded", metadata: [
                "rules": "\(fresh.rules.map(\.name).joined(separator: ","))",
                "segments": "\(fresh.segments.map(\.name).joined(separator: ","))",
                "http_targets": "\(fresh.httpTargets.map(\.name).joined(separator: ","))",
                "stripe_max_rps": "\(ConfigurationLoader.format(fresh.stripe.effectiveRequestsPerSecond))",
                "instantly_max_rps": "\(ConfigurationLoader.format(fresh.instantly.maxRequestsPerSecond))",
                "note": "listen, database, http, workers, outbound, API keys and the alert webhook apply at the next start"])
        }
        let reloader = Thread {
            while true {
                signals.waitForReload()
                if stopping.load(ordering: .relaxed) { return }
                reload()
            }
        }
        reloader.name = "hookyard.reload"
        reloader.start()

        signals.waitForStop()
        stopping.store(true, ordering: .relaxed)
        notifier.send("STOPPING=1")
        monitor.stop()
        maintenance.stop()
        webhookWatcher?.stop()
        logger.info("stopping", metadata: ["grace_seconds": .stringConvertible(settings.http.shutdownGraceSeconds)])
        // Requests in flight and jobs in flight share one grace period: both drain at the same time.
        let workersStopped = DispatchSemaphore(value: 0)
        Thread {
            pool.stop(gracePeriod: .seconds(settings.http.shutdownGraceSeconds))
            workersStopped.signal()
        }.start()
        server.shutdown(gracePeriod: .seconds(settings.http.shutdownGraceSeconds))
        workersStopped.wait()
        admin?.shutdown(gracePeriod: .seconds(1))
        writer.close()
        storeAlerts.drain()
        alerts.center.close()
        try? DaemonStatus.recordStop(pid: getpid(), at: wallClock(), databasePath: settings.database)
        logger.info("stopped")
        LogOutput.standard.flush()
    }

    /// Starts the admin listener (`/metrics`, `/healthz`) on `admin_listen`, and logs `admin listening` with its
    /// address. - Returns: the server, or `nil` when it is turned off or cannot listen: a failure to bind is logged
    /// as an error and the daemon runs on without metrics, since receiving webhooks matters more than observing it.
    static func startAdmin(_ settings: HookyardConfiguration, metrics: HookyardMetrics, reportPage: ReportPageRoute,
                           logger: Logger) -> HTTPServer? {
        guard let listen = settings.adminAddress else {
            logger.info("admin listener off; /metrics is not served", metadata: ["admin_listen": "\(settings.adminListen)"])
            return nil
        }
        do {
            let address = try SocketAddress(parsing: listen)
            var configuration = HTTPServerConfiguration(address: address, headerTimeout: .seconds(5), bodyTimeout: .seconds(5),
                                                        idleTimeout: .seconds(60), maxConnections: 64, eventLoopCount: 1)
            configuration.secretsToRedact = settings.secretValues
            let access = AdminAccess(tokens: settings.adminTokens)
            let server = HTTPServer(configuration: configuration,
                                    responder: AdminResponder(metrics: metrics, access: access, reportPage: reportPage), logger: logger)
            let bound = try server.start()
            logger.info("admin listening", metadata: ["address": "\(bound)", "routes": "/metrics /healthz /report",
                                                      "admin_token": "\(access.requiresToken ? "required" : "not set")"])
            return server
        } catch {
            logger.error("cannot listen on admin_listen; running without /metrics",
                         metadata: ["admin_listen": "\(listen)", "error": "\(error)",
                                    "hint": "\(listenHint(error, setting: "HOOKYARD_ADMIN_LISTEN (or admin_listen: in the configuration; off turns it off)"))"])
            return nil
        }
    }

    /// `GET /report`: each request builds the report on a read-only connection of its own (opened per request, like
    /// a scrape's: a `ReportBuilder` is not thread-safe), with the daemon's clock as "now".
    static func reportPage(_ settings: HookyardConfiguration, clock: @escaping @Sendable () -> Int64, logger: Logger) -> ReportPageRoute {
        let database = settings.database
        let deliverability = settings.reportDeliverability()
        return ReportPageRoute(
            makeReport: { query in
                let builder = try ReportBuilder(path: database, deliverability: deliverability)
                defer { builder.close() }
                return try builder.build(query, now: clock())
            },
            defaultLookbackMilliseconds: settings.reportLookbackMilliseconds, now: clock, logger: logger)
    }

    /// `hookyard_jobs{state}` at each scrape, from a read connection of its own (opened per scrape: scrapes are
    /// rare, and a `StoreReader` is not thread-safe). On error the family is left empty and the error logged.
    static func jobCounts(database: String, logger: Logger) -> @Sendable () -> [(labels: [String], value: Double)] {
        return {
            do {
                return try StoreReader(path: database).jobCounts().map { (labels: [$0.key], value: Double($0.value)) }
            } catch {
                logger.error("metrics: cannot read job counts", metadata: ["error": "\(error)"])
                return []
            }
        }
    }

    /// Live transports for the providers whose API key is set, dry-run transports for the others. The rate
    /// limiters are shared by every worker and space requests 1/max_rps apart from an empty start (`RateLimiter`), so
    /// no one-second window ever holds more than the configured rate, right after a restart or an idle spell too.
    static func providers(_ settings: HookyardConfiguration, limiters: Limiters, metrics: HookyardMetrics? = nil) -> ProviderSet {
        let userAgent = "hookyard/\(Hookyard.version)"
        let stripe: any ProviderTransport = settings.stripe.apiKey.isEmpty
            ? DryRunProviderTransport(provider: "Stripe", baseURL: settings.stripe.apiBase)
            : LiveProviderTransport(provider: "Stripe", baseURL: settings.stripe.apiBase, apiKey: settings.stripe.apiKey,
                                    extraHeaders: [("Stripe-Version", settings.stripe.apiVersion)],
                                    limiter: limiters.stripe,
                                    userAgent: userAgent,
                                    connectTimeoutMilliseconds: settings.outbound.connectTimeoutMilliseconds,
                                    totalTimeoutMilliseconds: settings.outbound.timeoutMilliseconds, metrics: metrics)
        let instantly: any ProviderTransport = settings.instantly.apiKey.isEmpty
            ? DryRunProviderTransport(provider: "Instantly", baseURL: settings.instantly.apiBase)
            : LiveProviderTransport(provider: "Instantly", baseURL: settings.instantly.apiBase, apiKey: settings.instantly.apiKey,
                                    limiter: limiters.instantly,
                                    userAgent: userAgent,
                                    connectTimeoutMilliseconds: settings.outbound.connectTimeoutMilliseconds,
                                    totalTimeoutMilliseconds: settings.outbound.timeoutMilliseconds, metrics: metrics)
        return ProviderSet(stripe: stripe, instantly: instantly, stripeDryRun: settings.stripe.apiKey.isEmpty,
                           instantlyDryRun: settings.instantly.apiKey.isEmpty)
    }

    /// A live transport per `http_targets:` entry (its own rate limiter, no API key: requests are signed instead),
    /// for `http.post`. Always live: a target is only configured with a URL to send to.
    /// With neither API key (the daemon is wholly in dry-run, as `make run` starts it), `http.post` records its
    /// requests too instead of sending them.
    static func httpTargets(_ settings: HookyardConfiguration, metrics: HookyardMetrics? = nil) -> [HTTPTarget] {
        let dryRun = settings.stripe.apiKey.isEmpty && settings.instantly.apiKey.isEmpty
        return settings.httpTargets.compactMap { target in
            guard let base = HTTPTarget.split(url: target.url)?.base else { return nil }  // validated when read
            if dryRun {
                return HTTPTarget(name: target.name, url: target.url, secret: target.secret,
                                  transport: DryRunProviderTransport(provider: "http:\(target.name)", baseURL: base))
            }
            let transport = LiveProviderTransport(provider: "http:\(target.name)", baseURL: base, apiKey: nil,
                                                  limiter: RateLimiter(requestsPerSecond: target.maxRequestsPerSecond),
                                                  userAgent: "hookyard/\(Hookyard.version)",
                                                  connectTimeoutMilliseconds: settings.outbound.connectTimeoutMilliseconds,
                                                  totalTimeoutMilliseconds: settings.outbound.timeoutMilliseconds, metrics: metrics)
            return HTTPTarget(name: target.name, url: target.url, secret: target.secret, transport: transport)
        }
    }

    /// Raises the soft open-file limit to the hard limit (the soft default of 1024 exists for select(), which
    /// Hookyard does not use). - Returns: the limit now in force.
    static func raiseOpenFileLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return limit.rlim_cur > UInt(Int.max) ? Int.max : Int(limit.rlim_cur)
    }

    /// What to do about a listener that could not be opened, naming the setting that moves it.
    static func listenHint(_ error: any Error, setting: String) -> String {
        switch (error as? SystemCallError)?.errno {
        case EADDRINUSE: "another process listens on this address (find it with `ss -ltnp`); stop it, or choose another address with \(setting)"
        case EACCES: "ports below 1024 need privileges; choose a port of 1024 or above with \(setting), or start under systemd"
        case EADDRNOTAVAIL: "this machine has no such address; choose one of its addresses (or 127.0.0.1) with \(setting)"
        default: "check the address given by \(setting)"
        }
    }

    /// "set (n)" or "not set": never the value.
    static func describe(_ secrets: [String]) -> String {
        switch secrets.count {
        case 0: "not set"
        case 1: "set"
        default: "set (\(secrets.count) secrets)"
        }
    }
}

/// The two providers' rate limiters, kept so a reload can change their rates. Thread-safe.
struct Limiters: Sendable {
    let stripe: RateLimiter
    let instantly: RateLimiter

    init(_ settings: HookyardConfiguration) {
        stripe = RateLimiter(requestsPerSecond: settings.stripe.effectiveRequestsPerSecond)
        instantly = RateLimiter(requestsPerSecond: settings.instantly.maxRequestsPerSecond)
    }

    func update(_ settings: HookyardConfiguration) {
        stripe.update(requestsPerSecond: settings.stripe.effectiveRequestsPerSecond)
        instantly.update(requestsPerSecond: settings.instantly.maxRequestsPerSecond)
    }
}

enum Logging {
    static func makeLogger(level: String) -> Logger {
        let logLevel = Logger.Level(rawValue: level) ?? .info
        // systemd sets JOURNAL_STREAM when stdout goes to the journal: then lines carry their syslog priority.
        let journal = !(ProcessInfo.processInfo.environment["JOURNAL_STREAM"] ?? "").isEmpty
        LoggingSystem.bootstrap { label in JSONLogHandler(label: label, level: logLevel, priorityPrefix: journal) }
        return Logger(label: "hookyard")
    }
}
