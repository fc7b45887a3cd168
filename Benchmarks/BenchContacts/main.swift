// bench-contacts: how fast the workers apply events to contacts (`process_event` with its contact update) on a
// database that already holds 100,000 contacts with history.
//
// Setup (not timed): a fresh database created by `SQLiteEventWriter`, seeded with 100,000 contacts, each with 1–3
// Instantly events (email_sent; often email_opened, then sometimes a click, a reply or lead_interested) spread over
// the last 90 days across 5 campaigns, and about 3 % of them Stripe customers with a paid invoice. The seed events
// are stored by `SQLiteEventWriter` like any webhook and applied with `SQLiteContactStore.apply`, with the same reader,
// engagement policy and segments as the measurement; their `process_event` jobs are then marked done, as a daemon
// would have left them.
//
// Measured: `events` new events (60 % sends, opens and clicks of existing contacts; 20 % replies and interest
// changes; 10 % new leads; 10 % Stripe invoice.paid of existing customers) are queued with `SQLiteEventWriter`, then the
// real `WorkerPool` and `WorkflowEngine` (no rules; 5 segments compiled by `SegmentCompiler`, the default
// `EngagementPolicy`; providers in dry-run) drain them, timed from start to empty queue. Also prints the handler
// time per event (contact update and rule matching, without the queue's claim and commit), the contact count,
// segment sizes and the database size afterwards. Then erases one seeded contact (`SQLiteContactStore.erase`: every text
// column searched, VACUUM, the final search) and times the whole-database search for another address alone.
//
// Usage: bench-contacts [events=20000] [workers=4] [contacts=100000]
import Contacts
import Dispatch
import Foundation
import HookyardFoundation
import Jobs
import Logging
import Outbound
import Store
import Synchronization
import TestSupport
import Workflows
import SQLite
import StrictJSON

let arguments = BenchmarkSupport.arguments(defaults: [20_000, 4, 100_000])
let (events, workers, seedContacts) = (arguments[0], arguments[1], arguments[2])
BenchmarkSupport.silenceLogs()
let logger = Logger(label: "bench-contacts")

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

// MARK: Configuration (what a realistic hookyard.yaml would give the engine)

/// Instantly campaign ids (UUIDs, as Instantly sends them) and the product interest each maps to.
let campaigns = [
    "0b6f3e52-7c1a-4c3e-9a77-1f2d8e4b6a01", "5d9a2c10-3e4b-4f6a-8b1c-2a3d4e5f6a02", "8e1b7d43-9f2c-4a5b-b6c7-3d4e5f6a7b03",
    "c4f5a6b7-1d2e-4f3a-9b8c-4e5f6a7b8c04", "f7a8b9c0-2e3f-4a4b-8c9d-5f6a7b8c9d05",
]
let reader = ContactEventReader(
    tiers: ["price_starter": "starter", "price_pro": "pro", "price_team": "team", "price_enterprise": "enterprise"],
    campaignInterest: [campaigns[0]: "starter", campaigns[1]: "pro", campaigns[2]: "pro", campaigns[3]: "team",
                       campaigns[4]: "enterprise"])
/// Price id and amount (USD cents) of each plan a seeded customer pays for.
let plans: [(price: String, product: String, amount: Int64)] = [
    ("price_starter", "prod_starter", 4_900), ("price_pro", "prod_pro", 9_900), ("price_team", "prod_team", 29_900),
    ("price_enterprise", "prod_enterprise", 99_000),
]

func field(_ field: ContactField, currency: String? = nil, _ test: ContactPredicate.Test) -> ContactPredicate {
    .field(field, currency: currency, test)
}

