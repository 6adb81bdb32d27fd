//! AFN 10 F1: transparent forwarding (Q/GDW 1376.1-2013, AFN 10H data forwarding). Downlink `port ctrl frame-timeout
//! byte-timeout k(2) payload`; uplink `port k(2) payload`. The payload is usually a DL/T 645
//! frame; with the `dlt645` feature, [`ForwardRequest::inner_645`] / [`ForwardReply::inner_645`]
//! parse it through `amikit-dlt645`.

use super::codec::{Reader, UnitLayout, Writer};
use crate::error::{EncodeError, UnitError};

/// Serial settings byte of a forward request: D7–D5 baud index, D4 stop bits, D3 parity on,
/// D2 odd parity, D1–D0 data bits − 5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct CommControl(pub u8);

impl CommControl {
    /// 2400 bps, even parity, 8 data bits, 1 stop bit — the usual DL/T 645 setting (`6B`).
    pub const DLT645_2400_8E1: CommControl = CommControl(0x6B);
    /// The serial settings this byte asks for.
    #[must_use]
    pub const fn settings(self) -> SerialSettings {
        let baud_index = self.0 >> 5;
        SerialSettings {
            baud_index,
            baud: match baud_index {
                1 => Some(600),
                2 => Some(1200),
                3 => Some(2400),
                4 => Some(4800),
                5 => Some(7200),
                6 => Some(9600),
                7 => Some(19200),
                _ => None,
            },
            data_bits: (self.0 & 3) + 5,
            parity: if self.0 & 0x08 == 0 {
                Parity::None
            } else if self.0 & 0x04 != 0 {
                Parity::Odd
            } else {
                Parity::Even
            },
            stop_bits: if self.0 & 0x10 != 0 { 2 } else { 1 },
        }
    }
}

/// Parity of a serial link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum Parity {
    /// No parity bit.
    None,
    /// Even parity (DL/T 645's usual setting).
    Even,
    /// Odd parity.
    Odd,
}

/// The serial settings of a [`CommControl`] byte, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct SerialSettings {
    /// Baud index D7–D5 (1 = 600 … 7 = 19200; 0 is "default").
    pub baud_index: u8,
    /// Baud rate for indices 1–7 (`None` for index 0, "default"/unverified).
    pub baud: Option<u32>,
    /// Data bits (5–8).
    pub data_bits: u8,
    /// Parity.
    pub parity: Parity,
    /// Stop bits (1 or 2).
    pub stop_bits: u8,
}

/// AFN 10 F1 downlink: forward `payload` on `port`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ForwardRequest<'a> {
    /// Terminal port.
    pub port: u8,
    /// Serial settings.
    pub control: CommControl,
    /// Frame timeout: D7 unit (1 = s, 0 = 10 ms), D6–D0 value.
    pub frame_timeout: u8,
    /// Byte timeout, 10 ms units.
    pub byte_timeout: u8,
    /// The forwarded bytes.
    #[cfg_attr(feature = "serde", serde(serialize_with = "super::common::ser_hex"))]
    pub payload: &'a [u8],
}

impl<'a> ForwardRequest<'a> {
    /// Frame timeout in milliseconds.
    #[must_use]
    pub const fn frame_timeout_ms(&self) -> u32 {
        let v = (self.frame_timeout & 0x7F) as u32;
        if self.frame_timeout & 0x80 != 0 {
            v * 1000
        } else {
            v * 10
        }
    }
}

impl<'a> UnitLayout<'a> for ForwardRequest<'a> {
    /// Parses the unit.
    ///
    /// # Errors
    ///
    /// [`UnitError::Length`].
    fn parse(r: &mut Reader<'a>) -> Result<Self, UnitError> {
        let port = r.u8()?;
        let control = CommControl(r.u8()?);
        let frame_timeout = r.u8()?;
        let byte_timeout = r.u8()?;
        let k = r.u16()?;
        Ok(ForwardRequest {
            port,
            control,
            frame_timeout,
            byte_timeout,
            payload: r.bytes(usize::from(k))?,
        })
    }
    /// Writes the unit.
    ///
    /// # Errors
    ///
    /// [`EncodeError::OutOfRange`] above 65 535 payload bytes, else as [`Writer`].
    fn emit(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.bytes(&[
            self.port,
            self.control.0,
            self.frame_timeout,
            self.byte_timeout,
        ])?;
        w.u16(
            u16::try_from(self.payload.len())
                .map_err(|_| EncodeError::OutOfRange("forward length"))?,
        )?;
        w.bytes(self.payload)
    }
}

/// AFN 10 F1 uplink: the answer received on `port`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ForwardReply<'a> {
    /// Terminal port.
    pub port: u8,
    /// The bytes received from the device.
    #[cfg_attr(feature = "serde", serde(serialize_with = "super::common::ser_hex"))]
    pub payload: &'a [u8],
}

impl<'a> UnitLayout<'a> for ForwardReply<'a> {
    /// Parses the unit.
    ///
    /// # Errors
    ///
    /// [`UnitError::Length`].
    fn parse(r: &mut Reader<'a>) -> Result<Self, UnitError> {
        let port = r.u8()?;
        let k = r.u16()?;
        Ok(ForwardReply {
            port,
            payload: r.bytes(usize::from(k))?,
        })
    }
    /// Writes the unit.
    ///
    /// # Errors
    ///
    /// [`EncodeError::OutOfRange`] above 65 535 payload bytes, else as [`Writer`].
    fn emit(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.u8(self.port)?;
        w.u16(
            u16::try_from(self.payload.len())
                .map_err(|_| EncodeError::OutOfRange("forward length"))?,
        )?;
        w.bytes(self.payload)
    }
}

#[cfg(feature = "dlt645")]
impl<'a> ForwardRequest<'a> {
    /// The payload as a checked DL/T 645 frame (`FE` preamble allowed, nothing after the end
    /// byte), through `amikit-dlt645`.
    ///
    /// # Errors
    ///
    /// The DL/T 645 frame error.
    pub fn inner_645(&self) -> Result<amikit_dlt645::Frame<&'a [u8]>, amikit_dlt645::FrameError> {
        amikit_dlt645::Frame::new_checked(self.payload)
    }
}

#[cfg(feature = "dlt645")]
impl<'a> ForwardReply<'a> {
    /// The payload as a checked DL/T 645 frame (`FE` preamble allowed, nothing after the end
    /// byte), through `amikit-dlt645`.
    ///
    /// # Errors
    ///
    /// The DL/T 645 frame error.
    pub fn inner_645(&self) -> Result<amikit_dlt645::Frame<&'a [u8]>, amikit_dlt645::FrameError> {
        amikit_dlt645::Frame::new_checked(self.payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comm_control_settings() {
        // 6B = 011 0 1 0 11: 2400 bps, one stop bit, parity on and even, 8 data bits.
        let s = CommControl::DLT645_2400_8E1.settings();
        assert_eq!(
            (s.baud_index, s.baud, s.data_bits, s.parity, s.stop_bits),
            (3, Some(2400), 8, Parity::Even, 1)
        );
        // DF = 110 1 1 1 11: 9600 bps, two stop bits, odd parity, 8 data bits.
        let s = CommControl(0xDF).settings();
        assert_eq!(
            (s.baud, s.data_bits, s.parity, s.stop_bits),
            (Some(9600), 8, Parity::Odd, 2)
        );
        // 00: default baud (unverified), no parity, 5 data bits.
        let s = CommControl(0x00).settings();
        assert_eq!((s.baud, s.data_bits, s.parity), (None, 5, Parity::None));
    }
}
