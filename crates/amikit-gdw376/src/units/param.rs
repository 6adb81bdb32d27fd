//! AFN 04 (set) / AFN 0A (query reply) parameter units: F1, F3, F10, F47.

use super::codec::{Reader, UnitLayout, Writer};
use crate::error::{EncodeError, UnitError};
use crate::format::{Format03, Format12};

/// F1: terminal uplink communication parameters (6 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct CommParams {
    /// RTS of the data-transfer delay, in 20 ms units.
    pub rts_20ms: u8,
    /// Master station's allowed transmission delay, minutes.
    pub master_delay_min: u8,
    /// Response timeout (D0–D11, seconds) and retries (D12–D13), as sent. See
    /// [`CommParams::timeout_s`] and [`CommParams::split_bytes`].
    pub timeout_retry: u16,
    /// Which report classes need master confirmation: D0 class 1, D1 class 2, D2 class 3.
    pub con_flags: u8,
    /// Heartbeat period, minutes.
    pub heartbeat_min: u8,
}

impl CommParams {
    /// Response timeout in seconds, strict 12-bit reading (D0–D11).
    #[must_use]
    pub const fn timeout_s(&self) -> u16 {
        self.timeout_retry & 0x0FFF
    }
    /// Retry count, strict reading (D12–D13, 0–3).
    #[must_use]
    pub const fn retries(&self) -> u8 {
        ((self.timeout_retry >> 12) & 0x3) as u8
    }
    /// The dialect reading of the same two bytes as `(timeout_s, retries)`, one byte each, as a
    /// real master station's own codec (yangzilong1986/powerstation) reads them ( `1E 03` = 30 s, 3 tries,
    /// where the strict reading gives 798 s and 0 retries).
    #[must_use]
    pub const fn split_bytes(&self) -> (u8, u8) {
        let [a, b] = self.timeout_retry.to_le_bytes();
        (a, b)
    }
    /// Builds the strict 12+2-bit field.
    #[must_use]
    pub const fn pack_timeout(timeout_s: u16, retries: u8) -> u16 {
        (timeout_s & 0x0FFF) | (((retries & 3) as u16) << 12)
    }
}

impl<'a> UnitLayout<'a> for CommParams {
    /// Parses the unit.
    ///
    /// # Errors
    ///
    /// [`UnitError::Length`].
    fn parse(r: &mut Reader<'a>) -> Result<Self, UnitError> {
        Ok(CommParams {
            rts_20ms: r.u8()?,
            master_delay_min: r.u8()?,
            timeout_retry: r.u16()?,
            con_flags: r.u8()?,
            heartbeat_min: r.u8()?,
        })
    }
    /// Writes the unit.
    ///
    /// # Errors
    ///
    /// [`EncodeError::BufferTooSmall`].
    fn emit(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.u8(self.rts_20ms)?;
        w.u8(self.master_delay_min)?;
        w.u16(self.timeout_retry)?;
        w.u8(self.con_flags)?;
        w.u8(self.heartbeat_min)
    }
}

/// F3: master-station IP addresses, ports and APN (28 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct MasterAddresses {
    /// Main master IPv4 address.
    pub main_ip: [u8; 4],
    /// Main master TCP port (BIN, little-endian).
    pub main_port: u16,
    /// Backup master IPv4 address.
    pub backup_ip: [u8; 4],
    /// Backup master TCP port.
    pub backup_port: u16,
    /// APN, ASCII, zero-padded to 16 bytes.
    #[cfg_attr(feature = "serde", serde(serialize_with = "ser_apn"))]
    pub apn: [u8; 16],
}

#[cfg(feature = "serde")]
fn ser_apn<S: serde::Serializer>(apn: &[u8; 16], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(MasterAddresses::apn_of(apn))
}

