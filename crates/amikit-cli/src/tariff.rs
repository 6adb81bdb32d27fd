//! `amikit tariff`: vending quotes and charging register readings with a tariff file.
//!
//! Tariff files and readings files are TOML (`.toml`) or JSON (any other extension).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use amikit_tariff::def::TariffDef;
use amikit_tariff::{
    Charge, ChargeState, DateTime, Energy, LineKind, MeterChange, Money, Quote, Register, Rounding,
    TariffSet, delta_across_change,
};
use serde::Deserialize;
use serde_json::json;

use crate::error::CliError;
use crate::output::Printer;

/// Arguments of `amikit tariff`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Sub,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Quote money -> energy (--money) or energy -> money (--energy), itemised.
    Quote(QuoteArgs),
    /// Charge the consumption between consecutive register readings, itemised per interval.
    Charge(ChargeArgs),
}

/// How quotes round each line to the money quantum (0.0001).
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum RoundingArg {
    /// Toward zero: what a meter debits (remainders carried, none carried yet).
    Down,
    /// Away from zero.
    Up,
    /// Nearest, ties away from zero.
    HalfUp,
    /// Nearest, ties to even.
    HalfEven,
}

impl From<RoundingArg> for Rounding {
    fn from(r: RoundingArg) -> Self {
        match r {
            RoundingArg::Down => Rounding::Down,
            RoundingArg::Up => Rounding::Up,
            RoundingArg::HalfUp => Rounding::HalfUp,
            RoundingArg::HalfEven => Rounding::HalfEven,
        }
    }
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("amount").required(true).args(["money", "energy"])))]
struct QuoteArgs {
    /// Tariff file (.toml or .json).
    #[arg(long, value_name = "FILE")]
    tariff: PathBuf,
    /// Money to spend, e.g. 100 or 99.50: quote the energy it buys.
    #[arg(long, value_name = "AMOUNT")]
    money: Option<String>,
    /// Energy in kWh, e.g. 200 or 12.5: quote what it costs.
    #[arg(long, value_name = "KWH")]
    energy: Option<String>,
    /// Energy already used in the current step period, kWh (default 0).
    #[arg(long, value_name = "KWH", default_value = "0")]
    period_used: String,
    /// Local time of the quote, YYYY-MM-DDTHH:MM[:SS] (needed for time-of-use tariffs).
    #[arg(long, value_name = "ISO")]
    at: Option<String>,
    /// Rounding of each line.
    #[arg(long, value_enum, default_value = "down")]
    rounding: RoundingArg,
}

#[derive(Debug, clap::Args)]
struct ChargeArgs {
    /// Tariff file (.toml or .json).
    #[arg(long, value_name = "FILE")]
    tariff: PathBuf,
    /// Readings file (.toml or .json): `readings = [{ at, kwh, meter_change? }]`, optional
    /// `register_digits` and `period_used`.
    #[arg(long, value_name = "FILE")]
    readings: PathBuf,
}

/// A readings file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReadingsFile {
    /// kWh digits before the decimal point of the register (6 for XXXXXX.XX): it rolls over at
    /// 10^digits kWh. Absent: no rollover.
    #[serde(default)]
    register_digits: Option<u8>,
    /// Billed energy in the current step period at the first reading, kWh.
    #[serde(default)]
    period_used: Option<Energy>,
    /// The readings, oldest first.
    readings: Vec<ReadingRow>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReadingRow {
    at: DateTime,
    kwh: Energy,
    /// The meter was replaced since the previous reading; this reading is the new meter's.
    #[serde(default)]
    meter_change: Option<MeterChangeRow>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MeterChangeRow {
    /// The old meter's register when it was removed, kWh.
    closing: Energy,
    /// The new meter's register when it was installed, kWh.
    opening: Energy,
    /// Register digits of the new meter (default: as before).
    #[serde(default)]
    register_digits: Option<u8>,
}

/// Runs `amikit tariff …`.
pub(crate) fn run(args: &Args, printer: &Printer) -> Result<(), CliError> {
    match &args.command {
        Sub::Quote(a) => quote(a, printer),
        Sub::Charge(a) => charge(a, printer),
    }
}

pub(crate) fn load<T: for<'de> Deserialize<'de>>(path: &Path, what: &str) -> Result<T, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::new(format!("{what} {}: {e}", path.display())))?;
    let is_toml = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("toml"));
    if is_toml {
        toml::from_str(&text).map_err(|e| CliError::new(format!("{what} {}: {e}", path.display())))
    } else {
        serde_json::from_str(&text)
            .map_err(|e| CliError::new(format!("{what} {}: {e}", path.display())))
    }
}

