import HookyardConfiguration
import MCP

/// One MCP tool: its definition as `tools/list` shows it (name, description, input schema, annotations) and what
/// it does. A value; thread-safe.
public struct HookyardTool: Sendable {
    public let definition: Tool
    let run: @Sendable (ToolInput, ToolContext) async throws -> ToolOutput

    public var name: String { definition.name }

    init(name: String, title: String, description: String, input: Value, annotations: Tool.Annotations,
         run: @escaping @Sendable (ToolInput, ToolContext) async throws -> ToolOutput) {
        definition = Tool(name: name, title: title, description: description, inputSchema: input, annotations: annotations)
        self.run = run
    }

    /// Reads only Hookyard's own database: read-only, idempotent, a closed world.
    static let readOnly = Tool.Annotations(readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false)
}

/// What every tool call may use. Thread-safe (every member is).
public struct ToolContext: Sendable {
    public let configuration: HookyardConfiguration
    public let storage: HookyardStorage
    public let confirmations: ConfirmationTokens
    /// Whether a write acts on real accounts: the daemon recorded live API keys, or (no daemon yet) this process
    /// has them. In live mode a write tool asks for confirmation first.
    public let liveMode: @Sendable () async -> Bool
    /// How `send_test_event` sends (the executable runs `hookyard trigger`); `nil`: the tool says it is unavailable.
    public let sendTestEvent: TestEventSending?

    public init(configuration: HookyardConfiguration, storage: HookyardStorage, confirmations: ConfirmationTokens = ConfirmationTokens(),
                liveMode: (@Sendable () async -> Bool)? = nil, sendTestEvent: TestEventSending? = nil) {
        self.configuration = configuration
        self.storage = storage
        self.confirmations = confirmations
        self.sendTestEvent = sendTestEvent
        self.liveMode = liveMode ?? { [storage, configuration] in
            let recorded = try? await storage.withConnections { try $0.store.daemonStatus() }
            if let status = recorded ?? nil { return status.stripeLive || status.instantlyLive }
            return !configuration.stripe.apiKey.isEmpty || !configuration.instantly.apiKey.isEmpty
        }
    }
}
