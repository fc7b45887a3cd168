import Logging
import StrictJSON

/// What the route that answered knows about a request (which source, which event, …): typed data that the
/// responder's own accounting (`HTTPResponder.didRespond`) reads directly, and that adds its fields to the request's
/// log line. Never sent to the client. Values are immutable and `Sendable`, so they may cross threads.
public protocol HTTPResponseContext: Sendable {
    /// Adds this context's fields to the request's log line (called on the connection's event loop).
    func addLogMetadata(to metadata: inout Logger.Metadata)
}

/// A response to send: status, headers and a body whose length the server writes as `Content-Length`.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: [UInt8]
    /// Close the connection after sending this response.
    public var closeConnection: Bool
    /// The machine-readable reason of an error answer (`error(status:reason:message:)` sets it), logged as `reason`;
    /// never sent by itself (the body carries what the client sees).
    public var errorReason: String?
    /// What the route knows about the request, for the responder's metrics and the log line; never sent.
    public var context: (any HTTPResponseContext)?
    /// The path to log instead of the real one, for paths that carry a secret.
    public var logPath: String?

    public init(status: Int, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = [], closeConnection: Bool = false) {
        self.status = status
        self.headers = headers
        self.body = body
        self.closeConnection = closeConnection
        self.errorReason = nil
        self.context = nil
        self.logPath = nil
    }

    /// A response with a JSON body (already encoded) and `Content-Type: application/json`.
    public static func json(status: Int, _ body: String, closeConnection: Bool = false) -> HTTPResponse {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        return HTTPResponse(status: status, headers: headers, body: Array(body.utf8), closeConnection: closeConnection)
    }

    /// `{"error": message, "reason": reason}` with the given status.
    public static func error(status: Int, reason: String, message: String, closeConnection: Bool = false) -> HTTPResponse {
        var response = json(status: status, "{\"error\":\(JSONText.quote(message)),\"reason\":\(JSONText.quote(reason))}",
                            closeConnection: closeConnection)
        response.errorReason = reason
        return response
    }

    /// The standard reason phrase for `status`.
    public static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 100: "Continue"
        case 200: "OK"
        case 202: "Accepted"
        case 204: "No Content"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 411: "Length Required"
        case 413: "Content Too Large"
        case 414: "URI Too Long"
        case 415: "Unsupported Media Type"
        case 417: "Expectation Failed"
        case 422: "Unprocessable Content"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 503: "Service Unavailable"
        case 505: "HTTP Version Not Supported"
        default: "Status \(status)"
        }
    }

    /// The bytes on the wire. `headOnly` leaves the body out (answers to `HEAD`).
    func serialized(date: String, keepAlive: Bool, headOnly: Bool) -> [UInt8] {
        var head = "HTTP/1.1 \(status) \(HTTPResponse.reasonPhrase(status))\r\n"
        for (name, value) in headers.fields { head += "\(name): \(value)\r\n" }
        head += "Content-Length: \(body.count)\r\nDate: \(date)\r\n"
        if !keepAlive { head += "Connection: close\r\n" }
        head += "\r\n"
        var bytes = Array(head.utf8)
        if !headOnly { bytes.append(contentsOf: body) }
        return bytes
    }
}
