import HookyardFoundation
import SQLite

/// The database schema as an ordered list of forward migrations, tracked with `PRAGMA user_version`.
///
/// Migration N brings the schema from version N-1 to N inside one transaction, so a crash mid-migration
/// leaves the previous version intact. Never edit a shipped migration: append a new one.
///
/// SQLite-specific throughout (docs/storage.md): `STRICT` tables, `AUTOINCREMENT`, `PRAGMA user_version`, and JSON
/// functions (`json_valid`, `json_type`, `json_extract`) over `CAST(body AS TEXT)` in the data migrations. Stateless.
public enum Schema {
    static let migrations: [String] = [
        // 1: webhook events, the job queue, and the row the readiness probe writes.
        """
        CREATE TABLE events (
            id           INTEGER PRIMARY KEY,
            source       TEXT    NOT NULL CHECK (source IN ('stripe', 'instantly')),
            dedup_key    TEXT    NOT NULL,
            event_id     TEXT,
            type         TEXT    NOT NULL,
            received_at  INTEGER NOT NULL,
            body         BLOB    NOT NULL,
            headers      TEXT    NOT NULL,
            UNIQUE (source, dedup_key)
        ) STRICT;
        CREATE TABLE jobs (
            id               INTEGER PRIMARY KEY,
            event_id         INTEGER NOT NULL REFERENCES events (id),
            kind             TEXT    NOT NULL,
            state            TEXT    NOT NULL DEFAULT 'queued'
                             CHECK (state IN ('queued', 'running', 'succeeded', 'retrying', 'dead')),
            attempts         INTEGER NOT NULL DEFAULT 0,
            next_run_at      INTEGER NOT NULL,
            lease_owner      TEXT,
            lease_expires_at INTEGER,
            last_error       TEXT,
            idempotency_key  TEXT    NOT NULL UNIQUE,
            input            TEXT,
            output           TEXT,
            created_at       INTEGER NOT NULL,
            updated_at       INTEGER NOT NULL
        ) STRICT;
        CREATE INDEX jobs_due ON jobs (state, next_run_at);
        CREATE TABLE store_probe (
            id         INTEGER PRIMARY KEY CHECK (id = 1),
            checked_at INTEGER NOT NULL
        ) STRICT;
        INSERT INTO store_probe (id, checked_at) VALUES (1, 0);
        """,
        // 2: a job can be discarded from the dead-letter queue (SQLite cannot alter a CHECK, so the table is
        // rebuilt), and every attempt of a job is kept with its outcome.
        """
        CREATE TABLE jobs_v2 (
            id               INTEGER PRIMARY KEY,
            event_id         INTEGER NOT NULL REFERENCES events (id),
            kind             TEXT    NOT NULL,
            state            TEXT    NOT NULL DEFAULT 'queued'
                             CHECK (state IN ('queued', 'running', 'succeeded', 'retrying', 'dead', 'discarded')),
            attempts         INTEGER NOT NULL DEFAULT 0,
            next_run_at      INTEGER NOT NULL,
            lease_owner      TEXT,
            lease_expires_at INTEGER,
            last_error       TEXT,
            idempotency_key  TEXT    NOT NULL UNIQUE,
            input            TEXT,
            output           TEXT,
            created_at       INTEGER NOT NULL,
            updated_at       INTEGER NOT NULL
        ) STRICT;
        INSERT INTO jobs_v2 SELECT * FROM jobs;
        DROP TABLE jobs;
        ALTER TABLE jobs_v2 RENAME TO jobs;
        CREATE INDEX jobs_due ON jobs (state, next_run_at);
        CREATE TABLE job_attempts (
            id           INTEGER PRIMARY KEY,
            job_id       INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
            attempt      INTEGER NOT NULL,
            worker       TEXT    NOT NULL,
            started_at   INTEGER NOT NULL,
            finished_at  INTEGER,
            outcome      TEXT    CHECK (outcome IN ('succeeded', 'retrying', 'dead', 'interrupted', 'lease_expired')),
            status       INTEGER,
            error        TEXT
        ) STRICT;
        CREATE INDEX job_attempts_by_job ON job_attempts (job_id, attempt);
        """,
        // 3: purchases recorded by workflows (`record_purchase`), one per provider reference (a Checkout Session id),
        // for revenue reports; amounts in the currency's smallest unit, never converted.
        """
        CREATE TABLE purchases (
            id           INTEGER PRIMARY KEY,
            event_id     INTEGER NOT NULL REFERENCES events (id),
            reference    TEXT    NOT NULL UNIQUE,
            email        TEXT,
            amount       INTEGER NOT NULL,
            currency     TEXT    NOT NULL,
            campaign_id  TEXT,
            payment_link TEXT,
            rule         TEXT    NOT NULL,
            created_at   INTEGER NOT NULL
        ) STRICT;
        CREATE INDEX purchases_by_campaign ON purchases (campaign_id, currency);
        """,
        // 4: claiming a job whose worker died looks its lease up by index.
        """
        CREATE INDEX jobs_leases ON jobs (state, lease_expires_at);
        """,
        // 5: contacts (one per normalised email) and what is known of them; events record when their body was
        // pruned (retention) or redacted (erasure). Rows that outlive an erased person (activity, payments) keep
        // only anonymous aggregates: their contact_id becomes NULL.
        """
        ALTER TABLE events ADD COLUMN pruned_at INTEGER;
        -- A contact's timeline, export and erase find the jobs of their events by index.
        CREATE INDEX jobs_by_event ON jobs (event_id);
        -- AUTOINCREMENT: an erased person's id is never given to anyone else.
        CREATE TABLE contacts (
            id                       INTEGER PRIMARY KEY AUTOINCREMENT,
            email                    TEXT    NOT NULL UNIQUE,
            first_seen_at            INTEGER NOT NULL,
            last_engagement_at       INTEGER,
            sent                     INTEGER NOT NULL DEFAULT 0,
            opened                   INTEGER NOT NULL DEFAULT 0,
            clicked                  INTEGER NOT NULL DEFAULT 0,
            replied                  INTEGER NOT NULL DEFAULT 0,
            bounced                  INTEGER NOT NULL DEFAULT 0,
            unsubscribed             INTEGER NOT NULL DEFAULT 0,
            meeting_booked           INTEGER NOT NULL DEFAULT 0,
            interest_status          TEXT,
            interest_at              INTEGER,
            payment_status           TEXT    NOT NULL DEFAULT 'prospect'
                                     CHECK (payment_status IN ('prospect', 'customer', 'past_due', 'canceled')),
            engagement               TEXT    NOT NULL DEFAULT 'low' CHECK (engagement IN ('low', 'medium', 'high')),
            subscription_id          TEXT,
            subscription_status      TEXT,
            subscription_price       TEXT,
            subscription_product     TEXT,
            subscription_tier        TEXT,
            subscription_period_end  INTEGER,
            subscription_at          INTEGER,
            tier                     TEXT,
            product_interest         TEXT,
            product_interest_at      INTEGER,
            do_not_contact           TEXT,
            first_campaign           TEXT,
            first_campaign_at        INTEGER,
            last_campaign            TEXT,
            last_campaign_at         INTEGER,
            updated_at               INTEGER NOT NULL
        ) STRICT;
        CREATE INDEX contacts_by_status ON contacts (payment_status, engagement);
        CREATE TABLE contact_leads (
            contact_id   INTEGER NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
            campaign_id  TEXT    NOT NULL,
            lead_id      TEXT,
            first_seen_at INTEGER NOT NULL,
            PRIMARY KEY (contact_id, campaign_id)
        ) STRICT;
        CREATE INDEX contact_leads_by_campaign ON contact_leads (campaign_id);
        CREATE TABLE contact_customers (
            customer_id  TEXT    PRIMARY KEY,
            contact_id   INTEGER NOT NULL REFERENCES contacts (id) ON DELETE CASCADE
        ) STRICT;
        CREATE INDEX contact_customers_by_contact ON contact_customers (contact_id);
        -- Every event applied to a contact, once: the idempotency record, and the contact's timeline.
        CREATE TABLE contact_events (
            event_id     INTEGER PRIMARY KEY REFERENCES events (id),
            contact_id   INTEGER REFERENCES contacts (id) ON DELETE CASCADE,
            applied_at   INTEGER NOT NULL
        ) STRICT;
        CREATE INDEX contact_events_by_contact ON contact_events (contact_id);
        -- Stripe events naming only a customer id not linked yet: applied when that customer is linked.
        CREATE TABLE contact_pending (
            event_id     INTEGER PRIMARY KEY REFERENCES events (id),
            customer_id  TEXT    NOT NULL,
            observation  TEXT    NOT NULL,
            created_at   INTEGER NOT NULL
        ) STRICT;
        CREATE INDEX contact_pending_by_customer ON contact_pending (customer_id);
        -- One row per Instantly activity: engagement windows, and per-campaign reporting after an erase.
        CREATE TABLE contact_activity (
            id           INTEGER PRIMARY KEY,
            contact_id   INTEGER REFERENCES contacts (id) ON DELETE SET NULL,
            event_id     INTEGER UNIQUE,
            kind         TEXT    NOT NULL,
            campaign_id  TEXT,
            occurred_at  INTEGER NOT NULL
        ) STRICT;
        CREATE INDEX contact_activity_by_contact ON contact_activity (contact_id, occurred_at);
        CREATE INDEX contact_activity_by_campaign ON contact_activity (campaign_id, kind);
        CREATE TABLE contact_payments (
            id             INTEGER PRIMARY KEY,
            contact_id     INTEGER REFERENCES contacts (id) ON DELETE SET NULL,
            event_id       INTEGER,
            reference      TEXT    NOT NULL,
            kind           TEXT    NOT NULL CHECK (kind IN ('payment', 'invoice', 'refund')),
            amount         INTEGER NOT NULL,
            currency       TEXT    NOT NULL,
            occurred_at    INTEGER NOT NULL,
            price_id       TEXT,
            product_id     TEXT,
            tier           TEXT,
            first_campaign TEXT,
            last_campaign  TEXT,
            UNIQUE (kind, reference)
        ) STRICT;
        CREATE INDEX contact_payments_by_contact ON contact_payments (contact_id);
        CREATE TABLE contact_segments (
            contact_id   INTEGER NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
            segment      TEXT    NOT NULL,
            member       INTEGER NOT NULL,
            entries      INTEGER NOT NULL,
            changed_at   INTEGER NOT NULL,
            PRIMARY KEY (contact_id, segment)
        ) STRICT;
        -- Entries and exits; those the clock caused (queued = 0) wait for the maintenance task to start their rules.
        CREATE TABLE segment_transitions (
            id           INTEGER PRIMARY KEY,
            contact_id   INTEGER NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
            segment      TEXT    NOT NULL,
            entered      INTEGER NOT NULL,
            entry        INTEGER NOT NULL,
            event_id     INTEGER NOT NULL,
            queued       INTEGER NOT NULL,
            at           INTEGER NOT NULL
        ) STRICT;
        CREATE INDEX segment_transitions_by_event ON segment_transitions (event_id);
        CREATE INDEX segment_transitions_unqueued ON segment_transitions (queued) WHERE queued = 0;
        -- Loop guard: Instantly writes Hookyard made, and flows each rule started, per contact.
        CREATE TABLE own_writes (
            contact_id   INTEGER NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
            rule         TEXT    NOT NULL,
            at           INTEGER NOT NULL,
            PRIMARY KEY (contact_id, rule)
        ) STRICT;
        CREATE TABLE rule_runs (
            flow         TEXT    PRIMARY KEY,
            rule         TEXT    NOT NULL,
            contact_id   INTEGER NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
            at           INTEGER NOT NULL
        ) STRICT;
        CREATE INDEX rule_runs_by_contact ON rule_runs (contact_id, rule, at);
        """,
        // 6: staged rollout. Contacts a rule held back (outside its `rollout:` share, or over its `max_per_day`)
        // are counted once per rule and reason, so reports can compare them with those it ran for; an erased
        // contact's row stays, anonymous. A rule's runs in the last day are counted by index.
        """
        CREATE TABLE rule_holdbacks (
            id           INTEGER PRIMARY KEY,
            rule         TEXT    NOT NULL,
            contact_id   INTEGER REFERENCES contacts (id) ON DELETE SET NULL,
            reason       TEXT    NOT NULL CHECK (reason IN ('rollout', 'max_per_day')),
            event_id     INTEGER,
            at           INTEGER NOT NULL,
            UNIQUE (rule, contact_id, reason)
        ) STRICT;
        CREATE INDEX rule_runs_by_rule ON rule_runs (rule, at);
        """,
        // 7: registrations (`contact.register`: one per contact and catalog product, and one per reference such as a
        // Checkout Session id), and the Instantly lead fields kept per contact (`contacts.lead_fields`, the latest by
        // event time wins). Both belong to the contact and are deleted with it.
        """
        CREATE TABLE contact_registrations (
            id             INTEGER PRIMARY KEY,
            contact_id     INTEGER NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
            product        TEXT    NOT NULL,
            reference      TEXT    NOT NULL UNIQUE,
            event_id       INTEGER NOT NULL,
            registered_at  INTEGER NOT NULL,
            UNIQUE (contact_id, product)
        ) STRICT;
        CREATE INDEX contact_registrations_by_product ON contact_registrations (product, id);
        CREATE TABLE contact_lead_fields (
            contact_id   INTEGER NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
            name         TEXT    NOT NULL,
            value        TEXT    NOT NULL,
            at           INTEGER NOT NULL,
            event_id     INTEGER NOT NULL,
            PRIMARY KEY (contact_id, name)
        ) STRICT;
        """,
        // 8: what the daemon says of itself when it starts and stops (one row), so `hookyard stats`, run from a shell
        // without the service's credentials, reports the daemon's mode (live or dry-run per provider), not its own.
        """
        CREATE TABLE daemon_status (
            id              INTEGER PRIMARY KEY CHECK (id = 1),
            pid             INTEGER NOT NULL,
            version         TEXT    NOT NULL,
            started_at      INTEGER NOT NULL,
            stopped_at      INTEGER,
            stripe_live     INTEGER NOT NULL,
            instantly_live  INTEGER NOT NULL
        ) STRICT;
        """,
        // 9: alerts (one row per condition: kind and subject, raised or cleared, when it was notified and how often),
        // and the sending account of each Instantly activity (`email_account`), so deliverability rates are counted
        // per account and per campaign over a time window by index.
        """
        CREATE TABLE alerts (
            id               INTEGER PRIMARY KEY,
            kind             TEXT    NOT NULL,
            subject          TEXT    NOT NULL,
            state            TEXT    NOT NULL CHECK (state IN ('raised', 'cleared')),
            first_raised_at  INTEGER NOT NULL,
            last_raised_at   INTEGER NOT NULL,
            last_notified_at INTEGER,
            times_notified   INTEGER NOT NULL DEFAULT 0,
            last_message     TEXT    NOT NULL,
            context          TEXT    NOT NULL DEFAULT '{}',
            cleared_at       INTEGER,
            event_id         INTEGER,
            UNIQUE (kind, subject)
        ) STRICT;
        CREATE INDEX alerts_by_state ON alerts (state, kind);
        ALTER TABLE contact_activity ADD COLUMN account TEXT;
        CREATE INDEX contact_activity_by_account ON contact_activity (account, kind, occurred_at) WHERE account IS NOT NULL;
        CREATE INDEX contact_activity_by_campaign_time ON contact_activity (campaign_id, kind, occurred_at);
        """,
        // 10: what the success-metrics report reads besides activity and payments: the payment link and the campaign
        // and rule its metadata names on each payment; Instantly's campaign names; the payment links Hookyard created
        // (the link URL without its query, which may prefill the email); the admin's retries and discards of jobs;
        // and indexes for the report's reads. Links created before this migration are copied from their
        // succeeded jobs (rule and contact from the job's input, campaign from its Instantly event), best effort.
        """
        ALTER TABLE contact_payments ADD COLUMN link_campaign TEXT;
        ALTER TABLE contact_payments ADD COLUMN payment_link TEXT;
        ALTER TABLE contact_payments ADD COLUMN link_rule TEXT;
        CREATE INDEX contact_payments_by_time ON contact_payments (occurred_at);
        CREATE INDEX contact_payments_by_link ON contact_payments (payment_link) WHERE payment_link IS NOT NULL;
        -- The report's activity figures stream from this index in contact and campaign order, without sorting.
        CREATE INDEX contact_activity_by_contact_campaign ON contact_activity (contact_id, campaign_id, occurred_at, kind);
        CREATE TABLE campaigns (
            id           TEXT    PRIMARY KEY,
            name         TEXT    NOT NULL,
            updated_at   INTEGER NOT NULL
        ) STRICT;
        CREATE TABLE payment_links_sent (
            link_id      TEXT    PRIMARY KEY,
            url          TEXT    NOT NULL,
            contact_id   INTEGER REFERENCES contacts (id) ON DELETE SET NULL,
            campaign_id  TEXT,
            rule         TEXT    NOT NULL,
            job_id       INTEGER,
            created_at   INTEGER NOT NULL
        ) STRICT;
        CREATE INDEX payment_links_sent_by_time ON payment_links_sent (created_at);
        CREATE INDEX payment_links_sent_by_contact ON payment_links_sent (contact_id);
        CREATE TABLE admin_actions (
            id           INTEGER PRIMARY KEY,
            action       TEXT    NOT NULL CHECK (action IN ('retry', 'discard', 'retry_all')),
            job_id       INTEGER,
            count        INTEGER NOT NULL,
            at           INTEGER NOT NULL
        ) STRICT;
        CREATE INDEX admin_actions_by_time ON admin_actions (at);
        INSERT INTO payment_links_sent (link_id, url, contact_id, campaign_id, rule, job_id, created_at)
        SELECT json_extract(j.output, '$.payment_link_id'),
               CASE WHEN instr(json_extract(j.output, '$.url'), '?') > 0
                    THEN substr(json_extract(j.output, '$.url'), 1, instr(json_extract(j.output, '$.url'), '?') - 1)
                    ELSE json_extract(j.output, '$.url') END,
               (SELECT c.id FROM contacts c WHERE c.email = json_extract(j.input, '$.contact')),
               (SELECT json_extract(CAST(e.body AS TEXT), '$.campaign_id') FROM events e
                WHERE e.id = j.event_id AND e.source = 'instantly' AND json_valid(CAST(e.body AS TEXT))),
               json_extract(j.input, '$.rule'), j.id, j.updated_at
        FROM jobs j
        WHERE j.kind = 'stripe.create_payment_link' AND j.state = 'succeeded' AND json_valid(j.output) AND json_valid(j.input)
          AND json_type(j.output, '$.payment_link_id') = 'text' AND json_type(j.output, '$.url') = 'text'
          AND json_type(j.input, '$.rule') = 'text' AND json_extract(j.output, '$.dry_run') IS NULL
        ON CONFLICT (link_id) DO NOTHING;
        """,
        // 11: addresses are compared by plain equality in their `EmailAddress.normalized` form (Unicode lower case,
        // NFC), never with SQLite's ASCII-only lower(). Purchases kept the address as the rule passed it, and contacts
        // were keyed without NFC: `normaliseStoredAddresses` (run after this SQL, in the same transaction) rewrites
        // both. A person's purchases are looked up by address, by index.
        """
        CREATE INDEX purchases_by_email ON purchases (email) WHERE email IS NOT NULL;
        """,
        // 12: the configuration file the daemon runs with (absolute path), so CLI commands against its database use
        // it when no --config is given; and the mark `hookyard backup` sets in a copy (when, of which file), so
        // `stats` on a copy says that no daemon serves it. The copy of an older schema gets the table from the backup
        // itself, hence IF NOT EXISTS.
        """
        ALTER TABLE daemon_status ADD COLUMN config_file TEXT;
        \(backupOriginTable)
        """,
        // 13: a workflow step a guard held back (`if:`, `unless:`, `when:`, do-not-contact, an erased contact) is `skipped`, a
        // final state of its own, and so is its attempt's outcome; it was recorded as `succeeded` with the output
        // `{"skipped": "<why>"}`, and such step jobs are reclassified. SQLite cannot alter a CHECK, so both tables are
        // rebuilt: the attempts are set aside in a table without constraints first, since dropping `jobs` while
        // `job_attempts` references it would delete them (ON DELETE CASCADE, foreign keys are on).
        """
        CREATE TABLE jobs_v13 (
            id               INTEGER PRIMARY KEY,
            event_id         INTEGER NOT NULL REFERENCES events (id),
            kind             TEXT    NOT NULL,
            state            TEXT    NOT NULL DEFAULT 'queued'
                             CHECK (state IN ('queued', 'running', 'succeeded', 'skipped', 'retrying', 'dead', 'discarded')),
            attempts         INTEGER NOT NULL DEFAULT 0,
            next_run_at      INTEGER NOT NULL,
            lease_owner      TEXT,
            lease_expires_at INTEGER,
            last_error       TEXT,
            idempotency_key  TEXT    NOT NULL UNIQUE,
            input            TEXT,
            output           TEXT,
            created_at       INTEGER NOT NULL,
            updated_at       INTEGER NOT NULL
        ) STRICT;
        INSERT INTO jobs_v13 (id, event_id, kind, state, attempts, next_run_at, lease_owner, lease_expires_at, last_error,
                              idempotency_key, input, output, created_at, updated_at)
        SELECT id, event_id, kind, state, attempts, next_run_at, lease_owner, lease_expires_at, last_error,
               idempotency_key, input, output, created_at, updated_at FROM jobs;
        CREATE TABLE job_attempts_v13_copy AS SELECT * FROM job_attempts;
        DROP TABLE job_attempts;
        DROP TABLE jobs;
        ALTER TABLE jobs_v13 RENAME TO jobs;
        CREATE INDEX jobs_due ON jobs (state, next_run_at);
        CREATE INDEX jobs_leases ON jobs (state, lease_expires_at);
        CREATE INDEX jobs_by_event ON jobs (event_id);
        CREATE TABLE job_attempts (
            id           INTEGER PRIMARY KEY,
            job_id       INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
            attempt      INTEGER NOT NULL,
            worker       TEXT    NOT NULL,
            started_at   INTEGER NOT NULL,
            finished_at  INTEGER,
            outcome      TEXT    CHECK (outcome IN ('succeeded', 'skipped', 'retrying', 'dead', 'interrupted', 'lease_expired')),
            status       INTEGER,
            error        TEXT
        ) STRICT;
        INSERT INTO job_attempts (id, job_id, attempt, worker, started_at, finished_at, outcome, status, error)
        SELECT id, job_id, attempt, worker, started_at, finished_at, outcome, status, error FROM job_attempts_v13_copy;
        DROP TABLE job_attempts_v13_copy;
        CREATE INDEX job_attempts_by_job ON job_attempts (job_id, attempt);
        -- Step jobs carry their rule and step in their input; process_event and alert jobs are not steps.
        UPDATE jobs SET state = 'skipped'
        WHERE state = 'succeeded' AND json_valid(output) AND json_type(output, '$.skipped') = 'text'
          AND json_valid(input) AND json_type(input, '$.rule') = 'text' AND json_type(input, '$.step') = 'text';
        UPDATE job_attempts SET outcome = 'skipped'
        WHERE outcome = 'succeeded' AND job_id IN (SELECT id FROM jobs WHERE state = 'skipped');
        """,
        // 14: the report reads a period's activity as one range of a time-ordered covering index and groups it in
        // memory, and its deliverability rates (per account and campaign over the last days) read the same range; the
        // (contact, campaign, time, kind) index the report walked instead read every row whatever the period, and
        // nothing else reads by it (per-contact lookups use `contact_activity_by_contact`), so it goes: an activity
        // insert updates as many indexes as before, and the new one only at its end.
        """
        CREATE INDEX contact_activity_by_time ON contact_activity (occurred_at, contact_id, campaign_id, kind, account);
        DROP INDEX contact_activity_by_contact_campaign;
        """,
        // 15: the report's email pass reads, per campaign and kind, the contacts of one period range of the
        // (campaign, kind, time) index, which now carries the contact id so that range is covering (no table lookup,
        // and no campaign id compared or kind decoded per row: half the time of the time index's range). The
        // (campaign, kind) index is that index's prefix, so it goes: an activity insert updates one index fewer.
        // The report's per-contact lookups (a payment's last touch, a link's click, a subscriber's onboarding, a
        // first purchase, a control group's conversion, a payment's rule) read covering ranges of the per-contact
        // indexes, and a control group's treated contacts one of the per-rule index: each carries the columns its
        // lookups test, and the row id right after the time, so a newest-first lookup needs no sort (8 - 10 % less
        // CPU for those queries on the report benchmark's database).
        """
        DROP INDEX contact_activity_by_campaign_time;
        DROP INDEX contact_activity_by_campaign;
        CREATE INDEX contact_activity_by_campaign_time ON contact_activity (campaign_id, kind, occurred_at, contact_id);
        DROP INDEX contact_activity_by_contact;
        CREATE INDEX contact_activity_by_contact ON contact_activity (contact_id, occurred_at, id, kind, campaign_id);
        DROP INDEX contact_payments_by_contact;
        CREATE INDEX contact_payments_by_contact ON contact_payments (contact_id, occurred_at, id, kind, currency);
        CREATE INDEX rule_runs_by_contact_time ON rule_runs (contact_id, at, rule);
        DROP INDEX rule_runs_by_rule;
        CREATE INDEX rule_runs_by_rule ON rule_runs (rule, at, contact_id);
        """,
    ]

