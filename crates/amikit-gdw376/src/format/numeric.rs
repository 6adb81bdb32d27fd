//! Numeric formats: BCD digits, little-endian (lowest digits first), signs in the top byte.

use core::fmt;

use super::{DataFormat, Decimal, bcd2, put, take};
use crate::error::FormatError;

/// Decodes `bytes` (at most 8) as little-endian BCD; the top byte's high nibble is masked with
/// `top_mask`. Eight digits pairs at a time (SWAR); the byte-wise path only names the bad byte.
#[inline]
fn digits(bytes: &[u8], top_mask: u8) -> Result<u64, FormatError> {
    const LO: u64 = 0x0F0F_0F0F_0F0F_0F0F;
    const SIX: u64 = 0x0606_0606_0606_0606;
    const CARRY: u64 = 0x1010_1010_1010_1010;
    let n = bytes.len();
    let mut raw = [0u8; 8];
    let Some(dst) = raw.get_mut(..n) else {
        return Err(FormatError::OutOfRange);
    };
    dst.copy_from_slice(bytes);
    if let Some(top) = n.checked_sub(1).and_then(|i| raw.get_mut(i)) {
        *top &= (top_mask << 4) | 0x0F;
    }
    let x = u64::from_le_bytes(raw);
    let lo = x & LO;
    let hi = (x >> 4) & LO;
    if ((lo + SIX) | (hi + SIX)) & CARRY != 0 {
        // Name the first bad byte (as sent).
        for (i, (&b, &m)) in bytes.iter().zip(raw.iter()).enumerate() {
            if bcd2(m, i).is_err() {
                return Err(FormatError::NotBcd { offset: i, byte: b });
            }
        }
    }
    let b = lo + hi * 10; // each byte: 0–99
    let w = (b & 0x00FF_00FF_00FF_00FF) + ((b >> 8) & 0x00FF_00FF_00FF_00FF) * 100; // 0–9999
    let d = (w & 0x0000_FFFF_0000_FFFF) + ((w >> 16) & 0x0000_FFFF_0000_FFFF) * 10_000;
    Ok((d & 0xFFFF_FFFF) + (d >> 32) * 100_000_000)
}

/// Checks `bytes` (at most 8) as little-endian BCD with the top byte's high nibble masked.
#[inline]
fn check_digits(bytes: &[u8], top_mask: u8) -> Result<(), FormatError> {
    digits(bytes, top_mask).map(|_| ())
}

/// Writes `v` as little-endian BCD into `out`; the top byte's high nibble may hold at most
/// `top_max`.
fn put_digits(out: &mut [u8], mut v: u64, top_max: u8) -> Result<(), FormatError> {
    let n = out.len();
    for (i, b) in out.iter_mut().enumerate() {
        let lo = (v % 10) as u8;
        v /= 10;
        let hi = (v % 10) as u8;
        v /= 10;
        if i + 1 == n && hi > top_max {
            return Err(FormatError::OutOfRange);
        }
        *b = (hi << 4) | lo;
    }
    if v != 0 {
        return Err(FormatError::OutOfRange);
    }
    Ok(())
}

