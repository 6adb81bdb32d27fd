//! The master station's persistence, the only module with SQL: a dedicated DB thread fed by a
//! channel, one SQLite transaction per batch; seeding the database from the site file and
//! loading it at start ([`mod@load`]); the writes as named operations ([`Write`]); the reads
//! ([`queries`]).
//!
//! # Durability
//!
//! * A [`Unit`] is the writes of one input (a reading with its bill, a payment with the
//!   customer's new state, …). Each runs inside its own `SAVEPOINT` in the batch's
//!   transaction: a unit that fails rolls back its own writes only.
//! * A unit's outcome is final only when the batch commits. The outcomes of a batch go to the
//!   core in one [`Report`] after the `COMMIT` (or after it failed: then every unit of the
//!   batch failed); answers to queries likewise. Nothing is acknowledged, sent to a terminal
//!   or applied to an engine before it is durable.
//! * If SQLite rolls the whole transaction back by itself (`SQLITE_FULL`, I/O errors), every
//!   unit of the batch has failed, those before the error included.
//! * A unit may name a *chain* (the customer): once a unit of a chain fails, the chain's
//!   later units fail unexecuted (they were computed on top of the failed one) until
//!   [`Store::clear_chain`], which the core sends after returning the customer to its last
//!   committed state.
//! * Batches holding money (payments, tokens: [`Write::is_money`]) commit with
//!   `PRAGMA synchronous = FULL`, the others with `NORMAL` (WAL: a power cut may lose the last
//!   transactions but never corrupts). [`Stats::db_full_sync_commits`] counts commits whose
//!   `synchronous` setting, read back inside the transaction, was `FULL`.
//! * [`lock`]: one master per database file (an exclusive lock on `<db>.lock`).

pub mod load;
pub mod queries;
pub mod writes;

use std::collections::HashSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;

use rusqlite::Connection;
use tokio::sync::{mpsc as tokio_mpsc, oneshot};

pub use load::{
    CommandRow, CustomerRow, FINAL_STATUSES, Loaded, MeterRow, PaymentRow, StoredState,
    TerminalRow, load, seed,
};
pub use queries::{CommandFilter, EventFilter, ExceptionFilter, Page, StoredPayment, StoredToken};
pub use writes::Write;

use super::error::{MasterError, MasterResult};
use super::stats::Stats;
use super::unix_to_sim;
use crate::clock::SimSeconds;
use crate::db::Db;

/// The writes of one input, carried out together or not at all.
#[derive(Debug, Default)]
pub struct Unit {
    /// The writes.
    pub writes: Vec<Write>,
    /// The chain (customer row id) it extends, if any.
    pub chain: Option<i64>,
    /// Reported to the core under this id (none: not reported).
    pub id: Option<u64>,
}

/// Why a unit was not stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnitFailure {
    /// One of its writes failed (the message).
    Write(String),
    /// An earlier unit of its chain failed.
    Chain,
    /// The batch's transaction could not begin, was rolled back by SQLite or did not commit.
    Commit(String),
}

impl std::fmt::Display for UnitFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UnitFailure::Write(e) => write!(f, "write failed: {e}"),
            UnitFailure::Chain => f.write_str("an earlier write of the same customer failed"),
            UnitFailure::Commit(e) => write!(f, "commit failed: {e}"),
        }
    }
}

/// The outcomes of the reported units of one batch, in the order they were queued.
#[derive(Debug, Default)]
pub struct Report {
    /// Unit id and outcome.
    pub outcomes: Vec<(u64, Result<(), UnitFailure>)>,
}

/// An action to run after the batch that produced it has been committed (`true`) or not.
type After = Box<dyn FnOnce(bool) + Send>;

/// A read on the DB thread (none: the batch has no transaction); its answer is sent after
/// the commit.
type Op = Box<dyn FnOnce(Option<&Connection>) -> After + Send>;

