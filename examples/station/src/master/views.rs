//! What the master station writes as JSON, as named serde types in one place: the operator
//! API's answers and the details of the event log (`GET /api/events`). Money and energy are
//! decimal strings (`"12.50"`), simulated times civil text (`"2026-03-02 12:27:03"`) or
//! `null`; the terminals' event records carry `amikit-gdw376`'s own serde form of the record.
//! The integration tests read these shapes: change a field only with its test.

use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::clock::{Civil, SimSeconds};

/// A simulated time in JSON: its civil text, or `null`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SimTime(pub Option<SimSeconds>);

impl SimTime {
    /// A known time.
    pub fn at(at: SimSeconds) -> Self {
        Self(Some(at))
    }
}

impl Serialize for SimTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Some(t) => s.collect_str(&Civil::from_sim(t)),
            None => s.serialize_none(),
        }
    }
}

/// `serde_json::to_value` for the types of this module (they always serialize; `null`
/// otherwise).
pub fn to_json<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

// ---------------------------------------------------------------------------------------
// Answers of the operator API
// ---------------------------------------------------------------------------------------

/// A refused request: `{"error": …}`, with the role it needed (and the caller's) when a role
/// was missing.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorBody<'a> {
    /// Why it was refused.
    pub error: &'a str,
    /// The role the endpoint requires.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required_role: Option<&'static str>,
    /// The caller's role.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'static str>,
}

impl<'a> ErrorBody<'a> {
    /// `{"error": error}`.
    pub fn new(error: &'a str) -> Self {
        Self {
            error,
            required_role: None,
            role: None,
        }
    }
}

/// A page of a list: `{"items": […], "next": <the last id, or null>}`.
#[derive(Debug, Clone, Serialize)]
pub struct ListPage<T> {
    /// The rows.
    pub items: Vec<T>,
    /// The cursor of the next page (`?after=`), `null` on the last page.
    pub next: Option<Value>,
}

/// An operator (`GET /api/operators`).
#[derive(Debug, Clone, Serialize)]
pub struct OperatorView {
    /// Name.
    pub name: String,
    /// `admin`, `cashier`, …
    pub role: &'static str,
    /// `configured`, `api` or `bootstrap`.
    pub source: &'static str,
}

/// A new operator and its key, shown once (`POST /api/operators`).
#[derive(Debug, Clone, Serialize)]
pub struct NewOperator<'a> {
    /// Name.
    pub name: &'a str,
    /// Role.
    pub role: &'static str,
    /// The API key (stored only as a salted hash).
    pub key: &'a str,
    /// Says so.
    pub note: &'static str,
}

/// A revoked operator (`POST /api/operators/{name}/revoke`).
#[derive(Debug, Clone, Serialize)]
pub struct Revoked<'a> {
    /// Name.
    pub name: &'a str,
    /// Always `true`.
    pub revoked: bool,
}

/// `POST /api/stats/reset`.
#[derive(Debug, Clone, Serialize)]
pub struct StatsReset {
    /// Always `true`.
    pub reset: bool,
}

/// The front end's counters (`GET /api/stats`, see [`super::stats::Stats`]).
#[derive(Debug, Clone, Serialize)]
pub struct StatsCounters {
    /// `connections` counter.
    pub connections: u64,
    /// `logins` counter.
    pub logins: u64,
    /// `heartbeats` counter.
    pub heartbeats: u64,
    /// `frames_in` counter.
    pub frames_in: u64,
    /// `frames_out` counter.
    pub frames_out: u64,
    /// `bytes_in` counter.
    pub bytes_in: u64,
    /// `bytes_out` counter.
    pub bytes_out: u64,
    /// `requests` counter.
    pub requests: u64,
    /// `responses` counter.
    pub responses: u64,
    /// `timeouts` counter.
    pub timeouts: u64,
    /// `rejected` counter.
    pub rejected: u64,
    /// `readings` counter.
    pub readings: u64,
    /// `db_batches` counter.
    pub db_batches: u64,
    /// `db_ops` counter.
    pub db_ops: u64,
    /// `db_errors` counter.
    pub db_errors: u64,
    /// `db_full_sync_commits` counter.
    pub db_full_sync_commits: u64,
    /// `commands_dropped` counter.
    pub commands_dropped: u64,
    /// `logins_unknown` counter.
    pub logins_unknown: u64,
    /// `logins_refused` counter.
    pub logins_refused: u64,
    /// `logins_proven` counter.
    pub logins_proven: u64,
    /// `connections_refused` counter.
    pub connections_refused: u64,
    /// `prelogin_timeouts` counter.
    pub prelogin_timeouts: u64,
    /// `reports_dropped` counter.
    pub reports_dropped: u64,
    /// `write_timeouts` counter.
    pub write_timeouts: u64,
    /// `connections_open` counter.
    pub connections_open: u64,
    /// Reads the terminal answered with a denial (AFN 00 F2).
    pub denied_reads: u64,
    /// Commands the terminal answered with a denial (AFN 00 F2).
    pub denied_commands: u64,
    /// Request latency.
    pub latency_us: LatencyView,
}