impl MasterAddresses {
    fn apn_of(apn: &[u8; 16]) -> &str {
        let end = apn.iter().position(|&b| b == 0).unwrap_or(apn.len());
        core::str::from_utf8(apn.get(..end).unwrap_or(&[])).unwrap_or("")
    }
    /// The APN up to the first zero byte (empty when not UTF-8).
    #[must_use]
    pub fn apn_str(&self) -> &str {
        Self::apn_of(&self.apn)
    }
}

impl<'a> UnitLayout<'a> for MasterAddresses {
    /// Parses the unit.
    ///
    /// # Errors
    ///
    /// [`UnitError::Length`].
    fn parse(r: &mut Reader<'a>) -> Result<Self, UnitError> {
        Ok(MasterAddresses {
            main_ip: r.array()?,
            main_port: r.u16()?,
            backup_ip: r.array()?,
            backup_port: r.u16()?,
            apn: r.array()?,
        })
    }
    /// Writes the unit.
    ///
    /// # Errors
    ///
    /// [`EncodeError::BufferTooSmall`].
    fn emit(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.bytes(&self.main_ip)?;
        w.u16(self.main_port)?;
        w.bytes(&self.backup_ip)?;
        w.u16(self.backup_port)?;
        w.bytes(&self.apn)
    }
}

/// One meter of F10 (27 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct MeterConfig {
    /// Meter / AC-sampling device serial number (1–2040).
    pub seq: u16,
    /// The measurement point it belongs to (0 = deleted).
    pub pn: u16,
    /// D7–D5 baud-rate index, D4–D0 port.
    pub baud_port: u8,
    /// Protocol (1 = DL/T 645-1997, 2 = AC sampling, 30 = DL/T 645-2007, …).
    pub protocol: u8,
    /// Meter address, 12 BCD digits (format 12), as sent.
    #[cfg_attr(feature = "serde", serde(serialize_with = "super::common::ser_hex"))]
    pub address: [u8; 6],
    /// Meter communication password, as sent.
    #[cfg_attr(feature = "serde", serde(serialize_with = "super::common::ser_hex"))]
    pub password: [u8; 6],
    /// Number of tariffs (D5–D0).
    pub tariffs: u8,
    /// Integer and decimal digit counts of the energy reading, as sent.
    pub digits: u8,
    /// Collector address (format 12), as sent.
    #[cfg_attr(feature = "serde", serde(serialize_with = "super::common::ser_hex"))]
    pub collector: [u8; 6],
    /// User class (D7–D4 major, D3–D0 minor).
    pub class: u8,
}

impl MeterConfig {
    /// Wire size.
    pub const LEN: usize = 27;
    /// Baud-rate index (D7–D5 of the port byte).
    #[must_use]
    pub const fn baud_index(&self) -> u8 {
        self.baud_port >> 5
    }
    /// Port number (D4–D0).
    #[must_use]
    pub const fn port(&self) -> u8 {
        self.baud_port & 0x1F
    }
    /// The meter address as 12 digits, when BCD.
    #[must_use]
    pub fn address_digits(&self) -> Option<u64> {
        use crate::format::DataFormat;
        Format12::parse(&self.address).ok().map(|f| f.magnitude)
    }
    fn parse(r: &mut Reader<'_>) -> Result<Self, UnitError> {
        Ok(MeterConfig {
            seq: r.u16()?,
            pn: r.u16()?,
            baud_port: r.u8()?,
            protocol: r.u8()?,
            address: r.array()?,
            password: r.array()?,
            tariffs: r.u8()?,
            digits: r.u8()?,
            collector: r.array()?,
            class: r.u8()?,
        })
    }
    /// Writes one meter record.
    ///
    /// # Errors
    ///
    /// [`EncodeError::BufferTooSmall`].
    pub fn emit(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.u16(self.seq)?;
        w.u16(self.pn)?;
        w.u8(self.baud_port)?;
        w.u8(self.protocol)?;
        w.bytes(&self.address)?;
        w.bytes(&self.password)?;
        w.u8(self.tariffs)?;
        w.u8(self.digits)?;
        w.bytes(&self.collector)?;
        w.u8(self.class)
    }
}

