//! The messages between the front end ([`fep`](super::fep)), the core
//! ([`core`](super::core)) and the operator API ([`api`](super::api)), and their replies.
//! Those three import this module, never each other.

use amikit_prepay::{CommandKind, Timestamp};
use amikit_tariff::{Energy, Money};
use serde_json::Value;
use tokio::sync::oneshot;

use super::control::CmdKey;
use super::error::ApiError;
use super::views::CustomerView;
use crate::clock::SimSeconds;

/// What a meter (or the terminal, or the link) answered to a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandResult {
    /// Executed.
    Confirmed,
    /// Denied, failed or not answered, and why.
    Failed(String),
}

/// The engine's decision on a payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentOutcome {
    /// Credited, with the purchase count it took.
    Applied {
        /// The customer's purchase count.
        seq: u32,
    },
    /// Refused (hoarding limit, overflow, …), and why; nothing changed.
    Refused {
        /// Why.
        reason: String,
    },
}

/// The answer to a payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentAnswer {
    /// Decided and recorded now.
    New(PaymentOutcome),
    /// The order number was being recorded already: its outcome.
    Duplicate(PaymentOutcome),
}

/// Who made an API request and what it was, for an audit row written in the same unit as the
/// change it made.
#[derive(Debug, Clone)]
pub struct AuditStamp {
    /// The operator.
    pub operator: Option<String>,
    /// Their role.
    pub role: Option<&'static str>,
    /// HTTP method.
    pub method: String,
    /// Path.
    pub path: String,
    /// Real time of the request, Unix seconds.
    pub wall: i64,
}

impl AuditStamp {
    /// The audit row of the request, answered with `status`.
    pub fn row(&self, at: SimSeconds, status: u16, summary: String) -> super::store::Write {
        super::store::Write::Audit {
            at,
            wall: self.wall,
            operator: self.operator.clone(),
            role: self.role,
            method: self.method.clone(),
            path: self.path.clone(),
            status,
            summary,
        }
    }
}

/// A message to the core.
#[derive(Debug)]
pub enum CoreMsg {
    /// A register reading of a meter (AFN 0C F129), with the active power of F25 if read.
    Reading {
        /// Meter slot.
        meter: usize,
        /// When it was received (simulated).
        at: SimSeconds,
        /// The register value.
        energy: Energy,
        /// Total active power, W.
        power_w: Option<i64>,
    },
    /// Remaining money read from a local-fee-control meter (DL/T 645 `00900200`).
    Remaining {
        /// Meter slot.
        meter: usize,
        /// When.
        at: SimSeconds,
        /// The money.
        money: Money,
    },
    /// The relay state read from a meter (status word 3).
    Relay {
        /// Meter slot.
        meter: usize,
        /// When.
        at: SimSeconds,
        /// True when open (b4).
        open: bool,
        /// True while an open command is in force (b6).
        command_open: bool,
        /// The read-back after a relay command was confirmed (reconciliation).
        verify: bool,
    },
    /// A command's answer.
    CommandDone {
        /// The command.
        key: CmdKey,
        /// The answer.
        result: CommandResult,
    },
    /// A payment to decide (the engine), record and answer once committed.
    Pay {
        /// Customer row id.
        customer: i64,
        /// Amount (already checked against the site's payment rules).
        amount: Money,
        /// Order number (the idempotency key).
        order_no: String,
        /// `api`, `wechat`, …
        channel: String,
        /// The request's audit row is written with the payment.
        audit: AuditStamp,
        /// The answer, after the commit.
        reply: oneshot::Sender<Result<PaymentAnswer, ApiError>>,
    },
    /// A meter replaced: bill the old meter up to its final reading, start the new one at its
    /// initial reading.
    ReplaceMeter {
        /// Meter slot.
        meter: usize,
        /// The old meter's final reading.
        closing: Energy,
        /// The new meter's initial reading.
        opening: Energy,
        /// The request's audit row is written with the replacement.
        audit: AuditStamp,
        /// The answer, after the commit.
        reply: oneshot::Sender<Result<Value, ApiError>>,
    },
    /// Guard (保电) on or off.
    Guard {
        /// Customer row id.
        customer: i64,
        /// On or off.
        on: bool,
        /// The request's audit row is written with the change.
        audit: AuditStamp,
        /// The answer.
        reply: oneshot::Sender<Result<Value, ApiError>>,
    },
    /// All customers, in id order.
    Customers {
        /// The answer.
        reply: oneshot::Sender<Vec<CustomerView>>,
    },
    /// One customer.
    Customer {
        /// Customer row id.
        customer: i64,
        /// The answer.
        reply: oneshot::Sender<Option<CustomerView>>,
    },
    /// Vend an STS credit token.
    Vend {
        /// Meter slot.
        meter: usize,
        /// Money paid.
        amount: Money,
        /// Order number.
        order_no: String,
        /// The operator who sells it (only they see its digits again).
        seller: String,
        /// The request's audit row is written with the token.
        audit: AuditStamp,
        /// The answer.
        reply: oneshot::Sender<Result<Value, ApiError>>,
    },
    /// A terminal came online or went offline.
    Link {
        /// Terminal slot.
        terminal: usize,
        /// Online.
        online: bool,
    },
    /// Finish and stop.
    Stop {
        /// Answered when done.
        reply: oneshot::Sender<()>,
    },
}

/// What the core asks a connection to do.
#[derive(Debug, Clone, Copy)]
pub enum ConnCmd {
    /// Send a control command to a meter.
    Control {
        /// The tracked command.
        key: CmdKey,
        /// Its row in `commands`.
        row: i64,
        /// The tracker's attempt number (checked again when it leaves the queue).
        attempt: u8,
        /// Meter slot.
        meter: usize,
        /// What.
        kind: CommandKind,
        /// Its expiry (DL/T 645 valid-until).
        expires: Timestamp,
    },
    /// Read a meter's relay state now.
    ReadStatus {
        /// Meter slot.
        meter: usize,
        /// To reconcile it with the relay command just confirmed.
        verify: bool,
    },
}
