//! Billing: register readings → tariff charges → the customer's remote-fee-control engine.
//!
//! * A reading is a register value (Wh) at a simulated time. The consumption since the
//!   previous reading is [`Register::delta`] (rollover at the 6 integer kWh digits of AFN 0C
//!   F129's format 14), priced over the interval `[previous, current)` with the customer's
//!   tariff through [`IntervalPricer`], which charges each interval with
//!   [`TariffSet::charge_apportioned`](amikit_tariff::TariffSet::charge_apportioned): the
//!   energy of an interval across a price change is split in proportion to the time on
//!   either side.
//! * The money goes into the customer's `amikit-prepay` [`Engine`](amikit_prepay::Engine) with the State Grid remote
//!   profile ([`Profile::StateGridRemote`]) as [`Input::Consume`](amikit_prepay::Input::Consume); a [`Input::Tick`](amikit_prepay::Input::Tick) follows
//!   for standing charges. Payments are [`Input::TopUp`](amikit_prepay::Input::TopUp) with the customer's purchase count
//!   ([`PurchaseId::Sequence`](amikit_prepay::PurchaseId::Sequence)), so the engine refuses a payment applied twice even if the DB
//!   unique key were bypassed.
//! * The engine's decisions come back as [`Output`](amikit_prepay::Output)s: commands for the command tracker,
//!   notifications for the SMS outbox, records for the event log.
//!
//! Thresholds from the site file: `alarm_threshold` is alarm 1 (reminder); `trip_threshold`
//! `t` becomes alarm 2 when `t > 0` (cut at or below `t`), nothing when `t = 0` (cut at or below
//! zero), an overdraft of `|t|` when `t < 0` (cut at or below `t`).

use amikit_prepay::{Config, Notification, PriceError, Pricer, Profile, Timestamp};
use amikit_tariff::{ChargeState, DateTime, Energy, Money, Register, TariffSet};

use super::error::{MasterError, MasterResult};
use crate::site::SiteMeter;

/// The register of AFN 0C F129 (format 14, `XXXXXX.XXXX` kWh): rolls over at 10^6 kWh.
pub fn register() -> Register {
    Register::with_kwh_digits(6).unwrap_or(Register::UNBOUNDED)
}

/// Why a register reading is not believed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Implausible {
    /// Below the previous reading and not a believable rollover (a wrap of half the
    /// register or more, [`Register::delta`]).
    Backwards,
    /// A rollover implying more energy than the meter's maximum demand allows.
    Wrap,
    /// More energy than the meter's maximum demand × the elapsed time (plus the margin).
    Jump,
    /// Negative, or at/above the register's modulus.
    OutOfRange,
}

impl Implausible {
    /// As stored and answered (`backwards`, `wrap`, `jump`, `out_of_range`).
    pub fn name(self) -> &'static str {
        match self {
            Implausible::Backwards => "backwards",
            Implausible::Wrap => "wrap",
            Implausible::Jump => "jump",
            Implausible::OutOfRange => "out_of_range",
        }
    }
}

/// The consumption between the last good reading `previous` (at `previous_at`) and
/// `current` (at `at`, simulated seconds), if it is plausible: the register's delta (a
/// rollover only when the previous value was within reach of the modulus) of at most
/// `max_demand_w` × the elapsed time + `margin`.
///
/// # Errors
/// Why it is not plausible.
pub fn plausible_delta(
    previous: Energy,
    previous_at: i64,
    current: Energy,
    at: i64,
    max_demand_w: i64,
    margin: Energy,
) -> Result<Energy, Implausible> {
    let delta = match register().delta(previous, current) {
        Ok(d) => d,
        Err(amikit_tariff::ChargeError::ReadingOutOfRange { .. }) => {
            return Err(Implausible::OutOfRange);
        }
        Err(_) => return Err(Implausible::Backwards),
    };
    let elapsed = i128::from(at.saturating_sub(previous_at).max(0));
    let bound = i128::from(max_demand_w.max(0)) * elapsed / 3600 + i128::from(margin.wh());
    if i128::from(delta.wh()) > bound {
        return Err(if current < previous {
            Implausible::Wrap
        } else {
            Implausible::Jump
        });
    }
    Ok(delta)
}

