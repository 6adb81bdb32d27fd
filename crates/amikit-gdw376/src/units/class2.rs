//! AFN 0D (class-2 frozen data): time labels Td_d (format 20), Td_m (format 21) and Td_c
//! (format 15 + density + points) follow each DA/DT in the request and open each reply unit.

use super::codec::{Reader, Writer};
use crate::error::{EncodeError, UnitError};
use crate::format::{Format15, Format20, Format21};

/// The kind of time label an AFN 0D Fn uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TdKind {
    /// Td_d: daily (3 bytes).
    Day,
    /// Td_m: monthly (2 bytes).
    Month,
    /// Td_c: curve (7 bytes).
    Curve,
}

impl TdKind {
    /// The label kind of an AFN 0D Fn, when known.
    #[must_use]
    pub const fn of(fn_: u8) -> Option<TdKind> {
        match fn_ {
            1..=12 | 25..=32 | 41..=43 | 49 | 50 | 153..=156 | 161..=176 | 185..=192 => {
                Some(TdKind::Day)
            }
            17..=24 | 33..=39 | 44 | 51 | 52 | 157..=160 | 177..=184 | 193..=196 => {
                Some(TdKind::Month)
            }
            73..=76 | 81..=95 | 97..=110 | 145..=148 => Some(TdKind::Curve),
            _ => None,
        }
    }
}

/// A frozen-data time label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum TimeLabel {
    /// Td_d: the frozen day.
    Day(Option<Format20>),
    /// Td_m: the frozen month.
    Month(Option<Format21>),
    /// Td_c: curve start, density code, number of points.
    Curve {
        /// Start time.
        start: Option<Format15>,
        /// Density code (1 = 15 min, 2 = 30 min, 3 = 60 min, 254 = 5 min, 255 = 1 min).
        density: u8,
        /// Number of points.
        points: u8,
    },
}

impl TimeLabel {
    /// Parses a label of `kind`.
    ///
    /// # Errors
    ///
    /// [`UnitError::Length`], [`UnitError::Format`].
    pub fn parse(r: &mut Reader<'_>, kind: TdKind) -> Result<Self, UnitError> {
        Ok(match kind {
            TdKind::Day => TimeLabel::Day(r.fmt()?),
            TdKind::Month => TimeLabel::Month(r.fmt()?),
            TdKind::Curve => TimeLabel::Curve {
                start: r.fmt()?,
                density: r.u8()?,
                points: r.u8()?,
            },
        })
    }
    /// Writes the label.
    ///
    /// # Errors
    ///
    /// As [`Writer`].
    pub fn emit(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        match self {
            TimeLabel::Day(d) => w.fmt(d.as_ref()),
            TimeLabel::Month(m) => w.fmt(m.as_ref()),
            TimeLabel::Curve {
                start,
                density,
                points,
            } => {
                w.fmt(start.as_ref())?;
                w.u8(*density)?;
                w.u8(*points)
            }
        }
    }
}
