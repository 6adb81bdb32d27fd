//! Tariff definitions as data: serde structures for JSON and TOML files (features `serde` and
//! `alloc`). A definition is turned into a validated [`TariffSet`](crate::TariffSet) by
//! `TariffSet::try_from(&def)` (see [`crate::validate`]); nothing in a definition is trusted
//! before that.
//!
//! Money, prices and energies are decimal **strings** (`"0.5283"`; integers are accepted as
//! whole units, floating-point numbers are refused). Energies are in kWh. Percentages are
//! decimal strings with up to 4 decimals (`"16"`, `"2.5"`).
//!
//! ```toml
//! name = "Residential, annual steps + peak/valley"
//! currency = "CNY"
//!
//! [tou]
//! rates = [
//!   { id = 1, name = "peak", price = "0.568" },
//!   { id = 2, name = "valley", price = "0.288" },
//! ]
//! [[tou.day_tables]]
//! id = 1
//! periods = [
//!   { from = "08:00", to = "22:00", rate = 1 },
//!   { from = "22:00", to = "08:00", rate = 2 },   # wraps past midnight
//! ]
//!
//! [steps]
//! boundaries = ["2760", "4800"]        # kWh per settlement period
//! prices = ["0", "0.05", "0.30"]       # added to the rate price
//! settlement = { yearly = [{ month = 1, day = 1 }] }
//! ```
//!
//! "0 means disabled" in meter parameters is an absent field here: no `steps` table means no
//! stepped pricing, no `ct`/`pt` means a direct-connected meter, no `standing_charge` means
//! none.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use crate::calendar::{DateTime, MonthDay, TimeOfDay};
use crate::quantity::{Energy, Price};
use crate::tariff::StandingCharge;

/// A tariff file: the current tariff and optionally a passive one.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TariffDef {
    /// A name for people (printed on receipts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Currency code or symbol for people (`"CNY"`, `"KES"`); not used in arithmetic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Flat price per kWh (exactly one of `price` and `tou`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<Price>,
    /// Time-of-use table (exactly one of `price` and `tou`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tou: Option<TouDef>,
    /// Stepped pricing added to the rate price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<StepsDef>,
    /// Standing charge, e.g. `{ per_day = "5.00" }` or `{ per_month = "150" }`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standing_charge: Option<StandingCharge>,
    /// Percentage levies, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub levies: Vec<LevyDef>,
    /// CT ratio (absent: 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ct: Option<u32>,
    /// PT ratio (absent: 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pt: Option<u32>,
    /// A passive tariff and its activation time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passive: Option<Box<PassiveDef>>,
}

/// A passive tariff waiting for its activation time.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PassiveDef {
    /// When it takes over (local time).
    pub activation: DateTime,
    /// The tariff (it may not have its own `passive`).
    pub tariff: TariffDef,
}

/// A time-of-use table.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TouDef {
    /// Rates and their prices.
    pub rates: Vec<RateDef>,
    /// Day tables.
    pub day_tables: Vec<DayTableDef>,
    /// Seasons by start date; may be omitted when there is a single day table (used every
    /// day).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seasons: Vec<SeasonDef>,
    /// Special days (holidays).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub special_days: Vec<SpecialDayDef>,
}

/// One rate.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateDef {
    /// Rate number 1–14 (State Grid: 1 尖, 2 峰, 3 平, 4 谷).
    pub id: u8,
    /// A name for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Price per kWh.
    pub price: Price,
}

/// A day table: periods that must cover the day exactly once.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DayTableDef {
    /// Day table id (any 1–255, referenced by seasons and special days).
    pub id: u8,
    /// The periods.
    pub periods: Vec<PeriodDef>,
}

/// A period `[from, to)` at one rate. `to <= from` wraps past midnight; `from == to` is the
/// whole day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeriodDef {
    /// Start (inclusive).
    pub from: TimeOfDay,
    /// End (exclusive).
    pub to: TimeOfDay,
    /// Rate id.
    pub rate: u8,
}

/// A season from a month-day until the next season.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeasonDef {
    /// First day (`MM-DD`).
    pub from: MonthDay,
    /// Day table used every day unless overridden by `saturday`, `sunday` or `week`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day_table: Option<u8>,
    /// Day table on Saturdays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saturday: Option<u8>,
    /// Day table on Sundays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sunday: Option<u8>,
    /// Day tables Monday…Sunday (overrides the three fields above).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub week: Option<[u8; 7]>,
}

/// A special day.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecialDayDef {
    /// `MM-DD` (every year) or `YYYY-MM-DD` (once).
    pub date: String,
    /// Day table used on it.
    pub day_table: u8,
    /// A name for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Stepped pricing.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepsDef {
    /// Step boundaries in kWh of period energy, strictly increasing (0–6).
    pub boundaries: Vec<Energy>,
    /// Step prices per kWh, one more than boundaries, added to the rate price.
    pub prices: Vec<Price>,
    /// When the period energy is cleared.
    pub settlement: SettlementDef,
}

/// The settlement calendar of steps.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SettlementDef {
    /// Settle on these dates every year (1–4).
    Yearly(Vec<SettlementDateDef>),
    /// Settle every month.
    Monthly {
        /// Day of the month, 1–28.
        day: u8,
        /// Hour, 0–23 (default 0).
        #[serde(default)]
        hour: u8,
    },
}

/// A yearly settlement date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettlementDateDef {
    /// Month, 1–12.
    pub month: u8,
    /// Day, 1–28.
    pub day: u8,
    /// Hour, 0–23 (default 0).
    #[serde(default)]
    pub hour: u8,
}

/// A percentage levy.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LevyDef {
    /// A name for people (`"VAT"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Percentage, a decimal string with up to 4 decimals (`"16"`, `"0.25"`).
    pub percent: String,
    /// True if the levy also applies to standing charges.
    #[serde(default)]
    pub on_standing_charge: bool,
}

impl TariffDef {
    /// The name of rate `id` in the time-of-use table (for receipts).
    #[must_use]
    pub fn rate_name(&self, id: u8) -> Option<&str> {
        self.tou
            .as_ref()?
            .rates
            .iter()
            .find(|r| r.id == id)?
            .name
            .as_deref()
    }

    /// The name of levy `index`.
    #[must_use]
    pub fn levy_name(&self, index: usize) -> Option<&str> {
        self.levies.get(index)?.name.as_deref()
    }
}
