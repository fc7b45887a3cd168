import HookyardConfiguration
import Alerts
import ArgumentParser
import Dispatch
import Foundation
import HTTPServer
import HookyardFoundation
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
            "database": "\(settings.databaseLocation)",
            "config": "\(settings.file ?? "defaults")",
            "stripe_webhook_secret": "\(HookyardConfiguration.describe(secrets: settings.stripe.webhookSecrets))",
            "instantly_webhook_secret": "\(HookyardConfiguration.describe(secrets: settings.instantly.webhookSecrets))",
            "rules": "\(settings.rules.map(\.name).joined(separator: ","))",
            "segments": "\(settings.segments.map(\.name).joined(separator: ","))",
            "http_targets": "\(settings.httpTargets.map(\.name).joined(separator: ","))",
            "workers": .stringConvertible(settings.workers.count),
            "stripe_api": "\(settings.stripe.apiKey.isEmpty ? "dry-run" : "\(settings.stripe.apiBase) at \(ConfigurationLoader.format(settings.stripe.effectiveRequestsPerSecond))/s")",
            "instantly_api": "\(settings.instantly.apiKey.isEmpty ? "dry-run" : "\(settings.instantly.apiBase) at \(ConfigurationLoader.format(settings.instantly.maxRequestsPerSecond))/s")",
            "alert_webhook": "\(settings.alertWebhookDescription)",
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

        let clock = DaemonClock.make(logger: logger)
        // Metrics first: every part records into them. The alert-state gauges read the alert components, which record
        // into the metrics, so they are registered once those exist.
        let metrics = HookyardMetrics(version: Hookyard.version, jobCounts: Self.jobCounts(database: settings.databaseLocation, logger: logger),
                                      registersAlertState: false)
        let alerts = AlertComponents(settings, logger: logger, metrics: metrics, daemon: true, clock: clock)
        metrics.registerAlertState(activeAlerts: { alerts.center.activeCounts() },
                                   deliverability: { alerts.metricsSamples(database: settings.databaseLocation) })
        let storeAlerts = StoreCommitAlerts(alerts: alerts.center, database: settings.databaseLocation)
        let writer: any GroupCommitEventSink
        do {
            writer = try EventSinkOpening.open(settings.databaseLocation, logger: logger,
                                               onCommitFailure: { storeAlerts.commitFailed(error: $0) },
                                               onRecovery: { storeAlerts.commitSucceeded() })
        } catch {
            logger.critical("cannot open the database", metadata: ["database": "\(settings.databaseLocation)", "error": "\(error)"])
            LogOutput.standard.flush()
            throw ExitCode(1)
        }
        let limiters = Limiters(settings, logger: logger)
        let runner = ActionRunner(httpTargets: Self.httpTargets(settings, metrics: metrics))
        let providers = Self.providers(settings, limiters: limiters, metrics: metrics)
        let engine = WorkflowEngine(rules: settings.rules, contacts: settings.contactPolicy, catalog: settings.catalog,
                                    providers: providers, runner: runner,
                                    logger: logger, clock: clock, deliverability: alerts.deliverability, alertWebhook: alerts.webhook,
                                    stripeAPIVersion: settings.stripe.apiVersion)
        let pool = WorkerPool(
            configuration: WorkerPool.Configuration(location: settings.databaseLocation, workers: settings.workers.count,
                                                    leaseMilliseconds: Int64(settings.workers.leaseSeconds) * 1000,
                                                    retryPolicy: settings.workers.retryPolicy,
                                                    intakeIsBusy: { writer.isUnderLoad }),
            handler: engine.jobKinds, logger: logger, metrics: metrics, clock: clock, deadJobs: alerts.deadJobs)
        // The workers read what the writer stores: they ask it whether intake is busy, and wake on its commits.
        writer.whenCommitted { pool.wake() }
        let maintenance = ContactMaintenance(
            configuration: .init(location: settings.databaseLocation, intervalMilliseconds: settings.contacts.maintenanceIntervalMilliseconds,
                                 retentionMilliseconds: settings.retentionMilliseconds),
            engine: engine, logger: logger, clock: clock, onJobsQueued: { pool.wake() },
            deliverability: alerts.deliverability, deadJobs: alerts.deadJobs)
        let router = IntakeRouter(configuration: settings.intake, writer: writer, logger: logger, metrics: metrics)
        var serverConfiguration = settings.serverConfiguration(address: address)
        // Socket activation: systemd holds the listening socket, so deliveries queue in it across restarts.
        serverConfiguration.inheritedListenerDescriptor = SystemdNotifier.inheritedListener()
        let server = HTTPServer(configuration: serverConfiguration, responder: router, logger: logger)
        let socketOrigin = serverConfiguration.inheritedListenerDescriptor == nil ? "own" : "inherited from systemd"
        let admin = Self.makeAdmin(settings, metrics: metrics, reportPage: Self.reportPage(settings, clock: clock, logger: logger),
                                   logger: logger)
        let notifier = SystemdNotifier()
        let monitor = ServiceMonitor(notifier: notifier, server: server, writer: writer, pool: pool, database: settings.databaseLocation,
                                     watchdog: SystemdNotifier.watchdogInterval(),
                                     maxJobMilliseconds: Int64(settings.workers.maxJobSeconds) * 1000, logger: logger)
        let webhookWatcher = Self.makeInstantlyWebhookWatcher(settings, transport: providers.instantly, alerts: alerts.center,
                                                              logger: logger)
        let grace = Duration.seconds(settings.http.shutdownGraceSeconds)
        let wallClock: MillisecondClock = WallClock.system

        // Started in this order, stopped in reverse (`ServiceGroup`).
        let services = ServiceGroup([
            DaemonService("alerts", stop: {
                storeAlerts.drain()
                alerts.center.close()
            }),
            DaemonService("writer", stop: { writer.close() }),
            // Up before intake and down after its drain, so /metrics and /healthz cover both. Failing to listen is
            // logged and the daemon runs on: receiving webhooks matters more than observing it.
            DaemonService("admin", start: { if let admin { Self.startAdmin(admin, logger: logger) } },
                          stop: { admin?.server.shutdown(gracePeriod: .seconds(1)) }),
            // Requests in flight and jobs in flight share one grace period: both drain at the same time.
            DaemonService.together("intake and workers", logBeforeStop: {
                logger.info("stopping", metadata: ["grace_seconds": .stringConvertible(settings.http.shutdownGraceSeconds)])
            }, [
                DaemonService("workers", start: {
                    do {
                        try pool.start()
                    } catch {
                        logger.critical("cannot start the workers", metadata: ["database": "\(settings.databaseLocation)", "error": "\(error)"])
                        throw error
                    }
                }, stop: { pool.stop(gracePeriod: grace) }),
                DaemonService("intake", start: {
                    let bound: SocketAddress
                    do {
                        bound = try server.start()
                    } catch {
                        logger.critical("cannot listen", metadata: ["listen": "\(settings.listen)", "error": "\(error)",
                                                                    "hint": "\(Self.listenHint(error, setting: "HOOKYARD_LISTEN (or listen: in the configuration)"))"])
                        throw error
                    }
                    logger.info("listening", metadata: ["address": "\(bound)",
                                                        "socket": "\(socketOrigin)"])
                }, stop: { server.shutdown(gracePeriod: grace) }),
            ]),
            DaemonService("maintenance", start: { maintenance.start() }, stop: { maintenance.stop() }),
            DaemonService("service monitor", start: { monitor.start() }, stop: { monitor.stop() }),
            DaemonService("Instantly webhook watcher", start: { if let webhookWatcher { Self.start(webhookWatcher, settings, logger: logger) } },
                          stop: { webhookWatcher?.stop() }),
            // Last: READY=1 once everything runs; its stop, the first, tells systemd at once that the daemon stops.
            DaemonService("readiness", start: {
                Self.recordStart(settings, at: wallClock(), logger: logger)
                notifier.send("READY=1\nSTATUS=listening on \(server.localAddress.map { "\($0)" } ?? settings.listen)")
            }, stop: { notifier.send("STOPPING=1") }),
        ])
        do {
            try services.start()
        } catch {
            LogOutput.standard.flush()
            throw ExitCode(1)
        }

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
            maintenance.update(retentionMilliseconds: fresh.retentionMilliseconds,
                               intervalMilliseconds: fresh.contacts.maintenanceIntervalMilliseconds)
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
        services.stop()
        try? DaemonStatus.recordStop(pid: getpid(), at: wallClock(), location: settings.databaseLocation)
        logger.info("stopped")
        LogOutput.standard.flush()
    }
}
