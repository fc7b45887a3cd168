import MCP

/// What `send_test_event` asks for: a signed test delivery of `type` from `source`, as `hookyard trigger` builds it.
/// A value.
public struct TestEventRequest: Sendable, Equatable {
    public var source: String
    public var type: String
    public var email: String?
    /// `path=value` fields to set in the event (`data.object.amount_total=9900`).
    public var fields: [String]
    /// For a Stripe checkout: `latest` or a payment link id created by a step (`--payment-link`).
    public var paymentLink: String?

    /// The arguments of `hookyard trigger` for this request.
    public var triggerArguments: [String] {
        var arguments = ["trigger", source, type]
        if let email { arguments += ["--email", email] }
        for field in fields { arguments += ["--set", field] }
        if let paymentLink { arguments += ["--payment-link", paymentLink] }
        return arguments
    }
}

/// Sends a test delivery and answers what `hookyard trigger` printed; throws `ToolError.refused` with its words when
/// it failed. The executable supplies it (it runs `hookyard trigger`), so the tool and the command are one thing.
public typealias TestEventSending = @Sendable (TestEventRequest) async throws -> String

/// `send_test_event`: a signed test delivery to the running daemon, as `hookyard trigger`. A write tool: listed only
/// when writes are allowed, and in live mode it asks for confirmation first (a delivery starts real flows). Stateless.
enum TestEventTools {
    static let sendTestEvent = HookyardTool(
        name: "send_test_event", title: "Send a test event",
        description: """
            Sends a realistic, correctly signed Stripe or Instantly event to the running daemon, as `hookyard trigger` \
            does: the daemon stores it and runs the rules it triggers (in live mode with real API calls). In live mode \
            the first call returns a confirmation token; call again with `confirmation` to send.
            """,
        input: ToolSchema.object([
            "source": ToolSchema.choice("Where the event comes from.", ["stripe", "instantly"]),
            "type": ToolSchema.string("The event type, e.g. lead_interested or checkout.session.completed."),
            "email": ToolSchema.string("The person the event is about (default: a new test lead)."),
            "set": ["type": "array", "items": ["type": "string"], "description": "Fields to set, as path=value (data.object.amount_total=9900)."],
            "payment_link": ToolSchema.string("Stripe checkout only: latest, or the id of a payment link a step created."),
            "confirmation": ToolSchema.string("The token a previous call returned (live mode only)."),
        ], required: ["source", "type"]),
        annotations: Tool.Annotations(readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true)
    ) { input, context in
        try input.expectOnly(["source", "type", "email", "set", "payment_link", "confirmation"])
        var fields: [String] = []
        switch input.values["set"] {
        case nil, .null?: break
        case .array(let items)?:
            for item in items {
                guard case .string(let field) = item, field.contains("=") else {
                    throw ToolError.invalidArgument("send_test_event", "set", "must be strings of the form path=value")
                }
                fields.append(field)
            }
        case let other?: throw ToolError.invalidArgument("send_test_event", "set", "must be an array of path=value strings, not \(ToolInput.kind(other))")
        }
        let request = TestEventRequest(source: try input.choice("source", ["stripe", "instantly"]) ?? "",
                                       type: try input.requiredString("type"), email: try input.string("email"), fields: fields,
                                       paymentLink: try input.string("payment_link"))
        guard !request.source.isEmpty else { throw ToolError.invalidArgument("send_test_event", "source", "is required") }
        guard let send = context.sendTestEvent else {
            throw ToolError.refused("send_test_event is not available in this server; run hookyard trigger at a shell")
        }
        let action = "send " + request.triggerArguments.dropFirst().joined(separator: " ")
        if await context.liveMode() {
            guard let confirmation = try input.string("confirmation") else {
                let token = context.confirmations.issue(for: action)
                return ToolOutput(
                    text: "live mode: this would \(action) (hookyard \(request.triggerArguments.joined(separator: " "))), and the daemon would run the rules it triggers with real API calls. Nothing was sent. To go ahead, call send_test_event again with the same arguments and confirmation \"\(token)\" (valid \(ConfirmationTokens.lifetimeMilliseconds / 1000) s).",
                    structured: .object(["done": false, "would": .string(action), "confirmation": .string(token),
                                         "expires_in_seconds": .int(Int(ConfirmationTokens.lifetimeMilliseconds / 1000))]))
            }
            try context.confirmations.redeem(confirmation, for: action)
        }
        let output = try await send(request)
        return ToolOutput(text: output.trimmingCharacters(in: .whitespacesAndNewlines),
                          structured: .object(["done": true, "sent": .string(action), "output": .string(output)]))
    }
}