    /// Created by migration 12, and by `StoreBackup` in a copy of a database older than that.
    static let backupOriginTable = """
        CREATE TABLE IF NOT EXISTS backup_origin (
            id              INTEGER PRIMARY KEY CHECK (id = 1),
            taken_at        INTEGER NOT NULL,
            source_path     TEXT    NOT NULL
        ) STRICT;
        """

    /// Steps in Swift that run after the SQL of the migration to the version they are keyed by, in its transaction
    /// (for what SQL cannot do, such as Unicode case folding).
    static let migrationSteps: [Int: @Sendable (SQLiteDatabase) throws -> Void] = [
        11: normaliseStoredAddresses,
    ]

    /// Rewrites `purchases.email` and `contacts.email` in `EmailAddress.normalized` form. A contact whose normalised
    /// address another contact already holds (the same person stored twice under two spellings) keeps its spelling:
    /// nothing is merged here, and `ContactStore.erase` finds such a record by matching, not by equality.
    /// Values are read with their length (as blobs), so nothing is cut at a NUL.
    static func normaliseStoredAddresses(_ database: SQLiteDatabase) throws {
        func rewrite(_ table: String, unique: Bool) throws {
            let select = try database.prepare("SELECT id, CAST(email AS BLOB) FROM \(table) WHERE email IS NOT NULL")
            var changes: [(Int64, String)] = []
            while try select.step() {
                let stored = String(decoding: select.blob(1), as: UTF8.self)
                let normalised = EmailAddress.normalized(stored)
                // Bytes, not `String` equality, which holds between NFD and NFC spellings.
                if !normalised.utf8.elementsEqual(stored.utf8) { changes.append((select.int(0), normalised)) }
            }
            let taken = try database.prepare("SELECT 1 FROM \(table) WHERE email = ? AND id <> ?")
            let update = try database.prepare("UPDATE \(table) SET email = ? WHERE id = ?")
            for (id, normalised) in changes {
                if unique {
                    taken.reset()
                    try taken.bind(1, normalised)
                    try taken.bind(2, id)
                    if try taken.step() { continue }
                }
                update.reset()
                try update.bind(1, normalised.isEmpty && !unique ? nil : normalised)
                try update.bind(2, id)
                try update.run()
            }
        }
        try rewrite("purchases", unique: false)
        try rewrite("contacts", unique: true)
    }

    /// The version a fully migrated database has.
    public static var currentVersion: Int { migrations.count }

    /// Applies every migration the database has not had yet.
    /// - Throws: `SQLiteError`, or `StoreError.newerSchema` when the file was written by a newer Hookyard.
    static func migrate(_ database: SQLiteDatabase) throws {
        let version = Int(try database.scalarInt("PRAGMA user_version") ?? 0)
        guard version <= migrations.count else {
            throw StoreError.newerSchema(found: version, supported: migrations.count)
        }
        for index in version..<migrations.count {
            try database.transaction {
                try database.execute(migrations[index])
                try migrationSteps[index + 1]?(database)
                try database.execute("PRAGMA user_version = \(index + 1)")
            }
        }
    }
}
