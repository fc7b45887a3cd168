import Foundation

import Logging
import MCP

/// `POST /mcp` on the admin listener: MCP's Streamable HTTP transport, answered with single JSON responses (no
/// sessions, no server-sent events: every tool here answers at once, and the server sends nothing unasked).
///
/// Why a small bridge and not the SDK's HTTP app: the SDK's Streamable HTTP server transports are framework-neutral
/// (`MCP.HTTPRequest` in, `MCP.HTTPResponse` out) but its ready-made server runs on SwiftNIO, while Hookyard's
/// listener is its own (POSIX sockets, epoll). So each request gets the SDK's `StatelessHTTPServerTransport` and a
/// fresh non-strict `Server` (a stateless server cannot remember an `initialize` across requests), and this type
/// converts between the two request and response types. The tools, storage queue and confirmation tokens are
/// shared by all requests (`HookyardMCPServer`).
///
/// Thread-safety: immutable; `respond` may be called from any thread, each call runs on a task of its own.
public struct MCPHTTPEndpoint: Sendable {
    public static let path = "/mcp"
    let server: HookyardMCPServer
    let logger: Logger

    public init(server: HookyardMCPServer, logger: Logger) {
        self.server = server
        self.logger = logger
    }

    /// Answers one HTTP request to `/mcp`; `completion` is called once, from another thread.
    public func respond(to request: AdminHTTPRequest, completion: @escaping @Sendable (AdminHTTPResponse) -> Void) {
        var headers: [String: String] = [:]
        for field in request.headers { headers[field.name] = field.value }
        let converted = MCP.HTTPRequest(method: request.method, headers: headers,
                                        body: request.body.isEmpty ? nil : Data(request.body), path: String(request.path))
        let server = server
        let logger = logger
        Task {
            let answer = await Self.answer(converted, server: server, logger: logger)
            completion(answer)
        }
    }

    static func answer(_ request: MCP.HTTPRequest, server: HookyardMCPServer, logger: Logger) async -> AdminHTTPResponse {
        let mcpServer = await server.makeServer(strict: false)
        let transport = StatelessHTTPServerTransport(logger: logger)
        do {
            try await mcpServer.start(transport: transport)
        } catch {
            logger.error("MCP server could not start for a request", metadata: ["error": "\(error)"])
            return .error(status: 500, reason: "mcp_unavailable", message: "the MCP server could not start: \(error)")
        }
        let response = await transport.handleRequest(request)
        var body: [UInt8] = response.bodyData.map(Array.init) ?? []
        if case .stream(let stream, _) = response {
            // Not produced by the stateless transport; collected whole should a future SDK send one.
            do {
                for try await chunk in stream { body += chunk }
            } catch {
                logger.warning("MCP response stream failed", metadata: ["error": "\(error)"])
            }
        }
        await mcpServer.stop()
        var headers = AdminHTTPHeaders()
        for (name, value) in response.headers.sorted(by: { $0.key < $1.key }) { headers.add(name: name, value: value) }
        if !body.isEmpty, headers["Content-Type"] == nil { headers.add(name: "Content-Type", value: "application/json") }
        headers.add(name: "Cache-Control", value: "no-store")
        return AdminHTTPResponse(status: response.statusCode, headers: headers, body: body)
    }
}