enum Msg {
    Unit(Unit),
    Op(Op),
    ClearChain(i64),
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

/// The lock file of a database: `<db>.lock`.
pub fn lock_path(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push(".lock");
    PathBuf::from(p)
}

/// Takes the exclusive lock that makes a master the only one on `db` (held until the returned
/// file is dropped: when the DB thread stops).
///
/// # Errors
/// [`MasterError::Locked`] when another master holds it; I/O errors.
pub fn lock(db: &Path) -> MasterResult<File> {
    let path = lock_path(db);
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| MasterError::io(format!("lock file {}", path.display()), e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(MasterError::Locked(db.to_path_buf())),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(MasterError::io(format!("lock file {}", path.display()), e))
        }
    }
}

impl Store {
    /// Starts the DB thread on an open database; it keeps `lock` until it stops. Outcomes of
    /// reported units arrive on the returned receiver.
    ///
    /// # Errors
    /// When the thread cannot be started.
    pub fn spawn(
        db: Db,
        lock: File,
        stats: Arc<Stats>,
    ) -> MasterResult<(Store, JoinHandle<()>, tokio_mpsc::UnboundedReceiver<Report>)> {
        let (tx, rx) = mpsc::channel::<Msg>();
        let (reports, report_rx) = tokio_mpsc::unbounded_channel();
        let handle = std::thread::Builder::new()
            .name("master-db".into())
            .spawn(move || {
                run(db, &rx, &stats, &reports);
                drop(lock);
            })
            .map_err(|e| MasterError::io("db thread", e))?;
        Ok((Store { tx }, handle, report_rx))
    }

    /// Queues one write (not reported).
    pub fn write(&self, w: Write) {
        self.write_all(vec![w]);
    }

    /// Queues writes that belong together (not reported).
    pub fn write_all(&self, writes: Vec<Write>) {
        if writes.is_empty() {
            return;
        }
        self.submit(Unit {
            writes,
            chain: None,
            id: None,
        });
    }

    /// Queues a unit.
    pub fn submit(&self, unit: Unit) {
        let _ = self.tx.send(Msg::Unit(unit));
    }

    /// Lets the units of `chain` queued from now on run again (after a failure of the chain).
    pub fn clear_chain(&self, chain: i64) {
        let _ = self.tx.send(Msg::ClearChain(chain));
    }

