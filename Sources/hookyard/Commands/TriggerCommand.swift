import HookyardConfiguration
import ArgumentParser
import Cryptography
import Foundation
import HookyardFoundation
import Intake
import Outbound
import Store
import StrictJSON

/// `hookyard trigger SOURCE EVENT_TYPE`: build a realistic event of that type, sign it as the provider would, and
/// send it to a running daemon, so an administrator can walk any scenario by hand (like `stripe trigger`, for
/// Instantly too).
struct TriggerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trigger",
        abstract: "Send a realistic, correctly signed Stripe or Instantly event to a running hookyard.",
        discussion: """
            Stripe types: \(EventTemplates.stripeTypes.joined(separator: ", ")).

            Instantly types: \(EventTemplates.instantlyTypes.joined(separator: ", ")) (link_clicked is accepted too).

            Events for the same --email share the Stripe customer and subscription ids. A Checkout Session whose \
            data.object.payment_link (--set) is a link Hookyard created (found in the database) carries that link's \
            metadata, as Stripe copies it, its tier's amount and currency, and by default its lead's email. \
            --payment-link latest puts the session on the link Hookyard created last in the database (for --email \
            when given), waiting up to \(Int(TriggerCommand.latestLinkWaitSeconds)) s for the flow to create it, so a \
            walk-through can pay the link of the lead it just triggered. \
            Stripe events are signed with \
            the first STRIPE_WEBHOOK_SECRET; Instantly events carry INSTANTLY_WEBHOOK_SECRET in the configured \
            instantly.secret_header. Exits 1 when the daemon does not answer 2xx.
            """)

    @OptionGroup var options: ConfigurationOptions
    @Argument(help: "stripe or instantly.") var source: TriggerSource
    @Argument(help: "The event type, e.g. checkout.session.completed or lead_interested.") var eventType: String
    @Option(help: "The person the event is about (default: a new test-lead+…@example.com).") var email: String?
    @Option(name: .customLong("set"), help: ArgumentHelp(
        "Set a field by dotted path, e.g. data.object.amount_total=9900 or campaign_id=…; repeatable. The value is JSON when it parses as JSON, else text.",
        valueName: "path=value"))
    var assignments: [String] = []
    @Option(name: .customLong("payment-link"), help: ArgumentHelp(
        "The payment link a checkout.session event is on (same as --set data.object.payment_link=ID), or 'latest': the link Hookyard created last in the database, for --email when given.",
        valueName: "id|latest"))
    var paymentLink: String?
    @Option(help: "Base URL of the daemon (default: http://<listen address>).") var to: String?
    @Flag(name: .customLong("print"), help: "Print the signed HTTP request instead of sending it.") var printOnly = false

    /// How long `--payment-link latest` waits for a link to appear (the flow that creates it runs after the event).
    static let latestLinkWaitSeconds: Double = 30

    func validate() throws {
        _ = try TriggeredEvent(source: source, type: eventType, email: email, assignments: assignments)
        if let paymentLink {
            guard source == .stripe, eventType.hasPrefix("checkout.session.") else {
                throw ValidationError("--payment-link is for Stripe checkout.session.* events, not \(source.rawValue) \(eventType)")
            }
            guard !paymentLink.isEmpty else { throw ValidationError("--payment-link needs a link id (plink_…) or 'latest'") }
        }
    }

    func run() throws {
        let settings = try options.load()
        var assignments = assignments
        if let paymentLink {
            let id = paymentLink == "latest" ? try Self.latestLink(database: settings.databaseLocation, email: email) : paymentLink
            // First, so an explicit --set still wins.
            assignments.insert("data.object.payment_link=\(id)", at: 0)
        }
        let event = try TriggeredEvent(source: source, type: eventType, email: email, assignments: assignments)
        try event.deliver(settings: settings, to: to, printOnly: printOnly)
    }

    /// The id of the link a step created last in the database at `path` (for `email`'s lead when given), waiting up
    /// to `latestLinkWaitSeconds` for one. - Throws: `TriggerError` when none appears.
    static func latestLink(database location: DatabaseLocation, email: String?, waitSeconds: Double = latestLinkWaitSeconds) throws -> String {
        let deadline = Date().addingTimeInterval(waitSeconds)
        var lastError: Error?
        repeat {
            if StorageOpening.exists(location) {
                do {
                    let reader = try StorageOpening.reader(location)
                    if let id = try reader.newestCreatedPaymentLinkID(email: email) { return id }
                } catch {
                    lastError = error
                }
            }
            usleep(200_000)
        } while Date() < deadline
        let whose = email.map { " for \($0)" } ?? ""
        let why = lastError.map { " (\($0))" } ?? ""
        throw TriggerError(description: "--payment-link latest: no payment link created\(whose) in \(location) after \(Int(waitSeconds)) s\(why); trigger the event that starts the link's flow first (see 'hookyard jobs list'), or give the link's id")
    }
}

