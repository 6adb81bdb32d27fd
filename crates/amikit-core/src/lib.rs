#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(test)]
extern crate std;

pub mod bcd;
pub mod calendar;
pub mod decimal;
#[cfg(feature = "serde")]
mod text;
pub mod time;

pub use bcd::BcdError;
pub use calendar::{CalendarError, Date, DateTime, MonthDay, TimeOfDay, Weekday};
pub use decimal::{Decimal, DecimalError, Rounding};
pub use time::Instant;
