//! The master station's persistence, the only module with SQL: a dedicated DB thread fed by a
//! channel, one SQLite transaction per batch; seeding the database from the site file and
//! loading it at start ([`mod@load`]); the writes as named operations ([`Write`]); the reads and
//! the writes that answer ([`queries`]).
//!
//! Answers (to the API, to the core) are sent only once the batch that produced them has been
//! committed, so nothing is acknowledged that a crash could lose. One unit of writes (one
//! [`Store::write_all`]) is one unit of consistency: a reading, the meter's last value and the
//! customer's state go in the same unit, hence in the same transaction.

pub mod load;
pub mod queries;
pub mod writes;

use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;

use rusqlite::Connection;
use tokio::sync::oneshot;

pub use load::{
    CommandRow, CustomerRow, FINAL_STATUSES, Loaded, MeterRow, PaymentRow, StoredState,
    TerminalRow, load, seed,
};
pub use queries::{
    CommandFilter, EventFilter, NewPayment, NewToken, Page, Recorded, StoredPayment, StoredToken,
};
pub use writes::Write;

use super::error::{MasterError, MasterResult};
use super::stats::Stats;
use super::unix_to_sim;
use crate::clock::SimSeconds;
use crate::db::Db;

/// An action to run after the batch that produced it has been committed.
type After = Box<dyn FnOnce() + Send>;

/// A read (or answering write) on the DB thread; its answer is sent after the commit.
type Op = Box<dyn FnOnce(&Connection) -> After + Send>;

enum Msg {
    Writes(Vec<Write>),
    Op(Op),
    Stop(oneshot::Sender<()>),
}

/// Largest number of messages per transaction.
const MAX_BATCH: usize = 2048;

/// A handle to the DB thread (cheap to clone).
#[derive(Clone)]
pub struct Store {
    tx: mpsc::Sender<Msg>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store")
    }
}

impl Store {
    /// Starts the DB thread on an open database.
    ///
    /// # Errors
    /// When the thread cannot be started.
    pub fn spawn(db: Db, stats: Arc<Stats>) -> MasterResult<(Store, JoinHandle<()>)> {
        let (tx, rx) = mpsc::channel::<Msg>();
        let handle = std::thread::Builder::new()
            .name("master-db".into())
            .spawn(move || run(db, &rx, &stats))
            .map_err(|e| MasterError::io("db thread", e))?;
        Ok((Store { tx }, handle))
    }

    /// Queues one write (no answer).
    pub fn write(&self, w: Write) {
        self.write_all(vec![w]);
    }

    /// Queues writes that belong together (no answer).
    pub fn write_all(&self, ws: Vec<Write>) {
        if ws.is_empty() {
            return;
        }
        let _ = self.tx.send(Msg::Writes(ws));
    }

