import ArgumentParser
import Dispatch
import Foundation
import HTTPServer
import Intake
import Logging
import Store

/// `hookyard serve`: run the daemon until SIGTERM or SIGINT.
struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the webhook receiver.")

    @OptionGroup var options: ConfigurationOptions

    func run() throws {
        signal(SIGPIPE, SIG_IGN)
        let settings = try options.load()
        let logger = Logging.makeLogger(level: settings.logLevel)
        let address = try SocketAddress(parsing: settings.listen)

        logger.info("starting", metadata: [
            "version": "\(Hookyard.version)",
            "listen": "\(settings.listen)",
            "database": "\(settings.database)",
            "config": "\(settings.file ?? "defaults")",
            "stripe_webhook_secret": "\(Self.describe(settings.stripe.webhookSecrets))",
            "instantly_webhook_secret": "\(Self.describe(settings.instantly.webhookSecrets))",
        ])
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

        let writer: EventWriter
        do {
            writer = try EventWriter(path: settings.database, logger: logger)
        } catch {
            logger.critical("cannot open the database", metadata: ["database": "\(settings.database)", "error": "\(error)"])
            LogOutput.standard.flush()
            throw ExitCode(1)
        }
        let router = IntakeRouter(configuration: settings.intake, writer: writer, logger: logger)
        let server = HTTPServer(configuration: settings.serverConfiguration(address: address), responder: router, logger: logger)
        let bound: SocketAddress
        do {
            bound = try server.start()
        } catch {
            logger.critical("cannot listen", metadata: ["listen": "\(settings.listen)", "error": "\(error)"])
            writer.close()
            LogOutput.standard.flush()
            throw ExitCode(1)
        }
        logger.info("listening", metadata: ["address": "\(bound)"])

        let stop = DispatchSemaphore(value: 0)
        let signals = [SIGTERM, SIGINT].map { number -> DispatchSourceSignal in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { stop.signal() }
            source.resume()
            return source
        }
        stop.wait()
        logger.info("stopping", metadata: ["grace_seconds": .stringConvertible(settings.http.shutdownGraceSeconds)])
        server.shutdown(gracePeriod: .seconds(settings.http.shutdownGraceSeconds))
        writer.close()
        signals.forEach { $0.cancel() }
        logger.info("stopped")
        LogOutput.standard.flush()
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

    /// "set (n)" or "not set": never the value.
    static func describe(_ secrets: [String]) -> String {
        switch secrets.count {
        case 0: "not set"
        case 1: "set"
        default: "set (\(secrets.count) secrets)"
        }
    }
}

enum Logging {
    static func makeLogger(level: String) -> Logger {
        let logLevel = Logger.Level(rawValue: level) ?? .info
        LoggingSystem.bootstrap { label in JSONLogHandler(label: label, level: logLevel) }
        return Logger(label: "hookyard")
    }
}