let segmentDefinitions = [
    SegmentDefinition(name: "engaged", predicate: field(.engagement, .oneOf([.string("medium"), .string("high")]))),
    SegmentDefinition(name: "hot_prospects", predicate: .all([
        field(.paymentStatus, .equals(.string("prospect"))), field(.engagement, .equals(.string("high"))),
        field(.doNotContact, .equals(.bool(false))),
    ])),
    SegmentDefinition(name: "customers", predicate: field(.paymentStatus, .equals(.string("customer")))),
    SegmentDefinition(name: "big_spenders", predicate: field(.revenue, currency: "usd", .greaterThanOrEqual(50_000))),
    SegmentDefinition(name: "quiet", predicate: .all([
        field(.daysSinceEngagement, .greaterThanOrEqual(30)), .not(.segment("customers")),
    ])),
]
let segments = try SegmentCompiler(definitions: segmentDefinitions).queries
let policy = ContactPolicy(reader: reader, engagement: EngagementPolicy(), segments: segments)

// MARK: Events


func nowMilliseconds() -> Int64 { WallClock.nowMilliseconds() }

/// `2026-11-25T09:30:00.123Z` for Unix milliseconds (after 1970), as Instantly writes `timestamp`.
func iso8601(_ milliseconds: Int64) -> String {
    let days = milliseconds / 86_400_000
    let inDay = milliseconds % 86_400_000
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468
    let era = z / 146_097
    let dayOfEra = z - era * 146_097
    let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
    let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
    let shifted = (5 * dayOfYear + 2) / 153
    let day = dayOfYear - (153 * shifted + 2) / 5 + 1
    let month = shifted < 10 ? shifted + 3 : shifted - 9
    let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
    return String(format: "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.%03lldZ", year, month, day, inDay / 3_600_000,
                  inDay / 60_000 % 60, inDay / 1_000 % 60, inDay % 1_000)
}

func email(_ contact: Int) -> String { "lead\(contact)@prospect\(contact % 997).example.com" }

/// Builds the webhooks, numbering them so every dedup key, Stripe event id and invoice id is unique.
struct EventFactory {
    private var sequence = 0

    /// An Instantly webhook as it arrives (about 450 bytes).
    mutating func instantly(_ type: String, contact: Int, campaign: Int, at: Int64) -> IncomingEvent {
        sequence += 1
        var extra = ""
        switch type {
        case "email_link_clicked": extra = #","link":"https://hookyard.example.com/pricing?utm_campaign=outbound""#
        case "reply_received":
            extra = #","reply_subject":"Re: Quick question","reply_text_snippet":"Sounds interesting - could we talk next week?""#
        default: break
        }
        let body = """
            {"timestamp":"\(iso8601(at))","event_type":"\(type)","workspace":"3c1e9f2a-5b7d-4e8f-a1b2-c3d4e5f6a7b8",\
            "campaign_id":"\(campaigns[campaign])","campaign_name":"Outbound \(campaign + 1)","lead_email":"\(email(contact))",\
            "firstName":"Lead","lastName":"\(contact)","companyName":"Prospect \(contact % 997)",\
            "email_account":"sam@outreach.example.com","step":1,"variant":1,"is_first":true\(extra)}
            """
        return IncomingEvent(source: .instantly, dedupKey: "bench-contacts-\(sequence)", eventID: nil, type: type,
                             receivedAt: at, body: Array(body.utf8), headersJSON: "{}")
    }

    /// A Stripe `invoice.paid` event (API version 2025-03-31.basil shapes, about 900 bytes) for the customer of
    /// `contact`.
    mutating func invoicePaid(contact: Int, plan: Int, at: Int64) -> IncomingEvent {
        sequence += 1
        let (price, product, amount) = plans[plan]
        let body = """
            {"id":"evt_bench\(sequence)","object":"event","api_version":"2025-03-31.basil","created":\(at / 1000),\
            "livemode":false,"pending_webhooks":1,"type":"invoice.paid","data":{"object":{"id":"in_bench\(sequence)",\
            "object":"invoice","customer":"cus_bench\(contact)","customer_email":"\(email(contact))",\
            "amount_due":\(amount),"amount_paid":\(amount),"currency":"usd","status":"paid","billing_reason":"subscription_cycle",\
            "metadata":{},"parent":{"type":"subscription_details","subscription_details":{"subscription":"sub_bench\(contact)",\
            "metadata":{"hookyard_campaign":"\(campaigns[contact % campaigns.count])"}}},"lines":{"object":"list","data":[\
            {"id":"il_bench\(sequence)","amount":\(amount),"currency":"usd","pricing":{"type":"price_details",\
            "price_details":{"price":"\(price)","product":"\(product)"}},"quantity":1}]}}}}
            """
        return IncomingEvent(source: .stripe, dedupKey: "evt_bench\(sequence)", eventID: "evt_bench\(sequence)",
                             type: "invoice.paid", receivedAt: at, body: Array(body.utf8), headersJSON: "{}")
    }
}

