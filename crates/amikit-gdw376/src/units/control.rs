//! AFN 05 control units with data: F1 remote trip, F25 guard (保电) on, F31 clock sync.
//! F2 allow close, F16/F24 purchase control on/off, F26/F34 payment-reminder alarm on/off and
//! F33 guard off carry no data.

use super::codec::{Reader, UnitLayout, Writer};
use crate::error::{EncodeError, UnitError};

/// F1 (pn = control round): remote trip, one byte. D7–D4: alarm delay before the trip
/// (minutes, 0–15); D3–D0: power-limit duration (0.5 h units, 0 = until allowed to close).
/// The nibble assignment follows the 2009 text as read by the reference C library; no capture
/// in the shared vectors confirms it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct RemoteTrip {
    /// Alarm delay, minutes (0–15).
    pub alarm_delay_min: u8,
    /// Power-limit duration in half hours (0–15).
    pub limit_half_hours: u8,
}

impl<'a> UnitLayout<'a> for RemoteTrip {
    /// Parses the unit.
    ///
    /// # Errors
    ///
    /// [`UnitError::Length`].
    fn parse(r: &mut Reader<'a>) -> Result<Self, UnitError> {
        let b = r.u8()?;
        Ok(RemoteTrip {
            alarm_delay_min: b >> 4,
            limit_half_hours: b & 0x0F,
        })
    }
    /// Writes the unit.
    ///
    /// # Errors
    ///
    /// [`EncodeError::OutOfRange`] above 15, [`EncodeError::BufferTooSmall`].
    fn emit(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        if self.alarm_delay_min > 15 || self.limit_half_hours > 15 {
            return Err(EncodeError::OutOfRange("remote trip nibble above 15"));
        }
        w.u8((self.alarm_delay_min << 4) | self.limit_half_hours)
    }
}

/// F25 (p0): keep-supply (保电) on, one byte: duration in half hours, 0 = indefinite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct GuardOn {
    /// Duration in 0.5 h units; 0 = until F33 (guard off).
    pub half_hours: u8,
}

impl<'a> UnitLayout<'a> for GuardOn {
    /// Parses the unit.
    ///
    /// # Errors
    ///
    /// [`UnitError::Length`].
    fn parse(r: &mut Reader<'a>) -> Result<Self, UnitError> {
        Ok(GuardOn {
            half_hours: r.u8()?,
        })
    }
    /// Writes the unit.
    ///
    /// # Errors
    ///
    /// [`EncodeError::BufferTooSmall`].
    fn emit(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.u8(self.half_hours)
    }
}
