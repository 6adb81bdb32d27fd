//! `amikit prepay simulate`: replays a timed event list through the `amikit-prepay` engine and
//! prints the timeline of states, relay actions (or commands) and notifications.
//!
//! The events file is TOML (`.toml`) or JSON (any other extension), read with the same loader
//! as tariff files; the tariff is a tariff file of `amikit tariff`. See `examples/events/`.

use std::fmt::Write as _;
use std::path::PathBuf;

use amikit_prepay::{
    CommandKind, Engine, FriendlyCalendar, Input, Notification, Output, Overload, Param, Profile,
    PurchaseId, Record, RelayAction, Remote, Snapshot, TariffPricer, Timestamp, TopUpSource,
    UserAction, Window, recover, weekday_bit,
};
use amikit_tariff::{ChargeState, Date, DateTime, Energy, Money, TimeOfDay, Weekday};
use serde::Deserialize;
use serde_json::json;

use crate::error::CliError;
use crate::output::Printer;
use crate::tariff::{load, load_tariff};

/// Arguments of `amikit prepay`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Sub,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Replay a timed event list through the charge-control engine and print the timeline.
    Simulate(SimulateArgs),
}

/// The engine profiles, by their command-line names.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ProfileArg {
    /// State Grid local fee control (the meter drives its relay).
    StateGridLocal,
    /// State Grid remote fee control (master station: decisions become commands).
    StateGridRemote,
    /// IEC 62055-31 / UK style (emergency and friendly credit, manual reconnection).
    Iec62055,
}

impl From<ProfileArg> for Profile {
    fn from(p: ProfileArg) -> Self {
        match p {
            ProfileArg::StateGridLocal => Self::StateGridLocal,
            ProfileArg::StateGridRemote => Self::StateGridRemote,
            ProfileArg::Iec62055 => Self::Iec62055,
        }
    }
}

#[derive(Debug, clap::Args)]
struct SimulateArgs {
    /// Engine profile.
    #[arg(long, value_enum)]
    profile: ProfileArg,
    /// Tariff file (TOML or JSON, as for `amikit tariff`).
    #[arg(long)]
    tariff: PathBuf,
    /// Events file (TOML or JSON; see `examples/events/`).
    #[arg(long)]
    events: PathBuf,
}

pub(crate) fn run(args: &Args, printer: &Printer) -> Result<(), CliError> {
    match &args.command {
        Sub::Simulate(a) => simulate(a, printer),
    }
}

// ---- the events file ---------------------------------------------------------------------------

/// An events file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsFile {
    /// What the scenario shows.
    #[serde(default)]
    description: Option<String>,
    /// Credit at the start.
    opening_balance: Money,
    /// Last purchase count and order number already used (default 0 / 0).
    #[serde(default)]
    last_sequence: u32,
    #[serde(default)]
    last_order: u64,
    /// Changes to the profile's parameters.
    #[serde(default)]
    params: ParamsDef,
    /// The events, in time order.
    events: Vec<EventDef>,
}

/// A threshold: an amount, or `"off"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Setting {
    Amount(Money),
    Word(String),
}

