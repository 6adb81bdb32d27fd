//! The address field A: A1 region code (BCD), A2 terminal address (BIN), A3 master-station
//! address and group flag (Q/GDW 1376.1-2013, link layer: address field A).
//!
//! The standard field is 5 bytes. A 7-byte variant exists in the wild (captured traffic); this
//! crate reads it as A1 (2 bytes BCD) + A2 (4 bytes BIN, little-endian) + A3, which is the
//! layout of a configurable-length open-source Java codec (yangzilong1986/powerstation). That variant's layout is not
//! verified against a capture.

use core::fmt;

use crate::error::EncodeError;

/// Width of the address field on the wire, chosen by the [`Profile`](crate::Profile).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum AddressWidth {
    /// The standard 5 bytes: A1(2) A2(2) A3(1).
    #[default]
    Five,
    /// The 7-byte variant: A1(2) A2(4) A3(1).
    Seven,
}

impl AddressWidth {
    /// Bytes on the wire.
    #[must_use]
    #[allow(clippy::len_without_is_empty)] // a width is never empty
    pub const fn len(self) -> usize {
        match self {
            AddressWidth::Five => 5,
            AddressWidth::Seven => 7,
        }
    }
}

/// A terminal address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Address {
    /// A1, the administrative region code: the little-endian value of the two BCD bytes, so that
    /// `{:04X}` prints the digits (`71 01` on the wire → `0x0171` → "0171").
    pub a1: u16,
    /// A2, the terminal address (binary). 0 is invalid; `FFFF` with the group flag is broadcast.
    pub a2: u32,
    /// A3 D7–D1: master-station address (MSA), 0–127.
    pub msa: u8,
    /// A3 D0: A2 is a group address.
    pub group: bool,
}

impl Address {
    /// A terminal address with MSA 0 (what terminals send in frames they initiate).
    #[must_use]
    pub const fn new(a1: u16, a2: u32) -> Self {
        Address {
            a1,
            a2,
            msa: 0,
            group: false,
        }
    }
    /// This address with another MSA (masked to 7 bits).
    #[must_use]
    pub const fn with_msa(mut self, msa: u8) -> Self {
        self.msa = msa & 0x7F;
        self
    }
    /// The system broadcast address (A2 all ones, group flag set) for a region and master.
    #[must_use]
    pub const fn broadcast(a1: u16, msa: u8, width: AddressWidth) -> Self {
        let a2 = match width {
            AddressWidth::Five => 0xFFFF,
            AddressWidth::Seven => 0xFFFF_FFFF,
        };
        Address {
            a1,
            a2,
            msa: msa & 0x7F,
            group: true,
        }
    }
    /// True for the broadcast address (A2 all ones in either width, group flag set).
    #[must_use]
    pub const fn is_broadcast(&self) -> bool {
        self.group && (self.a2 == 0xFFFF || self.a2 == 0xFFFF_FFFF)
    }
    /// True when every nibble of A1 is a decimal digit.
    #[must_use]
    pub(crate) const fn region_is_bcd(&self) -> bool {
        let a = self.a1;
        (a & 0xF) < 10 && ((a >> 4) & 0xF) < 10 && ((a >> 8) & 0xF) < 10 && ((a >> 12) & 0xF) < 10
    }
    /// The A3 byte.
    #[must_use]
    pub const fn a3(&self) -> u8 {
        ((self.msa & 0x7F) << 1) | (self.group as u8)
    }
    /// The same terminal, as seen by the terminal: MSA and group flag kept, for echoing.
    #[must_use]
    pub const fn same_terminal(&self, other: &Address) -> bool {
        self.a1 == other.a1 && self.a2 == other.a2
    }

