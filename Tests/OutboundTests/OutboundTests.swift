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

/// A clock the test moves by hand; a caller that sleeps on it moves it forward by the time it sleeps (as if that
/// time had passed), so blocking `acquire()` runs in simulated time, from any number of threads.
final class ManualClock: RateLimiterClock {
    let now = Mutex<UInt64>(1_000_000_000_000)
    func advance(milliseconds: Double) { now.withLock { $0 += UInt64(milliseconds * 1_000_000) } }
    func nanoseconds() -> UInt64 { now.withLock { $0 } }
    func sleep(nanoseconds: UInt64) { now.withLock { $0 += max(nanoseconds, 1) } }
}

final class RateLimiterTests: XCTestCase {
    /// The most grants in any half-open one-second window `[t, t + 1 s)` among `times` (nanoseconds).
    static func busiestSecond(_ times: [UInt64]) -> Int {
        let sorted = times.sorted()
        var busiest = 0
        var first = 0
        for (index, time) in sorted.enumerated() {
            while sorted[first] + 1_000_000_000 <= time { first += 1 }
            busiest = max(busiest, index - first + 1)
        }
        return busiest
    }

    func testStartsEmptyThenSpacesRequestsEvenly() {
        let clock = ManualClock()
        let limiter = RateLimiter(requestsPerSecond: 5, clock: clock)
        // A fresh limiter (a restart) owes the previous process's last second: nothing before one interval.
        XCTAssertEqual(limiter.tryAcquire(), 200, accuracy: 0.001)
        clock.advance(milliseconds: 200)
        XCTAssertEqual(limiter.tryAcquire(), 0)
        XCTAssertEqual(limiter.tryAcquire(), 200, accuracy: 0.001)
        clock.advance(milliseconds: 150)
        XCTAssertEqual(limiter.tryAcquire(), 50, accuracy: 0.001)
    }

    /// Issue 13, item 19: fresh start (with the previous process's last second before it), after idling 60 s, and
    /// with concurrent acquirers: no sliding one-second window holds more than max_rps grants.
    func testNoSlidingSecondHoldsMoreThanTheRate() {
        for rate in [20.0, 5, 7.5, 1, 0.5] {
            let clock = ManualClock()
            // The previous process granted at its full rate up to the instant it was killed.
            let interval = UInt64((1e9 / rate).rounded(.up))
            let killedAt = clock.nanoseconds()
            var grants = (0..<Int(rate.rounded(.up))).map { killedAt - UInt64($0) * interval }
            let limiter = RateLimiter(requestsPerSecond: rate, clock: clock)
            for _ in 0..<40 { grants.append(limiter.acquire()) }
            clock.advance(milliseconds: 60_000)  // idle a minute: nothing is saved up
            for _ in 0..<40 { grants.append(limiter.acquire()) }
            // Eight threads at once, each asking for 25 grants.
            let concurrent = Mutex<[UInt64]>([])
            DispatchQueue.concurrentPerform(iterations: 8) { _ in
                for _ in 0..<25 {
                    let granted = limiter.acquire()
                    concurrent.withLock { $0.append(granted) }
                }
            }
            grants += concurrent.withLock { $0 }
            XCTAssertEqual(grants.count, Int(rate.rounded(.up)) + 280)
            XCTAssertLessThanOrEqual(Self.busiestSecond(grants), Int(rate.rounded(.up)), "rate \(rate)")
            // And it is no slower than it must be: after the idle minute, the first grant is immediate and the next
            // 39 follow one interval apart.
            let afterIdle = Array(grants[(Int(rate.rounded(.up)) + 40)..<(Int(rate.rounded(.up)) + 80)])
            XCTAssertEqual(afterIdle.last! - afterIdle.first!, 39 * interval, "rate \(rate): full speed")
        }
    }

    func testPauseHoldsEveryCallerBackAndSavesNothingUp() {
        let clock = ManualClock()
        let limiter = RateLimiter(requestsPerSecond: 10, clock: clock)
        clock.advance(milliseconds: 5_000)
        limiter.pause(forMilliseconds: 3000)
        XCTAssertEqual(limiter.tryAcquire(), 3100, accuracy: 0.001)
        clock.advance(milliseconds: 3000)
        // No burst right after the pause: the rate restarts from zero.
        XCTAssertGreaterThan(limiter.tryAcquire(), 0)
        clock.advance(milliseconds: 100)
        XCTAssertEqual(limiter.tryAcquire(), 0)
        XCTAssertGreaterThan(limiter.tryAcquire(), 0)
        limiter.pause(forMilliseconds: .infinity)  // a wild Retry-After: a day at most, never a trap
        XCTAssertEqual(limiter.tryAcquire(), 86_400_100, accuracy: 0.001)
        limiter.pause(forMilliseconds: .nan)
    }

    func testSharedByThreadsOnTheRealClockNeverExceedsTheRate() {
        // Real clock: 8 threads competing for a 50/s limiter for about a second.
        let limiter = RateLimiter(requestsPerSecond: 50)
        let starts = Mutex<[UInt64]>([])
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            for _ in 0..<6 {
                let granted = limiter.acquire()
                starts.withLock { $0.append(granted) }
            }
        }
        let times = starts.withLock { $0 }
        XCTAssertEqual(times.count, 48)
        XCTAssertLessThanOrEqual(Self.busiestSecond(times), 50)
        XCTAssertGreaterThanOrEqual(times.max()! - times.min()!, 47 * 20_000_000, "48 starts at 50/s are 20 ms apart")
    }

    func testUpdateChangesTheRate() {
        let clock = ManualClock()
        let limiter = RateLimiter(requestsPerSecond: 1, clock: clock)
        clock.advance(milliseconds: 1000)
        XCTAssertEqual(limiter.tryAcquire(), 0)
        limiter.update(requestsPerSecond: 100)
        clock.advance(milliseconds: 10)
        XCTAssertEqual(limiter.tryAcquire(), 0)
        limiter.update(requestsPerSecond: 2)
        XCTAssertEqual(limiter.tryAcquire(), 500, accuracy: 0.001)
    }
}