impl Setting {
    fn get(&self, name: &str) -> Result<Option<Money>, CliError> {
        match self {
            Self::Amount(m) => Ok(Some(*m)),
            Self::Word(w) if w == "off" => Ok(None),
            Self::Word(w) => Err(CliError::new(format!(
                "params.{name}: {w:?} is neither an amount nor \"off\""
            ))),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ParamsDef {
    alarm1: Option<Setting>,
    alarm2: Option<Setting>,
    overdraft: Option<Setting>,
    emergency_threshold: Option<Setting>,
    reconnect: Option<Money>,
    hoarding: Option<Setting>,
    overload: Option<OverloadDef>,
    friendly: Option<FriendlyDef>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum OverloadDef {
    On {
        limit_w: u32,
        sustain_s: u32,
        reclose_s: u32,
    },
    Word(String),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum FriendlyDef {
    On {
        #[serde(default)]
        daily: Option<DailyDef>,
        #[serde(default)]
        days: Vec<String>,
        #[serde(default)]
        holidays: Vec<Date>,
    },
    Word(String),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct DailyDef {
    from: TimeOfDay,
    to: TimeOfDay,
}

/// One event: a time and what happens.
#[derive(Debug, Deserialize)]
struct EventDef {
    at: DateTime,
    #[serde(flatten)]
    what: What,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
enum What {
    /// Energy consumed since the previous consumption event, in kWh.
    Consume { kwh: Energy },
    /// An amount charged outside the tariff (standing charge, debt instalment).
    Charge { amount: Money },
    /// A payment, identified by purchase count (`sequence`) or order number (`order`).
    TopUp {
        amount: Money,
        #[serde(default)]
        sequence: Option<u32>,
        #[serde(default)]
        order: Option<u64>,
        #[serde(default)]
        source: Option<TopUpSource>,
    },
    /// Money given back.
    Refund {
        amount: Money,
        #[serde(default)]
        sequence: Option<u32>,
        #[serde(default)]
        order: Option<u64>,
    },
    /// Time passes (friendly windows, overload reclose, standing charges).
    Tick,
    /// The customer presses the button.
    Button,
    /// The customer inserts a card.
    Card,
    /// A remote command; `expires` defaults to 10 minutes after `at`.
    Remote {
        command: CommandKind,
        #[serde(default)]
        expires: Option<DateTime>,
        #[serde(default)]
        operator: Option<u32>,
    },
    /// A power sample in watts.
    Load { watts: u32 },
    /// Parameter changes (same fields as `params`).
    Param(ParamsDef),
    /// Power failure and power-up: the engine persists a final snapshot (power-down), loses
    /// its RAM (the tariff charging state too) and restarts from the snapshots it asked to
    /// persist.
    PowerCycle,
    /// The relay position read back from the meter (status word 3, relay bit).
    Relay { closed: bool },
}

fn friendly(def: &FriendlyDef) -> Result<Option<FriendlyCalendar>, CliError> {
    let (daily, days, holidays) = match def {
        FriendlyDef::Word(w) if w == "off" => return Ok(None),
        FriendlyDef::Word(w) => {
            return Err(CliError::new(format!(
                "friendly: {w:?} is neither a calendar nor \"off\""
            )));
        }
        FriendlyDef::On {
            daily,
            days,
            holidays,
        } => (daily, days, holidays),
    };
    let mut mask = 0u8;
    for d in days {
        let day = match d.to_ascii_lowercase().as_str() {
            "monday" => Weekday::Monday,
            "tuesday" => Weekday::Tuesday,
            "wednesday" => Weekday::Wednesday,
            "thursday" => Weekday::Thursday,
            "friday" => Weekday::Friday,
            "saturday" => Weekday::Saturday,
            "sunday" => Weekday::Sunday,
            _ => return Err(CliError::new(format!("friendly.days: unknown day {d:?}"))),
        };
        mask |= weekday_bit(day);
    }
    let daily = daily.as_ref().map(|d| Window {
        start: d.from.minutes(),
        end: d.to.minutes(),
    });
    FriendlyCalendar::new(daily, mask, holidays)
        .map(Some)
        .map_err(|e| CliError::new(format!("friendly: {e}")))
}

fn overload(def: &OverloadDef) -> Result<Option<Overload>, CliError> {
    match def {
        OverloadDef::On {
            limit_w,
            sustain_s,
            reclose_s,
        } => Ok(Some(Overload {
            limit_w: *limit_w,
            sustain_s: *sustain_s,
            reclose_s: *reclose_s,
        })),
        OverloadDef::Word(w) if w == "off" => Ok(None),
        OverloadDef::Word(w) => Err(CliError::new(format!(
            "overload: {w:?} is neither a setting nor \"off\""
        ))),
    }
}

/// The parameter changes of `def`, in a fixed order.
fn params(def: &ParamsDef) -> Result<Vec<Param>, CliError> {
    let mut out = Vec::new();
    if let Some(s) = &def.alarm1 {
        out.push(Param::Alarm1(s.get("alarm1")?));
    }
    if let Some(s) = &def.alarm2 {
        out.push(Param::Alarm2(s.get("alarm2")?));
    }
    if let Some(s) = &def.overdraft {
        out.push(Param::Overdraft(s.get("overdraft")?));
    }
    if let Some(s) = &def.emergency_threshold {
        out.push(Param::EmergencyThreshold(s.get("emergency_threshold")?));
    }
    if let Some(m) = def.reconnect {
        out.push(Param::Reconnect(m));
    }
    if let Some(s) = &def.hoarding {
        out.push(Param::Hoarding(s.get("hoarding")?));
    }
    if let Some(o) = &def.overload {
        out.push(Param::Overload(overload(o)?));
    }
    if let Some(f) = &def.friendly {
        out.push(Param::Friendly(friendly(f)?));
    }
    Ok(out)
}

fn purchase(sequence: Option<u32>, order: Option<u64>, i: usize) -> Result<PurchaseId, CliError> {
    match (sequence, order) {
        (Some(n), None) => Ok(PurchaseId::Sequence(n)),
        (None, Some(o)) => Ok(PurchaseId::Order(o)),
        _ => Err(CliError::new(format!(
            "event {}: give exactly one of `sequence` and `order`",
            i + 1
        ))),
    }
}

/// The engine inputs of one event (a parameter event may hold several).
fn inputs(what: &What, at: Timestamp, i: usize) -> Result<Vec<Input>, CliError> {
    Ok(match what {
        What::Consume { kwh } => vec![Input::Consume { energy: *kwh }],
        What::Charge { amount } => vec![Input::Charge { amount: *amount }],
        What::TopUp {
            amount,
            sequence,
            order,
            source,
        } => vec![Input::TopUp {
            amount: *amount,
            id: purchase(*sequence, *order, i)?,
            source: source.unwrap_or(TopUpSource::Remote),
        }],
        What::Refund {
            amount,
            sequence,
            order,
        } => vec![Input::Refund {
            amount: *amount,
            id: purchase(*sequence, *order, i)?,
        }],
        What::Tick => vec![Input::Tick],
        What::Button => vec![Input::User(UserAction::Button)],
        What::Card => vec![Input::User(UserAction::Card)],
        What::Remote {
            command,
            expires,
            operator,
        } => vec![Input::Remote(Remote {
            kind: *command,
            expires: expires.map_or(at.plus(600), Timestamp::from),
            operator: operator.unwrap_or(0),
        })],
        What::Load { watts } => vec![Input::Load { watts: *watts }],
        What::Param(def) => params(def)?.into_iter().map(Input::SetParam).collect(),
        What::PowerCycle => vec![Input::PowerDown], // the power-up is added by the caller
        What::Relay { closed } => vec![Input::RelayPosition { closed: *closed }],
    })
}

// ---- describing events and outputs ------------------------------------------------------------

fn describe(what: &What) -> String {
    match what {
        What::Consume { kwh } => format!("consume {kwh} kWh"),
        What::Charge { amount } => format!("charge {amount}"),
        What::TopUp {
            amount,
            sequence,
            order,
            source,
        } => {
            let id = sequence.map_or_else(
                || order.map_or(String::new(), |o| format!(" order {o}")),
                |n| format!(" #{n}"),
            );
            let src = source.map_or("remote", source_name);
            format!("top-up {amount}{id} ({src})")
        }
        What::Refund { amount, .. } => format!("refund {amount}"),
        What::Tick => "tick".into(),
        What::Button => "button".into(),
        What::Card => "card inserted".into(),
        What::Remote { command, .. } => format!("remote {}", command.name()),
        What::Load { watts } => format!("load {watts} W"),
        What::Param(_) => "parameter change".into(),
        What::PowerCycle => "power failure, power-up".into(),
        What::Relay { closed: true } => "relay seen closed".into(),
        What::Relay { closed: false } => "relay seen open".into(),
    }
}

fn source_name(s: TopUpSource) -> &'static str {
    match s {
        TopUpSource::Card => "card",
        TopUpSource::Token => "token",
        TopUpSource::Remote => "remote",
        TopUpSource::Counter => "counter",
    }
}

fn causes_text(c: amikit_prepay::Causes) -> String {
    let v: Vec<&str> = c.iter().map(|c| c.name()).collect();
    if v.is_empty() {
        "-".into()
    } else {
        v.join("+")
    }
}

fn output_text(o: &Output) -> String {
    match o {
        Output::Relay(RelayAction::Open { cause, causes }) => format!(
            "RELAY OPEN ({}; causes {})",
            cause.name(),
            causes_text(*causes)
        ),
        Output::Relay(RelayAction::Arm { reason }) => format!(
            "relay allowed to close ({}): waiting for the customer",
            reason.name()
        ),
        Output::Relay(RelayAction::Close { reason }) => {
            format!("RELAY CLOSE ({})", reason.name())
        }
        Output::Command(c) => format!("COMMAND {} ({:?})", c.kind.name(), c.reason),
        Output::Alarm { on: true, level } => format!("alarm on: {}", level.name()),
        Output::Alarm { on: false, level } => format!("alarm off (was {})", level.name()),
        Output::Notify(n) => format!("notify: {}", notify_text(n)),
        Output::Record(r) => record_text(r),
        Output::Persist(s) => format!("persist snapshot #{}", s.generation),
        Output::RelayMismatch {
            commanded,
            observed,
            reissued,
        } => format!(
            "RELAY MISMATCH: commanded {}, seen {}{}",
            commanded.name(),
            observed.name(),
            if *reissued {
                "; re-issued"
            } else {
                "; not re-issued again: needs a person"
            }
        ),
        Output::Reject { reason, .. } => format!("REJECTED: {reason}"),
    }
}

fn notify_text(n: &Notification) -> String {
    match n {
        Notification::LowCredit { net } => format!("low credit ({net} left)"),
        Notification::PaymentReminder { net } => format!("please pay (credit {net})"),
        Notification::EmergencyCreditAvailable { amount } => {
            format!("emergency credit of {amount} available (press the button)")
        }
        Notification::PaymentReceived { amount, net } => {
            format!("payment of {amount} received, credit {net}")
        }
        Notification::Cut { cause } => format!("supply cut ({})", cause.name()),
        Notification::ReconnectAllowed => "supply may be reconnected: press the button".into(),
        Notification::Restored => "supply restored".into(),
    }
}

fn id_text(id: &PurchaseId) -> String {
    match id {
        PurchaseId::Sequence(n) => format!("#{n}"),
        PurchaseId::Order(o) => format!("order {o}"),
    }
}

fn record_text(r: &Record) -> String {
    match r {
        Record::CreditChanged { from, to, net } => {
            format!("credit {} -> {} (net {net})", from.name(), to.name())
        }
        Record::TopUp {
            amount,
            id,
            source,
            repaid,
            debt,
            net,
        } => format!(
            "top-up {amount} {} from {} accepted: debt repaid {repaid} (debt left {debt}), credit {net}",
            id_text(id),
            source_name(*source)
        ),
        Record::Refund { amount, id, net } => {
            format!("refund {amount} {} accepted, net {net}", id_text(id))
        }
        Record::DebtAccrued { amount, debt } => {
            format!("{amount} charged as debt, the wallet being at its floor (debt {debt})")
        }
        Record::Alarm2Restored => "customer restored the alarm-2 cut".into(),
        Record::EmergencySelected => "customer selected emergency credit / overdraft".into(),
        Record::Remote { kind, operator } => {
            format!("remote {} accepted (operator {operator:08X})", kind.name())
        }
        Record::Parameter => "parameter changed".into(),
        Record::Overload { watts, reclose_at } => {
            let at = amikit_prepay::DateTime::try_from(*reclose_at)
                .map_or_else(|_| reclose_at.0.to_string(), |t| t.to_string());
            format!("overload at {watts} W, reclose at {at}")
        }
        Record::Friendly(true) => "friendly-credit window begins".into(),
        Record::Friendly(false) => "friendly-credit window ends".into(),
        Record::PoweredUp { generation } => format!("powered up from snapshot #{generation}"),
    }
}

fn output_json(o: &Output) -> serde_json::Value {
    match o {
        Output::Persist(s) => json!({ "persist": { "generation": s.generation } }),
        o => serde_json::to_value(o).unwrap_or(serde_json::Value::Null),
    }
}

// ---- the simulation ------------------------------------------------------------------------------

fn simulate(a: &SimulateArgs, printer: &Printer) -> Result<(), CliError> {
    let (def, tariff) = load_tariff(&a.tariff)?;
    let file: EventsFile = load(&a.events, "events")?;
    let profile = Profile::from(a.profile);
    let mut config = profile.config();
    for p in params(&file.params)? {
        config
            .apply(p)
            .map_err(|e| CliError::new(format!("params: {e}")))?;
    }
    let mut engine = Engine::new(config, file.opening_balance)
        .map_err(|e| CliError::new(format!("params: {e}")))?
        .with_purchases(file.last_sequence, file.last_order);
    let mut state = ChargeState::new();
    // The meter's EEPROM: the two newest snapshots the engine asked to persist.
    let mut slots: [Option<Snapshot>; 2] = [None, None];
    let currency = def.currency.clone().unwrap_or_default();

    let mut text = String::new();
    let _ = writeln!(
        text,
        "profile {}, tariff {}, opening balance {} {currency}",
        profile.name(),
        def.name.as_deref().unwrap_or("(unnamed)"),
        file.opening_balance
    );
    if let Some(d) = &file.description {
        let _ = writeln!(text, "{d}");
    }
    let mut timeline = Vec::new();
    let mut last: Option<DateTime> = None;
    let (mut cuts, mut restores, mut rejections) = (0u32, 0u32, 0u32);
    for (i, ev) in file.events.iter().enumerate() {
        if last.is_some_and(|l| ev.at < l) {
            return Err(CliError::new(format!(
                "event {} at {}: events must be in time order",
                i + 1,
                ev.at
            )));
        }
        last = Some(ev.at);
        let now = Timestamp::from(ev.at);
        let mut outs: Vec<Output> = Vec::new();
        for input in inputs(&ev.what, now, i)? {
            let mut pricer = TariffPricer::new(&tariff, &mut state);
            engine.handle(now, input, &mut pricer, &mut outs);
        }
        let mut stored = 0;
        if matches!(ev.what, What::PowerCycle) {
            for o in &outs {
                if let Output::Persist(s) = o {
                    slots = [Some(*s), slots.first().copied().flatten()];
                }
            }
            stored = outs.len();
            // The RAM is gone: the engine and the charging state come back from the EEPROM.
            let s = recover(slots.iter().flatten()).map_err(|e| {
                CliError::new(format!(
                    "event {}: power cycle before anything was persisted ({e})",
                    i + 1
                ))
            })?;
            state = ChargeState::new();
            let mut pricer = TariffPricer::new(&tariff, &mut state);
            engine.handle(now, Input::PowerUp(s), &mut pricer, &mut outs);
        }
        for (k, o) in outs.iter().enumerate() {
            match o {
                Output::Persist(s) if k >= stored => {
                    slots = [Some(*s), slots.first().copied().flatten()];
                }
                Output::Notify(Notification::Cut { .. }) => cuts += 1,
                Output::Notify(Notification::Restored) => restores += 1,
                Output::Reject { .. } => rejections += 1,
                _ => {}
            }
        }
        let _ = writeln!(
            text,
            "{}  {:<34} net {:>10}  {:<9} relay {}",
            ev.at,
            describe(&ev.what),
            engine.status().net,
            engine.status().credit.name(),
            engine.status().relay.name()
        );
        for o in outs.iter().filter(|o| !matches!(o, Output::Persist(_))) {
            let _ = writeln!(text, "        {}", output_text(o));
        }
        timeline.push(json!({
            "at": ev.at.to_string(),
            "event": describe(&ev.what),
            "outputs": outs.iter().map(output_json).collect::<Vec<_>>(),
            "state": state_json(&engine),
        }));
    }
    let _ = write!(
        text,
        "end: net {} {currency} (balance {}, debt {}), credit {}, relay {}; {cuts} cuts, {restores} restores, {rejections} rejected inputs",
        engine.status().net,
        engine.status().balance,
        engine.status().debt,
        engine.status().credit.name(),
        engine.status().relay.name()
    );
    let doc = json!({
        "profile": profile.name(),
        "tariff": def.name,
        "currency": def.currency,
        "opening_balance": file.opening_balance,
        "timeline": timeline,
        "final": state_json(&engine),
        "cuts": cuts,
        "restores": restores,
        "rejections": rejections,
    });
    printer.print(text, &doc);
    Ok(())
}

fn state_json(e: &Engine) -> serde_json::Value {
    json!({
        "net": e.status().net,
        "balance": e.status().balance,
        "debt": e.status().debt,
        "credit": e.status().credit,
        "relay": e.status().relay,
        "causes": e.status().causes.iter().map(|c| c.name()).collect::<Vec<_>>(),
        "guarded": e.status().guarded,
        "alarm": e.status().alarm,
    })
}