/// Request latency, µs, from the histogram's buckets.
#[derive(Debug, Clone, Serialize)]
pub struct LatencyView {
    /// Requests measured.
    pub samples: u64,
    /// Mean.
    pub mean: Option<u64>,
    /// Median (upper edge of its bucket).
    pub p50: Option<u64>,
    /// 90th percentile.
    pub p90: Option<u64>,
    /// 99th percentile.
    pub p99: Option<u64>,
    /// Largest.
    pub max: u64,
    /// Bucket width.
    pub bucket: u64,
}

/// `GET /api/stats`: the counters and the state of the front end.
#[derive(Debug, Clone, Serialize)]
pub struct StatsView {
    /// The counters.
    #[serde(flatten)]
    pub counters: StatsCounters,
    /// Terminals configured.
    pub terminals: usize,
    /// Terminals logged in.
    pub online: usize,
    /// The simulated time.
    pub sim_time: SimTime,
    /// Resident memory of the process, if known.
    pub rss_bytes: Option<u64>,
}

/// A job closed before (`POST /api/jobs/{id}/close`, 409).
#[derive(Debug, Clone, Serialize)]
pub struct JobClosedAlready<'a, J> {
    /// Says so.
    pub error: &'static str,
    /// The job as it is.
    pub job: &'a J,
}

/// A meter of a terminal (`GET /api/terminals`).
#[derive(Debug, Clone, Serialize)]
pub struct TerminalMeter {
    /// Measurement point.
    pub pn: u16,
    /// DL/T 645 address.
    pub address: String,
}

/// A terminal (`GET /api/terminals`).
#[derive(Debug, Clone, Serialize)]
pub struct TerminalView {
    /// Row id.
    pub id: i64,
    /// A1, four hex digits.
    pub a1: String,
    /// A2.
    pub a2: u32,
    /// Logged in now.
    pub online: bool,
    /// Last frame from it.
    pub last_seen: SimTime,
    /// Its meters.
    pub meters: Vec<TerminalMeter>,
}

/// The answer to a payment (`POST /api/payments`).
#[derive(Debug, Clone, Serialize)]
pub struct PaymentView {
    /// `applied`, `refused`, or `duplicate` (then `outcome` is the first decision).
    pub status: &'static str,
    /// The first decision of a duplicate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<&'static str>,
    /// The engine's purchase sequence number of an applied payment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<u32>,
    /// Why the engine refused it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Order number.
    pub order_no: String,
    /// Customer name.
    pub customer: String,
    /// Customer row id.
    pub customer_id: i64,
    /// Amount.
    pub amount: String,
    /// The customer's balance after it.
    pub balance: Option<String>,
    /// Balance minus debt.
    pub net: Option<String>,
    /// Credit state.
    pub credit: Option<&'static str>,
    /// Relay the engine wants.
    pub relay: Option<&'static str>,
}

/// A payment refused before the engine saw it (422: amount out of the site's rules).
#[derive(Debug, Clone, Serialize)]
pub struct PaymentRefused<'a> {
    /// Always `refused`.
    pub status: &'static str,
    /// Why.
    pub reason: &'a str,
    /// The same, as every error answer has it.
    pub error: &'a str,
    /// Order number.
    pub order_no: &'a str,
}

