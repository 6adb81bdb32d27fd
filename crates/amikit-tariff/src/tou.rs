//! Time-of-use tables: rates (尖/峰/平/谷 …), day tables of up to 14 periods, seasons (year
//! zones, 时区) with a day table per weekday, and special days (holidays).
//!
//! The model follows DL/T 645 / Q/GDW meter parameters: a day table lists period **start
//! times** with a rate number; a period runs until the next start, and the last one runs
//! through midnight into the time before the first start (so `08:00 peak, 22:00 valley`
//! covers the whole day). Seasons start on a month-day and run until the next season;
//! the last season wraps into the next year before the first one. A special day replaces the
//! season's day table for one date (a specific date beats a recurring one).
//!
//! All tables are fixed-capacity (`heapless`), the same with and without `alloc`.

use heapless::Vec;

use crate::calendar::{Date, DateTime, MonthDay, TimeOfDay};
use crate::error::{Table, TariffError};
use crate::quantity::Price;

/// Most rates a time-of-use table can price (DL/T 645 meters ship 4–12; 14 lets every period
/// of a full day table have its own rate).
pub const MAX_RATES: usize = 14;
/// Most periods in one day table (DL/T 645 日时段数 ≤ 14).
pub const MAX_PERIODS: usize = 14;
/// Most day tables (DL/T 645 日时段表数 ≤ 8).
pub const MAX_DAY_TABLES: usize = 8;
/// Most seasons (DL/T 645 年时区数 ≤ 14).
pub const MAX_SEASONS: usize = 14;
/// Most special days (holidays) per table. DL/T 645 allows 254 public holidays; 64 covers a
/// year of holidays and keeps a tariff under 2 KiB of RAM.
pub const MAX_SPECIAL_DAYS: usize = 64;

/// A time-of-use rate number, 1-based as on meters: by State Grid convention 1 尖 (sharp),
/// 2 峰 (peak), 3 平 (flat), 4 谷 (valley); any 1–[`MAX_RATES`] is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(try_from = "u8", into = "u8")
)]
pub struct Rate(u8);

impl TryFrom<u8> for Rate {
    type Error = TariffError;
    /// Rate `n`, if `1 <= n <= MAX_RATES`; out of range is [`TariffError::TooMany`].
    fn try_from(n: u8) -> Result<Self, TariffError> {
        if n >= 1 && n as usize <= MAX_RATES {
            Ok(Self(n))
        } else {
            Err(TariffError::TooMany {
                table: Table::Rates,
                max: MAX_RATES as u16,
            })
        }
    }
}

impl From<Rate> for u8 {
    /// The rate number (1-based).
    fn from(v: Rate) -> u8 {
        v.0
    }
}

impl Rate {
    /// Rate 1, 尖 sharp (State Grid numbering).
    pub const SHARP: Rate = Rate(1);
    /// Rate 2, 峰 peak.
    pub const PEAK: Rate = Rate(2);
    /// Rate 3, 平 flat (shoulder).
    pub const FLAT: Rate = Rate(3);
    /// Rate 4, 谷 valley.
    pub const VALLEY: Rate = Rate(4);

    const fn slot(self) -> usize {
        (self.0 as usize).saturating_sub(1)
    }
}

/// A day table number, 1-based as on meters (日时段表号).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(try_from = "u8", into = "u8")
)]
pub struct DayTableId(u8);

impl TryFrom<u8> for DayTableId {
    type Error = TariffError;
    /// Day table `n`, if `1 <= n <= MAX_DAY_TABLES`; out of range is [`TariffError::TooMany`].
    fn try_from(n: u8) -> Result<Self, TariffError> {
        if n >= 1 && n as usize <= MAX_DAY_TABLES {
            Ok(Self(n))
        } else {
            Err(TariffError::TooMany {
                table: Table::DayTables,
                max: MAX_DAY_TABLES as u16,
            })
        }
    }
}