    /// Runs `f` on the DB thread (in order with the writes queued before it) and hands its
    /// result to `then` once the batch is committed.
    fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
        then: impl FnOnce(MasterResult<T>) + Send + 'static,
    ) {
        let op: Op = Box::new(move |c| {
            let r = f(c).map_err(MasterError::from);
            Box::new(move || then(r))
        });
        // A stopped DB thread drops `then` unanswered: the caller sees the channel closed.
        let _ = self.tx.send(Msg::Op(op));
    }

    /// [`Store::call`] as a future.
    async fn query<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> MasterResult<T> {
        let (reply, rx) = oneshot::channel();
        self.call(f, move |r| {
            let _ = reply.send(r);
        });
        rx.await.map_err(|_| MasterError::DbClosed)?
    }

    /// The event log ([`queries::list_events`]).
    ///
    /// # Errors
    /// The database's.
    pub async fn list_events(
        &self,
        filter: EventFilter,
        page: Page,
    ) -> MasterResult<Vec<queries::EventRow>> {
        self.query(move |c| queries::list_events(c, &filter, page))
            .await
    }

    /// Commands ([`queries::list_commands`]).
    ///
    /// # Errors
    /// The database's.
    pub async fn list_commands(
        &self,
        filter: CommandFilter,
        page: Page,
    ) -> MasterResult<Vec<queries::CommandView>> {
        self.query(move |c| queries::list_commands(c, &filter, page))
            .await
    }

    /// Manual jobs ([`queries::list_jobs`]).
    ///
    /// # Errors
    /// The database's.
    pub async fn list_jobs(&self) -> MasterResult<Vec<queries::JobRow>> {
        self.query(queries::list_jobs).await
    }

    /// The outbox ([`queries::list_outbox`]).
    ///
    /// # Errors
    /// The database's.
    pub async fn list_outbox(
        &self,
        customer: Option<i64>,
        page: Page,
    ) -> MasterResult<Vec<queries::OutboxRow>> {
        self.query(move |c| queries::list_outbox(c, customer, page))
            .await
    }

    /// Payments ([`queries::list_payments`]).
    ///
    /// # Errors
    /// The database's.
    pub async fn list_payments(
        &self,
        customer: Option<i64>,
    ) -> MasterResult<Vec<queries::PaymentView>> {
        self.query(move |c| queries::list_payments(c, customer))
            .await
    }

    /// Tokens ([`queries::list_tokens`]).
    ///
    /// # Errors
    /// The database's.
    pub async fn list_tokens(&self) -> MasterResult<Vec<queries::TokenView>> {
        self.query(queries::list_tokens).await
    }

    /// Readings ([`queries::list_readings`]).
    ///
    /// # Errors
    /// The database's.
    pub async fn list_readings(
        &self,
        meter: Option<String>,
        page: Page,
    ) -> MasterResult<Vec<queries::ReadingView>> {
        self.query(move |c| queries::list_readings(c, meter.as_deref(), page))
            .await
    }

    /// The token vended under an order number ([`queries::find_token`]).
    ///
    /// # Errors
    /// The database's.
    pub async fn find_token(&self, order_no: String) -> MasterResult<Option<StoredToken>> {
        self.query(move |c| queries::find_token(c, &order_no)).await
    }

    /// Records a payment ([`queries::record_payment`]); `then` runs after the commit.
    pub fn record_payment(
        &self,
        p: NewPayment,
        then: impl FnOnce(MasterResult<Recorded>) + Send + 'static,
    ) {
        self.call(move |c| queries::record_payment(c, &p), then);
    }

    /// Records a token ([`queries::record_token`]); `then` gets the token stored under the
    /// order number, after the commit.
    pub fn record_token(
        &self,
        t: NewToken,
        then: impl FnOnce(MasterResult<String>) + Send + 'static,
    ) {
        self.call(move |c| queries::record_token(c, &t), then);
    }

    /// Commits what is queued and stops the thread.
    pub async fn stop(&self) {
        let (reply, rx) = oneshot::channel();
        if self.tx.send(Msg::Stop(reply)).is_ok() {
            let _ = rx.await;
        }
    }
}

fn run(mut db: Db, rx: &mpsc::Receiver<Msg>, stats: &Stats) {
    db.conn().set_prepared_statement_cache_capacity(64);
    loop {
        let Ok(first) = rx.recv() else { break };
        let mut batch = Vec::with_capacity(64);
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(m) => batch.push(m),
                Err(_) => break,
            }
        }
        let mut after: Vec<After> = Vec::new();
        let mut stop = None;
        match db.conn_mut().transaction() {
            Ok(tx) => {
                for m in batch {
                    match m {
                        Msg::Writes(ws) => {
                            for w in ws {
                                Stats::bump(&stats.db_ops);
                                if let Err(e) = w.apply(&tx) {
                                    Stats::bump(&stats.db_errors);
                                    tracing::error!(error = %e, "master db: write failed");
                                }
                            }
                        }
                        Msg::Op(f) => {
                            Stats::bump(&stats.db_ops);
                            after.push(f(&tx));
                        }
                        Msg::Stop(r) => stop = Some(r),
                    }
                }
                if let Err(e) = tx.commit() {
                    Stats::bump(&stats.db_errors);
                    tracing::error!(error = %e, "master db: commit failed");
                }
                Stats::bump(&stats.db_batches);
            }
            Err(e) => {
                Stats::bump(&stats.db_errors);
                tracing::error!(error = %e, "master db: cannot begin a transaction");
                for m in batch {
                    if let Msg::Stop(r) = m {
                        stop = Some(r);
                    }
                }
            }
        }
        for a in after {
            a();
        }
        if let Some(r) = stop {
            let _ = db.conn().execute_batch("PRAGMA wal_checkpoint(TRUNCATE);");
            let _ = r.send(());
            break;
        }
    }
}

/// The latest simulated time a database file has seen (readings, events), if it exists.
pub fn resume_time(path: &std::path::Path) -> Option<SimSeconds> {
    if !path.exists() {
        return None;
    }
    let db = Db::open(path).ok()?;
    queries::latest_activity(db.conn()).ok().flatten()
}

/// Seconds since 1970 (local) of a simulated time, for JSON output next to the civil time.
pub fn time_json(at: Option<SimSeconds>) -> serde_json::Value {
    match at {
        Some(t) => serde_json::json!(crate::clock::Civil::from_sim(t).to_string()),
        None => serde_json::Value::Null,
    }
}

/// Converts an engine timestamp back to simulated seconds.
pub fn ts_to_sim(t: amikit_prepay::time::Timestamp) -> SimSeconds {
    unix_to_sim(t.0)
}
