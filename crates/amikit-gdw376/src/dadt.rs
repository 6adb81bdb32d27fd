//! Data-unit identifiers DA/DT and their (pn, Fn) pairs (Q/GDW 1376.1-2013, application layer: data unit identifier).
//!
//! `pn = (DA2 − 1) × 8 + bit + 1` with DA1 a bit mask and DA2 a group (1–255); `DA1 = DA2 = 0`
//! is p0 (the terminal itself); `DA1 = FF, DA2 = 00` is "all valid points".
//! `Fn = DT2 × 8 + bit + 1` with DT1 a bit mask and DT2 a group (0–30): F1–F248.
//! One DA/DT names up to 8 pn × 8 Fn; the data units follow in pn-major, Fn-minor order.

use core::fmt;

use crate::error::DaDtError;

/// A measurement point (or total-add group, control round, port… depending on Fn).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Pn(pub u16);

impl Pn {
    /// p0: the terminal itself.
    pub const P0: Pn = Pn(0);
    /// "All valid measurement points" (`DA = FF 00`).
    pub const ALL: Pn = Pn(u16::MAX);
    /// Largest encodable point number.
    pub const MAX: u16 = 2040;

    /// True for [`Pn::ALL`].
    #[must_use]
    pub const fn is_all(self) -> bool {
        self.0 == u16::MAX
    }
}

impl fmt::Debug for Pn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_all() {
            f.write_str("p(all)")
        } else {
            write!(f, "p{}", self.0)
        }
    }
}

impl fmt::Display for Pn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// An information class F1–F248: the standard's `Fn` (function number) of a DA/DT, named so
/// that it does not shadow the `Fn` trait.
#[doc(alias = "Fn")]
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct InfoClass(pub u8);

impl InfoClass {
    /// Largest encodable Fn.
    pub const MAX: u8 = 248;
}

/// The former name of [`InfoClass`] (the standard's word, which shadows the `Fn` trait).
#[deprecated(since = "0.1.0", note = "renamed to `InfoClass`")]
pub use InfoClass as Fn;

impl fmt::Debug for InfoClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "F{}", self.0)
    }
}

impl fmt::Display for InfoClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "F{}", self.0)
    }
}

/// One DA/DT group as on the wire: `DA1 DA2 DT1 DT2`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct DaDt {
    /// DA1: point bit mask.
    pub da1: u8,
    /// DA2: point group.
    pub da2: u8,
    /// DT1: Fn bit mask.
    pub dt1: u8,
    /// DT2: Fn group.
    pub dt2: u8,
}

impl fmt::Debug for DaDt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "DaDt({:02X}{:02X} {:02X}{:02X})",
            self.da1, self.da2, self.dt1, self.dt2
        )
    }
}

impl From<[u8; 4]> for DaDt {
    /// Reads the four bytes (no validation; see [`DaDt::check`]).
    fn from(b: [u8; 4]) -> Self {
        DaDt::from_bytes(b)
    }
}

impl From<DaDt> for [u8; 4] {
    /// The four bytes.
    fn from(d: DaDt) -> [u8; 4] {
        d.to_bytes()
    }
}

impl DaDt {
    /// Wire size.
    pub const LEN: usize = 4;

    /// Reads the four bytes (no validation; see [`DaDt::check`]).
    #[must_use]
    pub(crate) const fn from_bytes(b: [u8; 4]) -> Self {
        DaDt {
            da1: b[0],
            da2: b[1],
            dt1: b[2],
            dt2: b[3],
        }
    }
    /// The four bytes.
    #[must_use]
    pub const fn to_bytes(self) -> [u8; 4] {
        [self.da1, self.da2, self.dt1, self.dt2]
    }

    /// Validates DA and DT: DA is p0, "all" or a non-empty mask with a group; DT is a non-empty
    /// mask with a group ≤ 30.
    ///
    /// # Errors
    ///
    /// [`DaDtError::BadDa`] or [`DaDtError::BadDt`].
    pub const fn check(self) -> Result<(), DaDtError> {
        let da_ok = if self.da2 == 0 {
            matches!(self.da1, 0 | 0xFF)
        } else {
            self.da1 != 0
        };
        if !da_ok {
            return Err(DaDtError::BadDa {
                da1: self.da1,
                da2: self.da2,
            });
        }
        if self.dt1 == 0 || self.dt2 > 30 {
            return Err(DaDtError::BadDt {
                dt1: self.dt1,
                dt2: self.dt2,
            });
        }
        Ok(())
    }