macro_rules! bcd_number {
    ($(#[$doc:meta])* $name:ident, number = $num:expr, len = $len:expr, scale = $scale:expr, signed = $signed:expr, mag = $mag:ty) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $name {
            /// Sign bit (always false for unsigned formats). Kept apart so that `-0` round-trips.
            pub negative: bool,
            /// The digits as an integer (value = magnitude × 10^-scale).
            pub magnitude: $mag,
        }

        impl $name {
            /// Digits after the decimal point.
            pub const SCALE: u8 = $scale;
            /// Largest magnitude the format holds.
            pub const MAX: $mag = (if $signed { 8 * 10u64.pow(2 * $len - 1) - 1 } else { 10u64.pow(2 * $len) - 1 }) as $mag;

            /// A value from a signed mantissa in units of 10^-scale.
            ///
            /// # Errors
            ///
            /// [`FormatError::OutOfRange`] when it does not fit (or is negative for an unsigned format).
            pub fn from_mantissa(m: i64) -> Result<Self, FormatError> {
                let magnitude = m.unsigned_abs();
                if magnitude > Self::MAX as u64 || (m < 0 && !$signed) {
                    return Err(FormatError::OutOfRange);
                }
                Ok($name { negative: m < 0, magnitude: magnitude as $mag })
            }
            /// The exact value.
            #[must_use]
            pub fn value(&self) -> Decimal {
                // MAX < 10^16 fits i64.
                let m = i64::try_from(self.magnitude).unwrap_or(i64::MAX);
                Decimal::new(if self.negative { -m } else { m }, Self::SCALE)
            }
        }

        impl DataFormat for $name {
            const LEN: usize = $len;
            const NUMBER: u8 = $num;
#[inline]
            fn parse(bytes: &[u8]) -> Result<Self, FormatError> {
                let b: [u8; $len] = take(bytes)?;
                let top = b[$len - 1];
                let (negative, mask) = if $signed { (top & 0x80 != 0, 0x07) } else { (false, 0x0F) };
                // At most 16 digits, below MAX for the type by construction of the mask.
                Ok($name { negative, magnitude: digits(&b, mask)? as $mag })
            }
            #[inline]
            fn validate(bytes: &[u8]) -> Result<(), FormatError> {
                let b: [u8; $len] = take(bytes)?;
                check_digits(&b, if $signed { 0x07 } else { 0x0F })
            }
            fn emit(&self, out: &mut [u8]) -> Result<(), FormatError> {
                let mut b = [0u8; $len];
                put_digits(&mut b, u64::from(self.magnitude), if $signed { 7 } else { 9 })?;
                if $signed && self.negative {
                    b[$len - 1] |= 0x80;
                } else if self.negative {
                    return Err(FormatError::OutOfRange);
                }
                put(out, b)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                if self.negative && self.magnitude == 0 {
                    f.write_str("-")?;
                }
                fmt::Display::fmt(&self.value(), f)
            }
        }

        #[cfg(feature = "serde")]
        impl serde::Serialize for $name {
            /// As an exact decimal string.
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
    };
}

bcd_number!(
    /// Format 05 (table A.6): ±XXX.X, 2 bytes, sign in D7 of byte 2 — power factor (%), angles.
    Format05, number = 5, len = 2, scale = 1, signed = true, mag = u32
);
bcd_number!(
    /// Format 06 (table A.7): ±XX.XX, 2 bytes, sign in D7 of byte 2.
    Format06, number = 6, len = 2, scale = 2, signed = true, mag = u32
);
bcd_number!(
    /// Format 07 (table A.8): XXX.X, 2 bytes — voltage (V).
    Format07, number = 7, len = 2, scale = 1, signed = false, mag = u32
);
bcd_number!(
    /// Format 08 (table A.9): XXXX, 2 bytes — counts (e.g. purchase count).
    Format08, number = 8, len = 2, scale = 0, signed = false, mag = u32
);
bcd_number!(
    /// Format 09 (table A.10): ±XX.XXXX, 3 bytes, sign in D7 of byte 3 — kW, kvar, kVA.
    Format09, number = 9, len = 3, scale = 4, signed = true, mag = u32
);
bcd_number!(
    /// Format 10 (table A.11): XXXXXX, 3 bytes.
    Format10, number = 10, len = 3, scale = 0, signed = false, mag = u32
);
bcd_number!(
    /// Format 11 (table A.12): XXXXXX.XX, 4 bytes — energy (kWh, kvarh).
    Format11, number = 11, len = 4, scale = 2, signed = false, mag = u32
);
bcd_number!(
    /// Format 12 (table A.13): 12 BCD digits, 6 bytes — meter / collector address.
    Format12, number = 12, len = 6, scale = 0, signed = false, mag = u64
);
bcd_number!(
    /// Format 13 (table A.14): XXXX.XXXX, 4 bytes.
    Format13, number = 13, len = 4, scale = 4, signed = false, mag = u32
);
bcd_number!(
    /// Format 14 (table A.15): XXXXXX.XXXX, 5 bytes — energy registers (kWh), money (元).
    Format14, number = 14, len = 5, scale = 4, signed = false, mag = u64
);
bcd_number!(
    /// Format 22 (table A.23): X.X, 1 byte.
    Format22, number = 22, len = 1, scale = 1, signed = false, mag = u32
);
bcd_number!(
    /// Format 23 (table A.24): XX.XXXX, 3 bytes — demand (kW).
    Format23, number = 23, len = 3, scale = 4, signed = false, mag = u32
);
bcd_number!(
    /// Format 25 (table A.26): ±XXX.XXX, 3 bytes, sign in D7 of byte 3 — current (A).
    Format25, number = 25, len = 3, scale = 3, signed = true, mag = u32
);
bcd_number!(
    /// Format 26 (table A.27): X.XXX, 2 bytes.
    Format26, number = 26, len = 2, scale = 3, signed = false, mag = u32
);
bcd_number!(
    /// Format 27 (table A.28): XXXXXXXX, 4 bytes.
    Format27, number = 27, len = 4, scale = 0, signed = false, mag = u32
);

/// Format 02 (table A.2, exponent code table A.3): ±XXX × 10^n, 2 bytes. Byte 2 holds
/// G3G2G1 (D7–D5), the sign (D4) and the hundreds digit (D3–D0); the code G gives
/// 10^(4 − G): `000` → 10^4 … `100` → 10^0 … `111` → 10^-3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Format02 {
    /// Sign bit.
    pub negative: bool,
    /// Three digits, 0–999.
    pub digits: u16,
    /// The exponent code G (0–7).
    pub g: u8,
}