/// Parses a money amount written as a decimal string (`"12.50"`).
pub fn money_from_text(s: &str) -> MasterResult<Money> {
    Money::parse(s.trim()).map_err(|e| MasterError::config(format!("money {s:?}"), e))
}

/// Parses an energy in kWh written as a decimal string.
pub fn energy_from_kwh_text(s: &str) -> MasterResult<Energy> {
    Energy::parse(s.trim()).map_err(|e| MasterError::config(format!("energy {s:?}"), e))
}

/// The engine configuration of a remote-fee-control customer from its meter's site entry.
pub fn engine_config(m: &SiteMeter) -> MasterResult<Config> {
    let mut config = Profile::StateGridRemote.config();
    let alarm = money_from_text(&m.alarm_threshold)?;
    let trip = money_from_text(&m.trip_threshold)?;
    config.limits.alarm1 = Some(alarm);
    config.limits.alarm2 = None;
    config.limits.overdraft = None;
    if trip.is_positive() {
        config.limits.alarm2 = Some(trip);
        // Leaving the hard cut must leave the alarm-2 cut too (amikit-prepay refuses less).
        config.limits.reconnect = trip;
    } else if trip.is_negative() {
        config.limits.overdraft =
            Some(trip.checked_neg().map_err(|e| {
                MasterError::config(format!("meter {}: trip threshold", m.address), e)
            })?);
    }
    config.limits.hoarding = match &m.hoarding_limit {
        Some(h) => Some(money_from_text(h)?),
        None => None,
    };
    config
        .validate()
        .map_err(|e| MasterError::config(format!("meter {}: thresholds", m.address), e))?;
    Ok(config)
}

/// Prices consumption between two readings: the energy of `[from, to)`, split at price
/// changes.
#[derive(Debug)]
pub struct IntervalPricer<'a> {
    /// The customer's tariff.
    pub tariff: &'a TariffSet,
    /// The customer's charging state.
    pub state: &'a mut ChargeState,
    /// Time of the previous reading.
    pub from: DateTime,
    /// Time of this reading.
    pub to: DateTime,
}

impl Pricer for IntervalPricer<'_> {
    fn price(&mut self, _at: Timestamp, energy: Energy) -> Result<Money, PriceError> {
        let c = self
            .tariff
            .charge_apportioned(self.state, self.from, self.to, energy)?;
        Ok(c.total)
    }

    fn standing(&mut self, at: Timestamp) -> Result<Money, PriceError> {
        let at = DateTime::try_from(at).map_err(|_| PriceError::Time)?;
        Ok(self.tariff.accrue_standing(self.state, at)?.total)
    }
}

/// The SMS text of a notification.
pub fn notification_text(n: &Notification, customer: &str) -> String {
    match n {
        Notification::LowCredit { net } => format!(
            "Dear {customer}, your electricity balance is {} yuan. Please top up soon.",
            yuan(*net)
        ),
        Notification::PaymentReminder { net } => format!(
            "Dear {customer}, payment reminder: your electricity balance is {} yuan. \
             Supply will be cut when it runs out.",
            yuan(*net)
        ),
        Notification::EmergencyCreditAvailable { amount } => format!(
            "Dear {customer}, an overdraft of {} yuan is available.",
            yuan(*amount)
        ),
        Notification::PaymentReceived { amount, net } => format!(
            "Dear {customer}, we received your payment of {} yuan; your balance is {} yuan.",
            yuan(*amount),
            yuan(*net)
        ),
        Notification::Cut { cause } => format!(
            "Dear {customer}, your supply has been cut ({}). Please pay to restore it.",
            cause.name()
        ),
        Notification::ReconnectAllowed => {
            format!("Dear {customer}, supply may be restored: press the button on your meter.")
        }
        Notification::Restored => format!("Dear {customer}, your supply is back on."),
    }
}