/// The providers `trigger` can impersonate.
enum TriggerSource: String, CaseIterable, ExpressibleByArgument {
    case stripe, instantly

    var name: String { self == .stripe ? "Stripe" : "Instantly" }
    var path: String { "/webhooks/\(rawValue)" }
    var knownTypes: [String] { self == .stripe ? EventTemplates.stripeTypes : EventTemplates.instantlyTypes }
}

/// A command-line failure that is not a usage mistake: printed as `Error: <description>` without the usage.
struct TriggerError: Error, CustomStringConvertible {
    var description: String

    static func unknownType(_ type: String, source: TriggerSource) -> TriggerError {
        TriggerError(description: "unknown \(source.name) event type '\(type)'; known types: \(source.knownTypes.joined(separator: ", "))")
    }

    static func missingSecret(_ variable: String) -> TriggerError {
        TriggerError(description: "\(variable) is not set (see .hookyard-dev.env after 'make run'); it must be the daemon's secret")
    }
}

/// `--set path=value`: one field of the payload to replace or add.
struct FieldAssignment: Equatable {
    /// Object member names, or decimal array indexes.
    var path: [String]
    var value: JSONValue

    init(path: [String], value: JSONValue) {
        self.path = path
        self.value = value
    }

    /// Parses `path=value`. The value is JSON when it parses as JSON (`9900`, `true`, `null`, `"9900"`, `{"a":1}`),
    /// otherwise the text itself. - Throws: `ValidationError` without `=` or with an empty path segment.
    init(parsing text: String) throws {
        guard let equals = text.firstIndex(of: "=") else {
            throw ValidationError("--set '\(text)' has no '=': write --set path=value")
        }
        let path = text[..<equals].split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard !path.contains(where: \.isEmpty) else {
            throw ValidationError("--set '\(text)': the path '\(text[..<equals])' has an empty member name")
        }
        let raw = String(text[text.index(after: equals)...])
        self.path = path
        value = (try? JSONValue.parse(raw)) ?? .string(raw)
    }

    /// Sets the field in `payload`, creating missing objects on the way. An array element is addressed by its index;
    /// the index one past the end appends. - Throws: `ValidationError` when the path runs into a value that is
    /// neither an object nor an array, or past the end of an array.
    func apply(to payload: inout JSONValue) throws {
        payload = try Self.setting(value, at: path[...], in: payload, done: [])
    }

    private static func setting(_ value: JSONValue, at path: ArraySlice<String>, in node: JSONValue, done: [String]) throws -> JSONValue {
        guard let key = path.first else { return value }
        let rest = path.dropFirst()
        let here = done + [key]
        switch node {
        case .object(var members):
            members[key] = try setting(value, at: rest, in: members[key] ?? .object([:]), done: here)
            return .object(members)
        case .array(var items):
            guard let index = Int(key), index >= 0, index <= items.count else {
                throw ValidationError("--set \(here.joined(separator: ".")): \(done.joined(separator: ".")) is an array of \(items.count); use an index from 0 to \(items.count)")
            }
            if index == items.count { items.append(.object([:])) }
            items[index] = try setting(value, at: rest, in: items[index], done: here)
            return .array(items)
        default:
            // A missing member was created as an object above; this is a string, number, boolean or null.
            throw ValidationError("--set \(here.joined(separator: ".")): \(done.joined(separator: ".")) is \(node.serialized()), not an object")
        }
    }
}

/// One event to trigger: its payload built from the templates, `--email` and `--set`; then signed and sent.
struct TriggeredEvent {
    let source: TriggerSource
    let type: String
    private(set) var email: String
    /// Whether `--email` was given (else a made-up address, or the lead of the payment link).
    let emailGiven: Bool
    let assignments: [FieldAssignment]
    /// The payment link the session is on, when Hookyard created it (`withLink`).
    private(set) var link: CreatedPaymentLink?

