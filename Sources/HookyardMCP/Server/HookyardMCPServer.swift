import Foundation
import HookyardConfiguration
import Logging
import MCP

/// Builds MCP servers (the SDK's `Server`) that answer with Hookyard's tools, resources and prompts, for any
/// transport: stdio (`hookyard mcp`) or Streamable HTTP (`POST /mcp` on the admin listener).
///
/// Thread-safety: immutable; `makeServer()` may be called from any task, and every server it makes shares the one
/// toolbox (and so the one storage queue and the one set of confirmation tokens).
public final class HookyardMCPServer: Sendable {
    public static let name = "hookyard"
    public let toolbox: HookyardToolbox
    public let resources: HookyardResources
    let version: String

    /// - Parameters:
    ///   - configuration: the loaded configuration (its database is the one read).
    ///   - allowWrites: list and accept the write tools.
    ///   - version: the version `initialize` reports.
    ///   - docsDirectory: where the workflow pages are (`HookyardResources.locateDocs()`), or `nil`.
    ///   - sendTestEvent: how `send_test_event` sends (`hookyard trigger`), or `nil`.
    public init(configuration: HookyardConfiguration, storage: HookyardStorage, allowWrites: Bool, version: String,
                docsDirectory: URL?, liveMode: (@Sendable () async -> Bool)? = nil, sendTestEvent: TestEventSending? = nil) {
        toolbox = HookyardToolbox(context: ToolContext(configuration: configuration, storage: storage, liveMode: liveMode,
                                                       sendTestEvent: sendTestEvent),
                                  allowWrites: allowWrites)
        resources = HookyardResources(configuration: ConfigurationSummary(configuration), docsDirectory: docsDirectory)
        self.version = version
    }

    static let instructions = """
        Hookyard bridges Instantly (cold email) webhooks and Stripe: it stores every event, runs workflow rules, and \
        keeps each contact's story. Start with status; get_contact answers "what happened to this person"; \
        list_events/get_event and list_jobs/get_job show the evidence; get_report answers revenue questions.
        """

    /// A new SDK server with every handler registered. `strict` requires `initialize` first (stdio); the HTTP
    /// endpoint uses a fresh non-strict server per request, since Streamable HTTP without sessions carries each
    /// request on its own.
    public func makeServer(strict: Bool = true) async -> Server {
        let server = Server(name: Self.name, version: version, title: "Hookyard", instructions: Self.instructions,
                            capabilities: .init(prompts: .init(listChanged: false), resources: .init(subscribe: false, listChanged: false),
                                                tools: .init(listChanged: false)),
                            configuration: strict ? .strict : .default)
        let toolbox = toolbox
        let resources = resources
        await server.withMethodHandler(ListTools.self) { _ in ListTools.Result(tools: toolbox.definitions) }
        await server.withMethodHandler(CallTool.self) { parameters in
            try await toolbox.call(parameters.name, arguments: parameters.arguments)
        }
        await server.withMethodHandler(ListResources.self) { _ in ListResources.Result(resources: resources.list) }
        await server.withMethodHandler(ReadResource.self) { parameters in try resources.read(parameters.uri) }
        await server.withMethodHandler(ListPrompts.self) { _ in ListPrompts.Result(prompts: HookyardPrompts.list) }
        await server.withMethodHandler(GetPrompt.self) { parameters in
            try HookyardPrompts.get(parameters.name, arguments: parameters.arguments)
        }
        return server
    }

    /// Serves MCP on standard input and output until the client closes its end. Nothing else may write to standard
    /// output meanwhile: it carries the protocol.
    public func runStdio(logger: Logger) async throws {
        let server = await makeServer(strict: true)
        try await server.start(transport: StdioTransport(logger: logger))
        await server.waitUntilCompleted()
        toolbox.context.storage.close()
    }
}
