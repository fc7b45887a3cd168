import CCurl
import Foundation

/// A response from `HTTPClient`: status, headers (names lower-cased; the last value wins) and body.
public struct HTTPClientResponse: Sendable {
    public var status: Int
    public var headers: [String: String]
    public var body: [UInt8]

    public init(status: Int, headers: [String: String], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}

/// A libcurl transfer error (no HTTP response): curl's own message, its code and the URL.
public struct HTTPClientError: Error, CustomStringConvertible, Sendable {
    public let code: Int
    public let message: String
    public let url: String
    public var description: String { "\(url): \(message) (curl error \(code))" }

    /// Whether it timed out (connect or total).
    public var isTimeout: Bool { code == Int(CURLE_OPERATION_TIMEDOUT.rawValue) }
}

/// A blocking HTTP client on libcurl, used for every provider call.
///
/// TLS verification is always on; HTTP/2 is used where the server offers it over TLS; `User-Agent` is
/// `hookyard/<version>`; connect timeout 5 s and total timeout 30 s by default. The connection is kept alive
/// between requests. Not thread-safe: one client per worker thread.
public final class HTTPClient {
    private let handle: UnsafeMutableRawPointer
    private let userAgent: String
    public var connectTimeoutMilliseconds = 5_000
    public var totalTimeoutMilliseconds = 30_000

    private static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

    public init(userAgent: String) {
        _ = Self.globalInit
        guard let handle = curl_easy_init() else { fatalError("curl_easy_init failed: libcurl is out of memory") }
        self.handle = handle
        self.userAgent = userAgent
    }

    deinit { curl_easy_cleanup(handle) }

    /// Sends one request and waits for the whole response.
    /// - Throws: `HTTPClientError` for transport failures (refused, reset, timeout, TLS); HTTP error statuses are returned.
    public func send(method: String, url: String, headers: [(String, String)], body: [UInt8]) throws -> HTTPClientResponse {
        curl_easy_reset(handle)  // keeps the open connection for reuse
        let sink = ResponseSink()
        var headerList: UnsafeMutablePointer<curl_slist>?
        for (name, value) in headers { headerList = curl_slist_append(headerList, "\(name): \(value)") }
        headerList = curl_slist_append(headerList, "Expect:")  // no 100-continue round trip
        defer { curl_slist_free_all(headerList) }

        var status = CURLE_OK
        func set(_ option: CURLoption, _ value: Int) { if status == CURLE_OK { status = ccurl_setopt_long(handle, option, value) } }
        func set(_ option: CURLoption, _ value: UnsafeRawPointer?) { if status == CURLE_OK { status = ccurl_setopt_ptr(handle, option, value) } }

        let result: CURLcode = url.withCString { urlPointer in
            userAgent.withCString { agentPointer in
                method.withCString { methodPointer in
                    body.withUnsafeBytes { bodyBytes in
                        set(CURLOPT_URL, urlPointer)
                        set(CURLOPT_USERAGENT, agentPointer)
                        set(CURLOPT_CUSTOMREQUEST, methodPointer)
                        set(CURLOPT_HTTPHEADER, UnsafeRawPointer(headerList))
                        set(CURLOPT_NOSIGNAL, 1)
                        set(CURLOPT_SSL_VERIFYPEER, 1)
                        set(CURLOPT_SSL_VERIFYHOST, 2)
                        set(CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_2TLS))
                        set(CURLOPT_CONNECTTIMEOUT_MS, connectTimeoutMilliseconds)
                        set(CURLOPT_TIMEOUT_MS, totalTimeoutMilliseconds)
                        if method == "HEAD" { set(CURLOPT_NOBODY, 1) }
                        if !body.isEmpty || method == "POST" || method == "PATCH" || method == "PUT" {
                            set(CURLOPT_POSTFIELDS, bodyBytes.baseAddress ?? UnsafeRawPointer(("" as StaticString).utf8Start))
                            set(CURLOPT_POSTFIELDSIZE, bodyBytes.count)
                        }
                        let context = Unmanaged.passUnretained(sink).toOpaque()
                        set(CURLOPT_WRITEDATA, context)
                        set(CURLOPT_HEADERDATA, context)
                        if status == CURLE_OK {
                            status = ccurl_setopt_write(handle, CURLOPT_WRITEFUNCTION) { data, size, count, context in
                                let sink = Unmanaged<ResponseSink>.fromOpaque(context!).takeUnretainedValue()
                                let length = size * count
                                if let data { sink.body.append(contentsOf: UnsafeRawBufferPointer(start: data, count: length)) }
                                return length
                            }
                        }
                        if status == CURLE_OK {
                            status = ccurl_setopt_header(handle) { data, size, count, context in
                                let sink = Unmanaged<ResponseSink>.fromOpaque(context!).takeUnretainedValue()
                                let length = size * count
                                if let data { sink.header(UnsafeRawBufferPointer(start: data, count: length)) }
                                return length
                            }
                        }
                        guard status == CURLE_OK else { return status }
                        return curl_easy_perform(handle)
                    }
                }
            }
        }
        guard result == CURLE_OK else {
            throw HTTPClientError(code: Int(result.rawValue), message: String(cString: curl_easy_strerror(result)), url: url)
        }
        var code = 0
        _ = ccurl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &code)
        return HTTPClientResponse(status: code, headers: sink.headers, body: sink.body)
    }
}

/// Collects one response's header lines and body (reset at each new status line, so 100-continue or
/// redirects leave only the final response's headers).
private final class ResponseSink {
    var body: [UInt8] = []
    var headers: [String: String] = [:]

    func header(_ line: UnsafeRawBufferPointer) {
        let text = String(decoding: line, as: UTF8.self)
        if text.hasPrefix("HTTP/") { headers = [:]; return }
        guard let colon = text.firstIndex(of: ":") else { return }
        let name = text[..<colon].lowercased()
        let value = text[text.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
        headers[name] = value
    }
}