    /// Runs `f` on the DB thread (in order with the writes queued before it) and hands its
    /// result to `then` once the batch is committed.
    fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
        then: impl FnOnce(MasterResult<T>) + Send + 'static,
    ) {
        let op: Op = Box::new(move |c| {
            let r = match c {
                Some(c) => f(c).map_err(MasterError::from),
                None => Err(MasterError::NotCommitted),
            };
            Box::new(move |committed| {
                then(if committed {
                    r
                } else {
                    Err(MasterError::NotCommitted)
                });
            })
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
        self.query(|c| queries::list_jobs(c, None, Page::default()))
            .await
    }

    /// Closes an open manual job ([`queries::close_job`]); answered once committed.
    ///
    /// # Errors
    /// The database's.
    pub async fn close_job(
        &self,
        id: i64,
        status: &'static str,
        closed_by: String,
        note: Option<String>,
        at: SimSeconds,
    ) -> MasterResult<queries::CloseJob> {
        self.query(move |c| queries::close_job(c, id, status, &closed_by, note.as_deref(), at))
            .await
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
        page: Page,
    ) -> MasterResult<Vec<queries::PaymentView>> {
        self.query(move |c| queries::list_payments(c, customer, page))
            .await
    }

    /// Tokens ([`queries::list_tokens`]).
    ///
    /// # Errors
    /// The database's.
    pub async fn list_tokens(&self, page: Page) -> MasterResult<Vec<queries::TokenView>> {
        self.query(move |c| queries::list_tokens(c, page)).await
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

    /// Stores an operator made over the API with its audit row ([`queries::insert_operator`]);
    /// answers after the commit.
    ///
    /// # Errors
    /// The database's.
    pub async fn create_operator(
        &self,
        row: queries::OperatorRow,
        at: SimSeconds,
        by: String,
        audit: Write,
    ) -> MasterResult<Option<i64>> {
        self.query(move |c| queries::insert_operator(c, &row, at, &by, &audit))
            .await
    }

    /// Revokes an operator made over the API, with its audit row ([`queries::revoke_operator`]).
    ///
    /// # Errors
    /// The database's.
    pub async fn revoke_operator(
        &self,
        id: i64,
        at: SimSeconds,
        audit: Write,
    ) -> MasterResult<bool> {
        self.query(move |c| queries::revoke_operator(c, id, at, &audit))
            .await
    }

    /// The audit trail ([`queries::list_audit`]).
    ///
    /// # Errors
    /// The database's.
    pub async fn list_audit(&self, page: Page) -> MasterResult<Vec<queries::AuditView>> {
        self.query(move |c| queries::list_audit(c, page)).await
    }

    /// The token vended under an order number ([`queries::find_token`]).
    ///
    /// # Errors
    /// The database's.
    pub async fn find_token(&self, order_no: String) -> MasterResult<Option<StoredToken>> {
        self.query(move |c| queries::find_token(c, &order_no)).await
    }

    /// The payment recorded under an order number ([`queries::find_payment`]).
    ///
    /// # Errors
    /// The database's.
    pub async fn find_payment(&self, order_no: String) -> MasterResult<Option<StoredPayment>> {
        self.query(move |c| queries::find_payment(c, &order_no))
            .await
    }

    /// Reading exceptions ([`queries::list_exceptions`]).
    ///
    /// # Errors
    /// The database's.
    pub async fn list_exceptions(
        &self,
        filter: ExceptionFilter,
        page: Page,
    ) -> MasterResult<Vec<queries::ExceptionView>> {
        self.query(move |c| queries::list_exceptions(c, &filter, page))
            .await
    }

    /// Commits what is queued and stops the thread.
    pub async fn stop(&self) {
        let (reply, rx) = oneshot::channel();
        if self.tx.send(Msg::Stop(reply)).is_ok() {
            let _ = rx.await;
        }
    }
}

fn synchronous(c: &Connection) -> rusqlite::Result<i64> {
    c.pragma_query_value(None, "synchronous", |r| r.get(0))
}

/// `PRAGMA synchronous` value of `FULL`.
const SYNC_FULL: i64 = 2;

fn run(
    mut db: Db,
    rx: &mpsc::Receiver<Msg>,
    stats: &Stats,
    reports: &tokio_mpsc::UnboundedSender<Report>,
) {
    db.conn().set_prepared_statement_cache_capacity(64);
    let mut poisoned: HashSet<i64> = HashSet::new();
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
        let money = batch.iter().any(|m| match m {
            Msg::Unit(u) => u.writes.iter().any(Write::is_money),
            _ => false,
        });
        if money && let Err(e) = db.conn().pragma_update(None, "synchronous", "FULL") {
            tracing::error!(error = %e, "master db: cannot set synchronous = FULL");
        }
        let outcome = run_batch(&mut db, batch, stats, &mut poisoned);
        if money {
            let _ = db.conn().pragma_update(None, "synchronous", "NORMAL");
        }
        let BatchOutcome {
            committed,
            full_sync,
            mut outcomes,
            mut chains,
            after,
            stop,
        } = outcome;
        Stats::bump(&stats.db_batches);
        if committed {
            if full_sync {
                Stats::bump(&stats.db_full_sync_commits);
            }
        } else {
            // Nothing of this batch is stored: every unit failed.
            for (_, r) in &mut outcomes {
                if r.is_ok() {
                    *r = Err(UnitFailure::Commit("the batch was not committed".into()));
                }
            }
            poisoned.extend(chains.drain(..));
        }
        for (id, r) in &outcomes {
            if let Err(e) = r {
                Stats::bump(&stats.db_errors);
                tracing::warn!(unit = id, "master db: unit not stored: {e}");
            }
        }
        if !outcomes.is_empty() {
            let _ = reports.send(Report { outcomes });
        }
        for a in after {
            a(committed);
        }
        if let Some(r) = stop {
            let _ = db.conn().execute_batch("PRAGMA wal_checkpoint(TRUNCATE);");
            let _ = r.send(());
            break;
        }
    }
}

struct BatchOutcome {
    committed: bool,
    full_sync: bool,
    outcomes: Vec<(u64, Result<(), UnitFailure>)>,
    /// Chains of the units executed (poisoned as well if the batch fails).
    chains: Vec<i64>,
    after: Vec<After>,
    stop: Option<oneshot::Sender<()>>,
}

fn run_batch(
    db: &mut Db,
    batch: Vec<Msg>,
    stats: &Stats,
    poisoned: &mut HashSet<i64>,
) -> BatchOutcome {
    let mut out = BatchOutcome {
        committed: false,
        full_sync: false,
        outcomes: Vec::new(),
        chains: Vec::new(),
        after: Vec::new(),
        stop: None,
    };
    let mut tx = match db.conn_mut().transaction() {
        Ok(tx) => Some(tx),
        Err(e) => {
            tracing::error!(error = %e, "master db: cannot begin a transaction");
            None
        }
    };
    for m in batch {
        match m {
            Msg::Unit(u) => {
                let Some(t) = tx.as_mut() else {
                    if let Some(id) = u.id {
                        out.outcomes
                            .push((id, Err(UnitFailure::Commit("no transaction".into()))));
                    }
                    if let Some(c) = u.chain {
                        poisoned.insert(c);
                    }
                    continue;
                };
                let r = if u.chain.is_some_and(|c| poisoned.contains(&c)) {
                    Err(UnitFailure::Chain)
                } else {
                    Stats::add(&stats.db_ops, u.writes.len() as u64);
                    apply_unit(t, &u.writes)
                };
                if let Some(c) = u.chain {
                    if r.is_err() {
                        poisoned.insert(c);
                    } else {
                        out.chains.push(c);
                    }
                }
                if let (Err(e), None) = (&r, u.id) {
                    Stats::bump(&stats.db_errors);
                    tracing::warn!("master db: writes not stored: {e}");
                }
                if let Some(id) = u.id {
                    out.outcomes.push((id, r));
                }
                // SQLite rolled the whole transaction back (SQLITE_FULL, I/O errors): what
                // this batch did before is gone too.
                if t.is_autocommit() {
                    tracing::error!("master db: the transaction was rolled back by SQLite");
                    tx = None;
                }
            }
            Msg::Op(f) => {
                Stats::bump(&stats.db_ops);
                let c: Option<&Connection> = tx.as_deref();
                out.after.push(f(c));
            }
            Msg::ClearChain(c) => {
                poisoned.remove(&c);
            }
            Msg::Stop(r) => out.stop = Some(r),
        }
    }
    if let Some(t) = tx {
        out.full_sync = synchronous(&t).is_ok_and(|s| s == SYNC_FULL);
        match t.commit() {
            Ok(()) => out.committed = true,
            Err(e) => tracing::error!(error = %e, "master db: commit failed"),
        }
    }
    out
}

fn apply_unit(t: &mut rusqlite::Transaction<'_>, writes: &[Write]) -> Result<(), UnitFailure> {
    let fail = |e: rusqlite::Error| UnitFailure::Write(e.to_string());
    let sp = t.savepoint().map_err(fail)?;
    for w in writes {
        w.apply(&sp).map_err(fail)?;
    }
    sp.commit().map_err(fail)
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
        Some(t) => serde_json::Value::String(crate::clock::Civil::from_sim(t).to_string()),
        None => serde_json::Value::Null,
    }
}

/// Converts an engine timestamp back to simulated seconds.
pub fn ts_to_sim(t: amikit_prepay::time::Timestamp) -> SimSeconds {
    unix_to_sim(t.0)
}