/// The short kind name of a notification (`outbox.channel` stays `sms`).
pub fn notification_kind(n: &Notification) -> &'static str {
    match n {
        Notification::LowCredit { .. } => "low_credit",
        Notification::PaymentReminder { .. } => "payment_reminder",
        Notification::EmergencyCreditAvailable { .. } => "overdraft_available",
        Notification::PaymentReceived { .. } => "payment_received",
        Notification::Cut { .. } => "cut",
        Notification::ReconnectAllowed => "reconnect_allowed",
        Notification::Restored => "restored",
    }
}

/// Money with two decimals (yuan and fen), rounded half away from zero, for messages.
pub fn yuan(m: Money) -> String {
    let raw = i128::from(m.raw());
    let fen = if raw >= 0 {
        (raw + 50) / 100
    } else {
        (raw - 50) / 100
    };
    let sign = if fen < 0 { "-" } else { "" };
    let fen = fen.abs();
    format!("{sign}{}.{:02}", fen / 100, fen % 100)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::Site;
    use amikit_prepay::{
        CommandKind, CreditState, Engine, Input, NoCharge, Output, PurchaseId, TopUpSource,
    };

    fn tariff() -> TariffSet {
        let site = Site::demo();
        let path = site
            .tariff_path("residential", &crate::site::workspace_root())
            .unwrap();
        TariffSet::try_from(&crate::site::read_tariff_file(&path).unwrap()).unwrap()
    }

    fn dt(s: &str) -> DateTime {
        s.parse().unwrap()
    }

    #[test]
    fn money_text_and_yuan() {
        assert_eq!(yuan(money_from_text("12.345").unwrap()), "12.35");
        assert_eq!(yuan(money_from_text("-0.004").unwrap()), "0.00");
        assert_eq!(yuan(money_from_text("-3.999").unwrap()), "-4.00");
        assert!(money_from_text("1.2.3").is_err());
    }

    #[test]
    fn an_interval_across_the_peak_valley_change_is_split_by_time() {
        // Demo tariff: peak 0.568 from 08:00 to 22:00, valley 0.288 otherwise; first step
        // (no step price below 2760 kWh a year).
        let t = tariff();
        let mut st = ChargeState::new();
        // 21:00 → 23:00, 2 kWh: 1 kWh at peak (0.568) + 1 kWh at valley (0.288) = 0.856.
        let m = t
            .charge_apportioned(
                &mut st,
                dt("2026-03-02T21:00"),
                dt("2026-03-02T23:00"),
                Energy::from_wh(2000),
            )
            .unwrap()
            .total;
        assert_eq!(m, Money::parse("0.856").unwrap());
        // The same tariff refuses the whole interval at once.
        let mut st2 = ChargeState::new();
        assert!(matches!(
            t.charge_interval(
                &mut st2,
                dt("2026-03-02T21:00"),
                dt("2026-03-02T23:00"),
                Energy::from_wh(2000)
            ),
            Err(amikit_tariff::ChargeError::CrossesPriceChange(_))
        ));
        // Across midnight and 08:00: 06:00 → 10:00, 4 kWh: 2 kWh valley + 2 kWh peak
        // = 0.576 + 1.136 = 1.712.
        let mut st3 = ChargeState::new();
        let m = t
            .charge_apportioned(
                &mut st3,
                dt("2026-03-03T06:00"),
                dt("2026-03-03T10:00"),
                Energy::from_wh(4000),
            )
            .unwrap()
            .total;
        assert_eq!(m, Money::parse("1.712").unwrap());
    }

    #[test]
    fn implausible_readings_are_named() {
        let kwh = |s: &str| Energy::parse(s).unwrap();
        let one = kwh("1");
        // 10 kW for one hour: up to 10 kWh + 1 kWh margin.
        assert_eq!(
            plausible_delta(kwh("100"), 0, kwh("111"), 3600, 10_000, one),
            Ok(kwh("11"))
        );
        assert_eq!(
            plausible_delta(kwh("100"), 0, kwh("111.001"), 3600, 10_000, one),
            Err(Implausible::Jump)
        );
        // 2210 → 0: a "wrap" of almost the whole register is a backwards read.
        assert_eq!(
            plausible_delta(kwh("2210"), 0, kwh("0"), 900, 10_000, one),
            Err(Implausible::Backwards)
        );
        // A rollover near the modulus within max demand is consumption; one that is not is
        // refused.
        assert_eq!(
            plausible_delta(kwh("999999.5"), 0, kwh("0.7"), 900, 10_000, one),
            Ok(kwh("1.2"))
        );
        assert_eq!(
            plausible_delta(kwh("900000"), 0, kwh("1"), 900, 10_000, one),
            Err(Implausible::Wrap)
        );
        assert_eq!(
            plausible_delta(kwh("1"), 0, kwh("1000000"), 900, 10_000, one),
            Err(Implausible::OutOfRange)
        );
        // No time elapsed: only the margin.
        assert_eq!(
            plausible_delta(kwh("5"), 10, kwh("6"), 10, 10_000, one),
            Ok(one)
        );
    }

    #[test]
    fn register_rollover_is_consumption() {
        let r = register();
        let before = Energy::parse("999999.5").unwrap();
        let after = Energy::parse("0.7").unwrap();
        assert_eq!(r.delta(before, after).unwrap(), Energy::from_wh(1200));
    }

    #[test]
    fn thresholds_map_onto_the_remote_profile() {
        let site = Site::demo();
        let li = site.meters().map(|(_, m)| m).next().unwrap().clone();
        let cfg = engine_config(&li).unwrap();
        assert_eq!(cfg.limits.alarm1, Some(Money::parse("8").unwrap()));
        assert_eq!(cfg.limits.overdraft, None);
        // Run it down through the alarm to the trip, then pay: reminder, trip, allow close.
        let mut e = Engine::new(cfg, Money::parse("12").unwrap()).unwrap();
        let now = Timestamp(1_800_000_000);
        let _ = e.step(now, Input::Tick, &mut NoCharge);
        let fx = e.step(
            now,
            Input::Charge {
                amount: Money::parse("4.5").unwrap(),
            },
            &mut NoCharge,
        );
        assert!(
            fx.iter()
                .any(|o| matches!(o, Output::Notify(Notification::LowCredit { .. })))
        );
        let fx = e.step(
            now,
            Input::Charge {
                amount: Money::parse("8").unwrap(),
            },
            &mut NoCharge,
        );
        assert_eq!(e.status().credit, CreditState::Exhausted);
        assert!(fx.iter().any(|o| matches!(
            o,
            Output::Command(c) if c.kind == CommandKind::Trip
        )));
        let pay = |seq| Input::TopUp {
            amount: Money::parse("20").unwrap(),
            id: PurchaseId::Sequence(seq),
            source: TopUpSource::Counter,
        };
        let fx = e.step(now, pay(1), &mut NoCharge);
        assert!(fx.iter().any(|o| matches!(
            o,
            Output::Command(c) if c.kind == CommandKind::AllowClose && c.is_restoring()
        )));
        // The same purchase count again is refused.
        let fx = e.step(now, pay(1), &mut NoCharge);
        assert!(fx.iter().any(|o| matches!(o, Output::Reject { .. })));
        assert_eq!(e.status().net, Money::parse("19.5").unwrap());
        // A negative trip threshold is an overdraft; a positive one is alarm 2.
        let mut m = li.clone();
        m.trip_threshold = "-5".into();
        assert_eq!(
            engine_config(&m).unwrap().limits.overdraft,
            Some(Money::parse("5").unwrap())
        );
        m.trip_threshold = "2".into();
        assert_eq!(
            engine_config(&m).unwrap().limits.alarm2,
            Some(Money::parse("2").unwrap())
        );
    }
}