impl Format02 {
    /// The power of ten: 4 − G.
    #[must_use]
    pub(crate) const fn exponent(&self) -> i8 {
        4 - (self.g & 7) as i8
    }
    /// The exact value.
    #[must_use]
    pub fn value(&self) -> Decimal {
        let e = self.exponent();
        let d = i64::from(self.digits);
        let d = if self.negative { -d } else { d };
        if e >= 0 {
            Decimal::new(d * 10i64.pow(e.unsigned_abs().into()), 0)
        } else {
            Decimal::new(d, e.unsigned_abs())
        }
    }
}

impl DataFormat for Format02 {
    const LEN: usize = 2;
    const NUMBER: u8 = 2;
    fn parse(bytes: &[u8]) -> Result<Self, FormatError> {
        let [b0, b1] = take::<2>(bytes)?;
        let lo = bcd2(b0, 0)?;
        let h = b1 & 0x0F;
        if h > 9 {
            return Err(FormatError::NotBcd {
                offset: 1,
                byte: b1,
            });
        }
        Ok(Format02 {
            negative: b1 & 0x10 != 0,
            digits: u16::from(h) * 100 + u16::from(lo),
            g: b1 >> 5,
        })
    }
    fn emit(&self, out: &mut [u8]) -> Result<(), FormatError> {
        if self.digits > 999 || self.g > 7 {
            return Err(FormatError::OutOfRange);
        }
        let lo = super::to_bcd2((self.digits % 100) as u8)?;
        let h = (self.digits / 100) as u8;
        put(
            out,
            [lo, (self.g << 5) | (u8::from(self.negative) << 4) | h],
        )
    }
}

impl fmt::Display for Format02 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.value(), f)
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Format02 {
    /// As an exact decimal string.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The unit flag G of format 03.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum AmountUnit {
    /// G = 0: kWh (energy) or 厘 (fee, 0.001 元).
    #[default]
    KwhOrLi,
    /// G = 1: MWh (energy) or 元 (fee).
    MwhOrYuan,
}