impl From<DayTableId> for u8 {
    /// The day table number (1-based).
    fn from(v: DayTableId) -> u8 {
        v.0
    }
}

impl DayTableId {
    const fn slot(self) -> usize {
        (self.0 as usize).saturating_sub(1)
    }
}

/// One period of a day table: from `start` until the next period's start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Period {
    /// When the period starts.
    pub start: TimeOfDay,
    /// The rate in force during the period.
    pub rate: Rate,
}

/// A day table (日时段表): up to [`MAX_PERIODS`] periods by start time.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DayTable {
    periods: Vec<Period, MAX_PERIODS>,
}

impl DayTable {
    /// A day table from periods with strictly increasing start times. The time before the
    /// first start belongs to the last period (it runs through midnight).
    ///
    /// # Errors
    /// [`TariffError::Empty`], [`TariffError::TooMany`], [`TariffError::UnsortedPeriods`]
    /// (reported with day table 0: the table's id is not known here).
    pub fn new(periods: &[Period]) -> Result<Self, TariffError> {
        if periods.is_empty() {
            return Err(TariffError::Empty(Table::Periods));
        }
        let periods = Vec::from_slice(periods).map_err(|_| TariffError::TooMany {
            table: Table::Periods,
            max: MAX_PERIODS as u16,
        })?;
        for (i, w) in periods.windows(2).enumerate() {
            if let [a, b] = w
                && a.start >= b.start
            {
                return Err(TariffError::UnsortedPeriods {
                    day_table: 0,
                    index: u8::try_from(i.saturating_add(1)).unwrap_or(u8::MAX),
                });
            }
        }
        Ok(Self { periods })
    }

    /// A day table with one rate all day.
    #[must_use]
    pub fn all_day(rate: Rate) -> Self {
        let mut periods = Vec::new();
        // Capacity is at least 1.
        let _ = periods.push(Period {
            start: TimeOfDay::MIDNIGHT,
            rate,
        });
        Self { periods }
    }

    /// The periods, by start time.
    #[must_use]
    pub fn periods(&self) -> &[Period] {
        &self.periods
    }

    /// The rate at `t` and the start of the next period today (`None`: the rate runs until
    /// midnight).
    #[must_use]
    pub(crate) fn rate_at(&self, t: TimeOfDay) -> (Rate, Option<TimeOfDay>) {
        // Index of the first period starting after t.
        let next = self.periods.iter().position(|p| p.start > t);
        let current = match next {
            Some(0) | None => self.periods.last(),
            Some(i) => self.periods.get(i.saturating_sub(1)),
        };
        // The table is never empty; Rate 1 is a placeholder that cannot be reached.
        let rate = current.map_or(Rate(1), |p| p.rate);
        (
            rate,
            next.and_then(|i| self.periods.get(i)).map(|p| p.start),
        )
    }
}

/// A season (year zone, 时区): from `start` until the next season, with the day table used
/// on each weekday (index 0 Monday … 6 Sunday). DL/T 645's 周休日特征字 (rest-day mask) plus
/// 周休日日时段表号 map to a week where rest days name another table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Season {
    /// First day of the season (every year).
    pub start: MonthDay,
    /// Day table per weekday, Monday first.
    pub week: [DayTableId; 7],
}

impl Season {
    /// A season using `table` every day of the week.
    #[must_use]
    pub const fn every_day(start: MonthDay, table: DayTableId) -> Self {
        Self {
            start,
            week: [table; 7],
        }
    }
}

/// The date of a special day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpecialDate {
    /// The same month and day every year (e.g. 10-01 National Day).
    Every(MonthDay),
    /// One date (e.g. a lunar-calendar holiday in a given year).
    On(Date),
}

/// A special day (公共假日): its own day table for that date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpecialDay {
    /// The date.
    pub date: SpecialDate,
    /// The day table used on it.
    pub day_table: DayTableId,
}