pub(crate) fn load_tariff(path: &Path) -> Result<(TariffDef, TariffSet), CliError> {
    let def: TariffDef = load(path, "tariff")?;
    let set = TariffSet::try_from(&def)
        .map_err(|e| CliError::new(format!("tariff {}: {e}", path.display())))?;
    Ok((def, set))
}

fn parse<T: std::str::FromStr>(text: &str, what: &str) -> Result<T, CliError>
where
    T::Err: std::fmt::Display,
{
    text.trim()
        .parse()
        .map_err(|e| CliError::new(format!("{what} {text:?}: {e}")))
}

fn currency(def: &TariffDef) -> &str {
    def.currency.as_deref().unwrap_or("")
}

fn rate_label(def: &TariffDef, rate: Option<amikit_tariff::Rate>) -> String {
    match rate {
        None => String::new(),
        Some(r) => match def.rate_name(u8::from(r)) {
            Some(n) => n.to_owned(),
            None => format!("rate {}", u8::from(r)),
        },
    }
}

fn levy_label(def: &TariffDef, index: usize, ppm: u32) -> String {
    let pct = Money::from_raw(i64::from(ppm));
    match def.levy_name(index) {
        Some(n) => format!("{n} {}%", trim_zeros(&pct.to_string())),
        None => format!("levy {}%", trim_zeros(&pct.to_string())),
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

fn quote(a: &QuoteArgs, printer: &Printer) -> Result<(), CliError> {
    let (def, set) = load_tariff(&a.tariff)?;
    let at: Option<DateTime> = a.at.as_deref().map(|t| parse(t, "--at")).transpose()?;
    let used: Energy = parse(&a.period_used, "--period-used")?;
    let rounding = Rounding::from(a.rounding);
    let q = match (&a.money, &a.energy) {
        (Some(m), None) => set.quote_money(at, used, parse(m, "--money")?, rounding),
        (None, Some(e)) => set.quote_energy(at, used, parse(e, "--energy")?, rounding),
        _ => return Err(CliError::new("give exactly one of --money and --energy")),
    }
    .map_err(|e| CliError::new(format!("quote: {e}")))?;
    printer.print(quote_text(&def, at, &q), &quote_json(&def, at, &q));
    Ok(())
}

fn quote_text(def: &TariffDef, at: Option<DateTime>, q: &Quote) -> String {
    let cur = currency(def);
    let mut s = String::new();
    if let Some(n) = &def.name {
        let _ = writeln!(s, "{n}");
    }
    let _ = write!(s, "period used {} kWh", q.period_used);
    if let Some(at) = at {
        let _ = write!(s, ", at {at}");
    }
    s.push('\n');
    for l in &q.lines {
        match l.kind {
            LineKind::Energy { rate, step } => {
                let mut what = rate_label(def, rate);
                if let Some(st) = step {
                    if !what.is_empty() {
                        what.push_str(", ");
                    }
                    let _ = write!(what, "step {st}");
                }
                let price = l.unit_price.map(|p| p.to_string()).unwrap_or_default();
                let _ = writeln!(
                    s,
                    "  {:>12} kWh  {:<22} @ {:>9}  {:>14}",
                    l.energy.to_string(),
                    what,
                    price,
                    l.amount.to_string()
                );
            }
            LineKind::Levy { index, ppm } => {
                let _ = writeln!(
                    s,
                    "  {:>12}      {:<22}   {:>9}  {:>14}",
                    "",
                    levy_label(def, usize::from(index), ppm),
                    "",
                    l.amount.to_string()
                );
            }
        }
    }
    let _ = writeln!(s, "energy  {} kWh", q.energy);
    if q.billed_energy != q.energy {
        let _ = writeln!(s, "billed  {} kWh (CT x PT)", q.billed_energy);
    }
    let _ = write!(s, "total   {} {cur}", q.total);
    if let Some(u) = q.unspent {
        let _ = write!(s, "\nunspent {u} {cur}");
    }
    s.trim_end().to_owned()
}

fn quote_json(def: &TariffDef, at: Option<DateTime>, q: &Quote) -> serde_json::Value {
    let lines: Vec<serde_json::Value> = q
        .lines
        .iter()
        .map(|l| match l.kind {
            LineKind::Energy { rate, step } => json!({
                "kind": "energy",
                "rate": rate.map(u8::from),
                "rate_name": rate.and_then(|r| def.rate_name(u8::from(r))),
                "step": step,
                "energy_kwh": l.energy.to_string(),
                "unit_price": l.unit_price.map(|p| p.to_string()),
                "amount": l.amount.to_string(),
            }),
            LineKind::Levy { index, ppm } => json!({
                "kind": "levy",
                "name": def.levy_name(usize::from(index)),
                "percent": trim_zeros(&Money::from_raw(i64::from(ppm)).to_string()),
                "amount": l.amount.to_string(),
            }),
        })
        .collect();
    json!({
        "tariff": def.name,
        "currency": def.currency,
        "at": at.map(|t| t.to_string()),
        "period_used_kwh": q.period_used.to_string(),
        "energy_kwh": q.energy.to_string(),
        "billed_energy_kwh": q.billed_energy.to_string(),
        "consumption": q.consumption.to_string(),
        "levies": q.levy_total.to_string(),
        "total": q.total.to_string(),
        "unspent": q.unspent.map(|u| u.to_string()),
        "lines": lines,
    })
}

struct Interval {
    from: DateTime,
    to: DateTime,
    metered: Energy,
    meter_change: bool,
    charge: Charge,
}

fn register(digits: Option<u8>) -> Result<Register, CliError> {
    match digits {
        None => Ok(Register::UNBOUNDED),
        Some(d) => Register::with_kwh_digits(d)
            .map_err(|_| CliError::new(format!("register_digits {d}: must be 1-15"))),
    }
}

fn charge(a: &ChargeArgs, printer: &Printer) -> Result<(), CliError> {
    let (def, set) = load_tariff(&a.tariff)?;
    let file: ReadingsFile = load(&a.readings, "readings")?;
    let mut reg = register(file.register_digits)?;
    let Some(first) = file.readings.first() else {
        return Err(CliError::new("readings: the file has no readings"));
    };
    let mut state =
        ChargeState::with_period_energy(file.period_used.unwrap_or(Energy::ZERO), first.at);
    state.set_standing_mark(first.at);
    let mut intervals = Vec::new();
    for (i, pair) in file.readings.windows(2).enumerate() {
        let [prev, cur] = pair else { continue };
        let context = |e: &dyn std::fmt::Display| {
            CliError::new(format!(
                "readings {} -> {} (rows {} and {}): {e}",
                prev.at,
                cur.at,
                i + 1,
                i + 2
            ))
        };
        let metered = match &cur.meter_change {
            None => reg.delta(prev.kwh, cur.kwh).map_err(|e| context(&e))?,
            Some(mc) => {
                let new_reg = match mc.register_digits {
                    Some(d) => register(Some(d))?,
                    None => reg,
                };
                let change = MeterChange {
                    closing: mc.closing,
                    opening: mc.opening,
                };
                let d = delta_across_change(reg, prev.kwh, change, new_reg, cur.kwh)
                    .map_err(|e| context(&e))?;
                reg = new_reg;
                d
            }
        };
        let charge = set
            .charge_interval(&mut state, prev.at, cur.at, metered)
            .map_err(|e| context(&e))?;
        intervals.push(Interval {
            from: prev.at,
            to: cur.at,
            metered,
            meter_change: cur.meter_change.is_some(),
            charge,
        });
    }
    let last = file.readings.last().map_or(first.at, |r| r.at);
    let standing = set
        .accrue_standing(&mut state, last)
        .map_err(|e| CliError::new(format!("standing charges: {e}")))?;

    // Totals.
    let sum = |f: &dyn Fn(&Interval) -> Money| -> Result<Money, CliError> {
        intervals.iter().try_fold(Money::ZERO, |acc, i| {
            acc.checked_add(f(i))
                .map_err(|e| CliError::new(format!("totals: {e}")))
        })
    };
    let consumption = sum(&|i| i.charge.consumption)?;
    let levies = sum(&|i| i.charge.levy_total)?;
    let energy_total = intervals.iter().try_fold(Energy::ZERO, |acc, i| {
        acc.checked_add(i.charge.energy)
            .map_err(|e| CliError::new(format!("totals: {e}")))
    })?;
    let total = consumption
        .checked_add(levies)
        .and_then(|m| m.checked_add(standing.total))
        .map_err(|e| CliError::new(format!("totals: {e}")))?;

    let cur = currency(&def);
    let mut text = String::new();
    if let Some(n) = &def.name {
        let _ = writeln!(text, "{n}");
    }
    for i in &intervals {
        let c = &i.charge;
        let mut what = rate_label(&def, c.rate);
        if let Some(st) = c.step {
            if !what.is_empty() {
                what.push_str(", ");
            }
            let _ = write!(what, "step {st}");
        }
        let _ = writeln!(
            text,
            "{} -> {}  {:>12} kWh  {:<20} consumption {:>12}  levies {:>10}  total {:>12}{}{}",
            i.from,
            i.to,
            c.energy.to_string(),
            what,
            c.consumption.to_string(),
            c.levy_total.to_string(),
            c.total.to_string(),
            if c.settled {
                "  (step period settled)"
            } else {
                ""
            },
            if i.meter_change {
                "  (meter changed)"
            } else {
                ""
            },
        );
    }
    let _ = writeln!(text, "energy        {energy_total} kWh");
    let _ = writeln!(text, "consumption   {consumption} {cur}");
    let _ = writeln!(text, "levies        {levies} {cur}");
    if standing.periods > 0 {
        let _ = writeln!(
            text,
            "standing      {} {cur} ({} periods: {} + levies {})",
            standing.total, standing.periods, standing.charge, standing.levy_total
        );
    }
    let _ = write!(text, "total         {total} {cur}");

    let rows: Vec<serde_json::Value> = intervals
        .iter()
        .map(|i| {
            let c = &i.charge;
            json!({
                "from": i.from.to_string(),
                "to": i.to.to_string(),
                "metered_kwh": i.metered.to_string(),
                "billed_kwh": c.energy.to_string(),
                "rate": c.rate.map(u8::from),
                "rate_name": c.rate.and_then(|r| def.rate_name(u8::from(r))),
                "step": c.step,
                "unit_price": c.unit_price.to_string(),
                "consumption": c.consumption.to_string(),
                "levies": c.levy_total.to_string(),
                "total": c.total.to_string(),
                "settled": c.settled,
                "meter_change": i.meter_change,
            })
        })
        .collect();
    let json = json!({
        "tariff": def.name,
        "currency": def.currency,
        "intervals": rows,
        "energy_kwh": energy_total.to_string(),
        "consumption": consumption.to_string(),
        "levies": levies.to_string(),
        "standing": {
            "periods": standing.periods,
            "charge": standing.charge.to_string(),
            "levies": standing.levy_total.to_string(),
            "total": standing.total.to_string(),
        },
        "total": total.to_string(),
        "period_energy_kwh": state.period_energy().to_string(),
        "carried_nanos": i64::from(state.snapshot().carry),
    });
    printer.print(text, &json);
    Ok(())
}