/// A token sold (`POST /api/tokens`).
#[derive(Debug, Clone, Serialize)]
pub struct VendView {
    /// Always `vended`.
    pub status: &'static str,
    /// The 20 digits.
    pub token: String,
    /// The digits in groups of four.
    pub token_grouped: String,
    /// Meter address.
    pub meter: String,
    /// Customer row id.
    pub customer: i64,
    /// Money paid.
    pub amount: String,
    /// Sub-unit remainder carried in from the last sale.
    pub carried_in: String,
    /// Credit on the token.
    pub credit: String,
    /// Remainder carried to the next sale.
    pub remainder: String,
    /// Token identifier (minutes since the base date).
    pub tid: u32,
    /// Order number.
    pub order_no: String,
    /// The cashier who sold it.
    pub sold_by: String,
    /// When.
    pub at: SimTime,
}

/// Guard (保电) set (`POST /api/guard`).
#[derive(Debug, Clone, Serialize)]
pub struct GuardView {
    /// Customer row id.
    pub customer: i64,
    /// Guarded now.
    pub guarded: bool,
}

/// A meter of a customer (`GET /api/customers`).
#[derive(Debug, Clone, Serialize)]
pub struct CustomerMeter {
    /// DL/T 645 address.
    pub address: String,
    /// Measurement point.
    pub pn: u16,
    /// Terminal A2.
    pub terminal: u32,
    /// Last reading, kWh.
    pub energy_kwh: Option<String>,
    /// When it was read.
    pub read_at: SimTime,
    /// Last active power, W.
    pub power_w: Option<i64>,
    /// `open` or `closed`, as last read.
    pub relay: Option<&'static str>,
    /// The meter's own remaining money (local fee control).
    pub remaining: Option<String>,
    /// Sold STS tokens.
    pub sts: bool,
}

/// A customer (`GET /api/customers`).
#[derive(Debug, Clone, Serialize)]
pub struct CustomerView {
    /// Row id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Phone.
    pub phone: Option<String>,
    /// `remote` or `local`.
    pub fee_control: &'static str,
    /// `open` or `closed`, as last read from a meter.
    pub meter_relay: Option<&'static str>,
    /// Energy of the billing period, kWh.
    pub period_kwh: String,
    /// Meters.
    pub meters: Vec<CustomerMeter>,
    /// The balance: the master's engine (remote fee control) or the meter's (local).
    #[serde(flatten)]
    pub wallet: Wallet,
}

/// Whose balance a customer has.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Wallet {
    /// Remote fee control: the master's charge-control engine.
    Master(MasterWallet),
    /// Local fee control: what the meter reported.
    Meter {
        /// Remaining money read from the meter.
        balance: Option<String>,
        /// `on` or `off` from the relay read.
        supply: Option<&'static str>,
    },
}

/// The master's engine state of a remote-fee-control customer.
#[derive(Debug, Clone, Serialize)]
pub struct MasterWallet {
    /// Balance.
    pub balance: String,
    /// Debt.
    pub debt: String,
    /// Balance minus debt.
    pub net: String,
    /// Credit state.
    pub credit: &'static str,
    /// Alarm level, if any.
    pub alarm: Option<&'static str>,
    /// Relay the engine wants.
    pub relay: &'static str,
    /// Guard (保电) on.
    pub guarded: bool,
    /// Tripped by an operator.
    pub remote_trip: bool,
    /// Purchases counted.
    pub purchases: u32,
    /// `on` or `off`: the engine's relay, or the meter's when read.
    pub supply: &'static str,
}

// ---------------------------------------------------------------------------------------
// Details of the event log (the `detail` of `GET /api/events`, by kind)
// ---------------------------------------------------------------------------------------

/// An event without details (`{}`).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct NoDetail {}

/// `engine_refused`: the engine refused an input.
#[derive(Debug, Clone, Serialize)]
pub struct EngineRefused {
    /// The input (debug form).
    pub input: String,
    /// Why.
    pub reason: String,
}

