import Foundation
import Reports
import Store
import TestSupport
import XCTest
import SQLite

/// `GET /report` on the real daemon, loaded by headless Chromium (Debian's `chromium`): the page renders under its
/// own Content-Security-Policy without a console message, shows figures known from the events the test sent, and
/// escapes a hostile campaign name.
final class ReportPageBrowserTests: XCTestCase {
    private let token = "report-page-admin-token-0123456789"
    private let campaign = "11111111-2222-4333-8444-555555555555"
    /// A campaign name a stranger could give a campaign in Instantly: it must stay text.
    private let hostileName = "Spring <b>launch</b> & \"friends\""

    /// A daemon with no rules and an admin token, fed: three emails sent by one campaign, then, 3 days 2 hours 30
    /// minutes later, two of the three people pay (USD 49.00 by card, JPY 1,500), all within the default period.
    private func startDaemon() throws -> ScenarioHarness {
        let harness = try ScenarioHarness(yaml: "", environment: [
            "HOOKYARD_ADMIN_TOKEN": token,
            // For `hookyard trigger`, which signs with the daemon's secrets.
            "STRIPE_WEBHOOK_SECRET": DaemonProcess.stripeSecret, "INSTANTLY_WEBHOOK_SECRET": DaemonProcess.instantlySecret,
        ])
        let daemon = try harness.start()
        // The emails went out 3 days, 2 hours and 30 minutes before the payments.
        let sentAt = ScenarioHarness.isoTime(harness.now - (3 * 24 * 60 + 150) * 60_000)
        for email in ["ada@example.com", "grace@example.com", "linus@example.com"] {
            try harness.sendInstantly("email_sent", email: email, campaign: campaign, fields: ["campaign_name": hostileName],
                                      timestamp: sentAt)
        }
        for (email, amount, currency) in [("ada@example.com", 4_900, "usd"), ("grace@example.com", 1_500, "jpy")] {
            let (status, output) = try harness.cli(["trigger", "stripe", "checkout.session.completed", "--email", email,
                                                    "--set", "data.object.amount_total=\(amount)",
                                                    "--set", "data.object.amount_subtotal=\(amount)",
                                                    "--set", "data.object.currency=\(currency)",
                                                    "--to", "http://127.0.0.1:\(daemon.port)"])
            XCTAssertEqual(status, 0, output)
        }
        try harness.settle()
        return harness
    }

