import Synchronization
import XCTest
@testable import Outbound

final class FormEncoderTests: XCTestCase {
    /// What the encoder writes, the decoder reads back pair by pair; what is not a form is refused.
    func testDecoderReadsTheEncodersFormsBack() throws {
        let fields: [(String, FormValue)] = [("metadata", ["lead_email": "zoë+1@example.com", "note": "a&b=c d"]),
                                             ("line_items", [["price": "price_1", "quantity": 1]])]
        let pairs = try XCTUnwrap(FormDecoder.decode(FormEncoder.encode(fields)))
        XCTAssertEqual(pairs.map(\.key), ["metadata[lead_email]", "metadata[note]", "line_items[0][price]", "line_items[0][quantity]"])
        XCTAssertEqual(pairs.map(\.value), ["zoë+1@example.com", "a&b=c d", "price_1", "1"])
        XCTAssertEqual(FormDecoder.decode("a=1+2")?.first?.value, "1 2")
        for notAForm in ["{\"a\":1}", "a", "=1", "a=%zz", "a=%C3", "a=1&&b=2", "a=x y"] {
            XCTAssertNil(FormDecoder.decode(notAForm), notAForm)
        }
        XCTAssertEqual(FormDecoder.decode("")?.count, 0)
    }

    func testNestedKeysAsStripeExpects() {
        let body = FormEncoder.encode([
            ("email", "ann+lead@example.com"),
            ("metadata", ["lead_email": "ann+lead@example.com", "campaign id": "c/1 & 2"]),
            ("line_items", [["price": "price_123", "quantity": 1]]),
            ("after_completion", ["type": "redirect", "redirect": ["url": "https://example.com/thanks?x=1"]]),
            ("livemode", false),
        ])
        XCTAssertEqual(body, "email=ann%2Blead%40example.com"
            + "&metadata%5Blead_email%5D=ann%2Blead%40example.com&metadata%5Bcampaign%20id%5D=c%2F1%20%26%202"
            + "&line_items%5B0%5D%5Bprice%5D=price_123&line_items%5B0%5D%5Bquantity%5D=1"
            + "&after_completion%5Btype%5D=redirect&after_completion%5Bredirect%5D%5Burl%5D=https%3A%2F%2Fexample.com%2Fthanks%3Fx%3D1"
            + "&livemode=false")
    }

    func testUnicodeAndUnreservedCharacters() {
        XCTAssertEqual(FormEncoder.percentEncode("Zoë é-._~"), "Zo%C3%AB%20%C3%A9-._~")
        XCTAssertEqual(FormEncoder.encode([]), "")
    }
}

/// A clock the test moves by hand.
final class ManualClock: Sendable {
    let now = Mutex<Double>(0)
    func advance(_ milliseconds: Double) { now.withLock { $0 += milliseconds } }
    var function: @Sendable () -> Double { { [self] in now.withLock { $0 } } }
}

final class RateLimiterTests: XCTestCase {
    func testBurstThenSteadyRate() {
        let clock = ManualClock()
        let limiter = RateLimiter(requestsPerSecond: 5, clock: clock.function)
        for _ in 0..<5 { XCTAssertEqual(limiter.tryAcquire(), 0) }  // a burst of one second's worth
        XCTAssertEqual(limiter.tryAcquire(), 200, accuracy: 0.001)
        clock.advance(200)
        XCTAssertEqual(limiter.tryAcquire(), 0)
        XCTAssertGreaterThan(limiter.tryAcquire(), 0)
    }

    func testPauseHoldsEveryCallerBackAndDropsSavedTokens() {
        let clock = ManualClock()
        let limiter = RateLimiter(requestsPerSecond: 10, clock: clock.function)
        limiter.pause(forMilliseconds: 3000)
        XCTAssertEqual(limiter.tryAcquire(), 3000, accuracy: 0.001)
        clock.advance(2999)
        XCTAssertGreaterThan(limiter.tryAcquire(), 0)
        clock.advance(1)
        // No burst of saved-up tokens right after the pause: the rate restarts from zero.
        XCTAssertGreaterThan(limiter.tryAcquire(), 0)
        clock.advance(100)
        XCTAssertEqual(limiter.tryAcquire(), 0)
        XCTAssertGreaterThan(limiter.tryAcquire(), 0)
    }

    func testSharedByThreadsNeverExceedsTheRate() {
        // Real clock: 8 threads competing for a 50/s limiter for about a second.
        let limiter = RateLimiter(requestsPerSecond: 50, burst: 1)
        let starts = Mutex<[Double]>([])
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            for _ in 0..<6 {
                limiter.acquire()
                let now = RateLimiter.monotonicMilliseconds()
                starts.withLock { $0.append(now) }
            }
        }
        let times = starts.withLock { $0.sorted() }
        XCTAssertEqual(times.count, 48)
        // Any window of 1 s holds at most rate + burst starts.
        for (index, start) in times.enumerated() {
            let inWindow = times[index...].prefix { $0 < start + 1000 }.count
            XCTAssertLessThanOrEqual(inWindow, 51)
        }
        XCTAssertGreaterThanOrEqual(times.last! - times.first!, 47 * 20 * 0.9, "48 starts at 50/s take about 0.94 s")
    }

    func testUpdateChangesTheRate() {
        let clock = ManualClock()
        let limiter = RateLimiter(requestsPerSecond: 1, clock: clock.function)
        XCTAssertEqual(limiter.tryAcquire(), 0)
        limiter.update(requestsPerSecond: 100)
        clock.advance(10)
        XCTAssertEqual(limiter.tryAcquire(), 0)
    }
}
