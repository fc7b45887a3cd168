import CCurl
import Foundation

/// A response from `HTTPClient`.
public struct HTTPClientResponse: Sendable {
    public var status: Int
    public var body: [UInt8]
}

/// A libcurl transfer error, carrying curl's own message and the URL.
public struct HTTPClientError: Error, CustomStringConvertible, Sendable {
    public let code: Int
    public let message: String
    public let url: String
    public var description: String { "\(url): \(message) (curl error \(code))" }
}

/// A blocking HTTP client on libcurl: TLS verification always on, a `User-Agent: hookyard/<version>`,
/// connect timeout 5 s and total timeout 30 s by default. Not thread-safe: one client per thread; it keeps its
/// connection alive between requests.
public final class HTTPClient {
    private let handle: UnsafeMutableRawPointer
    private let userAgent: String
    public var connectTimeoutSeconds = 5
    public var totalTimeoutSeconds = 30

    private static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

    public init(userAgent: String) {
        _ = Self.globalInit
        guard let handle = curl_easy_init() else { fatalError("curl_easy_init failed: libcurl is out of memory") }
        self.handle = handle
        self.userAgent = userAgent
    }

    deinit { curl_easy_cleanup(handle) }

    /// Sends one request and waits for the whole response.
    /// - Throws: `HTTPClientError` for transport failures (refused, timeout, TLS); HTTP error statuses are returned.
    public func send(method: String, url: String, headers: [(String, String)], body: [UInt8]) throws -> HTTPClientResponse {
        curl_easy_reset(handle)
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
                        set(CURLOPT_CONNECTTIMEOUT, connectTimeoutSeconds)
                        set(CURLOPT_TIMEOUT, totalTimeoutSeconds)
                        if !body.isEmpty || method == "POST" {
                            set(CURLOPT_POSTFIELDS, bodyBytes.baseAddress ?? UnsafeRawPointer(("" as StaticString).utf8Start))
                            set(CURLOPT_POSTFIELDSIZE, bodyBytes.count)
                        }
                        set(CURLOPT_WRITEDATA, Unmanaged.passUnretained(sink).toOpaque())
                        if status == CURLE_OK {
                            status = ccurl_setopt_write(handle, CURLOPT_WRITEFUNCTION) { data, size, count, context in
                                let sink = Unmanaged<ResponseSink>.fromOpaque(context!).takeUnretainedValue()
                                let length = size * count
                                if let data { sink.bytes.append(contentsOf: UnsafeRawBufferPointer(start: data, count: length)) }
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
        return HTTPClientResponse(status: code, body: sink.bytes)
    }
}

private final class ResponseSink {
    var bytes: [UInt8] = []
}