/// Appends `batch` with `writer` and waits for every commit. - Returns: the stored row ids, in `batch` order.
func store(_ batch: [IncomingEvent], with writer: SQLiteEventWriter) throws -> [Int64] {
    final class Outcomes: Sendable {
        let ids: Mutex<[Int64]>
        let failure = Mutex<String?>(nil)
        init(count: Int) { ids = Mutex(Array(repeating: 0, count: count)) }
    }
    let outcomes = Outcomes(count: batch.count)
    let group = DispatchGroup()
    for (index, event) in batch.enumerated() {
        group.enter()
        writer.append(event) { result in
            switch result {
            case .success(.stored(let id)): outcomes.ids.withLock { $0[index] = id }
            case .success(.duplicate): outcomes.failure.withLock { $0 = "event \(index) was a duplicate" }
            case .failure(let error): outcomes.failure.withLock { $0 = "\(error)" }
            }
            group.leave()
        }
    }
    group.wait()
    if let failure = outcomes.failure.withLock({ $0 }) { throw BenchError("storing events failed: \(failure)") }
    return outcomes.ids.withLock { $0 }
}

// MARK: Timing

/// The engine, with each `run` timed (contact update and rule matching; not the queue's claim and commit).
final class TimedHandler: JobHandler {
    let kinds: JobKinds
    let nanoseconds = Mutex<[UInt64]>([])

    init(engine: WorkflowEngine) { kinds = engine.jobKinds }

    func prepare(_ context: WorkerContext) throws { try kinds.prepare(context) }

    func run(_ job: Job, context: WorkerContext) -> JobOutcome {
        let start = DispatchTime.now().uptimeNanoseconds
        let outcome = kinds.run(job, context: context)
        let elapsed = DispatchTime.now().uptimeNanoseconds - start
        nanoseconds.withLock { $0.append(elapsed) }
        return outcome
    }
}

func percentile(_ sorted: [UInt64], _ fraction: Double) -> Double {
    guard !sorted.isEmpty else { return 0 }
    return Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * fraction))]) / 1e6
}

func grouped(_ value: Int) -> String {
    let digits = String(value)
    var result = ""
    for (offset, character) in digits.enumerated() {
        if offset > 0, (digits.count - offset) % 3 == 0 { result.append(",") }
        result.append(character)
    }
    return result
}

func fixed(_ value: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", value) }

func seconds(since start: DispatchTime) -> Double {
    Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
}

// MARK: Run

let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bench-contacts-\(UUID().uuidString)")
try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: directory) }
let path = directory.appendingPathComponent("contacts.db").path
var random = SplitMix64(seed: 20_261_125)  // seeded: every run builds the same database
var factory = EventFactory()
let day: Int64 = 86_400_000

print("hookyard contacts benchmark: \(ProcessInfo.processInfo.activeProcessorCount) cores; \(grouped(seedContacts)) contacts "
      + "seeded, then \(grouped(events)) events through process_event (contact update, \(segments.count) segments, no rules)")

