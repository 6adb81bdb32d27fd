//! The master station's error type: every fallible operation of the master (start-up, the
//! database, the core's set-up, encodings) reports a [`MasterError`]; the operator API maps it
//! onto an HTTP status ([`ApiError`] implements `From<MasterError>`).

use std::net::SocketAddr;
use std::path::PathBuf;

/// What went wrong in the master station.
#[derive(Debug, thiserror::Error)]
pub enum MasterError {
    /// An SQLite statement failed.
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
    /// The database file could not be opened or migrated.
    #[error("database {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        source: rusqlite::Error,
    },
    /// The DB thread has stopped (the master is shutting down).
    #[error("database closed")]
    DbClosed,
    /// A socket, file or thread could not be set up.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The operator API must stay on loopback (it has no authentication).
    #[error("the operator API has no authentication: bind it to a loopback address, not {0}")]
    NotLoopback(SocketAddr),
    /// The site file or the database describe something the master cannot run.
    #[error("{what}: {reason}")]
    Config {
        /// The item (customer, meter, tariff, vending key, …).
        what: String,
        /// Why it is refused.
        reason: String,
    },
    /// A frame or data unit could not be encoded.
    #[error("encode: {0}")]
    Encode(String),
    /// A task of the master failed.
    #[error("task: {0}")]
    Task(String),
    /// Another master station holds the database.
    #[error(
        "database {}: another master station is running on it (its lock file {}.lock is held)",
        .0.display(), .0.display()
    )]
    Locked(PathBuf),
    /// The work was not stored (its transaction failed): nothing of it took effect.
    #[error("not recorded (the database could not commit it)")]
    NotCommitted,
    /// The master is stopping and takes no more work.
    #[error("master is stopping")]
    Stopping,
}

impl MasterError {
    /// A configuration error about `what`.
    pub fn config(what: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        Self::Config {
            what: what.into(),
            reason: reason.to_string(),
        }
    }

    /// An I/O error while doing `what`.
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            what: what.into(),
            source,
        }
    }

    /// An encoding error.
    pub fn encode(e: impl std::fmt::Display) -> Self {
        Self::Encode(e.to_string())
    }
}

/// Results of the master station.
pub type MasterResult<T> = Result<T, MasterError>;

/// An answer of the operator API that is not a success: an HTTP status and a message
/// (`{"error": …}`, plus any extra fields of `body`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// What went wrong.
    pub message: String,
}

impl ApiError {
    /// An error.
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

impl From<MasterError> for ApiError {
    fn from(e: MasterError) -> Self {
        let status = match e {
            MasterError::DbClosed | MasterError::Stopping | MasterError::NotCommitted => 503,
            _ => 500,
        };
        Self::new(status, e.to_string())
    }
}
