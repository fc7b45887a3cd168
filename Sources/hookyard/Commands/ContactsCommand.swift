import HookyardConfiguration
import ArgumentParser
import Contacts
import Cryptography
import Foundation
import HookyardFoundation
import Intake
import Logging
import Outbound
import Store
import StrictJSON
import Workflows

/// `hookyard contacts list|show|export|erase`: look people up, and the privacy requests (access, erasure).
struct ContactsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "contacts",
        abstract: "Look up contacts; export or erase everything held about one person.",
        subcommands: [List.self, Show.self, Export.self, Erase.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List contacts, most recently updated first.")
        @OptionGroup var options: ConfigurationOptions
        @Option(help: "Only members of this segment (from the configuration).") var segment: String?
        @Option(help: "Only this payment status: prospect, customer, past_due or canceled.") var status: PaymentStatus?
        @Option(help: "Only this engagement level: low, medium or high.") var engagement: EngagementLevel?
        @Option(help: "How many contacts to show.") var limit = 50
        @Flag(help: "Print JSON lines.") var json = false

        func validate() throws {
            guard limit > 0 else { throw ValidationError("--limit must be at least 1") }
        }

        func run() throws {
            let settings = try options.load(rules: false)
            let query: SegmentQuery?
            if let segment {
                guard let found = settings.segmentCompiler.query(segment: segment) else {
                    let known = settings.segments.map(\.name)
                    var message = "no segment '\(segment)' in the configuration (segments: \(known.isEmpty ? "none" : known.joined(separator: ", ")))"
                    if !settings.ignoredIssues.isEmpty {
                        message += "\nsegments with problems were left out:\n" + settings.ignoredIssues.map(\.description).joined(separator: "\n")
                    }
                    throw ValidationError(message)
                }
                query = found
            } else {
                query = nil
            }
            let store = try openContacts(settings.databaseLocation)
            defer { store.close() }
            let contacts = try store.contacts(matching: query, paymentStatus: status, engagement: engagement, limit: limit, now: now())
                .map { settings.current($0) }
            if json {
                for contact in contacts { print(ContactJSON.render(contact).serialized()) }
                return
            }
            print(column("EMAIL", 34) + column("STATUS", 10) + column("ENGAGEMENT", 11) + column("TIER", 10) + column("REVENUE", 16)
                  + column("LAST ENGAGED", 25) + "SEGMENTS")
            for contact in contacts {
                let revenue = revenueTexts(contact).joined(separator: " ")
                print(column(contact.email, 34) + column(contact.paymentStatus.rawValue, 10) + column(contact.engagement.rawValue, 11)
                      + column(contact.tier ?? "-", 10) + column(revenue.isEmpty ? "-" : revenue, 16)
                      + column(contact.lastEngagementAt.map(isoTime) ?? "-", 25) + contact.segments.joined(separator: ","))
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one contact and their timeline, newest first.")
        @OptionGroup var options: ConfigurationOptions
        @ArgumentParser.Argument(help: "The contact's email address (any case).") var email: String
        @Option(help: "How many timeline entries to show.") var limit = 50
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let settings = try options.load(rules: false)
            let store = try openContacts(settings.databaseLocation)
            defer { store.close() }
            guard let contact = try store.contact(email: EmailAddress.normalized(email)).map(settings.current) else {
                throw ValidationError("no contact '\(email)' in \(settings.databaseLocation)")
            }
            let timeline = try store.timeline(contactID: contact.id, limit: limit)
            if json {
                var object = ContactJSON.render(contact).objectValue ?? [:]
                object["timeline"] = .array(timeline.map { entry in
                    .object(["at": ContactJSON.time(entry.at), "kind": .string(entry.kind.rawValue), "reference": .string(entry.reference),
                             "detail": .string(entry.detail)])
                })
                print(JSONValue.object(object).serialized())
                return
            }
            print(describe(contact))
            print("")
            print("timeline (newest first)")
            for entry in timeline {
                print("  " + column(isoTime(entry.at), 25) + column(entry.kind.rawValue, 9) + column(entry.reference, 22) + entry.detail)
            }
            if timeline.isEmpty { print("  (nothing)") }
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print everything held about one person as JSON (a data subject access request).",
            discussion: "The contact, every event applied to them with its raw payload, the jobs those events caused with every attempt, their payments and purchases, and their segment history.")
        @OptionGroup var options: ConfigurationOptions
        @ArgumentParser.Argument(help: "The contact's email address (any case).") var email: String

        func run() throws {
            let settings = try options.load(rules: false)
            let store = try openContacts(settings.databaseLocation)
            defer { store.close() }
            guard let export = try store.export(email: EmailAddress.normalized(email)) else {
                throw ValidationError("no contact '\(email)' in \(settings.databaseLocation)")
            }
            print(ContactExportJSON.render(export, exportedAt: now()).serialized())
        }
    }

    struct Erase: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Erase one person: their contact, and every payload, job input and output that names them.",
            discussion: """
                Keeps only anonymous aggregates (amounts, currencies, campaigns, dates) so revenue reports stay right, \
                then rewrites the database file (VACUUM) and truncates its WAL so the address is gone from the disk. \
                Before saying so it searches every text column of every table for the address (any case, \
                JSON-escaped or percent-encoded); if a copy remains, it says where and exits with status 1. \
                The rewrite holds the write lock for as long as it takes; deliveries that arrive meanwhile wait (and \
                are answered 503 if it takes longer than the store's busy timeout, so the sender retries).
                """)
        @OptionGroup var options: ConfigurationOptions
        @ArgumentParser.Argument(help: "The contact's email address (any case).") var email: String
        @Flag(help: "Do not ask for confirmation.") var yes = false

        func run() throws {
            let settings = try options.load(rules: false)
            let address = EmailAddress.normalized(email)
            if !yes {
                guard isatty(STDIN_FILENO) == 1 else {
                    throw ValidationError("erasing cannot be undone: pass --yes to confirm")
                }
                print("Erase everything held about \(address)? This cannot be undone. Type the address to confirm: ", terminator: "")
                guard readLine().map(EmailAddress.normalized) == address else {
                    throw ValidationError("not confirmed; nothing was erased")
                }
            }
            let store = try openContacts(settings.databaseLocation)
            defer { store.close() }
            guard let erasure = try store.erase(email: address) else {
                throw ValidationError("no contact '\(email)' in \(settings.databaseLocation), and no table names the address")
            }
            // The audit line names a hash, never the address; it is written whatever log_level says.
            let logger = Logging.makeLogger(level: "info")
            logger.notice("contact erased", metadata: ["email_sha256": "\(Self.hash(address))",
                                                      "events_redacted": .stringConvertible(erasure.eventsRedacted),
                                                      "jobs_redacted": .stringConvertible(erasure.jobsRedacted),
                                                      "copies_remaining": .stringConvertible(erasure.remaining.count)])
            LogOutput.standard.flush()
            if let contactID = erasure.contactID {
                print("erased contact \(contactID)")
            } else {
                print("no contact record for the address; erased the copies other tables held")
            }
            print("  events redacted       \(erasure.eventsRedacted)")
            print("  jobs redacted         \(erasure.jobsRedacted)")
            print("  attempts redacted     \(erasure.attemptsRedacted)")
            print("  pending deleted       \(erasure.pendingDeleted)")
            print("  purchases anonymised  \(erasure.purchasesAnonymised) (amount, currency, campaign and date kept)")
            print("  payments anonymised   \(erasure.paymentsAnonymised)")
            print("  activity anonymised   \(erasure.activityAnonymised)")
            print("  other values redacted \(erasure.otherRedacted.isEmpty ? "none" : erasure.otherRedacted.map(\.description).joined(separator: ", "))")
            guard erasure.remaining.isEmpty else {
                print("error: after erasing, the address is still in \(erasure.remaining.map(\.description).joined(separator: ", ")); "
                      + "nothing else was changed by this check. Run the command again to erase what is left (a step that ran meanwhile "
                      + "may have written it); if it stays, report it as a bug.")
                throw ExitCode.failure
            }
            print("checked: after the rewrite, no text column of any table holds the address (any case, JSON-escaped or percent-encoded)")
            if erasure.walTruncated {
                print("database rewritten and its write-ahead log truncated: no copy of the address is left on disk")
            } else {
                print("warning: another connection's read kept the write-ahead log from being truncated; its old pages are overwritten as the daemon writes on. To be certain now, stop the daemon cleanly (its shutdown checkpoints and removes the log) and check with grep -c.")
            }
        }

        /// The first 16 hex digits of the address's SHA-256: enough to match a later request, not to read it.
        static func hash(_ address: String) -> String {
            String(Crypto.hex(Crypto.sha256(Array(address.utf8))).prefix(16))
        }
    }
}