/// Format 03 (table A.4): ±XXXXXXX, 4 bytes; byte 4 carries the unit flag G (D6: kWh/厘 or
/// MWh/元) and the sign S (D4) — purchase energy/fee, thresholds, remaining energy/fee.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Format03 {
    /// Sign bit.
    pub negative: bool,
    /// Seven digits, 0–9 999 999.
    pub magnitude: u32,
    /// The unit flag.
    pub unit: AmountUnit,
}

/// A format 03 value resolved to a quantity in its smaller unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Amount {
    /// Signed amount in the small unit: kWh for energy, 厘 (0.001 元) for fees.
    pub small_units: i64,
}

impl From<Format03> for Amount {
    /// The amount in the small unit (kWh or 厘): ×1000 when the flag says MWh or 元.
    fn from(f: Format03) -> Amount {
        let v = f.signed();
        Amount {
            small_units: if f.unit == AmountUnit::MwhOrYuan {
                v * 1000
            } else {
                v
            },
        }
    }
}

impl Format03 {
    /// The signed number as written (in the flagged unit).
    #[must_use]
    pub(crate) fn signed(&self) -> i64 {
        let m = i64::from(self.magnitude);
        if self.negative { -m } else { m }
    }
    /// A fee in 元 as an exact decimal (厘 → 3 decimals).
    #[must_use]
    pub fn as_yuan(&self) -> Decimal {
        match self.unit {
            AmountUnit::KwhOrLi => Decimal::new(self.signed(), 3),
            AmountUnit::MwhOrYuan => Decimal::new(self.signed(), 0),
        }
    }
}

impl DataFormat for Format03 {
    const LEN: usize = 4;
    const NUMBER: u8 = 3;
    fn parse(bytes: &[u8]) -> Result<Self, FormatError> {
        let [b0, b1, b2, b3] = take::<4>(bytes)?;
        let low = digits(&[b0, b1, b2], 0x0F)?;
        let h = b3 & 0x0F;
        if h > 9 {
            return Err(FormatError::NotBcd {
                offset: 3,
                byte: b3,
            });
        }
        let magnitude = u32::from(h) * 1_000_000 + u32::try_from(low).unwrap_or(0);
        Ok(Format03 {
            negative: b3 & 0x10 != 0,
            magnitude,
            unit: if b3 & 0x40 != 0 {
                AmountUnit::MwhOrYuan
            } else {
                AmountUnit::KwhOrLi
            },
        })
    }
    fn emit(&self, out: &mut [u8]) -> Result<(), FormatError> {
        if self.magnitude > 9_999_999 {
            return Err(FormatError::OutOfRange);
        }
        let mut b = [0u8; 3];
        put_digits(&mut b, u64::from(self.magnitude % 1_000_000), 9)?;
        let h = (self.magnitude / 1_000_000) as u8;
        let g = if self.unit == AmountUnit::MwhOrYuan {
            0x40
        } else {
            0
        };
        put(
            out,
            [b[0], b[1], b[2], g | (u8::from(self.negative) << 4) | h],
        )
    }
}

impl fmt::Display for Format03 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.unit {
            AmountUnit::KwhOrLi => "kWh|li",
            AmountUnit::MwhOrYuan => "MWh|yuan",
        };
        write!(f, "{} {unit}", self.signed())
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Format03 {
    /// As `{"value": "<signed integer>", "unit": "KwhOrLi" | "MwhOrYuan"}`.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Format03", 2)?;
        st.serialize_field("value", &self.signed())?;
        st.serialize_field("unit", &self.unit)?;
        st.end()
    }
}

/// Format 04 (table A.5): a float percentage, 1 byte: D7 = S0 (0 up / 上浮, 1 down / 下浮),
/// D6–D4 tens, D3–D0 units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Format04 {
    /// True for a downward float (S0 = 1).
    pub down: bool,
    /// Percentage 0–79.
    pub percent: u8,
}

