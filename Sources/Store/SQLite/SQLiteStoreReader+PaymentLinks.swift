import Foundation
import HookyardFoundation
import SQLite

extension SQLiteStoreReader {
    /// The payment link `id` as the `stripe.create_payment_link` step that created it recorded it, or `nil` when no
    /// succeeded step of this database created it.
    public func createdPaymentLink(id: String) throws -> CreatedPaymentLink? {
        try CreatedPaymentLink.read(id: id, from: database)
    }

    /// The id of the payment link a `stripe.create_payment_link` step of this database created last (for `email`'s
    /// lead when given, compared normalised), or `nil` when none did (yet).
    public func newestCreatedPaymentLinkID(email: String?) throws -> String? {
        // SQLite-specific: JSON functions `json_valid`/`json_type`/`json_extract` (PostgreSQL: `jsonb` operators).
        let statement = try database.prepare("""
            SELECT j.output, j.input FROM jobs j
            WHERE j.kind = 'stripe.create_payment_link' AND j.state = 'succeeded' AND json_valid(j.output)
              AND json_extract(j.output, '$.payment_link_id') IS NOT NULL
            ORDER BY j.id DESC
            """)
        let wanted = email.map(EmailAddress.normalized)
        while try statement.step() {
            guard let output = statement.string(0).flatMap({ try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }),
                  let id = output["payment_link_id"] as? String else { continue }
            guard let wanted else { return id }
            if let link = try createdPaymentLink(id: id), link.email.map(EmailAddress.normalized) == wanted { return id }
        }
        return nil
    }
}

extension CreatedPaymentLink {
    /// The query behind `SQLiteStoreReader.createdPaymentLink` and `SQLiteWorkflowStore.createdPaymentLink`.
    public static func read(id: String, from database: SQLiteDatabase) throws -> CreatedPaymentLink? {
        // SQLite-specific: JSON functions `json_valid`/`json_type`/`json_extract` (PostgreSQL: `jsonb` operators).
        let statement = try database.prepare("""
            SELECT j.output, j.input FROM jobs j
            WHERE j.kind = 'stripe.create_payment_link' AND j.state = 'succeeded' AND json_valid(j.output)
              AND json_extract(j.output, '$.payment_link_id') = ?1
            ORDER BY j.id DESC LIMIT 1
            """)
        try statement.bind(1, id)
        guard try statement.step(), let outputText = statement.string(0),
              let output = try? JSONSerialization.jsonObject(with: Data(outputText.utf8)) as? [String: Any] else { return nil }
        let input = statement.string(1).flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        let sentTo = try database.prepare("""
            SELECT c.email FROM payment_links_sent p JOIN contacts c ON c.id = p.contact_id WHERE p.link_id = ?1
            """)
        try sentTo.bind(1, id)
        let contactEmail = try sentTo.step() ? sentTo.string(0) : nil
        return CreatedPaymentLink(id: id, output: output, input: input, contactEmail: contactEmail)
    }

    /// The link as a succeeded step's `output` and `input` (parsed JSON objects) describe it, for `contactEmail` (the
    /// contact it was sent to, if recorded): the engine-neutral half of `read(id:from:)` on either engine.
    init(id: String, output: [String: Any], input: [String: Any]?, contactEmail: String?) {
        let dryRun = output["dry_run"] as? Bool ?? false
        var metadata = (output["metadata"] as? [String: Any])?.compactMapValues { $0 as? String } ?? [:]
        if metadata.isEmpty, let requests = output["requests"] as? [[String: Any]] {
            // A dry run before the output recorded the metadata: the request it would have sent has it.
            let create = requests.first { $0["method"] as? String == "POST" && ($0["path"] as? String)?.hasPrefix("/v1/payment_links") == true }
            metadata = Self.formMetadata(create?["body"] as? String ?? "")
        }
        let email = [contactEmail, metadata["lead_email"], metadata["hookyard_email"], input?["contact"] as? String]
            .lazy.compactMap { $0 }.first { !$0.isEmpty }
        self.init(id: id, metadata: metadata, email: email, amount: (output["amount"] as? NSNumber)?.int64Value,
                  currency: output["currency"] as? String, rule: input?["rule"] as? String, dryRun: dryRun)
    }

    /// `metadata[k]=v` pairs of a form-encoded body.
    static func formMetadata(_ body: String) -> [String: String] {
        var metadata: [String: String] = [:]
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let decode = { (text: Substring) in String(text).replacingOccurrences(of: "+", with: " ").removingPercentEncoding }
            guard let key = decode(parts[0]), key.hasPrefix("metadata["), key.hasSuffix("]") else { continue }
            let name = String(key.dropFirst("metadata[".count).dropLast())
            guard !name.contains("[") else { continue }
            metadata[name] = parts.count > 1 ? decode(parts[1]) ?? "" : ""
        }
        return metadata
    }
}