/// F10: terminal meter table, `n(2)` then `n` meter records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeterTable<'a> {
    raw: &'a [u8],
}

impl<'a> MeterTable<'a> {
    /// Number of meters.
    #[must_use]
    pub fn len(&self) -> usize {
        self.raw.len() / MeterConfig::LEN
    }
    /// True without meters.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }
    /// The meters.
    pub fn iter(&self) -> impl Iterator<Item = MeterConfig> + 'a {
        self.raw
            .chunks_exact(MeterConfig::LEN)
            .filter_map(|c| MeterConfig::parse(&mut Reader::new(c, Default::default())).ok())
    }
    /// Writes an F10 unit from meter records.
    ///
    /// # Errors
    ///
    /// [`EncodeError::BufferTooSmall`], [`EncodeError::OutOfRange`].
    pub fn write(
        w: &mut Writer<'_>,
        meters: impl IntoIterator<Item = MeterConfig> + Clone,
    ) -> Result<(), EncodeError> {
        let n = meters.clone().into_iter().count();
        w.u16(u16::try_from(n).map_err(|_| EncodeError::OutOfRange("meter count"))?)?;
        for m in meters {
            m.emit(w)?;
        }
        Ok(())
    }
}

impl<'a> UnitLayout<'a> for MeterTable<'a> {
    /// Parses the unit.
    ///
    /// # Errors
    ///
    /// [`UnitError::Length`].
    fn parse(r: &mut Reader<'a>) -> Result<Self, UnitError> {
        let n = usize::from(r.u16()?);
        let raw = r.bytes(n * MeterConfig::LEN)?;
        Ok(MeterTable { raw })
    }
    /// Writes the unit.
    ///
    /// # Errors
    ///
    /// [`EncodeError::BufferTooSmall`], [`EncodeError::OutOfRange`] above 65 535 meters.
    fn emit(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.u16(u16::try_from(self.len()).map_err(|_| EncodeError::OutOfRange("meter count"))?)?;
        w.bytes(self.raw)
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for MeterTable<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

/// Append (`55`) or refresh (`AA`) flag of F47.
pub const PURCHASE_APPEND: u8 = 0x55;
/// Refresh flag of F47.
pub const PURCHASE_REFRESH: u8 = 0xAA;

/// F47 (pn = total-add group): purchase-control parameters (17 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct PurchaseControl {
    /// Purchase order number (BIN).
    pub order: u32,
    /// `55` append, `AA` refresh (see [`PURCHASE_APPEND`], [`PURCHASE_REFRESH`]).
    pub mode: u8,
    /// Purchased energy or fee (format 03; its unit flag says kWh/MWh or 厘/元).
    pub amount: Option<Format03>,
    /// Alarm threshold (format 03).
    pub alarm: Option<Format03>,
    /// Trip threshold (format 03).
    pub trip: Option<Format03>,
}

impl<'a> UnitLayout<'a> for PurchaseControl {
    /// Parses the unit.
    ///
    /// # Errors
    ///
    /// [`UnitError::Length`], [`UnitError::Format`].
    fn parse(r: &mut Reader<'a>) -> Result<Self, UnitError> {
        Ok(PurchaseControl {
            order: r.u32()?,
            mode: r.u8()?,
            amount: r.fmt()?,
            alarm: r.fmt()?,
            trip: r.fmt()?,
        })
    }
    /// Writes the unit.
    ///
    /// # Errors
    ///
    /// [`EncodeError::BufferTooSmall`], [`EncodeError::Format`].
    fn emit(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.u32(self.order)?;
        w.u8(self.mode)?;
        w.fmt(self.amount.as_ref())?;
        w.fmt(self.alarm.as_ref())?;
        w.fmt(self.trip.as_ref())
    }
}
