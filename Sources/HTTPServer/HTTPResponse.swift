import StrictJSON

/// A response to send: status, headers and a body whose length the server writes as `Content-Length`.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: [UInt8]
    /// Close the connection after sending this response.
    public var closeConnection: Bool
    /// Context for the request's log line (e.g. `source`, `event_id`, `reason`); never sent to the client.
    public var logMetadata: [(String, String)]
    /// The path to log instead of the real one, for paths that carry a secret.
    public var logPath: String?
    /// Send nothing at all: the connection is reset (closed with `SO_LINGER` 0, so the peer sees `RST`) instead of
    /// answered; pipelined requests behind this one, and earlier answers not yet written, are discarded. `status`, `headers`, `body` and
    /// `closeConnection` are ignored; the request is still logged (with `aborted: true`). For test servers that
    /// simulate a lost connection; see `abortConnection()`.
    public var abortsConnection: Bool

    public init(status: Int, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = [], closeConnection: Bool = false) {
        self.status = status
        self.headers = headers
        self.body = body
        self.closeConnection = closeConnection
        self.logMetadata = []
        self.logPath = nil
        self.abortsConnection = false
    }

    /// No answer: the server resets the connection without writing a byte (see `abortsConnection`). Logged with
    /// status 0 and `aborted: true`.
    public static func abortConnection() -> HTTPResponse {
        var response = HTTPResponse(status: 0, closeConnection: true)
        response.abortsConnection = true
        response.logMetadata.append(("aborted", "true"))
        return response
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
        response.logMetadata.append(("reason", reason))
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