/// A complete time-of-use table: rate prices, day tables, seasons and special days.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TouTable {
    rates: Vec<Option<Price>, MAX_RATES>,
    day_tables: Vec<DayTable, MAX_DAY_TABLES>,
    seasons: Vec<Season, MAX_SEASONS>,
    special_days: Vec<SpecialDay, MAX_SPECIAL_DAYS>,
}

impl TouTable {
    /// A time-of-use table. `rates[i]` is the price of rate `i + 1` (`None`: the rate is not
    /// used), `day_tables[i]` is day table `i + 1`. Seasons must start on strictly increasing
    /// dates.
    ///
    /// # Errors
    /// [`TariffError`]: empty or over-full tables, a negative price, a period using a rate
    /// without a price, a season or special day naming a missing day table, unsorted seasons,
    /// a repeated special day.
    pub fn new(
        rates: &[Option<Price>],
        day_tables: &[DayTable],
        seasons: &[Season],
        special_days: &[SpecialDay],
    ) -> Result<Self, TariffError> {
        let too_many = |table, max: usize| TariffError::TooMany {
            table,
            max: max as u16,
        };
        let rates: Vec<Option<Price>, MAX_RATES> =
            Vec::from_slice(rates).map_err(|_| too_many(Table::Rates, MAX_RATES))?;
        if rates.iter().all(Option::is_none) {
            return Err(TariffError::Empty(Table::Rates));
        }
        if rates.iter().flatten().any(|p| p.is_negative()) {
            return Err(TariffError::NegativePrice(Table::Rates));
        }
        if day_tables.is_empty() {
            return Err(TariffError::Empty(Table::DayTables));
        }
        let day_tables: Vec<DayTable, MAX_DAY_TABLES> =
            Vec::from_slice(day_tables).map_err(|_| too_many(Table::DayTables, MAX_DAY_TABLES))?;
        for dt in &day_tables {
            for p in dt.periods() {
                if rates.get(p.rate.slot()).copied().flatten().is_none() {
                    return Err(TariffError::UnknownRate { rate: p.rate.0 });
                }
            }
        }
        let table_exists = |id: DayTableId| id.slot() < day_tables.len();
        if seasons.is_empty() {
            return Err(TariffError::Empty(Table::Seasons));
        }
        let seasons: Vec<Season, MAX_SEASONS> =
            Vec::from_slice(seasons).map_err(|_| too_many(Table::Seasons, MAX_SEASONS))?;
        for (i, s) in seasons.iter().enumerate() {
            if let Some(bad) = s.week.iter().find(|id| !table_exists(**id)) {
                return Err(TariffError::UnknownDayTable { day_table: bad.0 });
            }
            if let Some(prev) = i.checked_sub(1).and_then(|j| seasons.get(j))
                && prev.start >= s.start
            {
                return Err(TariffError::UnsortedSeasons {
                    index: u8::try_from(i).unwrap_or(u8::MAX),
                });
            }
        }
        let special_days: Vec<SpecialDay, MAX_SPECIAL_DAYS> = Vec::from_slice(special_days)
            .map_err(|_| too_many(Table::SpecialDays, MAX_SPECIAL_DAYS))?;
        for (i, s) in special_days.iter().enumerate() {
            if !table_exists(s.day_table) {
                return Err(TariffError::UnknownDayTable {
                    day_table: s.day_table.0,
                });
            }
            if special_days.iter().take(i).any(|e| e.date == s.date) {
                return Err(TariffError::DuplicateSpecialDay {
                    index: u8::try_from(i).unwrap_or(u8::MAX),
                });
            }
        }
        Ok(Self {
            rates,
            day_tables,
            seasons,
            special_days,
        })
    }

    /// The price of `rate`, if the table prices it.
    #[must_use]
    pub(crate) fn rate_price(&self, rate: Rate) -> Option<Price> {
        self.rates.get(rate.slot()).copied().flatten()
    }

    /// Rate prices by slot (`[0]` is rate 1).
    #[must_use]
    pub fn rates(&self) -> &[Option<Price>] {
        &self.rates
    }