    /// - Throws: `TriggerError.unknownType`, or `ValidationError` for a malformed `--email` or `--set`.
    init(source: TriggerSource, type: String, email: String?, assignments: [String]) throws {
        guard source.knownTypes.contains(type) || (source == .instantly && type == "link_clicked") else {
            throw TriggerError.unknownType(type, source: source)
        }
        if let email, !email.contains("@") {
            throw ValidationError("--email '\(email)' is not an email address")
        }
        self.source = source
        self.type = type
        self.email = email ?? "test-lead+\(Crypto.hex(Crypto.randomBytes(4)))@example.com"
        emailGiven = email != nil
        self.assignments = try assignments.map(FieldAssignment.init(parsing:))
    }

    /// The payment link a Checkout Session event is set on (`--set data.object.payment_link=…`), or `nil`.
    var paymentLinkID: String? {
        guard source == .stripe, type.hasPrefix("checkout.session.") else { return nil }
        return assignments.last { $0.path == ["data", "object", "payment_link"] }?.value.stringValue.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The event on `link`, a link Hookyard created: its session carries the link's metadata (as Stripe copies a
    /// payment link's metadata onto the Checkout Sessions it creates), its tier's amount and currency, and, unless
    /// `--email` was given, is paid by the lead the link was made for. `--set` still wins.
    func withLink(_ link: CreatedPaymentLink) -> TriggeredEvent {
        var event = self
        event.link = link
        if !emailGiven, let lead = link.email { event.email = lead }
        return event
    }

    /// The link Hookyard created that this event's session is on, from the database at `path`; and a line saying
    /// what the session will carry (or why it carries nothing of the link).
    func resolvingLink(database location: DatabaseLocation) -> (event: TriggeredEvent, note: String?) {
        guard let id = paymentLinkID else { return (self, nil) }
        guard StorageOpening.exists(location) else {
            return (self, "payment link \(id) is not one Hookyard created (no database at \(location)): the session carries no link metadata")
        }
        do {
            guard let link = try StorageOpening.reader(location).createdPaymentLink(id: id) else {
                return (self, "payment link \(id) is not one Hookyard created (not in \(location)): the session carries no link metadata")
            }
            let keys = link.metadata.keys.sorted().joined(separator: ", ")
            let note = link.metadata.isEmpty
                ? "payment link \(id) was created by rule \(link.rule ?? "?"), but its metadata was not recorded (a link made before this version): the session carries none"
                : "payment link \(id): the session carries its metadata (\(keys)), as Stripe copies it; created by rule \(link.rule ?? "?")\(link.dryRun ? " in dry-run" : "")"
            return (withLink(link), note)
        } catch {
            return (self, "payment link \(id): cannot read \(location) (\(error)): the session carries no link metadata")
        }
    }

    /// The payload at `nowMilliseconds`: the template for the type, then each `--set` in order.
    func payload(nowMilliseconds: Int64, stripeAPIVersion: String) throws -> JSONValue {
        let context = EventTemplates.Context(email: email, nowMilliseconds: nowMilliseconds, stripeAPIVersion: stripeAPIVersion)
        let template = source == .stripe ? EventTemplates.stripe(type, context) : EventTemplates.instantly(type, context)
        guard var payload = template else { throw TriggerError.unknownType(type, source: source) }
        for assignment in assignments { try assignment.apply(to: &payload) }
        if let link {
            try FieldAssignment(path: ["data", "object", "metadata"],
                                value: .object(link.metadata.mapValues(JSONValue.string))).apply(to: &payload)
            if let amount = link.amount {
                for field in ["amount_subtotal", "amount_total"] {
                    try FieldAssignment(path: ["data", "object", field], value: .integer(amount)).apply(to: &payload)
                }
            }
            if let currency = link.currency {
                try FieldAssignment(path: ["data", "object", "currency"], value: .string(currency)).apply(to: &payload)
            }
            // What was set explicitly wins over the link's values.
            for assignment in assignments { try assignment.apply(to: &payload) }
        }
        return payload
    }

    /// The signed request to the daemon at `base`, with the secrets of `settings`.
    /// - Throws: `TriggerError.missingSecret` when the source's secret is not configured.
    func request(settings: HookyardConfiguration, base: String, nowMilliseconds: Int64) throws -> SignedRequest {
        let payload = try payload(nowMilliseconds: nowMilliseconds, stripeAPIVersion: settings.stripe.apiVersion)
        let body = payload.bytes
        var headers = [("Content-Type", "application/json"), ("User-Agent", Self.userAgent)]
        switch source {
        case .stripe:
            guard let secret = settings.stripe.webhookSecrets.first else { throw TriggerError.missingSecret("STRIPE_WEBHOOK_SECRET") }
            let header = StripeSignatureVerifier.header(for: body, secret: secret, timestamp: nowMilliseconds / 1000)
            headers.append(("Stripe-Signature", header))
        case .instantly:
            guard let secret = settings.instantly.webhookSecrets.first else { throw TriggerError.missingSecret("INSTANTLY_WEBHOOK_SECRET") }
            headers.append((settings.instantly.secretHeader, secret))
        }
        return SignedRequest(url: base + source.path, headers: headers, body: body,
                             eventID: source == .stripe ? payload["id"]?.stringValue : nil)
    }

    /// Builds, signs and sends (or with `printOnly`, prints) the event, on the payment link Hookyard created when it
    /// names one (`resolvingLink`); prints the daemon's answer.
    /// - Throws: `ExitCode(1)` when the daemon answers other than 2xx; `TriggerError` when it cannot be reached.
    func deliver(settings: HookyardConfiguration, to: String?, printOnly: Bool) throws {
        let (event, note) = resolvingLink(database: settings.databaseLocation)
        if let note {
            // Printed to stderr with --print, whose stdout is the request.
            if printOnly { FileHandle.standardError.write(Data((note + "\n").utf8)) } else { print(note) }
        }
        try event.send(settings: settings, to: to, printOnly: printOnly)
    }

    private func send(settings: HookyardConfiguration, to: String?, printOnly: Bool) throws {
        let base = Self.baseURL(to: to, listen: settings.listen)
        let request = try request(settings: settings, base: base, nowMilliseconds: WallClock.nowMilliseconds())
        if printOnly {
            FileHandle.standardOutput.write(Data(request.httpMessage))
            return
        }
        print("\(source.rawValue) \(type)\(request.eventID.map { " \($0)" } ?? "") for \(email)")
        let response: HTTPClientResponse
        do {
            response = try HTTPClient(userAgent: Self.userAgent).send(method: "POST", url: request.url, headers: request.headers,
                                                                        body: request.body)
        } catch {
            throw TriggerError(description: "could not reach hookyard: \(error) (is it running? pass its address with --to)")
        }
        print("POST \(request.url) -> \(response.status) \(response.bodyText)")
        if !(200..<300).contains(response.status) { throw ExitCode(1) }
    }

    static let userAgent = "hookyard/\(Hookyard.version) (trigger)"

    /// `to` without a trailing slash, else `http://<listen>` with a wildcard or empty host replaced by loopback.
    static func baseURL(to: String?, listen: String) -> String {
        if var to {
            while to.hasSuffix("/") { to.removeLast() }
            return to
        }
        guard let colon = listen.lastIndex(of: ":") else { return "http://\(listen)" }
        let host = listen[..<colon]
        let port = listen[listen.index(after: colon)...]
        switch host {
        case "", "0.0.0.0", "*": return "http://127.0.0.1:\(port)"
        case "[::]", "::": return "http://[::1]:\(port)"
        default: return "http://\(listen)"
        }
    }
}

/// A request ready to send: the exact bytes that were signed.
struct SignedRequest {
    var url: String
    var headers: [(String, String)]
    var body: [UInt8]
    /// The Stripe event id (`evt_…`); Instantly events have none.
    var eventID: String?

    /// The request as an HTTP/1.1 message (CRLF line ends, `Content-Length`, `Connection: close`, the body as signed,
    /// no trailing newline), so it can be read, saved, or piped to `nc HOST PORT`.
    var httpMessage: [UInt8] {
        let components = URLComponents(string: url)
        let host = components.map { ($0.host.map { $0.contains(":") ? "[\($0)]" : $0 } ?? "") + ($0.port.map { ":\($0)" } ?? "") } ?? ""
        var target = components?.percentEncodedPath ?? "/"
        if target.isEmpty { target = "/" }
        var text = "POST \(target) HTTP/1.1\r\nHost: \(host)\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        text += "Content-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        return Array(text.utf8) + body
    }
}
