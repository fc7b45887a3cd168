import ArgumentParser
import Dispatch
import Foundation
import HookyardConfiguration
import HookyardMCP
import Logging

/// `hookyard mcp`: the MCP server on standard input and output, for Claude Desktop, Cursor or any MCP client.
struct MCPCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mcp",
        abstract: "Serve Hookyard's tools to an AI assistant over the Model Context Protocol (stdio).",
        discussion: """
            Reads the same database and configuration as the other commands, beside a running daemon. Standard \
            output carries the protocol (JSON-RPC, one message per line); logs go to standard error. Write tools \
            (retry_job, discard_job) are offered only with --allow-writes or mcp.allow_writes: true, and in live mode \
            ask for a confirmation token first. docs/mcp.md shows the client configuration.
            """)

    @OptionGroup var options: ConfigurationOptions
    @Flag(help: "Offer the write tools (retry_job, discard_job).") var allowWrites = false
    @Option(help: "Log level on standard error: trace, debug, info, notice, warning, error or critical.") var logLevel = "warning"

    func run() throws {
        // The rules are shown by get_config; when they cannot be read here (a variable of the daemon's environment
        // is missing), the read tools still work on the database: say so, and go on without them.
        let settings: HookyardConfiguration
        do {
            settings = try options.load(rules: true, recorded: true)
        } catch let error as ValidationError {
            FileHandle.standardError.write(Data("note: the rules cannot be read, so get_config shows none: \(error.message)\n".utf8))
            settings = try options.load(rules: false, recorded: true)
        }
        let level = Logger.Level(rawValue: logLevel) ?? .warning
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "hookyard.mcp")
        let server = HookyardMCPServer(configuration: settings, storage: HookyardStorage(configuration: settings),
                                       allowWrites: allowWrites || settings.mcpAllowWrites, version: Hookyard.version,
                                       docsDirectory: HookyardResources.locateDocs())
        logger.info("MCP server on stdio", metadata: ["database": "\(settings.database)",
                                                      "writes": "\(allowWrites || settings.mcpAllowWrites)"])
        let finished = DispatchSemaphore(value: 0)
        let failure = OutcomeBox()
        Task {
            do {
                try await server.runStdio(logger: logger)
            } catch {
                failure.error = "\(error)"
            }
            finished.signal()
        }
        finished.wait()
        if let error = failure.error { throw ValidationError("MCP server stopped: \(error)") }
    }
}

/// The error the server task ended with, read after it signalled. `@unchecked Sendable`: written once by the task
/// before `signal()`, read only after `wait()` returns, which orders the two.
private final class OutcomeBox: @unchecked Sendable {
    var error: String?
}