extension PaymentStatus: ExpressibleByArgument {}
extension EngagementLevel: ExpressibleByArgument {}

func now() -> Int64 { WallClock.nowMilliseconds() }

/// A contact's net revenue per currency, sorted; a currency whose total overflowed says so.
private func revenueTexts(_ contact: Contact) -> [String] {
    (Set(contact.revenue.keys).union(contact.revenueOverflowed)).sorted().map { currency in
        contact.revenue[currency].map { formatAmount($0, currency: currency) } ?? overflowedAmount(currency)
    }
}

/// The human form of `contacts show`.
private func describe(_ contact: Contact) -> String {
    var lines: [String] = []
    func line(_ name: String, _ value: String) { lines.append(column(name, 20) + value) }
    line("email", contact.email)
    line("payment status", contact.paymentStatus.rawValue)
    line("engagement", contact.engagement.rawValue)
    line("interest", contact.interestStatus ?? "-")
    line("do not contact", contact.doNotContact ?? "no")
    line("first seen", isoTime(contact.firstSeenAt))
    line("last engaged", contact.lastEngagementAt.map(isoTime) ?? "never")
    line("activity", ContactActivity.allCases.map { "\($0.rawValue) \(contact.counts[$0] ?? 0)" }.joined(separator: "  "))
    let revenue = revenueTexts(contact)
    line("revenue", (revenue.isEmpty ? "none" : revenue.joined(separator: "  ")) + " (payments seen in Stripe events, less refunds)")
    if let subscription = contact.subscription {
        line("subscription", "\(subscription.id) \(subscription.status) tier \(subscription.tier ?? "-") price \(subscription.priceID ?? "-")"
             + (subscription.currentPeriodEnd.map { " until \(isoTime($0))" } ?? ""))
    } else {
        line("subscription", "none")
    }
    line("tier", contact.tier ?? "-")
    line("product interest", contact.productInterest ?? "-")
    line("first campaign", contact.firstCampaign ?? "-")
    line("last campaign", contact.lastCampaign ?? "-")
    line("campaigns", contact.leads.isEmpty ? "none" : contact.leads.keys.sorted().map { campaign in
        contact.leads[campaign]!.isEmpty ? campaign : "\(campaign) (lead \(contact.leads[campaign]!))"
    }.joined(separator: ", "))
    line("stripe customers", contact.stripeCustomerIDs.isEmpty ? "none" : contact.stripeCustomerIDs.joined(separator: ", "))
    line("registered for", contact.registeredFor.isEmpty ? "none" : contact.registeredFor.joined(separator: ", "))
    line("lead fields", contact.leadFields.isEmpty ? "none" : contact.leadFields.keys.sorted().map { "\($0): \(contact.leadFields[$0]!)" }
        .joined(separator: ", "))
    line("segments", contact.segments.isEmpty ? "none" : contact.segments.joined(separator: ", "))
    return lines.joined(separator: "\n")
}