    /// The day tables (`[0]` is day table 1).
    #[must_use]
    pub fn day_tables(&self) -> &[DayTable] {
        &self.day_tables
    }

    /// The seasons, by start date.
    #[must_use]
    pub fn seasons(&self) -> &[Season] {
        &self.seasons
    }

    /// The special days.
    #[must_use]
    pub fn special_days(&self) -> &[SpecialDay] {
        &self.special_days
    }

    /// The season in force on `date`.
    #[must_use]
    pub(crate) fn season_for(&self, date: Date) -> Option<&Season> {
        let md = date.month_day();
        self.seasons
            .iter()
            .rev()
            .find(|s| s.start <= md)
            .or_else(|| self.seasons.last())
    }

    /// The day table in force on `date`: a special day's, else the season's for the weekday.
    #[must_use]
    pub(crate) fn day_table_for(&self, date: Date) -> Option<(DayTableId, &DayTable)> {
        let special = self
            .special_days
            .iter()
            .find(|s| s.date == SpecialDate::On(date))
            .or_else(|| {
                self.special_days
                    .iter()
                    .find(|s| s.date == SpecialDate::Every(date.month_day()))
            });
        let id = match special {
            Some(s) => s.day_table,
            None => *self.season_for(date)?.week.get(date.weekday().index())?,
        };
        Some((id, self.day_tables.get(id.slot())?))
    }

