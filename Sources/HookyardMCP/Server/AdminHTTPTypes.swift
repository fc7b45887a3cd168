import HTTPServer

// Hookyard's HTTP types under names of their own: the module `HTTPServer` holds a class of the same name, and MCP
// has types called `HTTPRequest` and `HTTPResponse` too, so files importing both name these.

/// A request as Hookyard's HTTP server parsed it.
public typealias AdminHTTPRequest = HTTPRequest
/// A response for Hookyard's HTTP server.
public typealias AdminHTTPResponse = HTTPResponse
/// Header fields of Hookyard's HTTP server.
typealias AdminHTTPHeaders = HTTPHeaders
