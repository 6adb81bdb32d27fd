//! Meter addresses: 6 bytes of packed BCD, sent A0 (least significant) first, printed A5..A0.

use core::fmt;

use crate::error::ValueError;

/// A meter address as it is on the wire (`A0..A5`, least significant byte first).
///
/// Every byte is packed BCD (`00`..`99`) or the wildcard `AA` (缩位寻址: the high bytes are
/// `AA`, the low bytes real digits). [`Address::BROADCAST`] (`999999999999`) addresses every
/// meter (no reply), [`Address::WILDCARD`] (`AAAAAAAAAAAA`) any one meter (used to read the
/// address of the single meter on a point-to-point line).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Address([u8; 6]);

impl Address {
    /// `999999999999`: broadcast (broadcast time, freeze).
    pub const BROADCAST: Address = Address([0x99; 6]);
    /// `AAAAAAAAAAAA`: any meter (read address, write address).
    pub const WILDCARD: Address = Address([0xAA; 6]);

    /// Checks wire bytes (A0 first): each byte BCD or `AA`.
    pub(crate) fn from_wire(bytes: [u8; 6]) -> Result<Self, ValueError> {
        match first_invalid(&bytes) {
            None => Ok(Address(bytes)),
            Some(i) => Err(ValueError::Bcd {
                offset: i,
                byte: bytes.get(usize::from(i)).copied().unwrap_or(0),
            }),
        }
    }

    /// Wire bytes without checking (for frames already checked, or deliberate test input).
    pub const fn from_wire_unchecked(bytes: [u8; 6]) -> Self {
        Address(bytes)
    }

    /// From a number of at most 12 decimal digits (`0x12345678` is *not* BCD here:
    /// `Address::try_from(12345678)` prints `000012345678`).
    pub(crate) fn from_number(n: u64) -> Result<Self, ValueError> {
        if n > 999_999_999_999 {
            return Err(ValueError::Text { what: "address" });
        }
        // Two halves of six digits in 32-bit arithmetic, two digits (one byte) per step: one
        // 64-bit division instead of twelve (a library call on 32-bit microcontrollers).
        let high = (n / 1_000_000) as u32;
        let low = (n % 1_000_000) as u32;
        let mut bytes = [0u8; 6];
        for (half, mut rest) in bytes.chunks_exact_mut(3).zip([low, high]) {
            for b in half {
                let pair = rest % 100;
                rest /= 100;
                *b = (((pair / 10) << 4) | (pair % 10)) as u8;
            }
        }
        Ok(Address(bytes))
    }

    /// Parses the printed form: 12 characters A5..A0, decimal digits or `AA` pairs
    /// (`"000012345678"`, `"AAAAAA123456"`). Fewer than 12 digits are zero-padded on the left.
    pub(crate) fn parse(text: &str) -> Result<Self, ValueError> {
        let err = ValueError::Text { what: "address" };
        let t = text.as_bytes();
        if t.is_empty() || t.len() > 12 {
            return Err(err);
        }
        let mut digits = [b'0'; 12];
        let pad = 12 - t.len();
        for (d, &c) in digits.iter_mut().skip(pad).zip(t) {
            *d = c.to_ascii_uppercase();
        }
        let mut bytes = [0u8; 6];
        for (i, pair) in digits.chunks_exact(2).enumerate() {
            let byte = match pair {
                [b'A', b'A'] => 0xAA,
                [h @ b'0'..=b'9', l @ b'0'..=b'9'] => ((h - b'0') << 4) | (l - b'0'),
                _ => return Err(err),
            };
            // pair 0 is A5 (printed first)
            if let Some(slot) = bytes.get_mut(5 - i) {
                *slot = byte;
            }
        }
        Ok(Address(bytes))
    }

    /// Wire bytes, A0 first.
    pub(crate) const fn to_wire(self) -> [u8; 6] {
        self.0
    }

    /// Whether this is the broadcast address `999999999999`.
    pub fn is_broadcast(self) -> bool {
        self == Self::BROADCAST
    }

