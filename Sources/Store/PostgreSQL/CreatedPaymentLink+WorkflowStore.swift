import Foundation
import PostgreSQL

extension CreatedPaymentLink {
    /// The payment link `id` as the `stripe.create_payment_link` step of a PostgreSQL database recorded it, or `nil`:
    /// `read(id:from:)`'s answer on SQLite (the newest succeeded job whose output names `id`, its metadata, the
    /// contact it was sent to), for `PostgreSQLWorkflowStore`. Merge note: the same query as the PostgreSQL store
    /// reader's `CreatedPaymentLink.read(id:from: PostgreSQLConnection)`; once both are merged, one is kept.
    public static func readForWorkflowStore(id: String, from connection: PostgreSQLConnection) throws -> CreatedPaymentLink? {
        func object(_ text: String?) -> [String: Any]? {
            text.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        }
        // PostgreSQL-specific: `strpos` narrows the rows to those whose output mentions the id; Swift parses them
        // (SQLite: `json_extract`), so an output that is not JSON is skipped as `json_valid` skips it there.
        let rows = try connection.query("""
            SELECT output, input FROM jobs
            WHERE kind = 'stripe.create_payment_link' AND state = 'succeeded' AND strpos(output, $1) > 0
            ORDER BY id DESC
            """, [id]).rows
        guard let match = rows.first(where: { object($0.optionalString(0))?["payment_link_id"] as? String == id }),
              let output = object(match.optionalString(0)) else { return nil }
        let input = object(match.optionalString(1))
        let dryRun = output["dry_run"] as? Bool ?? false
        var metadata = (output["metadata"] as? [String: Any])?.compactMapValues { $0 as? String } ?? [:]
        if metadata.isEmpty, let requests = output["requests"] as? [[String: Any]] {
            // A dry run before the output recorded the metadata: the request it would have sent has it.
            let create = requests.first { $0["method"] as? String == "POST" && ($0["path"] as? String)?.hasPrefix("/v1/payment_links") == true }
            metadata = Self.formMetadata(create?["body"] as? String ?? "")
        }
        let contactEmail = try connection.query("""
            SELECT c.email FROM payment_links_sent p JOIN contacts c ON c.id = p.contact_id WHERE p.link_id = $1 LIMIT 1
            """, [id]).first.map { try $0.string(0) }
        let email = [contactEmail, metadata["lead_email"], metadata["hookyard_email"], input?["contact"] as? String]
            .lazy.compactMap { $0 }.first { !$0.isEmpty }
        return CreatedPaymentLink(id: id, metadata: metadata, email: email, amount: (output["amount"] as? NSNumber)?.int64Value,
                                  currency: output["currency"] as? String, rule: input?["rule"] as? String, dryRun: dryRun)
    }
}
