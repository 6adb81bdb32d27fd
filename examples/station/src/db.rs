//! The master station's database: SQLite through `rusqlite`, one file, schema versioned with
//! `PRAGMA user_version` and migrated forward on open.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension};

/// Database errors (SQLite's, with the statement context lost: the examples only report them).
pub type DbResult<T> = Result<T, rusqlite::Error>;

/// The schema, one entry per version. Version N is reached by running entries 0..N in order;
/// never edit an entry that has shipped, append a new one.
const MIGRATIONS: &[&str] = &[
    // Version 1.
    "
    CREATE TABLE terminals (
        id          INTEGER PRIMARY KEY,
        a1          TEXT    NOT NULL,          -- region code as printed (4 BCD digits)
        a2          INTEGER NOT NULL,          -- terminal address
        online      INTEGER NOT NULL DEFAULT 0,
        last_seen   INTEGER,                   -- simulated seconds
        UNIQUE (a1, a2)
    );
    CREATE TABLE tariffs (
        id          INTEGER PRIMARY KEY,
        name        TEXT    NOT NULL UNIQUE,
        definition  TEXT    NOT NULL           -- the tariff definition as JSON
    );
    CREATE TABLE customers (
        id          INTEGER PRIMARY KEY,
        name        TEXT    NOT NULL UNIQUE,
        phone       TEXT,
        tariff_id   INTEGER NOT NULL REFERENCES tariffs (id),
        fee_control TEXT    NOT NULL,          -- 'remote' (master station) or 'local' (meter)
        state       TEXT    NOT NULL           -- charge-control snapshot (JSON)
    );
    CREATE TABLE meters (
        id              INTEGER PRIMARY KEY,
        customer_id     INTEGER NOT NULL REFERENCES customers (id),
        terminal_id     INTEGER NOT NULL REFERENCES terminals (id),
        pn              INTEGER NOT NULL,      -- measurement point on the terminal
        address         TEXT    NOT NULL UNIQUE, -- DL/T 645 address, 12 digits
        sts_pan         TEXT,
        last_energy     INTEGER,               -- last register reading, Wh
        last_read_at    INTEGER,
        UNIQUE (terminal_id, pn)
    );
    CREATE TABLE readings (
        id          INTEGER PRIMARY KEY,
        meter_id    INTEGER NOT NULL REFERENCES meters (id),
        at          INTEGER NOT NULL,
        energy      INTEGER NOT NULL,          -- register value, Wh
        via         TEXT    NOT NULL,          -- 'afn0c' or 'afn10'
        UNIQUE (meter_id, at)
    );
    CREATE TABLE payments (
        id          INTEGER PRIMARY KEY,
        order_no    TEXT    NOT NULL UNIQUE,   -- idempotency key
        customer_id INTEGER NOT NULL REFERENCES customers (id),
        amount      INTEGER NOT NULL,          -- money, 1e-4 currency units
        channel     TEXT    NOT NULL,
        at          INTEGER NOT NULL
    );
    CREATE TABLE tokens (
        id          INTEGER PRIMARY KEY,
        meter_id    INTEGER NOT NULL REFERENCES meters (id),
        order_no    TEXT    NOT NULL UNIQUE,
        token       TEXT    NOT NULL,
        energy      INTEGER NOT NULL,          -- tenths of a kWh as carried by the token
        tid         INTEGER NOT NULL,
        at          INTEGER NOT NULL
    );
    CREATE TABLE commands (
        id          INTEGER PRIMARY KEY,
        meter_id    INTEGER NOT NULL REFERENCES meters (id),
        kind        TEXT    NOT NULL,
        status      TEXT    NOT NULL,
        attempts    INTEGER NOT NULL DEFAULT 0,
        created_at  INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL,
        detail      TEXT
    );
    CREATE TABLE jobs (
        id          INTEGER PRIMARY KEY,
        command_id  INTEGER NOT NULL REFERENCES commands (id),
        reason      TEXT    NOT NULL,
        at          INTEGER NOT NULL,
        done        INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE events (
        id          INTEGER PRIMARY KEY,
        at          INTEGER NOT NULL,
        customer_id INTEGER,
        terminal_id INTEGER,
        kind        TEXT    NOT NULL,
        detail      TEXT    NOT NULL
    );
    CREATE TABLE outbox (
        id          INTEGER PRIMARY KEY,
        at          INTEGER NOT NULL,
        customer_id INTEGER NOT NULL REFERENCES customers (id),
        channel     TEXT    NOT NULL,          -- 'sms'
        message     TEXT    NOT NULL,
        sent        INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX readings_by_meter ON readings (meter_id, at);
    CREATE INDEX commands_by_status ON commands (status);
    CREATE INDEX events_by_time ON events (at);
    ",
    // Version 2 (master station): per-customer purchase counts for the engine's anti-replay,
    // command details for restarts, relay / remaining money read from meters, the event
    // pointer of each terminal, token amounts and notification recipients.
    "
    ALTER TABLE payments ADD COLUMN seq INTEGER;         -- purchase count of the customer
    CREATE UNIQUE INDEX payments_by_customer_seq ON payments (customer_id, seq);
    ALTER TABLE commands ADD COLUMN reason TEXT;         -- why the engine issued it (JSON)
    ALTER TABLE commands ADD COLUMN expires_at INTEGER;  -- simulated seconds
    ALTER TABLE commands ADD COLUMN via TEXT;            -- 'afn05' or 'afn10'
    ALTER TABLE meters ADD COLUMN relay TEXT;            -- 'open' / 'closed' as last read
    ALTER TABLE meters ADD COLUMN relay_at INTEGER;
    ALTER TABLE meters ADD COLUMN remaining INTEGER;     -- remaining money read, 1e-4 units
    ALTER TABLE meters ADD COLUMN remaining_at INTEGER;
    ALTER TABLE terminals ADD COLUMN event_ptr INTEGER;  -- next AFN 0E record index to store
    ALTER TABLE tokens ADD COLUMN amount INTEGER;        -- money paid, 1e-4 units
    ALTER TABLE outbox ADD COLUMN recipient TEXT;        -- phone number
    ALTER TABLE outbox ADD COLUMN kind TEXT;             -- low_credit, payment_reminder, …
    CREATE INDEX events_by_customer ON events (customer_id, at);
    CREATE INDEX commands_by_meter ON commands (meter_id, id);
    ",
    // Version 3 (issue 11): the outcome of each payment (only applied payments take a
    // purchase count), readings refused as implausible, meter replacements.
    "
    ALTER TABLE payments ADD COLUMN status TEXT NOT NULL DEFAULT 'applied'; -- or 'refused'
    ALTER TABLE payments ADD COLUMN reason TEXT;        -- why the engine refused it
    CREATE TABLE reading_exceptions (
        id          INTEGER PRIMARY KEY,
        meter_id    INTEGER NOT NULL REFERENCES meters (id),
        previous    INTEGER,                   -- the baseline (last good reading), Wh
        previous_at INTEGER,
        current     INTEGER NOT NULL,          -- the refused reading, Wh
        at          INTEGER NOT NULL,          -- first seen
        last_at     INTEGER NOT NULL,          -- last seen
        count       INTEGER NOT NULL DEFAULT 1,
        reason      TEXT    NOT NULL,          -- 'backwards', 'jump', 'out_of_range'
        status      TEXT    NOT NULL DEFAULT 'open', -- or 'resolved'
        resolved_at INTEGER,
        resolution  TEXT
    );
    CREATE INDEX reading_exceptions_by_meter ON reading_exceptions (meter_id, status);
    CREATE TABLE meter_changes (
        id          INTEGER PRIMARY KEY,
        meter_id    INTEGER NOT NULL REFERENCES meters (id),
        at          INTEGER NOT NULL,
        previous    INTEGER,                   -- the old meter's last good reading, Wh
        closing     INTEGER NOT NULL,          -- the old meter's final reading, Wh
        opening     INTEGER NOT NULL,          -- the new meter's initial reading, Wh
        billed      INTEGER NOT NULL           -- energy billed for the old meter's last part, Wh
    );
    ",
    // Version 4 (issue 11, operator API): operators and their hashed keys, the audit trail
    // of mutating requests, the unspent remainder of STS currency vends, who sold a token.
    "
    CREATE TABLE operators (
        id          INTEGER PRIMARY KEY,
        name        TEXT    NOT NULL UNIQUE,
        role        TEXT    NOT NULL,          -- 'cashier', 'operator', 'auditor', 'admin'
        key_hash    TEXT    NOT NULL,          -- salted HMAC-SHA-256 of the key, never the key
        created_at  INTEGER NOT NULL,          -- simulated seconds
        created_by  TEXT,
        revoked_at  INTEGER                    -- set: the key no longer authenticates
    );
    CREATE TABLE audit (
        id          INTEGER PRIMARY KEY,
        at          INTEGER NOT NULL,          -- simulated seconds
        wall        INTEGER NOT NULL,          -- real time, Unix seconds
        operator    TEXT,                      -- none: not authenticated
        role        TEXT,
        method      TEXT    NOT NULL,
        path        TEXT    NOT NULL,
        status      INTEGER NOT NULL,          -- the HTTP status answered
        summary     TEXT    NOT NULL           -- e.g. order number and amount; never key material
    );
    CREATE INDEX audit_by_operator ON audit (operator, id);
    ALTER TABLE customers ADD COLUMN vend_remainder INTEGER NOT NULL DEFAULT 0; -- 1e-4 units
    ALTER TABLE tokens ADD COLUMN sold_by TEXT;          -- the operator who sold it
    ALTER TABLE tokens ADD COLUMN credit INTEGER;        -- money the token credits, 1e-4 units
    ",
    // Version 5 (issue 11, links): manual jobs have a lifecycle (open → done / cancelled, by
    // whom, when, why); a job made moot by a later command is cancelled by the system. Link
    // events (`link_up`, `link_down`, `command_dropped`) go to the event log.
    "
    ALTER TABLE jobs ADD COLUMN status TEXT NOT NULL DEFAULT 'open'; -- 'done' / 'cancelled'
    ALTER TABLE jobs ADD COLUMN closed_by TEXT;          -- operator, or 'system' when moot
    ALTER TABLE jobs ADD COLUMN closed_at INTEGER;       -- simulated seconds
    ALTER TABLE jobs ADD COLUMN note TEXT;
    UPDATE jobs SET status = 'done' WHERE done = 1;
    CREATE INDEX jobs_by_status ON jobs (status, command_id);
    ",
    // Version 6 (issue 11, relay reconciliation): the relay command each meter confirmed
    // last, so that a relay found against it after a restart is still reconciled.
    "
    ALTER TABLE meters ADD COLUMN relay_command INTEGER REFERENCES commands (id);
    ",
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// An open database, migrated to [`SCHEMA_VERSION`].
#[derive(Debug)]
pub struct Db {
    conn: Connection,
}

impl Db {
    /// Opens (creating if needed) the database file and migrates it.
    pub fn open(path: &Path) -> DbResult<Self> {
        Self::from_connection(Connection::open(path)?)
    }

    /// An in-memory database (tests).
    pub fn in_memory() -> DbResult<Self> {
        Self::from_connection(Connection::open_in_memory()?)
    }

    fn from_connection(conn: Connection) -> DbResult<Self> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let mut db = Self { conn };
        db.migrate()?;
        Ok(db)
    }

    /// The schema version stored in the file.
    pub fn version(&self) -> DbResult<u32> {
        self.conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
    }

    fn migrate(&mut self) -> DbResult<()> {
        let current = self.version()? as usize;
        if current > MIGRATIONS.len() {
            return Err(rusqlite::Error::InvalidParameterName(format!(
                "database schema version {current} is newer than this program ({SCHEMA_VERSION})"
            )));
        }
        for (index, sql) in MIGRATIONS.iter().enumerate().skip(current) {
            let tx = self.conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", index as u32 + 1)?;
            tx.commit()?;
        }
        Ok(())
    }

    /// Limits the database to `pages` pages (`PRAGMA max_page_count`): writes beyond it fail
    /// with `SQLITE_FULL`, as on a full disk.
    ///
    /// # Errors
    /// SQLite's.
    pub fn set_max_pages(&self, pages: u32) -> DbResult<()> {
        self.conn.pragma_update(None, "max_page_count", pages)
    }

    /// The underlying connection, for the master station's queries.
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// A mutable handle, for transactions.
    pub fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// Looks up a single integer (or nothing).
    pub fn query_i64(&self, sql: &str, args: impl rusqlite::Params) -> DbResult<Option<i64>> {
        self.conn.query_row(sql, args, |row| row.get(0)).optional()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::params;

    #[test]
    fn fresh_database_is_at_the_current_version_and_survives_reopen() {
        let dir = std::env::temp_dir().join(format!("amikit-db-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("station.db");
        let _ = std::fs::remove_file(&path);
        {
            let db = Db::open(&path).unwrap();
            assert_eq!(db.version().unwrap(), SCHEMA_VERSION);
            db.conn()
                .execute(
                    "INSERT INTO tariffs (name, definition) VALUES ('flat', '{}')",
                    params![],
                )
                .unwrap();
        }
        let db = Db::open(&path).unwrap();
        assert_eq!(db.version().unwrap(), SCHEMA_VERSION);
        assert_eq!(
            db.query_i64("SELECT COUNT(*) FROM tariffs", params![])
                .unwrap(),
            Some(1)
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
