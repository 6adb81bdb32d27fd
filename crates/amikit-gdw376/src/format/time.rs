//! Date and time formats (BCD). Values are reported as sent: no range or calendar checks beyond
//! BCD (real devices send non-chronological event times: captured traffic), but [`is_plausible`]
//! methods say whether the fields are in range.

use core::fmt;

use amikit_core::DateTime;

use super::{DataFormat, bcd2, put, take, to_bcd2};
use crate::error::FormatError;

macro_rules! bcd_time {
    ($(#[$doc:meta])* $name:ident, number = $num:expr, fields = [$($field:ident : $fdoc:literal),+], display = $disp:literal, display_order = [$($d:ident),+], ranges = [$($rf:ident in $lo:literal ..= $hi:literal),*]) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $name {
            $(#[doc = $fdoc] pub $field: u8,)+
        }

        impl $name {
            /// True when every field is in its calendar range.
            #[must_use]
            #[allow(unused_comparisons, clippy::absurd_extreme_comparisons)]
            pub const fn is_plausible(&self) -> bool {
                true $(&& self.$rf >= $lo && self.$rf <= $hi)*
            }
        }

        impl DataFormat for $name {
            const LEN: usize = [$(stringify!($field)),+].len();
            const NUMBER: u8 = $num;
#[inline]
            fn parse(bytes: &[u8]) -> Result<Self, FormatError> {
                let b: [u8; Self::LEN] = take(bytes)?;
                let mut it = b.iter().copied().enumerate();
                Ok($name {
                    $($field: {
                        let (i, v) = it.next().ok_or(FormatError::Truncated { needed: Self::LEN, available: 0 })?;
                        bcd2(v, i)?
                    },)+
                })
            }
            fn emit(&self, out: &mut [u8]) -> Result<(), FormatError> {
                put(out, [$(to_bcd2(self.$field)?),+])
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, $disp, $(self.$d),+)
            }
        }

        #[cfg(feature = "serde")]
        impl serde::Serialize for $name {
            /// As its display string.
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
    };
}

bcd_time!(
    /// Format 15 (table A.16): `mm hh DD MM YY` — meter-read time, event time.
    Format15, number = 15,
    fields = [minute: "Minute.", hour: "Hour.", day: "Day of month.", month: "Month.", year: "Year in the century (20YY)."],
    display = "20{:02}-{:02}-{:02}T{:02}:{:02}", display_order = [year, month, day, hour, minute],
    ranges = [minute in 0 ..= 59, hour in 0 ..= 23, day in 1 ..= 31, month in 1 ..= 12]
);
bcd_time!(
    /// Format 16 (table A.17): `ss mm hh DD` — the Tp send time.
    Format16, number = 16,
    fields = [second: "Second.", minute: "Minute.", hour: "Hour.", day: "Day of month."],
    display = "DD{:02}T{:02}:{:02}:{:02}", display_order = [day, hour, minute, second],
    ranges = [second in 0 ..= 59, minute in 0 ..= 59, hour in 0 ..= 23, day in 1 ..= 31]
);
bcd_time!(
    /// Format 17 (table A.18): `mm hh DD MM`.
    Format17, number = 17,
    fields = [minute: "Minute.", hour: "Hour.", day: "Day of month.", month: "Month."],
    display = "--{:02}-{:02}T{:02}:{:02}", display_order = [month, day, hour, minute],
    ranges = [minute in 0 ..= 59, hour in 0 ..= 23, day in 1 ..= 31, month in 1 ..= 12]
);
bcd_time!(
    /// Format 18 (table A.19): `mm hh DD`.
    Format18, number = 18,
    fields = [minute: "Minute.", hour: "Hour.", day: "Day of month."],
    display = "DD{:02}T{:02}:{:02}", display_order = [day, hour, minute],
    ranges = [minute in 0 ..= 59, hour in 0 ..= 23, day in 1 ..= 31]
);
bcd_time!(
    /// Format 19 (table A.20): `mm hh`.
    Format19, number = 19,
    fields = [minute: "Minute.", hour: "Hour."],
    display = "{:02}:{:02}", display_order = [hour, minute],
    ranges = [minute in 0 ..= 59, hour in 0 ..= 23]
);
bcd_time!(
    /// Format 20 (table A.21): `DD MM YY` — Td_d, the daily-frozen time label.
    Format20, number = 20,
    fields = [day: "Day of month.", month: "Month.", year: "Year in the century (20YY)."],
    display = "20{:02}-{:02}-{:02}", display_order = [year, month, day],
    ranges = [day in 1 ..= 31, month in 1 ..= 12]
);
bcd_time!(
    /// Format 21 (table A.22): `MM YY` — Td_m, the monthly-frozen time label.
    Format21, number = 21,
    fields = [month: "Month.", year: "Year in the century (20YY)."],
    display = "20{:02}-{:02}", display_order = [year, month],
    ranges = [month in 1 ..= 12]
);
bcd_time!(
    /// Format 24 (table A.25): `hh DD`.
    Format24, number = 24,
    fields = [hour: "Hour.", day: "Day of month."],
    display = "DD{:02}T{:02}", display_order = [day, hour],
    ranges = [hour in 0 ..= 23, day in 1 ..= 31]
);

/// Format 01 (table A.1): `ss mm hh DD (week<<5 | MM) YY` — the terminal clock (AFN 0C F2,
/// AFN 05 F31). The weekday (1 = Monday … 7 = Sunday, 0 = not given) sits in D7–D5 of the
/// month byte, the month tens digit in D4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Format01 {
    /// Second.
    pub second: u8,
    /// Minute.
    pub minute: u8,
    /// Hour.
    pub hour: u8,
    /// Day of month.
    pub day: u8,
    /// Weekday, 0–7.
    pub weekday: u8,
    /// Month.
    pub month: u8,
    /// Year in the century (20YY).
    pub year: u8,
}