// 1. Seed: history events stored by the writer and applied to their contacts, a chunk of contacts at a time.
let seedStart = DispatchTime.now()
let writer = try SQLiteEventWriter(path: path, logger: logger)
let seeder = try SQLiteContactStore(path: path, durableCommits: false)
var customers: [Int] = []
var seedEvents = 0
let chunk = 5_000
for first in stride(from: 0, to: seedContacts, by: chunk) {
    let now = nowMilliseconds()
    var batch: [IncomingEvent] = []
    for contact in first..<min(first + chunk, seedContacts) {
        let campaign = Int.random(in: 0..<campaigns.count, using: &random)
        let sent = now - Int64.random(in: day..<(90 * day), using: &random)
        var last = sent
        batch.append(factory.instantly("email_sent", contact: contact, campaign: campaign, at: sent))
        if Double.random(in: 0..<1, using: &random) < 0.45 {
            last = min(now - 60_000, sent + Int64.random(in: 600_000..<(2 * day), using: &random))
            batch.append(factory.instantly("email_opened", contact: contact, campaign: campaign, at: last))
            let next = Double.random(in: 0..<1, using: &random)
            let followUp: String? = next < 0.20 ? "email_link_clicked" : next < 0.28 ? "reply_received"
                : next < 0.31 ? "lead_interested" : nil
            if let followUp {
                last = min(now - 60_000, last + Int64.random(in: 60_000..<(day / 2), using: &random))
                batch.append(factory.instantly(followUp, contact: contact, campaign: campaign, at: last))
            }
        }
        if Double.random(in: 0..<1, using: &random) < 0.03 {
            customers.append(contact)
            let paid = min(now - 60_000, last + Int64.random(in: 3_600_000..<(10 * day), using: &random))
            batch.append(factory.invoicePaid(contact: contact, plan: Int.random(in: 0..<plans.count, using: &random), at: paid))
        }
    }
    let ids = try store(batch, with: writer)
    for (event, id) in zip(batch, ids) {
        guard let observation = reader.observation(eventID: id, source: event.source, type: event.type,
                                                   body: try JSONValue.parse(event.body), receivedAt: event.receivedAt) else {
            throw BenchError("seed event \(id) names no one")
        }
        _ = try seeder.apply(observation, policy: policy.engagement, segments: segments, now: now)
    }
    seedEvents += batch.count
}
seeder.close()
// The seed events are history: their process_event jobs count as done (the contacts already hold them).
let database = try SQLiteDatabase(path: path)
try database.execute("UPDATE jobs SET state = 'succeeded', updated_at = \(nowMilliseconds()) WHERE state = 'queued'")
try database.checkpoint(mode: .truncate)
let seedSeconds = seconds(since: seedStart)

// 2. Queue the measured events: existing contacts' activity, replies and interest, new leads, renewals.
var batch: [IncomingEvent] = []
var newLeads = 0
let queuedAt = nowMilliseconds()
for _ in 0..<events {
    let at = queuedAt - Int64.random(in: 0..<60_000, using: &random)
    let contact = Int.random(in: 0..<seedContacts, using: &random)
    let campaign = Int.random(in: 0..<campaigns.count, using: &random)
    let kind = Double.random(in: 0..<1, using: &random)
    switch kind {
    case ..<0.20: batch.append(factory.instantly("email_sent", contact: contact, campaign: campaign, at: at))
    case ..<0.50: batch.append(factory.instantly("email_opened", contact: contact, campaign: campaign, at: at))
    case ..<0.60: batch.append(factory.instantly("email_link_clicked", contact: contact, campaign: campaign, at: at))
    case ..<0.70: batch.append(factory.instantly("reply_received", contact: contact, campaign: campaign, at: at))
    case ..<0.76: batch.append(factory.instantly("lead_interested", contact: contact, campaign: campaign, at: at))
    case ..<0.78: batch.append(factory.instantly("lead_not_interested", contact: contact, campaign: campaign, at: at))
    case ..<0.80: batch.append(factory.instantly("lead_meeting_booked", contact: contact, campaign: campaign, at: at))
    case ..<0.90:
        batch.append(factory.instantly("email_sent", contact: seedContacts + newLeads, campaign: campaign, at: at))
        newLeads += 1
    default:
        let customer = customers.isEmpty ? contact : customers[Int.random(in: 0..<customers.count, using: &random)]
        batch.append(factory.invoicePaid(contact: customer, plan: Int.random(in: 0..<plans.count, using: &random), at: at))
    }
}
_ = try store(batch, with: writer)
batch = []

