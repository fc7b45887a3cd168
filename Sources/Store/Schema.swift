/// The database schema as an ordered list of forward migrations, tracked with `PRAGMA user_version`.
///
/// Migration N brings the schema from version N-1 to N inside one transaction, so a crash mid-migration
/// leaves the previous version intact. Never edit a shipped migration: append a new one.
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
    ]

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
                try database.execute("PRAGMA user_version = \(index + 1)")
            }
        }
    }
}
