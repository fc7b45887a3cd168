import Synchronization

/// Wraps another transport and records, in order, every request sent through it and what came of it: the status it
/// got, or the failure. Used per job, to put the exact requests into the job's output.
///
/// Requests are recorded when they start, so concurrent callers appear in the order they called `send`; the outcome
/// is filled in when the answer arrives. Thread-safe.
public final class RecordingProviderTransport: ProviderTransport {
    /// One request and what came of it. A value; thread-safe.
    public struct Exchange: Sendable, Equatable {
        public var request: ProviderRequest
        /// The HTTP status, once answered (also set for failures the provider answered, e.g. 429).
        public var status: Int?
        /// The failure, if the call failed.
        public var failure: ProviderFailure?

        public init(request: ProviderRequest, status: Int? = nil, failure: ProviderFailure? = nil) {
            self.request = request
            self.status = status
            self.failure = failure
        }
    }

    private let inner: any ProviderTransport
    private let recorded = Mutex<[Exchange]>([])

    public init(_ inner: any ProviderTransport) {
        self.inner = inner
    }

    public var provider: String { inner.provider }
    public var baseURL: String { inner.baseURL }

    /// Every request sent so far, in the order `send` was called.
    public var requests: [ProviderRequest] { recorded.withLock { $0.map(\.request) } }

    /// Every request with its status or failure, in the order `send` was called.
    public var exchanges: [Exchange] { recorded.withLock { $0 } }

    /// Sends through the wrapped transport; records the request first and the outcome afterwards.
    public func send(_ request: ProviderRequest) throws(ProviderFailure) -> HTTPClientResponse {
        let index = recorded.withLock { exchanges in
            exchanges.append(Exchange(request: request))
            return exchanges.count - 1
        }
        do {
            let response = try inner.send(request)
            recorded.withLock { $0[index].status = response.status }
            return response
        } catch {
            recorded.withLock { exchanges in
                exchanges[index].status = error.status
                exchanges[index].failure = error
            }
            throw error
        }
    }
}