// 3. Drain them through the real worker pool and engine, timed from start to empty queue.
let engine = WorkflowEngine(rules: [], contacts: policy, providers: .dryRun, logger: logger)
let handler = TimedHandler(engine: engine)
let pool = WorkerPool(configuration: WorkerPool.Configuration(location: .sqlite(path: path), workers: workers, pollMilliseconds: 5),
                      handler: handler, logger: logger)
let start = DispatchTime.now()
try pool.start()
while pool.completedJobs < events { usleep(1_000) }
let drainSeconds = seconds(since: start)
pool.stop()
// As in the daemon, the event writer (and its checkpoint thread, which checkpoints the workers' commits) ran
// throughout the drain.
writer.close()

// 4. Check and report.
let jobs = try SQLiteStoreReader(path: path).jobCounts()
guard jobs["succeeded"] == seedEvents + events, jobs.values.reduce(0, +) == seedEvents + events else {
    throw BenchError("expected \(seedEvents + events) succeeded jobs, got \(jobs)")
}
let contactCount = Int(try database.scalarInt("SELECT count(*) FROM contacts") ?? 0)
guard contactCount == seedContacts + newLeads else {
    throw BenchError("expected \(seedContacts + newLeads) contacts, got \(contactCount)")
}
let reading = try SQLiteContactStore(path: path)
let countedAt = nowMilliseconds()
let sizes = try segments.map { "\($0.name)=\(grouped(try reading.count(matching: $0, now: countedAt)))" }
reading.close()
let pageBytes = (try database.scalarInt("PRAGMA page_count") ?? 0) * (try database.scalarInt("PRAGMA page_size") ?? 0)
let walBytes = (try? FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int) ?? 0
database.close()

// 5. Erasure on this database: one seeded contact (`contacts erase`), and its final check alone.
let eraser = try SQLiteContactStore(path: path)
let eraseStart = DispatchTime.now()
guard let erasure = try eraser.erase(email: email(7)), erasure.remaining.isEmpty else {
    throw BenchError("erasing \(email(7)) did not complete")
}
let eraseSeconds = seconds(since: eraseStart)
let checkStart = DispatchTime.now()
let remaining = try eraser.occurrences(ofEmail: email(8))
let checkSeconds = seconds(since: checkStart)
eraser.close()
let durations = handler.nanoseconds.withLock { $0 }.sorted()

print("seeded          \(grouped(seedContacts)) contacts from \(grouped(seedEvents)) events "
      + "(\(grouped(customers.count)) Stripe customers) in \(fixed(seedSeconds, 1)) s")
print("contacts: \(grouped(events)) events through the contact job in \(fixed(drainSeconds, 2)) s = "
      + "\(fixed(Double(events) / drainSeconds, 0)) events/s (\(grouped(seedContacts)) contacts, \(segments.count) segments, "
      + "\(workers) worker\(workers == 1 ? "" : "s"))")
print("handler time per event: p50 \(fixed(percentile(durations, 0.50), 2)) ms, p99 \(fixed(percentile(durations, 0.99), 2)) ms "
      + "(contact update + rule matching; \(workers) worker\(workers == 1 ? "" : "s") on \(ProcessInfo.processInfo.activeProcessorCount) cores)")
print("after           contacts=\(grouped(contactCount)) (\(grouped(newLeads)) new) segments: \(sizes.joined(separator: " ")) "
      + "database_mb=\(fixed(Double(pageBytes) / 1_048_576, 1)) wal_mb=\(fixed(Double(walBytes) / 1_048_576, 1))")
print("erase           one contact in \(fixed(eraseSeconds, 2)) s (\(erasure.eventsRedacted) events, \(erasure.jobsRedacted) jobs; "
      + "every text column searched twice, VACUUM, checkpoint); the whole-database search alone \(fixed(checkSeconds, 2)) s "
      + "(found the next contact in \(remaining.map(\.description).joined(separator: ", ")))")