impl Format01 {
    /// True when every field is in its calendar range.
    #[must_use]
    pub const fn is_plausible(&self) -> bool {
        self.second <= 59
            && self.minute <= 59
            && self.hour <= 23
            && self.day >= 1
            && self.day <= 31
            && self.month >= 1
            && self.month <= 12
    }
}

impl DataFormat for Format01 {
    const LEN: usize = 6;
    const NUMBER: u8 = 1;
    fn parse(bytes: &[u8]) -> Result<Self, FormatError> {
        let [ss, mm, hh, dd, wm, yy] = take::<6>(bytes)?;
        Ok(Format01 {
            second: bcd2(ss, 0)?,
            minute: bcd2(mm, 1)?,
            hour: bcd2(hh, 2)?,
            day: bcd2(dd, 3)?,
            weekday: wm >> 5,
            month: bcd2(wm & 0x1F, 4)?,
            year: bcd2(yy, 5)?,
        })
    }
    fn emit(&self, out: &mut [u8]) -> Result<(), FormatError> {
        if self.weekday > 7 || self.month > 19 {
            return Err(FormatError::OutOfRange);
        }
        put(
            out,
            [
                to_bcd2(self.second)?,
                to_bcd2(self.minute)?,
                to_bcd2(self.hour)?,
                to_bcd2(self.day)?,
                (self.weekday << 5) | to_bcd2(self.month)?,
                to_bcd2(self.year)?,
            ],
        )
    }
}

impl fmt::Display for Format01 {
    /// `20YY-MM-DDThh:mm:ss` (weekday not shown).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "20{:02}-{:02}-{:02}T{:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Format01 {
    /// As `{"datetime": "20YY-MM-DDThh:mm:ss", "weekday": n}`.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Format01", 2)?;
        st.serialize_field("datetime", &format_args!("{self}"))?;
        st.serialize_field("weekday", &self.weekday)?;
        st.end()
    }
}

// ---- conversions with the civil calendar (amikit-core) -----------------------------------

/// The two-digit year of `t` (formats 01 and 15 carry 20YY), or [`FormatError::OutOfRange`].
fn century_year(t: DateTime) -> Result<u8, FormatError> {
    match t.year() {
        // 2000..=2099: the difference fits a u8.
        y @ 2000..=2099 => Ok((y - 2000) as u8),
        _ => Err(FormatError::OutOfRange),
    }
}

impl TryFrom<Format01> for DateTime {
    type Error = FormatError;
    /// The civil time of a terminal clock (year 20YY). The weekday is not checked: terminals
    /// send 0 for "not given", and the date says which day it is.
    ///
    /// # Errors
    /// [`FormatError::OutOfRange`] for a date or time that does not exist.
    fn try_from(f: Format01) -> Result<Self, FormatError> {
        DateTime::new(
            2000 + u16::from(f.year),
            f.month,
            f.day,
            f.hour,
            f.minute,
            f.second,
        )
        .map_err(|_| FormatError::OutOfRange)
    }
}

impl TryFrom<DateTime> for Format01 {
    type Error = FormatError;
    /// Format 01 of a civil time, with its weekday (1 = Monday … 7 = Sunday).
    ///
    /// # Errors
    /// [`FormatError::OutOfRange`] outside the years 2000–2099.
    fn try_from(t: DateTime) -> Result<Self, FormatError> {
        Ok(Format01 {
            second: t.second(),
            minute: t.minute(),
            hour: t.hour(),
            day: t.day(),
            weekday: t.weekday().number_from_monday(),
            month: t.month(),
            year: century_year(t)?,
        })
    }
}

