//! Data identifiers: 4 bytes in DL/T 645-2007 (`DI3 DI2 DI1 DI0`), 2 bytes in DL/T 645-1997
//! (`DI1 DI0`); sent DI0 first, each byte +0x33 like all data.

use core::fmt;

use crate::control::Edition;
use crate::error::ValueError;

/// A DL/T 645-2007 data identifier, `DI3 DI2 DI1 DI0` as printed (`0x0001_0000` is forward
/// active total energy).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Di(pub u32);

impl Di {
    /// `00010000` (当前)正向有功总电能, forward active total energy.
    pub const FORWARD_ACTIVE_ENERGY: Di = Di(0x0001_0000);
    /// `00020000` (当前)反向有功总电能, reverse active total energy.
    pub const REVERSE_ACTIVE_ENERGY: Di = Di(0x0002_0000);
    /// `0201FF00` voltage block (A, B, C).
    pub const VOLTAGE_BLOCK: Di = Di(0x0201_FF00);
    /// `02800002` grid frequency.
    pub const FREQUENCY: Di = Di(0x0280_0002);
    /// `04000101` date and weekday (`YYMMDDWW`).
    pub const DATE: Di = Di(0x0400_0101);
    /// `04000102` time (`hhmmss`).
    pub const TIME: Di = Di(0x0400_0102);
    /// `04000401` communication address.
    pub const ADDRESS: Di = Di(0x0400_0401);
    /// `04000402` meter number.
    pub const METER_NUMBER: Di = Di(0x0400_0402);
    /// `04000503` status word 3 (relay state b4, relay command b6).
    pub const STATUS_WORD_3: Di = Di(0x0400_0503);
    /// `00900100` (当前)剩余电量, remaining energy (prepaid).
    pub const REMAINING_ENERGY: Di = Di(0x0090_0100);
    /// `00900200` (当前)剩余金额, remaining money (prepaid).
    pub const REMAINING_MONEY: Di = Di(0x0090_0200);
    /// `00900201` (当前)透支金额, overdraft money (prepaid).
    pub const OVERDRAFT_MONEY: Di = Di(0x0090_0201);
    /// `FFFFFFFF`: every event (clear events).
    pub const ALL: Di = Di(0xFFFF_FFFF);

    /// `[DI3, DI2, DI1, DI0]`.
    pub(crate) const fn bytes(self) -> [u8; 4] {
        self.0.to_be_bytes()
    }

    /// From `[DI3, DI2, DI1, DI0]`.
    pub(crate) const fn from_bytes(b: [u8; 4]) -> Di {
        Di(u32::from_be_bytes(b))
    }

    /// Wire order (DI0 first), before +0x33.
    pub const fn to_wire(self) -> [u8; 4] {
        self.0.to_le_bytes()
    }

    /// From wire order (DI0 first), after −0x33.
    pub const fn from_wire(b: [u8; 4]) -> Di {
        Di(u32::from_le_bytes(b))
    }

    /// DI3 (family: 00 energy, 01 demand, 02 variables, 03 events, 04 parameters, 05 freeze…).
    pub(crate) const fn di3(self) -> u8 {
        (self.0 >> 24) as u8
    }
    /// DI2.
    pub(crate) const fn di2(self) -> u8 {
        (self.0 >> 16) as u8
    }
    /// DI1.
    pub(crate) const fn di1(self) -> u8 {
        (self.0 >> 8) as u8
    }
    /// DI0.
    pub(crate) const fn di0(self) -> u8 {
        self.0 as u8
    }

    /// A block identifier: some byte below DI3 is `FF` (all members of that position).
    pub const fn is_block(self) -> bool {
        self.di2() == 0xFF || self.di1() == 0xFF || self.di0() == 0xFF
    }

    /// Parses 8 hex digits as printed (`"00010000"`).
    pub(crate) fn parse(text: &str) -> Result<Di, ValueError> {
        parse_hex(text, 8)
            .map(Di)
            .ok_or(ValueError::Text { what: "DI" })
    }
}

/// A DL/T 645-1997 data identifier `DI1 DI0` as printed (`0x9010` is forward active total
/// energy; `0xB613` phase C voltage).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Di97(pub u16);

impl Di97 {
    /// Wire order (DI0 first), before +0x33.
    pub const fn to_wire(self) -> [u8; 2] {
        self.0.to_le_bytes()
    }

    /// From wire order (DI0 first), after −0x33.
    pub const fn from_wire(b: [u8; 2]) -> Di97 {
        Di97(u16::from_le_bytes(b))
    }

    /// Whether the low nibble or byte is the block wildcard `F` (e.g. `901F` = forward active
    /// energy, total and every tariff).
    pub const fn is_block(self) -> bool {
        self.0 & 0x000F == 0x000F
    }

