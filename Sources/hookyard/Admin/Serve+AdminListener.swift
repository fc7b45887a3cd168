import HookyardConfiguration
import Alerts
import ArgumentParser
import Dispatch
import Foundation
import HTTPServer
import HookyardFoundation
import HookyardMCP
import Intake
import Logging
import Metrics
import Outbound
import Reports
import Store
import Synchronization
import Workflows

/// The admin listener and the report page it serves, built for `serve`.
extension Serve {
    /// The admin listener (`/metrics`, `/healthz`, `/report`) on `admin_listen`, built and not yet listening.
    struct AdminListener: Sendable {
        let server: HTTPServer
        let listen: String
        let requiresToken: Bool
    }

    /// The admin listener, or `nil` when it is turned off (logged) or its address does not parse (logged as an
    /// error: the daemon runs on without metrics, since receiving webhooks matters more than observing it).
    static func makeAdmin(_ settings: HookyardConfiguration, metrics: HookyardMetrics, reportPage: ReportPageRoute,
                          logger: Logger) -> AdminListener? {
        guard let listen = settings.adminAddress else {
            logger.info("admin listener off; /metrics is not served", metadata: ["admin_listen": "\(settings.adminListen)"])
            return nil
        }
        let address: SocketAddress
        do {
            address = try SocketAddress(parsing: listen)
        } catch {
            logAdminFailure(error, listen: listen, logger: logger)
            return nil
        }
        var configuration = HTTPServerConfiguration(address: address, headerTimeout: .seconds(5), bodyTimeout: .seconds(5),
                                                    idleTimeout: .seconds(60), maxConnections: 64, eventLoopCount: 1)
        configuration.secretsToRedact = settings.secretValues
        let access = AdminAccess(tokens: settings.adminTokens)
        let mcp = MCPHTTPEndpoint(
            server: HookyardMCPServer(configuration: settings, storage: HookyardStorage(configuration: settings),
                                      allowWrites: settings.mcpAllowWrites, version: Hookyard.version,
                                      docsDirectory: HookyardResources.locateDocs(),
                                      sendTestEvent: TriggerForMCP.sender(configFile: settings.file, database: settings.databaseLocation)),
            logger: logger)
        let server = HTTPServer(configuration: configuration,
                                responder: AdminResponder(metrics: metrics, access: access, reportPage: reportPage, mcp: mcp),
                                logger: logger)
        return AdminListener(server: server, listen: listen, requiresToken: access.requiresToken)
    }

    /// Starts the admin listener, and logs `admin listening` with its address. A failure to bind is logged as an
    /// error and the daemon runs on without metrics.
    static func startAdmin(_ admin: AdminListener, logger: Logger) {
        do {
            let bound = try admin.server.start()
            logger.info("admin listening", metadata: ["address": "\(bound)", "routes": "/metrics /healthz /report /mcp",
                                                      "admin_token": "\(admin.requiresToken ? "required" : "not set")"])
        } catch {
            logAdminFailure(error, listen: admin.listen, logger: logger)
        }
    }

    private static func logAdminFailure(_ error: any Error, listen: String, logger: Logger) {
        logger.error("cannot listen on admin_listen; running without /metrics",
                     metadata: ["admin_listen": "\(listen)", "error": "\(error)",
                                "hint": "\(listenHint(error, setting: "HOOKYARD_ADMIN_LISTEN (or admin_listen: in the configuration; off turns it off)"))"])
    }

    /// `GET /report`: each request builds the report on two read-only connections of its own (opened per request, like
    /// a scrape's: a `ReportBuilder` is not thread-safe), with the daemon's clock as "now".
    static func reportPage(_ settings: HookyardConfiguration, clock: @escaping MillisecondClock, logger: Logger) -> ReportPageRoute {
        let database = settings.databaseLocation
        let deliverability = settings.reportDeliverability()
        return ReportPageRoute(
            makeReport: { query in
                let builder = try ReportBuilder(database, deliverability: deliverability)
                defer { builder.close() }
                return try builder.build(query, now: clock())
            },
            defaultLookbackMilliseconds: settings.reportLookbackMilliseconds, now: clock, logger: logger)
    }
}