    func testReportRendersInHeadlessChromiumWithTheExpectedFigures() throws {
        let chromium = try HeadlessChromium.located()
        let harness = try startDaemon()
        let daemon = try XCTUnwrap(harness.daemon)
        let port = try daemon.adminPort()

        // The HTTP answer: HTML with a strict policy, never cached, only with the token.
        let admin = try daemon.adminClient()
        let response = try admin.roundTrip("GET", "/report", headers: [("Authorization", "Bearer \(token)")])
        XCTAssertEqual(response.status, 200, response.bodyText)
        XCTAssertEqual(response.headers["content-type"], "text/html; charset=utf-8")
        XCTAssertEqual(response.headers["content-security-policy"],
                       "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
        XCTAssertEqual(response.headers["x-content-type-options"], "nosniff")
        XCTAssertEqual(response.headers["cache-control"], "no-store")
        XCTAssertFalse(response.bodyText.contains("<b>launch"), "the campaign name must be escaped")
        XCTAssertEqual(try admin.roundTrip("GET", "/report").status, 401)

        // The browser: Basic credentials in the URL, as after the login prompt.
        let url = "http://admin:\(token)@127.0.0.1:\(port)/report"
        let rendered = try chromium.dumpDOM(url)
        XCTAssertEqual(rendered.consoleMessages, [], "no console message (a CSP violation or an error is one)")
        let dom = rendered.dom
        XCTAssertTrue(dom.contains("<h1>Success metrics</h1>"), dom)
        XCTAssertFalse(dom.contains("Synthetic demo data"), "these events are not the demo seed")
        // Headline, each figure known from the events sent: 3 emails to 3 people, 2 of whom paid.
        XCTAssertTrue(dom.contains("<div class=\"label\">Net revenue</div><div class=\"value\">JPY 1,500<br>USD 49.00</div>"), dom)
        XCTAssertTrue(dom.contains("<div class=\"label\">New customers</div><div class=\"value\">2</div>"), dom)
        XCTAssertTrue(dom.contains("<div class=\"label\">Conversion, lead to customer</div><div class=\"value\">66.7%</div>"), dom)
        XCTAssertTrue(dom.contains("<div class=\"label\">Emails sent</div><div class=\"value\">3</div>"), dom)
        XCTAssertTrue(dom.contains("<div class=\"label\">Average order value</div><div class=\"value\">JPY 1,500<br>USD 49.00</div>"), dom)
        XCTAssertTrue(dom.contains("<div class=\"label\">Time to first purchase</div><div class=\"value\">3d 2h median</div>"), dom)
        XCTAssertTrue(dom.contains("<title>3-7d: 2 new customers</title>"), dom)
        // Charts: drawn as SVG, one revenue chart per currency, each crediting the campaign.
        XCTAssertGreaterThanOrEqual(dom.components(separatedBy: "<svg").count - 1, 6, "funnel, 2 revenue, time, churn, control")
        XCTAssertTrue(dom.contains("aria-label=\"Net revenue in JPY by campaign\""), dom)
        XCTAssertTrue(dom.contains("aria-label=\"Net revenue in USD by campaign\""), dom)
        XCTAssertTrue(dom.contains(">JPY 1,500</text>"), dom)
        XCTAssertTrue(dom.contains(">USD 49.00</text>"), dom)
        // The hostile name is text in the document, not markup.
        XCTAssertTrue(dom.contains("Spring &lt;b&gt;launch&lt;/b&gt; &amp; \"friends\""), dom)
        XCTAssertFalse(dom.contains("<b>launch"), dom)

        // The screenshot: a real PNG of a drawn page, not an empty one.
        let png = try chromium.screenshot(url, width: 1280, height: 2400)
        XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        XCTAssertGreaterThan(png.count, 40_000, "a blank 1280x2400 page compresses far below this")
        XCTAssertEqual(harness.stop(), 0)
    }

    func testDemoDatabaseShowsTheBannerAndTheStoredRevenue() throws {
        let chromium = try HeadlessChromium.located()
        let directory = DaemonProcess.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = directory.appendingPathComponent("hookyard.db").path
        let (status, output) = try DaemonProcess.run(["demo", "seed", "--database", database, "--contacts", "300"])
        XCTAssertEqual(status, 0, output)
        // The expected figures, read straight from the tables: net revenue per currency and emails sent, all time.
        let store = try SQLiteDatabase(path: database, readOnly: true)
        var revenue: [Money] = []
        let sums = try store.prepare("SELECT currency, sum(amount) FROM contact_payments GROUP BY currency ORDER BY currency")
        while try sums.step() { revenue.append(Money(currency: sums.string(0) ?? "", amount: sums.int(1))) }
        let sent = try XCTUnwrap(try store.scalarInt("SELECT count(*) FROM contact_activity WHERE kind = 'sent'"))
        store.close()
        XCTAssertFalse(revenue.isEmpty)

        let daemon = try DaemonProcess(directory: directory)
        defer { daemon.terminate() }
        let rendered = try chromium.dumpDOM("http://127.0.0.1:\(try daemon.adminPort())/report?since=2000-01-01&until=2100-01-01")
        XCTAssertEqual(rendered.consoleMessages, [])
        let dom = rendered.dom
        XCTAssertTrue(dom.contains("<strong>Synthetic demo data.</strong>"), dom)
        let money = revenue.map(CurrencyFormat.text).joined(separator: "<br>")
        XCTAssertTrue(dom.contains("<div class=\"label\">Net revenue</div><div class=\"value\">\(money)</div>"), "\(money) in \(dom)")
        XCTAssertTrue(dom.contains("<div class=\"label\">Emails sent</div><div class=\"value\">\(SVGChart.grouped(sent))</div>"), dom)
        for currency in revenue.map({ $0.currency.uppercased() }) {
            XCTAssertTrue(dom.contains("aria-label=\"Net revenue in \(currency) by campaign\""), currency)
        }
        XCTAssertEqual(daemon.terminate(), 0)
    }

    func testBadParametersAreAnswered400InTheBrowserToo() throws {
        let chromium = try HeadlessChromium.located()
        let harness = try startDaemon()
        let daemon = try XCTUnwrap(harness.daemon)
        let admin = try daemon.adminClient()
        let bearer = ("Authorization", "Bearer \(token)")

        let json = try admin.roundTrip("GET", "/report?by=week", headers: [bearer])
        XCTAssertEqual(json.status, 400)
        XCTAssertTrue(json.bodyText.contains("invalid by 'week': expected campaign, rule, source, tier"), json.bodyText)
        XCTAssertEqual(try admin.roundTrip("GET", "/report?since=2026-02-30", headers: [bearer]).status, 400)
        XCTAssertEqual(try admin.roundTrip("GET", "/report?colour=red", headers: [bearer]).status, 400)
        XCTAssertEqual(try admin.roundTrip("GET", "/report?since=2026-01-01&since=2026-02-01", headers: [bearer]).status, 400)
        XCTAssertEqual(try admin.roundTrip("POST", "/report", headers: [bearer]).status, 405)
        // A period the form sends (dates, model, grouping) is read.
        let tier = try admin.roundTrip("GET", "/report?since=2020-01-01&until=2099-01-01&model=first&by=tier&lookback=2w",
                                       headers: [bearer])
        XCTAssertEqual(tier.status, 200, tier.bodyText)
        XCTAssertTrue(tier.bodyText.contains("first-touch attribution · grouped by tier"))

        let rendered = try chromium.dumpDOM("http://admin:\(token)@127.0.0.1:\(try daemon.adminPort())/report?model=middle")
        XCTAssertTrue(rendered.dom.contains("invalid model 'middle': expected first or last."), rendered.dom)
        XCTAssertTrue(rendered.dom.contains("<form method=\"get\" class=\"query\">"), rendered.dom)
        XCTAssertEqual(rendered.consoleMessages, [])
        XCTAssertEqual(harness.stop(), 0)
    }
}

/// Debian's `chromium` in headless mode, one run per call with a profile directory of its own.
struct HeadlessChromium {
    let executable: URL