    /// The rate and its price at `at`, and when the day table's next period starts (`None`:
    /// at the next midnight, when the day table itself may change).
    #[must_use]
    pub(crate) fn rate_at(&self, at: DateTime) -> Option<(Rate, Price, Option<TimeOfDay>)> {
        let (_, table) = self.day_table_for(at.date())?;
        let (rate, next) = table.rate_at(at.time_of_day());
        Some((rate, self.rate_price(rate)?, next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tod(s: &str) -> TimeOfDay {
        s.parse().unwrap()
    }
    fn p(s: &str) -> Price {
        Price::parse(s).unwrap()
    }

    /// A four-rate table in the State Grid style:
    /// day table 1 (workdays): 00:00 valley, 08:00 peak, 11:00 sharp, 13:00 peak,
    ///   17:00 flat, 22:00 valley;
    /// day table 2 (weekends/holidays): 00:00 valley, 08:00 flat, 22:00 valley;
    /// season 1 from 01-01, season 2 (summer) from 07-01 where weekdays use table 1 but
    /// Saturdays too, season 3 from 09-01 like season 1.
    fn table() -> TouTable {
        let dt1 = DayTable::new(&[
            Period {
                start: tod("00:00"),
                rate: Rate::VALLEY,
            },
            Period {
                start: tod("08:00"),
                rate: Rate::PEAK,
            },
            Period {
                start: tod("11:00"),
                rate: Rate::SHARP,
            },
            Period {
                start: tod("13:00"),
                rate: Rate::PEAK,
            },
            Period {
                start: tod("17:00"),
                rate: Rate::FLAT,
            },
            Period {
                start: tod("22:00"),
                rate: Rate::VALLEY,
            },
        ])
        .unwrap();
        let dt2 = DayTable::new(&[
            Period {
                start: tod("08:00"),
                rate: Rate::FLAT,
            },
            Period {
                start: tod("22:00"),
                rate: Rate::VALLEY,
            },
        ])
        .unwrap();
        let one = DayTableId::try_from(1).unwrap();
        let two = DayTableId::try_from(2).unwrap();
        let workweek = [one, one, one, one, one, two, two];
        let summer = [one, one, one, one, one, one, two];
        TouTable::new(
            &[
                Some(p("1.2")),
                Some(p("0.9")),
                Some(p("0.6")),
                Some(p("0.3")),
            ],
            &[dt1, dt2],
            &[
                Season {
                    start: MonthDay::new(1, 1).unwrap(),
                    week: workweek,
                },
                Season {
                    start: MonthDay::new(7, 1).unwrap(),
                    week: summer,
                },
                Season {
                    start: MonthDay::new(9, 1).unwrap(),
                    week: workweek,
                },
            ],
            &[
                SpecialDay {
                    date: SpecialDate::Every(MonthDay::new(10, 1).unwrap()),
                    day_table: two,
                },
                SpecialDay {
                    date: SpecialDate::On(Date::new(2024, 9, 30).unwrap()),
                    day_table: two,
                },
            ],
        )
        .unwrap()
    }

    fn rate_at(t: &TouTable, s: &str) -> (u8, Option<TimeOfDay>) {
        let (r, _, n) = t.rate_at(s.parse().unwrap()).unwrap();
        (r.0, n)
    }

    #[test]
    fn every_period_boundary_of_day_table_1() {
        // 2024-01-03 is a Wednesday in season 1 -> table 1.
        let t = table();
        assert_eq!(rate_at(&t, "2024-01-03T00:00"), (4, Some(tod("08:00"))));
        assert_eq!(rate_at(&t, "2024-01-03T07:59:59"), (4, Some(tod("08:00"))));
        assert_eq!(rate_at(&t, "2024-01-03T08:00"), (2, Some(tod("11:00"))));
        assert_eq!(rate_at(&t, "2024-01-03T10:59"), (2, Some(tod("11:00"))));
        assert_eq!(rate_at(&t, "2024-01-03T11:00"), (1, Some(tod("13:00"))));
        assert_eq!(rate_at(&t, "2024-01-03T13:00"), (2, Some(tod("17:00"))));
        assert_eq!(rate_at(&t, "2024-01-03T17:00"), (3, Some(tod("22:00"))));
        assert_eq!(rate_at(&t, "2024-01-03T21:59"), (3, Some(tod("22:00"))));
        assert_eq!(rate_at(&t, "2024-01-03T22:00"), (4, None));
        assert_eq!(rate_at(&t, "2024-01-03T23:59:59"), (4, None));
    }

    #[test]
    fn wrap_before_first_start() {
        // Table 2 starts at 08:00; 00:00-07:59 belongs to the last period (22:00 valley).
        // 2024-01-06 is a Saturday in season 1 -> table 2.
        let t = table();
        assert_eq!(rate_at(&t, "2024-01-06T03:00"), (4, Some(tod("08:00"))));
        assert_eq!(rate_at(&t, "2024-01-06T08:00"), (3, Some(tod("22:00"))));
    }

    #[test]
    fn every_season_boundary_and_weekday() {
        let t = table();
        let id = |s: &str| t.day_table_for(s.parse().unwrap()).unwrap().0.0;
        // Saturday 2024-06-29 (season 1): table 2; Saturday 2024-07-06 (season 2): table 1.
        assert_eq!(id("2024-06-29"), 2);
        assert_eq!(id("2024-06-30"), 2); // Sunday, season 1
        assert_eq!(id("2024-07-01"), 1); // Monday, first day of season 2
        assert_eq!(id("2024-07-06"), 1); // Saturday in summer
        assert_eq!(id("2024-07-07"), 2); // Sunday in summer
        assert_eq!(id("2024-08-31"), 1); // Saturday, last day of season 2
        assert_eq!(id("2024-09-01"), 2); // Sunday, season 3 starts
        assert_eq!(id("2024-09-07"), 2); // Saturday in season 3
        assert_eq!(id("2024-12-31"), 1); // Tuesday, season 3
        assert_eq!(id("2025-01-01"), 1); // Wednesday, season 1 again
    }

    #[test]
    fn special_days_override() {
        let t = table();
        let id = |s: &str| t.day_table_for(s.parse().unwrap()).unwrap().0.0;
        assert_eq!(id("2024-10-01"), 2); // Tuesday, recurring holiday
        assert_eq!(id("2025-10-01"), 2); // Wednesday, recurring holiday
        assert_eq!(id("2024-09-30"), 2); // Monday, one-off date
        assert_eq!(id("2025-09-30"), 1); // Tuesday, one-off date was 2024 only
    }

    #[test]
    fn seasons_wrap_into_the_next_year() {
        // Seasons starting 03-01 and 11-01: January belongs to the 11-01 season.
        let one = DayTableId::try_from(1).unwrap();
        let two = DayTableId::try_from(2).unwrap();
        let t = TouTable::new(
            &[Some(p("1")), Some(p("2"))],
            &[
                DayTable::all_day(Rate::try_from(1).unwrap()),
                DayTable::all_day(Rate::try_from(2).unwrap()),
            ],
            &[
                Season::every_day(MonthDay::new(3, 1).unwrap(), one),
                Season::every_day(MonthDay::new(11, 1).unwrap(), two),
            ],
            &[],
        )
        .unwrap();
        let id = |s: &str| t.day_table_for(s.parse().unwrap()).unwrap().0.0;
        assert_eq!(id("2024-01-15"), 2);
        assert_eq!(id("2024-02-29"), 2);
        assert_eq!(id("2024-03-01"), 1);
        assert_eq!(id("2024-10-31"), 1);
        assert_eq!(id("2024-11-01"), 2);
    }

    #[test]
    fn validation_errors() {
        let one = DayTableId::try_from(1).unwrap();
        let jan1 = MonthDay::new(1, 1).unwrap();
        let dt = DayTable::all_day(Rate::try_from(2).unwrap());
        assert_eq!(
            TouTable::new(
                &[Some(p("1"))],
                core::slice::from_ref(&dt),
                &[Season::every_day(jan1, one)],
                &[]
            ),
            Err(TariffError::UnknownRate { rate: 2 })
        );
        assert_eq!(
            TouTable::new(
                &[None, Some(p("-0.01"))],
                core::slice::from_ref(&dt),
                &[Season::every_day(jan1, one)],
                &[]
            ),
            Err(TariffError::NegativePrice(Table::Rates))
        );
        assert_eq!(
            TouTable::new(
                &[None, Some(p("1"))],
                core::slice::from_ref(&dt),
                &[Season::every_day(jan1, DayTableId::try_from(2).unwrap())],
                &[]
            ),
            Err(TariffError::UnknownDayTable { day_table: 2 })
        );
        assert_eq!(
            TouTable::new(&[None, Some(p("1"))], core::slice::from_ref(&dt), &[], &[]),
            Err(TariffError::Empty(Table::Seasons))
        );
        assert_eq!(
            TouTable::new(
                &[None, Some(p("1"))],
                core::slice::from_ref(&dt),
                &[Season::every_day(jan1, one), Season::every_day(jan1, one)],
                &[]
            ),
            Err(TariffError::UnsortedSeasons { index: 1 })
        );
        let hol = SpecialDay {
            date: SpecialDate::Every(jan1),
            day_table: one,
        };
        assert_eq!(
            TouTable::new(
                &[None, Some(p("1"))],
                &[dt],
                &[Season::every_day(jan1, one)],
                &[hol, hol]
            ),
            Err(TariffError::DuplicateSpecialDay { index: 1 })
        );
        assert_eq!(
            DayTable::new(&[
                Period {
                    start: tod("08:00"),
                    rate: Rate::PEAK
                },
                Period {
                    start: tod("08:00"),
                    rate: Rate::VALLEY
                },
            ]),
            Err(TariffError::UnsortedPeriods {
                day_table: 0,
                index: 1
            })
        );
        assert_eq!(DayTable::new(&[]), Err(TariffError::Empty(Table::Periods)));
        let many = [Period {
            start: tod("00:00"),
            rate: Rate::PEAK,
        }; 15];
        assert_eq!(
            DayTable::new(&many),
            Err(TariffError::TooMany {
                table: Table::Periods,
                max: 14
            })
        );
        assert!(Rate::try_from(0).is_err() && Rate::try_from(15).is_err());
    }
}
