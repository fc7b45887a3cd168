import Foundation
import HookyardConfiguration
import MCP

/// Every tool this server offers, and the dispatch of a call to one: the read tools always, the write tools only
/// when writes are allowed (they are then listed; otherwise a call to one is an unknown tool).
///
/// Thread-safety: immutable; calls run concurrently, their storage work one at a time on `HookyardStorage`'s queue.
public final class HookyardToolbox: Sendable {
    public let tools: [HookyardTool]
    public let context: ToolContext
    private let byName: [String: HookyardTool]

    /// The read tools, in the order `tools/list` shows them.
    public static let readTools: [HookyardTool] = [
        StatusTools.status, ContactTools.getContact, ContactTools.findContacts, EventTools.listEvents, EventTools.getEvent,
        ExplainTools.explainEvent, DryRunTools.dryRunRule, JobTools.listJobs, JobTools.getJob, ReportTools.getReport, StatusTools.listSegments, StatusTools.getConfig,
    ]
    /// The write tools, listed only when writes are allowed.
    public static let writeTools: [HookyardTool] = [WriteTools.retryJob, WriteTools.discardJob, TestEventTools.sendTestEvent]

    public init(context: ToolContext, allowWrites: Bool) {
        self.context = context
        tools = Self.readTools + (allowWrites ? Self.writeTools : [])
        byName = Dictionary(uniqueKeysWithValues: tools.map { ($0.name, $0) })
    }

    public var definitions: [Tool] { tools.map(\.definition) }

    /// Runs tool `name` with `arguments`.
    /// - Throws: `MCPError`: `methodNotFound`-style `invalidParams` for an unknown tool (naming the tools there are,
    ///   and saying when a write tool needs enabling), `invalidParams` for bad input or an unknown thing named,
    ///   `internalError` when the database cannot be read.
    public func call(_ name: String, arguments: [String: Value]?) async throws -> CallTool.Result {
        guard let tool = byName[name] else {
            let disabled = Self.writeTools.contains { $0.name == name }
            throw MCPError.invalidParams(disabled
                ? "tool '\(name)' is a write tool and writes are not enabled on this server (mcp.allow_writes: true or hookyard mcp --allow-writes)"
                : "unknown tool '\(name)'; the tools are: \(tools.map(\.name).joined(separator: ", "))")
        }
        do {
            return try await tool.run(ToolInput(tool: name, values: arguments), context).result
        } catch let error as ToolError {
            throw error.mcpError
        }
    }
}