/// `credit_state`.
#[derive(Debug, Clone, Serialize)]
pub struct CreditChanged {
    /// From.
    pub from: &'static str,
    /// To.
    pub to: &'static str,
    /// Balance minus debt.
    pub net: String,
}

/// `remote_input`.
#[derive(Debug, Clone, Serialize)]
pub struct RemoteInput {
    /// Command kind.
    pub kind: &'static str,
    /// Operator number.
    pub operator: u32,
}

/// `top_up`.
#[derive(Debug, Clone, Serialize)]
pub struct TopUp {
    /// Amount.
    pub amount: String,
    /// Of it, debt repaid.
    pub repaid: String,
    /// Balance minus debt after it.
    pub net: String,
}

/// `overload`.
#[derive(Debug, Clone, Serialize)]
pub struct Overload {
    /// Power, W.
    pub watts: u32,
}

/// `friendly`.
#[derive(Debug, Clone, Serialize)]
pub struct Friendly {
    /// Friendly credit period on.
    pub on: bool,
}

/// `refund`.
#[derive(Debug, Clone, Serialize)]
pub struct Refund {
    /// Amount.
    pub amount: String,
    /// Balance minus debt after it.
    pub net: String,
}

/// `payment`: applied.
#[derive(Debug, Clone, Serialize)]
pub struct PaymentApplied<'a> {
    /// Order number.
    pub order_no: &'a str,
    /// Purchase sequence number.
    pub seq: u32,
    /// Amount.
    pub amount: String,
}

/// `payment_refused`: refused by the engine.
#[derive(Debug, Clone, Serialize)]
pub struct PaymentEngineRefused<'a> {
    /// Order number.
    pub order_no: &'a str,
    /// Amount.
    pub amount: String,
    /// Why.
    pub reason: &'a str,
}

/// `reading_exception`: a reading refused by the site's reading rules.
#[derive(Debug, Clone, Serialize)]
pub struct ReadingException<'a> {
    /// Meter address.
    pub meter: &'a str,
    /// The last accepted reading, kWh.
    pub previous_kwh: String,
    /// The refused one, kWh.
    pub current_kwh: String,
    /// Why.
    pub reason: &'static str,
}

/// `meter_replaced` (also the answer of `POST /api/meters/{address}/replace`).
#[derive(Debug, Clone, Serialize)]
pub struct MeterReplaced {
    /// Meter address.
    pub meter: String,
    /// The last reading before, kWh.
    pub previous_kwh: String,
    /// The old meter's final reading, kWh.
    pub final_kwh: String,
    /// The new meter's initial reading, kWh.
    pub initial_kwh: String,
    /// Energy billed for the old meter's last stretch, kWh.
    pub billed_kwh: String,
}

/// The answer of `POST /api/meters/{address}/replace` when the same replacement was already
/// applied (a retry after a lost answer): nothing is billed again.
#[derive(Debug, Clone, Serialize)]
pub struct MeterReplacedAgain {
    /// Meter address.
    pub meter: String,
    /// The old meter's final reading, kWh.
    pub final_kwh: String,
    /// The new meter's initial reading, kWh.
    pub initial_kwh: String,
    /// Always `true`: this replacement was applied before.
    pub duplicate: bool,
}

/// `low_balance`: a local meter's remaining money fell to the alarm level.
#[derive(Debug, Clone, Serialize)]
pub struct LowBalance<'a> {
    /// Meter address.
    pub meter: &'a str,
    /// Remaining money.
    pub remaining: String,
}

/// `relay_open`, `relay_closed`.
#[derive(Debug, Clone, Serialize)]
pub struct RelayChanged<'a> {
    /// Meter address.
    pub meter: &'a str,
}

/// `token`: a token sold.
#[derive(Debug, Clone, Serialize)]
pub struct TokenSold<'a> {
    /// Meter address.
    pub meter: &'a str,
    /// Order number.
    pub order_no: &'a str,
    /// Money paid.
    pub amount: String,
    /// Credit on the token.
    pub credit: String,
    /// Remainder carried to the next sale.
    pub remainder: String,
    /// Token identifier.
    pub tid: u32,
}