    /// Reads an address from the start of `bytes`; `None` when too short.
    #[must_use]
    #[inline]
    pub fn parse(bytes: &[u8], width: AddressWidth) -> Option<Self> {
        match width {
            AddressWidth::Five => {
                let [a1l, a1h, a2l, a2h, a3] = *bytes.first_chunk::<5>()?;
                Some(Address {
                    a1: u16::from_le_bytes([a1l, a1h]),
                    a2: u32::from(u16::from_le_bytes([a2l, a2h])),
                    msa: a3 >> 1,
                    group: a3 & 1 != 0,
                })
            }
            AddressWidth::Seven => {
                let [a1l, a1h, b0, b1, b2, b3, a3] = *bytes.first_chunk::<7>()?;
                Some(Address {
                    a1: u16::from_le_bytes([a1l, a1h]),
                    a2: u32::from_le_bytes([b0, b1, b2, b3]),
                    msa: a3 >> 1,
                    group: a3 & 1 != 0,
                })
            }
        }
    }

    /// Writes the address; returns the bytes written.
    ///
    /// # Errors
    ///
    /// [`EncodeError::BufferTooSmall`], or [`EncodeError::OutOfRange`] when A2 does not fit the
    /// 5-byte width.
    pub fn emit(&self, out: &mut [u8], width: AddressWidth) -> Result<usize, EncodeError> {
        let n = width.len();
        let got = out.len();
        let dst = out
            .get_mut(..n)
            .ok_or(EncodeError::BufferTooSmall { needed: n, got })?;
        let [a1l, a1h] = self.a1.to_le_bytes();
        match width {
            AddressWidth::Five => {
                let a2 = u16::try_from(self.a2)
                    .map_err(|_| EncodeError::OutOfRange("A2 above 65535"))?;
                let [a2l, a2h] = a2.to_le_bytes();
                dst.copy_from_slice(&[a1l, a1h, a2l, a2h, self.a3()]);
            }
            AddressWidth::Seven => {
                let [b0, b1, b2, b3] = self.a2.to_le_bytes();
                dst.copy_from_slice(&[a1l, a1h, b0, b1, b2, b3, self.a3()]);
            }
        }
        Ok(n)
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Address({:04X}-{} msa={}{})",
            self.a1,
            self.a2,
            self.msa,
            if self.group { " group" } else { "" }
        )
    }
}

impl fmt::Display for Address {
    /// `A1` digits, a dash, `A2` in decimal (e.g. `9612-13398`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04X}-{}", self.a1, self.a2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_emit() {
        // gdw376-001 (liangminhua login.3761): 71 01 22 08 00 → A1 0171, A2 2082, MSA 0.
        let a = Address::parse(&[0x71, 0x01, 0x22, 0x08, 0x00], AddressWidth::Five).unwrap();
        assert_eq!(a.a1, 0x0171);
        assert_eq!(a.a2, 2082);
        assert_eq!(a.msa, 0);
        assert!(!a.group);
        // gdw376-022: A3 = 2C → MSA 22.
        let b = Address::parse(&[0x10, 0x10, 0x01, 0x00, 0x2C], AddressWidth::Five).unwrap();
        assert_eq!(b.msa, 22);
        let mut out = [0u8; 5];
        b.emit(&mut out, AddressWidth::Five).unwrap();
        assert_eq!(out, [0x10, 0x10, 0x01, 0x00, 0x2C]);
        // Notes §2.3: handheld broadcast A1=0000, A2=FFFF, A3=0x21 (group, MSA 16).
        let c = Address::parse(&[0, 0, 0xFF, 0xFF, 0x21], AddressWidth::Five).unwrap();
        assert!(c.is_broadcast());
        assert_eq!(c.msa, 16);
        assert_eq!(c, Address::broadcast(0, 16, AddressWidth::Five));
        let wide = Address::new(0x4403, 0x0102_0304).with_msa(5);
        let mut seven = [0u8; 7];
        wide.emit(&mut seven, AddressWidth::Seven).unwrap();
        assert_eq!(Address::parse(&seven, AddressWidth::Seven), Some(wide));
        assert!(wide.emit(&mut out, AddressWidth::Five).is_err());
    }
}
