import Foundation
import HookyardConfiguration
@testable import HookyardMCP
import MCP
import TestSupport
import XCTest

/// `POST /mcp` in process (no socket, no Python): the bridge between the admin listener's requests and the SDK's
/// stateless Streamable HTTP transport answers JSON-RPC requests with JSON, notifications with 202, and anything
/// but POST with 405.
final class HTTPEndpointTests: XCTestCase {
    func answer(_ server: HookyardMCPServer, method: String = "POST", body: String, headers: [String: String] = [:]) async -> AdminHTTPResponse {
        var all = ["Content-Type": "application/json", "Accept": "application/json, text/event-stream"]
        all.merge(headers) { $1 }
        return await MCPHTTPEndpoint.answer(MCP.HTTPRequest(method: method, headers: all, body: Data(body.utf8), path: "/mcp"),
                                            server: server, logger: .init(label: "test"))
    }

    func testRequestsAnswerJSONAndNotificationsAreAccepted() async throws {
        let directory = DaemonProcess.makeDirectory()
        let configuration = try ToolboxTests.seed(into: directory)
        let storage = HookyardStorage(configuration: configuration)
        defer { storage.close() }
        let server = HookyardMCPServer(configuration: configuration, storage: storage, allowWrites: false, version: "test",
                                       docsDirectory: nil, liveMode: { false })

        let initialize = await answer(server, body: """
            {"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}
            """)
        XCTAssertEqual(initialize.status, 200, String(decoding: initialize.body, as: UTF8.self))
        let result = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(initialize.body)) as? [String: Any])
        XCTAssertEqual(((result["result"] as? [String: Any])?["serverInfo"] as? [String: Any])?["name"] as? String, "hookyard")

        let notified = await answer(server, body: #"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
                                    headers: ["MCP-Protocol-Version": "2025-06-18"])
        XCTAssertEqual(notified.status, 202)

        // Each request stands alone (no session): a tool call after another request's initialize.
        let call = await answer(server, body: #"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"status","arguments":{}}}"#,
                                headers: ["MCP-Protocol-Version": "2025-06-18"])
        XCTAssertEqual(call.status, 200)
        let text = String(decoding: call.body, as: UTF8.self)
        XCTAssertTrue(text.contains("Stripe dry-run, Instantly dry-run"), text)

        let unknown = await answer(server, body: #"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"get_contact","arguments":{"email":"x@y.z"}}}"#,
                                   headers: ["MCP-Protocol-Version": "2025-06-18"])
        let error = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(unknown.body)) as? [String: Any])?["error"] as? [String: Any])
        XCTAssertEqual(error["code"] as? Int, -32602)
        XCTAssertTrue((error["message"] as? String ?? "").contains("unknown contact 'x@y.z'"), "\(error)")

        let get = await answer(server, method: "GET", body: "")
        XCTAssertEqual(get.status, 405)
    }
}