    /// Parses 4 hex digits as printed (`"B613"`).
    pub(crate) fn parse(text: &str) -> Result<Di97, ValueError> {
        parse_hex(text, 4)
            .and_then(|v| u16::try_from(v).ok())
            .map(Di97)
            .ok_or(ValueError::Text { what: "DI" })
    }
}

fn parse_hex(text: &str, digits: usize) -> Option<u32> {
    if text.len() != digits || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(text, 16).ok()
}

impl fmt::Display for Di {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08X}", self.0)
    }
}
impl fmt::Debug for Di {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Di({:08X})", self.0)
    }
}
impl fmt::Display for Di97 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04X}", self.0)
    }
}
impl fmt::Debug for Di97 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Di97({:04X})", self.0)
    }
}

/// A data identifier of either edition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum DataId {
    /// 4-byte DL/T 645-2007 identifier.
    V2007(Di),
    /// 2-byte DL/T 645-1997 identifier.
    V1997(Di97),
}

impl DataId {
    /// The edition whose width this identifier has.
    pub const fn edition(self) -> Edition {
        match self {
            DataId::V2007(_) => Edition::V2007,
            DataId::V1997(_) => Edition::V1997,
        }
    }

    /// Bytes on the wire (4 or 2).
    pub(crate) const fn len(self) -> usize {
        self.edition().di_len()
    }

    /// Reads an identifier of the edition's width from descrambled bytes (DI0 first).
    pub fn from_plain(edition: Edition, bytes: &[u8]) -> Option<DataId> {
        match edition {
            Edition::V2007 => bytes
                .first_chunk::<4>()
                .map(|b| DataId::V2007(Di::from_wire(*b))),
            Edition::V1997 => bytes
                .first_chunk::<2>()
                .map(|b| DataId::V1997(Di97::from_wire(*b))),
        }
    }

    /// Writes the plain (not yet +0x33) wire bytes, DI0 first; returns the count.
    pub(crate) fn write_plain(self, out: &mut [u8]) -> Option<usize> {
        match self {
            DataId::V2007(d) => {
                out.get_mut(..4)?.copy_from_slice(&d.to_wire());
                Some(4)
            }
            DataId::V1997(d) => {
                out.get_mut(..2)?.copy_from_slice(&d.to_wire());
                Some(2)
            }
        }
    }

    /// Parses the printed form: 8 hex digits (2007) or 4 (1997).
    pub(crate) fn parse(text: &str) -> Result<DataId, ValueError> {
        match text.len() {
            8 => Di::parse(text).map(DataId::V2007),
            4 => Di97::parse(text).map(DataId::V1997),
            _ => Err(ValueError::Text { what: "DI" }),
        }
    }
}

impl From<Di> for DataId {
    fn from(d: Di) -> Self {
        DataId::V2007(d)
    }
}
impl From<Di97> for DataId {
    fn from(d: Di97) -> Self {
        DataId::V1997(d)
    }
}

impl fmt::Display for DataId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataId::V2007(d) => d.fmt(f),
            DataId::V1997(d) => d.fmt(f),
        }
    }
}

impl From<Di> for [u8; 4] {
    /// `DI3 DI2 DI1 DI0`, as printed (the wire order is the reverse, see [`Di::to_wire`]).
    fn from(value: Di) -> Self {
        value.bytes()
    }
}

impl From<[u8; 4]> for Di {
    /// From `DI3 DI2 DI1 DI0`, as printed.
    fn from(value: [u8; 4]) -> Self {
        Di::from_bytes(value)
    }
}

impl core::str::FromStr for Di {
    type Err = ValueError;

    /// Parses the printed (hexadecimal) form, see the type.
    fn from_str(text: &str) -> Result<Self, ValueError> {
        Self::parse(text)
    }
}

impl core::str::FromStr for Di97 {
    type Err = ValueError;

    /// Parses the printed (hexadecimal) form, see the type.
    fn from_str(text: &str) -> Result<Self, ValueError> {
        Self::parse(text)
    }
}

impl core::str::FromStr for DataId {
    type Err = ValueError;

    /// Parses the printed (hexadecimal) form, see the type.
    fn from_str(text: &str) -> Result<Self, ValueError> {
        Self::parse(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_order_is_di0_first() {
        // Jayla630 vector: read 00010000 sends 00 00 01 00 (+0x33 each: 33 33 34 33).
        assert_eq!(Di(0x0001_0000).to_wire(), [0x00, 0x00, 0x01, 0x00]);
        assert_eq!(Di97(0xB613).to_wire(), [0x13, 0xB6]);
        assert_eq!(Di::parse("028022FF").unwrap(), Di(0x0280_22FF));
        assert!(Di(0x0280_22FF).is_block());
        assert!(!Di(0x0280_2200).is_block());
        assert_eq!(DataId::parse("B613").unwrap(), DataId::V1997(Di97(0xB613)));
        assert!(DataId::parse("B61").is_err());
        assert!(Di::parse("0001000G").is_err());
    }
}