    /// The points named by DA, ascending.
    #[must_use]
    pub const fn pns(self) -> Pns {
        Pns {
            da1: self.da1,
            da2: self.da2,
            bit: 0,
        }
    }
    /// The Fn named by DT (bit-mask reading), ascending.
    #[must_use]
    pub const fn fns(self) -> Fns {
        Fns {
            mask: self.dt1,
            dt2: self.dt2,
            bit: 0,
            number: false,
        }
    }
    /// The Fn named by DT with the "Fn written as a number" leniency (captured traffic): a DT1 with
    /// more than one bit set is read as the Fn *number* inside the group (`03 00` → F3).
    /// A DT1 with one bit set is read as a mask, as the standard says.
    #[must_use]
    pub(crate) const fn fns_number_lenient(self) -> Fns {
        if self.dt1.count_ones() > 1 && self.dt1 <= 8 {
            Fns {
                mask: self.dt1,
                dt2: self.dt2,
                bit: 0,
                number: true,
            }
        } else {
            self.fns()
        }
    }
    /// Number of (pn, Fn) pairs.
    #[must_use]
    pub(crate) const fn pair_count(self) -> usize {
        let p = if self.da1 == 0 || (self.da1 == 0xFF && self.da2 == 0) {
            1
        } else {
            self.da1.count_ones() as usize
        };
        p * (self.dt1.count_ones() as usize)
    }
    /// The (pn, Fn) pairs in pn-major, Fn-minor order (the order of the data units).
    #[must_use]
    pub const fn pairs(self) -> Pairs {
        Pairs {
            pns: self.pns(),
            current: None,
            fns: self.fns(),
            template: self.fns(),
        }
    }
    /// As [`DaDt::pairs`] with [`DaDt::fns_number_lenient`] for the Fn.
    #[must_use]
    pub(crate) const fn pairs_lenient(self) -> Pairs {
        Pairs {
            pns: self.pns(),
            current: None,
            fns: self.fns_number_lenient(),
            template: self.fns_number_lenient(),
        }
    }

    /// The DA for one point.
    ///
    /// # Errors
    ///
    /// [`DaDtError::OutOfRange`] above p2040.
    pub(crate) const fn da_for(pn: Pn) -> Result<(u8, u8), DaDtError> {
        if pn.0 == 0 {
            Ok((0, 0))
        } else if pn.is_all() {
            Ok((0xFF, 0))
        } else if pn.0 > Pn::MAX {
            Err(DaDtError::OutOfRange { pn: pn.0, fn_: 0 })
        } else {
            let i = pn.0 - 1;
            Ok((1 << (i % 8), (i / 8 + 1) as u8))
        }
    }
    /// The DT for one Fn.
    ///
    /// # Errors
    ///
    /// [`DaDtError::OutOfRange`] for F0 or above F248.
    pub(crate) const fn dt_for(fn_: InfoClass) -> Result<(u8, u8), DaDtError> {
        if fn_.0 == 0 || fn_.0 > InfoClass::MAX {
            return Err(DaDtError::OutOfRange { pn: 0, fn_: fn_.0 });
        }
        let i = fn_.0 - 1;
        Ok((1 << (i % 8), i / 8))
    }
    /// The DA/DT of a single (pn, Fn).
    ///
    /// # Errors
    ///
    /// [`DaDtError::OutOfRange`].
    pub const fn single(pn: Pn, fn_: InfoClass) -> Result<Self, DaDtError> {
        let (da1, da2) = match Self::da_for(pn) {
            Ok(v) => v,
            Err(e) => return Err(e),
        };
        let (dt1, dt2) = match Self::dt_for(fn_) {
            Ok(v) => v,
            Err(e) => return Err(e),
        };
        Ok(DaDt { da1, da2, dt1, dt2 })
    }
    /// The DA/DT naming several points and functions; all points must lie in one group of eight
    /// (or be a single p0 / "all"), all Fn in one group of eight.
    ///
    /// # Errors
    ///
    /// [`DaDtError::MixedGroups`], [`DaDtError::OutOfRange`].
    pub fn group(pns: &[Pn], fns: &[InfoClass]) -> Result<Self, DaDtError> {
        let mut out = DaDt::default();
        let mut first = true;
        for &pn in pns {
            let (m, g) = Self::da_for(pn)?;
            if first {
                out.da1 = m;
                out.da2 = g;
                first = false;
            } else if g != out.da2 || g == 0 {
                return Err(DaDtError::MixedGroups);
            } else {
                out.da1 |= m;
            }
        }
        if first {
            return Err(DaDtError::OutOfRange { pn: 0, fn_: 0 });
        }
        let mut first = true;
        for &f in fns {
            let (m, g) = Self::dt_for(f)?;
            if first {
                out.dt1 = m;
                out.dt2 = g;
                first = false;
            } else if g != out.dt2 {
                return Err(DaDtError::MixedGroups);
            } else {
                out.dt1 |= m;
            }
        }
        if first {
            return Err(DaDtError::OutOfRange { pn: 0, fn_: 0 });
        }
        Ok(out)
    }
}

/// Points named by a DA, ascending.
#[derive(Debug, Clone, Copy)]
pub struct Pns {
    da1: u8,
    da2: u8,
    bit: u8,
}

