import Dispatch
import HTTPServer
import HookyardMCP
import Metrics

/// Answers the admin listener, which is separate from the webhook listener so metrics are never served to the
/// internet by accident (`admin_listen` defaults to loopback).
///
/// | route | answer |
/// |---|---|
/// | `GET /metrics` | every metric in the Prometheus text format 0.0.4 |
/// | `GET /healthz` | 200 while the process runs |
/// | `GET /report` | the success-metrics report as an HTML page (`ReportPageRoute`) |
/// | `POST /mcp` | MCP over Streamable HTTP (`MCPHTTPEndpoint`); only with `HOOKYARD_ADMIN_TOKEN` set (403 otherwise) |
///
/// Anything else is 404 (405 for another method on a known path). With `HOOKYARD_ADMIN_TOKEN` set, every route but
/// `/healthz` first requires the token (`AdminAccess`; 401 otherwise). Thread-safe.
struct AdminResponder: HTTPResponder {
    let metrics: HookyardMetrics
    let access: AdminAccess
    let reportPage: ReportPageRoute
    /// The MCP endpoint; `nil` in tests that do not serve it.
    var mcp: MCPHTTPEndpoint? = nil

    static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// Counts connections the admin listener closed to make room for new ones.
    func connectionEvicted() {
        metrics.connectionsEvicted.increment(labels: ["admin"])
    }

    func respond(to request: HTTPRequest, completion: @escaping @Sendable (HTTPResponse) -> Void) {
        if let refusal = access.refusal(for: request) { return completion(refusal) }
        switch request.path {
        case "/metrics":
            guard request.method == "GET" || request.method == "HEAD" else { return completion(Self.methodNotAllowed()) }
            // A scrape reads the job counts from the database: off the server's queue, which must not block.
            DispatchQueue.global().async { [metrics] in
                var headers = HTTPHeaders()
                headers.add(name: "Content-Type", value: Self.contentType)
                completion(HTTPResponse(status: 200, headers: headers, body: Array(metrics.registry.render().utf8)))
            }
        case "/healthz":
            guard request.method == "GET" || request.method == "HEAD" else { return completion(Self.methodNotAllowed()) }
            completion(.json(status: 200, "{\"status\":\"ok\"}"))
        case "/mcp":
            // The tools read every contact's story: never without the admin token, even on loopback.
            guard access.requiresToken, let mcp else {
                return completion(.error(status: 403, reason: "mcp_needs_admin_token",
                                         message: "MCP over HTTP is served only when HOOKYARD_ADMIN_TOKEN is set (then send Authorization: Bearer <token>); or run hookyard mcp on stdio"))
            }
            mcp.respond(to: request, completion: completion)
        case "/report":
            guard request.method == "GET" || request.method == "HEAD" else { return completion(Self.methodNotAllowed()) }
            reportPage.respond(to: request, completion: completion)
        default:
            completion(.error(status: 404, reason: "not_found",
                              message: "no route for \(request.path); the admin listener serves /metrics, /healthz, /report and /mcp"))
        }
    }

    private static func methodNotAllowed() -> HTTPResponse {
        var response = HTTPResponse.error(status: 405, reason: "method_not_allowed", message: "method not allowed; use GET, HEAD")
        response.headers.add(name: "Allow", value: "GET, HEAD")
        return response
    }
}