/// `command_dropped`: a command that could not be sent.
#[derive(Debug, Clone, Serialize)]
pub struct CommandDropped {
    /// Command row id.
    pub command_id: i64,
    /// Command kind.
    pub kind: &'static str,
    /// Attempt number.
    pub attempt: u8,
    /// Meter address.
    pub meter: Option<String>,
    /// Why.
    pub reason: String,
}

/// `command_<status>`: a command's tracked outcome.
#[derive(Debug, Clone, Serialize)]
pub struct CommandStatus<'a> {
    /// Command row id.
    pub command_id: i64,
    /// Command kind.
    pub kind: &'static str,
    /// Why it was issued (`amikit-prepay`'s serde form).
    pub reason: &'a amikit_prepay::CommandReason,
    /// Meter address.
    pub meter: Option<String>,
}

/// `manual_job`: a command handed to the field crew.
#[derive(Debug, Clone, Serialize)]
pub struct ManualJob<'a> {
    /// Command row id.
    pub command_id: i64,
    /// Command kind.
    pub kind: &'static str,
    /// Why.
    pub reason: &'a str,
}

/// `relay_mismatch`: the relay read back disagrees with the confirmed command.
#[derive(Debug, Clone, Serialize)]
pub struct RelayMismatch {
    /// Command row id.
    pub command_id: i64,
    /// Command kind.
    pub kind: &'static str,
    /// Meter address.
    pub meter: Option<String>,
    /// Status word 3: relay open.
    pub relay_open: bool,
    /// Status word 3: open command in force.
    pub open_command: bool,
    /// The command was sent again (else a manual job was opened).
    pub reissued: bool,
    /// Seen in a relay-state change the meter reported (ERC 33), not after a command.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed: Option<bool>,
}

/// `relay_settled`: a read shows the relay in the commanded state, so its open relay jobs are
/// cancelled.
#[derive(Debug, Clone, Serialize)]
pub struct RelaySettled {
    /// Command row id.
    pub command_id: i64,
    /// Command kind.
    pub kind: &'static str,
    /// Meter address.
    pub meter: Option<String>,
    /// Status word 3: relay open.
    pub relay_open: bool,
}

/// `terminal_online`, `terminal_offline`.
#[derive(Debug, Clone, Serialize)]
pub struct TerminalLink {
    /// Terminal A2.
    pub a2: u32,
    /// Its meters.
    pub meters: usize,
}

/// `terminal_event`: a record of the terminal's event log (AFN 0E), with the record as
/// `amikit-gdw376` serializes it.
#[derive(Debug, Clone, Serialize)]
pub struct TerminalRecord<E> {
    /// ERC code.
    pub erc: u8,
    /// Its name, for the records of the amikit terminal's meter events.
    pub name: Option<&'static str>,
    /// Index in the terminal's log.
    pub index: u8,
    /// The meter it is about, when the record names one.
    pub meter: Option<String>,
    /// The record's bytes, hex.
    pub data: String,
    /// The decoded record.
    pub event: E,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Civil;

    #[test]
    fn times_errors_and_wallets_keep_their_wire_shape() {
        let t = Civil::new(2026, 3, 2, 12, 27, 3).to_sim();
        assert_eq!(to_json(&SimTime::at(t)), "2026-03-02 12:27:03");
        assert_eq!(to_json(&SimTime(None)), Value::Null);
        // No role fields unless a role was missing.
        assert_eq!(
            to_json(&ErrorBody::new("no")).to_string(),
            r#"{"error":"no"}"#
        );
        assert_eq!(to_json(&NoDetail {}).to_string(), "{}");
        // The wallet's fields sit beside the customer's, not under a key.
        let local = CustomerView {
            id: 7,
            name: "Zhang Min".into(),
            phone: None,
            fee_control: "local",
            meter_relay: Some("closed"),
            period_kwh: "0".into(),
            meters: Vec::new(),
            wallet: Wallet::Meter {
                balance: Some("20.00".into()),
                supply: Some("on"),
            },
        };
        let v = to_json(&local);
        assert_eq!(v["balance"], "20.00");
        assert_eq!(v["supply"], "on");
        assert!(v.get("wallet").is_none() && v.get("Meter").is_none(), "{v}");
    }
}