    /// The first `chromium` (or `chromium-browser`, `google-chrome`) on `PATH`. - Throws: `XCTSkip` saying how to
    /// install it when there is none.
    static func located() throws -> HeadlessChromium {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for name in ["chromium", "chromium-browser", "google-chrome"] {
            for directory in path.split(separator: ":") {
                let candidate = URL(fileURLWithPath: String(directory)).appendingPathComponent(name)
                if FileManager.default.isExecutableFile(atPath: candidate.path) { return HeadlessChromium(executable: candidate) }
            }
        }
        throw TestToolMissing.skipUnlessRequired(
            "chromium is not installed: apt-get install chromium (the report page test loads /report in it)")
    }

    /// What Chromium made of a page.
    struct Rendered {
        /// The document after parsing and layout, serialized.
        var dom: String
        /// Every `CONSOLE` line Chromium logged: script errors and Content-Security-Policy violations land here.
        var consoleMessages: [String]
    }

    func dumpDOM(_ url: String) throws -> Rendered {
        let (output, log) = try run(["--dump-dom", url])
        let console = log.split(separator: "\n").filter { $0.contains(":CONSOLE") }.map(String.init)
        return Rendered(dom: String(decoding: output, as: UTF8.self), consoleMessages: console)
    }

    /// A PNG of the page in a `width` x `height` window.
    func screenshot(_ url: String, width: Int, height: Int) throws -> Data {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("report-\(UUID().uuidString).png")
        defer { try? FileManager.default.removeItem(at: file) }
        _ = try run(["--hide-scrollbars", "--window-size=\(width),\(height)", "--screenshot=\(file.path)", url])
        return try Data(contentsOf: file)
    }

    /// Runs Chromium to completion. - Returns: its stdout, and its stderr (the log).
    private func run(_ arguments: [String]) throws -> (Data, String) {
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("chromium-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: profile) }
        let process = Process()
        process.executableURL = executable
        // --no-sandbox: tests may run as root, where Chromium's sandbox refuses to start.
        process.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
                             "--force-device-scale-factor=1", "--user-data-dir=\(profile.path)",
                             "--enable-logging=stderr", "--v=0"] + arguments
        process.environment = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin",
                               "HOME": profile.path]
        let output = Pipe(), log = Pipe()
        process.standardOutput = output
        process.standardError = log
        try process.run()
        // Read both pipes to their end concurrently, so neither can fill up and stall Chromium.
        let logData = LockedData()
        let logRead = DispatchSemaphore(value: 0)
        Thread {
            logData.set(log.fileHandleForReading.readDataToEndOfFile())
            logRead.signal()
        }.start()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        logRead.wait()
        process.waitUntilExit()
        let text = String(decoding: logData.get(), as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw TestClientError("chromium exited with \(process.terminationStatus):\n\(text)")
        }
        return (data, text)
    }
}

/// Bytes handed from a reader thread to the test. Thread-safe (a lock guards `data`).
private final class LockedData: @unchecked Sendable {  // Safe: `data` is only touched under `lock`.
    private let lock = NSLock()
    private var data = Data()
    func set(_ value: Data) { lock.lock(); data = value; lock.unlock() }
    func get() -> Data { lock.lock(); defer { lock.unlock() }; return data }
}
