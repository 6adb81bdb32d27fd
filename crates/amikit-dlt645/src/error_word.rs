//! The error word of an abnormal reply: a bit field, never an enum.

use core::fmt;

/// The error word (`ERR`, one byte after −0x33) of an abnormal reply (D6 = 1).
///
/// DL/T 645-2007 assigns one condition per bit and a meter may set several. DL/T 645-1997
/// sources copy the same table; its bit meanings were not verified against the 1997 text.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ErrorWord(pub u8);

impl ErrorWord {
    /// b0: other error.
    pub const OTHER: u8 = 0x01;
    /// b1: no requested data.
    pub const NO_REQUESTED_DATA: u8 = 0x02;
    /// b2: unauthorised / wrong password.
    pub const UNAUTHORISED: u8 = 0x04;
    /// b3: the communication rate cannot be changed.
    pub const BAUD_RATE_UNCHANGEABLE: u8 = 0x08;
    /// b4: too many year time zones.
    pub const YEAR_ZONES_EXCEEDED: u8 = 0x10;
    /// b5: too many day periods.
    pub const DAY_PERIODS_EXCEEDED: u8 = 0x20;
    /// b6: too many tariffs.
    pub const TARIFFS_EXCEEDED: u8 = 0x40;

    /// Bit, snake_case name — b7 is reserved and has no name.
    pub const FLAGS: [(u8, &'static str); 7] = [
        (Self::OTHER, "other"),
        (Self::NO_REQUESTED_DATA, "no_requested_data"),
        (Self::UNAUTHORISED, "unauthorised"),
        (Self::BAUD_RATE_UNCHANGEABLE, "baud_rate_unchangeable"),
        (Self::YEAR_ZONES_EXCEEDED, "year_zones_exceeded"),
        (Self::DAY_PERIODS_EXCEEDED, "day_periods_exceeded"),
        (Self::TARIFFS_EXCEEDED, "tariffs_exceeded"),
    ];

    /// Whether every bit of `mask` is set.
    pub const fn contains(self, mask: u8) -> bool {
        self.0 & mask == mask
    }

    /// Names of the set bits, in bit order (b7, reserved, is not listed).
    pub fn flag_names(self) -> impl Iterator<Item = &'static str> {
        Self::FLAGS
            .into_iter()
            .filter(move |(bit, _)| self.0 & bit != 0)
            .map(|(_, name)| name)
    }
}

impl fmt::Debug for ErrorWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ErrorWord(0x{:02X}", self.0)?;
        for name in self.flag_names() {
            write!(f, " {name}")?;
        }
        f.write_str(")")
    }
}

impl fmt::Display for ErrorWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02X}", self.0)?;
        let mut first = true;
        for name in self.flag_names() {
            f.write_str(if first { " (" } else { ", " })?;
            f.write_str(name)?;
            first = false;
        }
        if !first {
            f.write_str(")")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_bits_at_once() {
        // DL/T 645-2007 abnormal reply: the error word is a bit field, not an enum. 0x06 = no data + unauthorised.
        let w = ErrorWord(0x06);
        let names: [&str; 2] = ["no_requested_data", "unauthorised"];
        assert!(w.flag_names().eq(names));
        assert!(w.contains(ErrorWord::UNAUTHORISED));
        assert!(!w.contains(ErrorWord::OTHER));
        assert_eq!(ErrorWord(0x80).flag_names().count(), 0);
        assert!(ErrorWord(0x80).contains(0x80));
        assert_eq!(ErrorWord(0x7F).flag_names().count(), 7);
    }
}