impl Iterator for Pns {
    type Item = Pn;
    fn next(&mut self) -> Option<Pn> {
        if self.bit >= 8 {
            return None;
        }
        if self.da2 == 0 {
            self.bit = 8;
            return match self.da1 {
                0 => Some(Pn::P0),
                0xFF => Some(Pn::ALL),
                _ => None,
            };
        }
        while self.bit < 8 {
            let b = self.bit;
            self.bit += 1;
            if self.da1 & (1 << b) != 0 {
                let pn = (u16::from(self.da2) - 1) * 8 + u16::from(b) + 1;
                return Some(Pn(pn));
            }
        }
        None
    }
}

/// Functions named by a DT, ascending.
#[derive(Debug, Clone, Copy)]
pub struct Fns {
    mask: u8,
    dt2: u8,
    bit: u8,
    number: bool,
}

impl Iterator for Fns {
    type Item = InfoClass;
    fn next(&mut self) -> Option<InfoClass> {
        if self.number {
            if self.bit > 0 {
                return None;
            }
            self.bit = 8;
            let n = u16::from(self.dt2) * 8 + u16::from(self.mask);
            return u8::try_from(n).ok().map(InfoClass);
        }
        while self.bit < 8 {
            let b = self.bit;
            self.bit += 1;
            if self.mask & (1 << b) != 0 {
                let n = u16::from(self.dt2) * 8 + u16::from(b) + 1;
                return u8::try_from(n).ok().map(InfoClass);
            }
        }
        None
    }
}

/// (pn, Fn) pairs of a DA/DT in pn-major order.
#[derive(Debug, Clone, Copy)]
pub struct Pairs {
    pns: Pns,
    current: Option<Pn>,
    fns: Fns,
    template: Fns,
}

impl Iterator for Pairs {
    type Item = (Pn, InfoClass);
    fn next(&mut self) -> Option<(Pn, InfoClass)> {
        loop {
            let pn = match self.current {
                Some(pn) => pn,
                None => {
                    let pn = self.pns.next()?;
                    self.current = Some(pn);
                    self.fns = self.template;
                    pn
                }
            };
            if let Some(f) = self.fns.next() {
                return Some((pn, f));
            }
            self.current = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::{vec, vec::Vec};

    #[test]
    fn standard_examples() {
        // Q/GDW 1376.1-2013 DA/DT coding and vector gdw376-052: DA 10 01 → p5; DT 01 03 → F25.
        let d = DaDt::from_bytes([0x10, 0x01, 0x01, 0x03]);
        d.check().unwrap();
        assert_eq!(d.pairs().collect::<Vec<_>>(), vec![(Pn(5), InfoClass(25))]);
        // gdw376-058: DT 40 14 → F167; gdw376-060: DT 80 14 → F168.
        assert_eq!(
            DaDt::from_bytes([1, 1, 0x40, 0x14]).fns().next(),
            Some(InfoClass(167))
        );
        assert_eq!(
            DaDt::from_bytes([1, 1, 0x80, 0x14]).fns().next(),
            Some(InfoClass(168))
        );
        // p0 and all points.
        assert_eq!(
            DaDt::from_bytes([0, 0, 1, 0]).pns().collect::<Vec<_>>(),
            vec![Pn::P0]
        );
        assert_eq!(
            DaDt::from_bytes([0xFF, 0, 1, 0]).pns().collect::<Vec<_>>(),
            vec![Pn::ALL]
        );
        // gdw376-019: DT 03 00 is F1+F2 as a mask, F3 with the number leniency.
        let odd = DaDt::from_bytes([0, 0, 3, 0]);
        assert_eq!(
            odd.fns().collect::<Vec<_>>(),
            vec![InfoClass(1), InfoClass(2)]
        );
        assert_eq!(
            odd.fns_number_lenient().collect::<Vec<_>>(),
            vec![InfoClass(3)]
        );
        assert!(DaDt::from_bytes([0, 0, 0, 0]).check().is_err());
        assert!(DaDt::from_bytes([2, 0, 1, 0]).check().is_err());
        assert!(DaDt::from_bytes([0, 0, 1, 31]).check().is_err());
    }

    #[test]
    fn pn_major_order() {
        let d = DaDt::group(&[Pn(1), Pn(3)], &[InfoClass(25), InfoClass(26)]).unwrap();
        assert_eq!(d.to_bytes(), [0b101, 1, 0b11, 3]);
        assert_eq!(
            d.pairs().collect::<Vec<_>>(),
            vec![
                (Pn(1), InfoClass(25)),
                (Pn(1), InfoClass(26)),
                (Pn(3), InfoClass(25)),
                (Pn(3), InfoClass(26))
            ]
        );
        assert_eq!(d.pair_count(), 4);
        assert!(DaDt::group(&[Pn(1), Pn(9)], &[InfoClass(1)]).is_err());
        assert!(DaDt::single(Pn(2041), InfoClass(1)).is_err());
        assert!(DaDt::single(Pn(1), InfoClass(249)).is_err());
        assert_eq!(
            DaDt::single(Pn(2040), InfoClass(248)).unwrap().to_bytes(),
            [0x80, 255, 0x80, 30]
        );
    }
}