impl TryFrom<Format15> for DateTime {
    type Error = FormatError;
    /// The civil time of a meter-read or event time (year 20YY, second 0).
    ///
    /// # Errors
    /// [`FormatError::OutOfRange`] for a date or time that does not exist.
    fn try_from(f: Format15) -> Result<Self, FormatError> {
        DateTime::new(
            2000 + u16::from(f.year),
            f.month,
            f.day,
            f.hour,
            f.minute,
            0,
        )
        .map_err(|_| FormatError::OutOfRange)
    }
}

impl TryFrom<DateTime> for Format15 {
    type Error = FormatError;
    /// Format 15 of a civil time; the seconds are dropped (format 15 counts minutes).
    ///
    /// # Errors
    /// [`FormatError::OutOfRange`] outside the years 2000–2099.
    fn try_from(t: DateTime) -> Result<Self, FormatError> {
        Ok(Format15 {
            minute: t.minute(),
            hour: t.hour(),
            day: t.day(),
            month: t.month(),
            year: century_year(t)?,
        })
    }
}

impl From<DateTime> for Format16 {
    /// The Tp send time `ss mm hh DD` of a civil time.
    fn from(t: DateTime) -> Self {
        Format16 {
            second: t.second(),
            minute: t.minute(),
            hour: t.hour(),
            day: t.day(),
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::string::ToString;

    use super::*;

    #[test]
    fn vector_values() {
        // gdw376-062: 00 39 07 17 43 15 → 2015-03-17T07:39:00, weekday 2.
        let c = Format01::parse(&[0x00, 0x39, 0x07, 0x17, 0x43, 0x15]).unwrap();
        assert_eq!(c.to_string(), "2015-03-17T07:39:00");
        assert_eq!(c.weekday, 2);
        let mut out = [0u8; 6];
        c.emit(&mut out).unwrap();
        assert_eq!(out, [0x00, 0x39, 0x07, 0x17, 0x43, 0x15]);
        // gdw376-042: 55 30 10 12 83 15 → 2015-03-12T10:30:55, weekday 4.
        let c = Format01::parse(&[0x55, 0x30, 0x10, 0x12, 0x83, 0x15]).unwrap();
        assert_eq!(c.to_string(), "2015-03-12T10:30:55");
        assert_eq!(c.weekday, 4);
        // gdw376-074: 40 14 31 07 10 → 2010-07-31T14:40.
        let t = Format15::parse(&[0x40, 0x14, 0x31, 0x07, 0x10]).unwrap();
        assert_eq!(t.to_string(), "2010-07-31T14:40");
        assert!(t.is_plausible());
        // gdw376-066: 27 08 18 → 2018-08-27; gdw376-070: 07 18 → 2018-07.
        assert_eq!(
            Format20::parse(&[0x27, 0x08, 0x18]).unwrap().to_string(),
            "2018-08-27"
        );
        assert_eq!(
            Format21::parse(&[0x07, 0x18]).unwrap().to_string(),
            "2018-07"
        );
        assert!(Format15::parse(&[0x4A, 0, 0, 0, 0]).is_err());
        assert!(!Format15::parse(&[0x61, 0, 1, 1, 0]).unwrap().is_plausible());
    }

    #[test]
    fn civil_conversions() {
        // gdw376-062: 2015-03-17T07:39:00, a Tuesday (week 2).
        let c = Format01::parse(&[0x00, 0x39, 0x07, 0x17, 0x43, 0x15]).unwrap();
        let t = DateTime::try_from(c).unwrap();
        assert_eq!(t.to_string(), "2015-03-17T07:39:00");
        assert_eq!(Format01::try_from(t), Ok(c));
        let sunday = DateTime::new(2024, 3, 3, 12, 0, 0).unwrap();
        assert_eq!(Format01::try_from(sunday).map(|f| f.weekday), Ok(7));
        // gdw376-074: 2010-07-31T14:40.
        let f = Format15::parse(&[0x40, 0x14, 0x31, 0x07, 0x10]).unwrap();
        let t = DateTime::try_from(f).unwrap();
        assert_eq!(t.to_string(), "2010-07-31T14:40:00");
        assert_eq!(Format15::try_from(t.add_seconds(59).unwrap()), Ok(f));
        assert_eq!(Format16::from(t).to_string(), "DD31T14:40:00");
        // Out of the century, or a date that does not exist.
        let y1999 = DateTime::new(1999, 12, 31, 23, 59, 59).unwrap();
        assert_eq!(Format01::try_from(y1999), Err(FormatError::OutOfRange));
        assert_eq!(Format15::try_from(y1999), Err(FormatError::OutOfRange));
        let feb30 = Format15 {
            minute: 0,
            hour: 0,
            day: 30,
            month: 2,
            year: 24,
        };
        assert_eq!(DateTime::try_from(feb30), Err(FormatError::OutOfRange));
    }
}
