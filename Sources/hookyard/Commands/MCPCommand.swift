import Store
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
            (retry_job, discard_job, send_test_event) are offered only with --allow-writes or mcp.allow_writes: true, and in live mode \
            ask for a confirmation token first. docs/mcp.md shows the client configuration.
            """)

    @OptionGroup var options: ConfigurationOptions
    @Flag(help: "Offer the write tools (retry_job, discard_job, send_test_event).") var allowWrites = false
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
                                       docsDirectory: HookyardResources.locateDocs(),
                                       sendTestEvent: TriggerForMCP.sender(configFile: settings.file, database: settings.databaseLocation))
        logger.info("MCP server on stdio", metadata: ["database": "\(settings.databaseLocation)",
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

/// `send_test_event` for the MCP server: runs this very binary's `hookyard trigger` with the server's configuration
/// and database, its output captured (never on the server's standard output, which carries the protocol), so the tool
/// and the command send the same signed delivery. Stateless.
enum TriggerForMCP {
    static func sender(configFile: String?, database: DatabaseLocation) -> TestEventSending {
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        // The child inherits the environment (a PostgreSQL password in HOOKYARD_DATABASE_PASSWORD stays out of its arguments).
        let databaseArgument: String = switch database {
        case .sqlite(let path): path
        case .postgresql(let url, _): url
        }
        let common = (configFile.map { ["--config", $0] } ?? []) + ["--database", databaseArgument]
        return { request in
            try await withCheckedThrowingContinuation { continuation in
                DispatchQueue.global().async {
                    let process = Process()
                    process.executableURL = executable
                    process.arguments = request.triggerArguments + common
                    let pipe = Pipe()
                    process.standardOutput = pipe
                    process.standardError = pipe
                    process.standardInput = FileHandle.nullDevice
                    do {
                        try process.run()
                    } catch {
                        return continuation.resume(throwing: ToolError.refused("cannot run hookyard trigger: \(error)"))
                    }
                    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                    process.waitUntilExit()
                    if process.terminationStatus == 0 {
                        continuation.resume(returning: output)
                    } else {
                        continuation.resume(throwing: ToolError.refused(
                            "hookyard \(request.triggerArguments.joined(separator: " ")) failed (exit \(process.terminationStatus)): "
                            + output.trimmingCharacters(in: .whitespacesAndNewlines)))
                    }
                }
            }
        }
    }
}
