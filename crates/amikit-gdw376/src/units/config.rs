//! AFN 09 F1: terminal version information (41 bytes). The layout follows the 2009 text as the
//! reference C library reads it; no capture in the shared vectors confirms it.

use super::codec::{Reader, UnitLayout, Writer};
use crate::error::{EncodeError, UnitError};
use crate::format::Format20;

/// AFN 09 F1: terminal version information.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct TerminalVersion {
    /// Vendor code, ASCII.
    #[cfg_attr(feature = "serde", serde(serialize_with = "super::common::ser_hex"))]
    pub vendor: [u8; 4],
    /// Device number, ASCII.
    #[cfg_attr(feature = "serde", serde(serialize_with = "super::common::ser_hex"))]
    pub device: [u8; 8],
    /// Software version, ASCII.
    #[cfg_attr(feature = "serde", serde(serialize_with = "super::common::ser_hex"))]
    pub software: [u8; 4],
    /// Software release date (format 20).
    pub software_date: Option<Format20>,
    /// Configuration capacity code, ASCII.
    #[cfg_attr(feature = "serde", serde(serialize_with = "super::common::ser_hex"))]
    pub capacity: [u8; 11],
    /// Protocol version, ASCII.
    #[cfg_attr(feature = "serde", serde(serialize_with = "super::common::ser_hex"))]
    pub protocol: [u8; 4],
    /// Hardware version, ASCII.
    #[cfg_attr(feature = "serde", serde(serialize_with = "super::common::ser_hex"))]
    pub hardware: [u8; 4],
    /// Hardware release date (format 20).
    pub hardware_date: Option<Format20>,
}

impl<'a> UnitLayout<'a> for TerminalVersion {
    /// Parses the unit.
    ///
    /// # Errors
    ///
    /// [`UnitError::Length`], [`UnitError::Format`].
    fn parse(r: &mut Reader<'a>) -> Result<Self, UnitError> {
        Ok(TerminalVersion {
            vendor: r.array()?,
            device: r.array()?,
            software: r.array()?,
            software_date: r.fmt()?,
            capacity: r.array()?,
            protocol: r.array()?,
            hardware: r.array()?,
            hardware_date: r.fmt()?,
        })
    }
    /// Writes the unit.
    ///
    /// # Errors
    ///
    /// [`EncodeError::BufferTooSmall`], [`EncodeError::Format`].
    fn emit(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.bytes(&self.vendor)?;
        w.bytes(&self.device)?;
        w.bytes(&self.software)?;
        w.fmt(self.software_date.as_ref())?;
        w.bytes(&self.capacity)?;
        w.bytes(&self.protocol)?;
        w.bytes(&self.hardware)?;
        w.fmt(self.hardware_date.as_ref())
    }
}