impl DataFormat for Format04 {
    const LEN: usize = 1;
    const NUMBER: u8 = 4;
    fn parse(bytes: &[u8]) -> Result<Self, FormatError> {
        let [b] = take::<1>(bytes)?;
        Ok(Format04 {
            down: b & 0x80 != 0,
            percent: bcd2(b & 0x7F, 0)?,
        })
    }
    fn emit(&self, out: &mut [u8]) -> Result<(), FormatError> {
        if self.percent > 79 {
            return Err(FormatError::OutOfRange);
        }
        put(
            out,
            [(u8::from(self.down) << 7) | super::to_bcd2(self.percent)?],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vector_values() {
        // gdw376-052 (powerstation Decoder376Test): P total 73 11 01 = 1.1173 kW (format 09),
        // PF total 99 09 = 99.9 % (format 05), U_a 90 21 = 219.0 V (format 07),
        // I_a 00 17 00 = 1.700 A (format 25).
        assert_eq!(
            Format09::parse(&[0x73, 0x11, 0x01]).unwrap().value(),
            Decimal::new(11173, 4)
        );
        assert_eq!(
            Format05::parse(&[0x99, 0x09]).unwrap().value(),
            Decimal::new(999, 1)
        );
        assert_eq!(
            Format07::parse(&[0x90, 0x21]).unwrap().value(),
            Decimal::new(2190, 1)
        );
        assert_eq!(
            Format25::parse(&[0x00, 0x17, 0x00]).unwrap().value(),
            Decimal::new(1700, 3)
        );
        // gdw376-051: PF 00 10 = 100.0 %, U 27 24 = 242.7 V.
        assert_eq!(
            Format05::parse(&[0x00, 0x10]).unwrap().value(),
            Decimal::new(1000, 1)
        );
        assert_eq!(
            Format07::parse(&[0x27, 0x24]).unwrap().value(),
            Decimal::new(2427, 1)
        );
        // gdw376-054: 01 00 00 00 00 = 0.0100 kWh (format 14).
        assert_eq!(
            Format14::parse(&[0x00, 0x01, 0, 0, 0]).unwrap().value(),
            Decimal::new(100, 4)
        );
        // Sign bit.
        assert_eq!(
            Format09::parse(&[0x00, 0x50, 0x80]).unwrap().value(),
            Decimal::new(-5000, 4)
        );
        assert!(Format07::parse(&[0x0A, 0x00]).is_err());
    }

    #[test]
    fn format02_and_03() {
        // Format 02: 0x25 0x81 → G=100 (10^0), S=0, hundreds 1 → 125.
        let v = Format02::parse(&[0x25, 0x81]).unwrap();
        assert_eq!(v.value(), Decimal::new(125, 0));
        let w = Format02::parse(&[0x25, 0xF1]).unwrap(); // G=111 → 10^-3, S=1
        assert_eq!(w.value(), Decimal::new(-125, 3));
        // Format 03 (Q/GDW 1376.1-2013 Appendix A, table A.4): G (D6) flags MWh/元; S in D4.
        let f = Format03::parse(&[0x00, 0x10, 0x00, 0x40]).unwrap();
        assert_eq!(f.magnitude, 1000);
        assert_eq!(f.unit, AmountUnit::MwhOrYuan);
        assert_eq!(Amount::from(f).small_units, 1_000_000);
        assert_eq!(f.as_yuan(), Decimal::new(1000, 0));
        let g = Format03::parse(&[0x00, 0x50, 0x00, 0x10]).unwrap();
        assert_eq!(g.signed(), -5000);
        assert_eq!(g.as_yuan(), Decimal::new(-5000, 3));
        let mut out = [0u8; 4];
        g.emit(&mut out).unwrap();
        assert_eq!(out, [0x00, 0x50, 0x00, 0x10]);
        assert!(
            Format03 {
                magnitude: 10_000_000,
                ..g
            }
            .emit(&mut out)
            .is_err()
        );
    }
}