    /// Whether every byte is the `AA` wildcard.
    pub fn is_wildcard(self) -> bool {
        self == Self::WILDCARD
    }

    /// Whether any byte is the `AA` wildcard (a shortened address).
    pub(crate) fn is_shortened(self) -> bool {
        self.0.contains(&0xAA)
    }

    /// Whether a meter with address `own` must answer a frame sent to `self`: equal, or equal in
    /// every non-`AA` byte. Broadcast frames match too (but get no reply).
    pub fn matches(self, own: Address) -> bool {
        self.is_broadcast() || self.0.iter().zip(own.0).all(|(&a, o)| a == 0xAA || a == o)
    }

    /// The address as a number when every byte is BCD (no wildcard).
    pub fn to_number(self) -> Option<u64> {
        if self.is_shortened() {
            return None;
        }
        Some(self.0.iter().rev().fold(0u64, |acc, &b| {
            acc * 100 + u64::from(b >> 4) * 10 + u64::from(b & 0x0F)
        }))
    }
}

/// Index of the first byte that is neither BCD nor `AA`.
pub(crate) fn first_invalid(bytes: &[u8; 6]) -> Option<u8> {
    bytes
        .iter()
        .position(|&b| b != 0xAA && !crate::value::is_bcd_byte(b))
        .map(|i| i as u8)
}

impl fmt::Display for Address {
    /// Prints A5..A0 as 12 characters (`AA` stays `AA`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0.iter().rev() {
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({self})")
    }
}

impl core::str::FromStr for Address {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Address::parse(s)
    }
}

impl TryFrom<[u8; 6]> for Address {
    type Error = ValueError;

    /// Checks wire bytes (A0 first): each byte BCD or `AA`.
    fn try_from(value: [u8; 6]) -> Result<Self, ValueError> {
        Self::from_wire(value)
    }
}

impl From<Address> for [u8; 6] {
    /// Wire bytes, A0 first.
    fn from(value: Address) -> Self {
        value.to_wire()
    }
}

impl TryFrom<u64> for Address {
    type Error = ValueError;

    /// From a number of at most 12 decimal digits (`0x12345678` is *not* BCD here:
    /// `Address::try_from(12345678)` prints `000012345678`).
    fn try_from(value: u64) -> Result<Self, ValueError> {
        Self::from_number(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printed_reversed() {
        // unsurper/dlt645go vector: wire 76 02 02 47 02 02 prints 020247020276.
        let a = Address::from_wire([0x76, 0x02, 0x02, 0x47, 0x02, 0x02]).unwrap();
        extern crate std;
        use std::string::ToString;
        assert_eq!(a.to_string(), "020247020276");
        assert_eq!(Address::parse("020247020276").unwrap(), a);
        assert_eq!(a.to_number(), Some(20_247_020_276));
        assert_eq!(Address::from_number(20_247_020_276).unwrap(), a);
        assert_eq!(
            Address::parse("12345678").unwrap().to_string(),
            "000012345678"
        );
    }

    #[test]
    fn wildcard_and_broadcast() {
        assert!(Address::parse("AAAAAAAAAAAA").unwrap().is_wildcard());
        assert!(Address::parse("999999999999").unwrap().is_broadcast());
        let short = Address::parse("AAAA00123456").unwrap();
        assert!(short.is_shortened());
        assert!(short.matches(Address::parse("777700123456").unwrap()));
        assert!(!short.matches(Address::parse("777700123457").unwrap()));
        assert_eq!(short.to_number(), None);
    }

    #[test]
    fn rejects_non_bcd() {
        assert_eq!(
            Address::from_wire([0x00, 0x1A, 0, 0, 0, 0]),
            Err(ValueError::Bcd {
                offset: 1,
                byte: 0x1A
            })
        );
        assert!(Address::from_wire([0xAB, 0, 0, 0, 0, 0]).is_err());
        assert!(Address::parse("12345678901A").is_err());
        assert!(Address::parse("1234567890123").is_err());
        assert!(Address::parse("").is_err());
    }
}
