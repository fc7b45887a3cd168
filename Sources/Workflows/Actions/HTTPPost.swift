import Jobs
import Outbound
import StrictJSON

/// `http.post`: posts the rendered `body` (compact JSON, keys sorted: the same bytes on every attempt) to the named
/// target (`http_targets:`, the runner's), signed at this attempt's time, with the job's idempotency key. The
/// receiver deduplicates on the key, so a retry after a lost answer does no harm there. A value; thread-safe.
struct HTTPPost: Action {
    let spec = ActionCatalog.Spec(
        name: "http.post", provider: .http, required: ["target", "body"], optional: [],
        outputs: ["target", "status", "response"],
        summary: "POSTs `body` as JSON (keys sorted) to an http_targets entry, signed in Hookyard-Signature (t=…,v1=HMAC-SHA256, as Stripe signs) with the job's Idempotency-Key; 408, 429 and 5xx retry.")

    func run(_ arguments: Arguments, in context: ActionContext, runner: ActionRunner) throws(JobFailure) -> JSONValue {
        let name = try arguments.string("target")
        let body = try arguments.value("body")
        guard let target = runner.httpTarget(named: name) else {
            let known = runner.httpTargetNames
            throw Arguments.failure("http.post: no http_targets entry named '\(name)' (configured: \(known.isEmpty ? "none" : known.joined(separator: ", ")))")
        }
        let bytes = body.bytes
        let timestamp = context.now() / 1000
        let response = try provider { () throws(ProviderFailure) in
            try target.post(body: bytes, idempotencyKey: context.idempotencyKey, timestamp: timestamp)
        }
        let text = response.bodyText
        let answer: JSONValue = (try? JSONValue.parse(response.body)) ?? .string(String(text.prefix(4096)))
        var output: [String: JSONValue] = ["target": .string(name), "status": .integer(Int64(response.status)), "response": answer]
        if target.isDryRun {
            let request = target.request(body: bytes, idempotencyKey: context.idempotencyKey, timestamp: timestamp)
            output["dry_run"] = .bool(true)
            output["requests"] = .array([.object(["method": .string(request.method), "url": .string(target.url),
                                                  "body": .string(request.bodyText), "idempotency_key": .string(context.idempotencyKey)])])
        }
        return .object(output)
    }
}
