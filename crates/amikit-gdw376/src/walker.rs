//! The data-unit walker: splits the data-unit region into `(pn, Fn, data)` units.
//!
//! The walker knows each Fn's length per profile, AFN and direction ([`unit_len`]) — fixed,
//! count-dependent (`M` tariffs, `n` meters), or `Le`-prefixed (events). When it does not, or
//! when a DA/DT group does not end where the next one (or the region) begins, it yields the rest
//! as an [`Opaque`] item and stops: it never desynchronises and never panics.

use crate::afn::Afn;
use crate::control::Direction;
use crate::dadt::{DaDt, InfoClass, Pairs, Pn};
use crate::error::DaDtError;
use crate::profile::{Leniency, Profile, Version};

/// One data unit of known length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Unit<'a> {
    /// The DA/DT group it belongs to.
    pub dadt: DaDt,
    /// Its point.
    pub pn: Pn,
    /// Its information class.
    pub fn_: InfoClass,
    /// Its data bytes (possibly empty).
    pub data: &'a [u8],
}

/// Why the walker gave up on the rest of the region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum OpaqueReason {
    /// The walker does not know this Fn's layout (for this AFN, direction and profile).
    UnknownLayout,
    /// The group's units do not end where the next DA/DT (or the region) begins, or a unit
    /// needs more bytes than there are.
    LengthMismatch,
    /// The bytes do not start with a valid DA/DT.
    BadDaDt(DaDtError),
    /// Fewer than four bytes left for a DA/DT.
    Truncated,
}

/// The unexplained rest of a data-unit region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Opaque<'a> {
    /// The DA/DT of the group, when it was valid.
    pub dadt: Option<DaDt>,
    /// The first (pn, Fn) not walked, when known.
    pub at: Option<(Pn, InfoClass)>,
    /// The bytes not walked; they follow the DA/DT when `header_len` is 4.
    pub bytes: &'a [u8],
    /// 4 when the group's DA/DT was consumed with this item (no unit of the group was yielded
    /// before it), else 0: the item covers `header_len + bytes.len()` bytes of the region.
    pub header_len: usize,
    /// Why.
    pub reason: OpaqueReason,
}

/// An item of the data-unit region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item<'a> {
    /// A unit of known length.
    Unit(Unit<'a>),
    /// The rest of the region, not understood; the walk ends.
    Opaque(Opaque<'a>),
    /// Zero filler after the last unit (leniency `trailing-fill`); the walk ends.
    Filler(&'a [u8]),
}

/// The length of one unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitLen {
    /// This many bytes.
    Exact(usize),
    /// Not known for this AFN, Fn, direction and profile.
    Unknown,
}

/// Iterator over the items of a data-unit region.
#[derive(Debug, Clone)]
pub struct Units<'a> {
    rest: &'a [u8],
    afn: Afn,
    dir: Direction,
    profile: Profile,
    group: Option<(DaDt, Pairs, usize)>,
    done: bool,
}

impl<'a> Units<'a> {
    /// Walks `region` of a frame with this AFN and direction.
    #[must_use]
    pub fn new(region: &'a [u8], afn: Afn, dir: Direction, profile: &Profile) -> Self {
        Units {
            rest: region,
            afn,
            dir,
            profile: *profile,
            group: None,
            done: false,
        }
    }

    fn pairs_of(&self, d: DaDt) -> Pairs {
        if self.profile.allows(Leniency::FN_AS_NUMBER) && matches!(self.afn.0, 0x00 | 0x02) {
            d.pairs_lenient()
        } else {
            d.pairs()
        }
    }

    /// `(pn, Fn)` when the DA/DT names exactly one pair.
    #[inline]
    fn single_pair(&self, d: DaDt) -> Option<(Pn, InfoClass)> {
        let pn = match (d.da1, d.da2) {
            (0, 0) => Pn::P0,
            (0xFF, 0) => Pn::ALL,
            (m, g) if m.is_power_of_two() && g != 0 => {
                Pn((u16::from(g) - 1) * 8 + m.trailing_zeros() as u16 + 1)
            }
            _ => return None,
        };
        let lenient =
            self.profile.allows(Leniency::FN_AS_NUMBER) && matches!(self.afn.0, 0x00 | 0x02);
        let f = if d.dt1.is_power_of_two() {
            u16::from(d.dt2) * 8 + d.dt1.trailing_zeros() as u16 + 1
        } else if lenient && d.dt1 <= 8 {
            u16::from(d.dt2) * 8 + u16::from(d.dt1)
        } else {
            return None;
        };
        Some((pn, InfoClass(u8::try_from(f).ok()?)))
    }

    fn opaque(
        &mut self,
        dadt: Option<DaDt>,
        at: Option<(Pn, InfoClass)>,
        bytes: &'a [u8],
        reason: OpaqueReason,
        header_len: usize,
    ) -> Option<Item<'a>> {
        self.done = true;
        self.rest = &[];
        Some(Item::Opaque(Opaque {
            dadt,
            at,
            bytes,
            reason,
            header_len,
        }))
    }

    /// Length of the group of `d` starting at `body`: `Some(total)` when every unit's length is
    /// known and fits.
    fn group_len(&self, d: DaDt, body: &[u8]) -> Option<usize> {
        let mut off = 0usize;
        for (_, f) in self.pairs_of(d) {
            let here = body.get(off..)?;
            match unit_len(&self.profile, self.afn, self.dir, f, here) {
                UnitLen::Exact(n) if n <= here.len() => off += n,
                _ => return None,
            }
        }
        Some(off)
    }

    fn ends_cleanly(&self, after: &[u8]) -> bool {
        match after.first_chunk::<4>() {
            None => after.is_empty() || self.is_fill(after),
            Some(b) => DaDt::from_bytes(*b).check().is_ok() || self.is_fill(after),
        }
    }

    fn is_fill(&self, b: &[u8]) -> bool {
        self.profile.allows(Leniency::TRAILING_FILL) && b.iter().all(|&x| x == 0)
    }
}

impl<'a> Iterator for Units<'a> {
    type Item = Item<'a>;

    fn next(&mut self) -> Option<Item<'a>> {
        if self.done {
            return None;
        }
        loop {
            if let Some((d, pairs, left)) = &mut self.group {
                let d = *d;
                let header = if *left == d.pair_count() {
                    DaDt::LEN
                } else {
                    0
                };
                if let Some((pn, f)) = pairs.next() {
                    let rest = self.rest;
                    return match unit_len(&self.profile, self.afn, self.dir, f, rest) {
                        UnitLen::Exact(n) => match rest.split_at_checked(n) {
                            Some((data, tail)) => {
                                self.rest = tail;
                                *left = left.saturating_sub(1);
                                Some(Item::Unit(Unit {
                                    dadt: d,
                                    pn,
                                    fn_: f,
                                    data,
                                }))
                            }
                            None => self.opaque(
                                Some(d),
                                Some((pn, f)),
                                rest,
                                OpaqueReason::LengthMismatch,
                                header,
                            ),
                        },
                        UnitLen::Unknown => self.opaque(
                            Some(d),
                            Some((pn, f)),
                            rest,
                            OpaqueReason::UnknownLayout,
                            header,
                        ),
                    };
                }
                self.group = None;
            }
            if self.rest.is_empty() {
                self.done = true;
                return None;
            }
            if self.is_fill(self.rest) {
                self.done = true;
                let f = self.rest;
                self.rest = &[];
                return Some(Item::Filler(f));
            }
            let Some((head, body)) = self.rest.split_first_chunk::<4>() else {
                let r = self.rest;
                return self.opaque(None, None, r, OpaqueReason::Truncated, 0);
            };
            let d = DaDt::from_bytes(*head);
            if let Err(e) = d.check() {
                let r = self.rest;
                return self.opaque(None, None, r, OpaqueReason::BadDaDt(e), 0);
            }
            // The common case: one pn and one Fn.
            if let Some((pn, f)) = self.single_pair(d) {
                return match unit_len(&self.profile, self.afn, self.dir, f, body) {
                    UnitLen::Exact(n) => match body.split_at_checked(n) {
                        Some((data, after)) if self.ends_cleanly(after) => {
                            self.rest = after;
                            Some(Item::Unit(Unit {
                                dadt: d,
                                pn,
                                fn_: f,
                                data,
                            }))
                        }
                        _ => self.opaque(
                            Some(d),
                            Some((pn, f)),
                            body,
                            OpaqueReason::LengthMismatch,
                            DaDt::LEN,
                        ),
                    },
                    UnitLen::Unknown => self.opaque(
                        Some(d),
                        Some((pn, f)),
                        body,
                        OpaqueReason::UnknownLayout,
                        DaDt::LEN,
                    ),
                };
            }
            // Check that the whole group is understood and ends at a group boundary before
            // yielding any of its units; otherwise report it as one opaque item.
            let first = self.pairs_of(d).next();
            if let Some(total) = self.group_len(d, body) {
                let after = body.get(total..).unwrap_or(&[]);
                if !self.ends_cleanly(after) {
                    return self.opaque(
                        Some(d),
                        first,
                        body,
                        OpaqueReason::LengthMismatch,
                        DaDt::LEN,
                    );
                }
            }
            // Unknown or short units are reported when reached (earlier units stay usable).
            self.rest = body;
            let pairs = self.pairs_of(d);
            self.group = Some((d, pairs, d.pair_count()));
        }
    }
}

/// Bytes of one unit: the data-unit layout of `fn_` under `afn` in direction `dir`. `d` is the
/// region from this unit's first byte on (for counts such as M, n, Le).
#[must_use]
pub fn unit_len(profile: &Profile, afn: Afn, dir: Direction, fn_: InfoClass, d: &[u8]) -> UnitLen {
    use UnitLen::{Exact, Unknown};
    let f = fn_.0;
    let byte = |i: usize| d.get(i).copied().map(usize::from);
    let word = |i: usize| match (d.get(i), d.get(i + 1)) {
        (Some(&a), Some(&b)) => Some(usize::from(u16::from_le_bytes([a, b]))),
        _ => None,
    };
    let opt = |v: Option<usize>| v.map_or(Unknown, Exact);
    let down = matches!(dir, Direction::Down);
    match afn.0 {
        // Confirm / deny: F1, F2 empty; F3 = AFN + {DA DT ERR}* to the end of the region.
        0x00 => match f {
            1 | 2 => Exact(0),
            3 if d.len() % 5 == 1 => Exact(d.len()),
            _ => Unknown,
        },
        0x01 if down => match f {
            1..=4 => Exact(0),
            _ => Unknown,
        },
        0x02 => match f {
            1..=3 if profile.allows(Leniency::LINK_DATA) => Exact(d.len()),
            1..=3 => Exact(0),
            _ => Unknown,
        },
        0x04 if down => param_len(f, d),
        0x0A if !down => param_len(f, d),
        0x0A => match f {
            10 => opt(word(0).map(|n| 2 + 2 * n)),
            _ => Exact(0),
        },
        0x05 if down => match f {
            1 | 25 | 30 | 49..=53 => Exact(1),
            2 | 10 | 11 | 15..=24 | 26..=29 | 33..=39 => Exact(0),
            9 | 41 | 42 => Exact(2),
            31 => Exact(6),
            32 => opt(byte(1).map(|n| 2 + n)),
            _ => Unknown,
        },
        // AFN 06 F1–F4: a 16-byte authentication or random-number block, p0, both directions.
        0x06 => match f {
            1..=4 => Exact(crate::identity::CHALLENGE_LEN),
            _ => Unknown,
        },
        0x09 if down => Exact(0),
        0x09 => match f {
            1 => Exact(41),
            _ => Unknown,
        },
        0x0C if down => Exact(0),
        0x0C => class1_len(profile, f, d),
        0x0D => {
            let td = match f {
                1..=12 | 25..=32 | 41..=43 | 49 | 50 | 153..=156 | 161..=176 | 185..=192 => 3,
                17..=24 | 33..=39 | 44 | 51 | 52 | 157..=160 | 177..=184 | 193..=196 => 2,
                73..=76 | 81..=95 | 97..=110 | 145..=148 => 7,
                _ => return Unknown,
            };
            if down {
                return Exact(td);
            }
            let m = |off: usize| byte(td + off);
            let v = match f {
                1 | 2 | 9 | 10 | 17 | 18 => m(5).map(|m| 6 + 17 * (m + 1)),
                3 | 4 | 11 | 12 | 19 | 20 => m(5).map(|m| 6 + 14 * (m + 1)),
                5..=8 | 21..=24 => m(0).map(|m| 1 + 4 * (m + 1)),
                161 | 163 | 169 | 171 | 177 | 179 => m(5).map(|m| 6 + 5 * (m + 1)),
                162 | 164..=168 | 170 | 172..=176 | 178 | 180..=184 => {
                    m(5).map(|m| 6 + 4 * (m + 1))
                }
                185..=196 => m(5).map(|m| 6 + 7 * (m + 1)),
                _ => None,
            };
            opt(v.map(|v| td + v))
        }
        0x0E if down => match f {
            1 | 2 => Exact(2),
            _ => Unknown,
        },
        0x0E => match f {
            1 | 2 => opt(event_block_len(d)),
            _ => Unknown,
        },
        0x0F if down => match f {
            1 => opt(word(9).map(|n| 11 + n)),
            _ => Unknown,
        },
        0x0F => match f {
            1 => Exact(4),
            _ => Unknown,
        },
        0x10 if down => match f {
            1 => opt(word(4).map(|k| 6 + k)),
            _ => Unknown,
        },
        0x10 => match f {
            1 => opt(word(1).map(|k| 3 + k)),
            _ => Unknown,
        },
        _ => Unknown,
    }
}

/// AFN 04 (downlink) / 0A (uplink) parameter layouts.
fn param_len(f: u8, d: &[u8]) -> UnitLen {
    use UnitLen::{Exact, Unknown};
    let byte = |i: usize| d.get(i).copied().map(usize::from);
    let word = |i: usize| match (d.get(i), d.get(i + 1)) {
        (Some(&a), Some(&b)) => Some(usize::from(u16::from_le_bytes([a, b]))),
        _ => None,
    };
    let v = match f {
        1 => Some(6),
        2 => byte(0).map(|n| 1 + 2 * (n & 0x7F)),
        3 => Some(28),
        4 | 6 | 9 => Some(16),
        5 | 23 | 57 => Some(3),
        7 => byte(20).and_then(|m| byte(21 + m).map(|n| 24 + m + n)),
        8 => Some(8),
        10 => word(0).map(|n| 2 + 27 * n),
        11 => byte(0).map(|n| 1 + 5 * n),
        12 | 17 => Some(2),
        13 => byte(0).map(|n| 1 + 3 * n),
        16 => Some(64),
        18 => Some(12),
        19 | 20 | 43 | 45 | 48 | 58 => Some(1),
        21 => Some(49),
        22 => byte(0).map(|m| 1 + 4 * m),
        25 => Some(11),
        46 | 59 => Some(4),
        47 => Some(17),
        _ => None,
    };
    v.map_or(Unknown, Exact)
}

/// AFN 0C (uplink) layouts.
fn class1_len(profile: &Profile, f: u8, d: &[u8]) -> UnitLen {
    use UnitLen::{Exact, Unknown};
    let m5 = d.get(5).copied().map(usize::from);
    let m0 = d.first().copied().map(usize::from);
    let v = match f {
        2 => Some(6),
        3 => Some(31),
        4 => Some(1),
        7 | 9 | 17 | 18 | 24 => Some(2),
        8 | 10 => Some(8),
        19..=22 => m0.map(|m| 1 + 4 * (m + 1)),
        23 => Some(4),
        25 => Some(67),
        33 | 34 | 37 | 38 => m5.map(|m| 6 + 17 * (m + 1)),
        35 | 36 | 39 | 40 => m5.map(|m| 6 + 14 * (m + 1)),
        129 | 131 | 137 | 139 => m5.map(|m| 6 + 5 * (m + 1)),
        130 | 132..=136 | 138 | 140..=144 => m5.map(|m| 6 + 4 * (m + 1)),
        145..=152 => m5.map(|m| 6 + 7 * (m + 1)),
        161 => Some(16),
        165 | 166 => Some(19),
        167 => Some(match profile.version {
            Version::V2009 => 41,
            Version::V2013 => 46,
        }),
        168 => m5.map(|m| 6 + 10 * (m + 1)),
        _ => None,
    };
    v.map_or(Unknown, Exact)
}

/// AFN 0E F1/F2 reply: `EC1 EC2 Pm Pn` then `Pn − Pm` (mod 256) records `ERC Le data[Le]`.
fn event_block_len(d: &[u8]) -> Option<usize> {
    let (&[_, _, pm, pn], mut rest) = d.split_first_chunk::<4>()?;
    let count = pn.wrapping_sub(pm);
    let mut len = 4usize;
    for _ in 0..count {
        let (&[_, le], tail) = rest.split_first_chunk::<2>()?;
        let body = usize::from(le);
        rest = tail.get(body..)?;
        len += 2 + body;
    }
    Some(len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::{vec, vec::Vec};

    fn items<'a>(region: &'a [u8], afn: u8, dir: Direction, p: &Profile) -> Vec<Item<'a>> {
        Units::new(region, Afn(afn), dir, p).collect()
    }

    #[test]
    fn f3_confirm_and_leniencies() {
        // gdw376-019: 00 00 03 00 | 02 | 00 00 01 00 | 00 (DT written as the number 3).
        let region = [0, 0, 3, 0, 2, 0, 0, 1, 0, 0];
        let strict = items(&region, 0, Direction::Down, &Profile::default());
        assert!(matches!(strict.last(), Some(Item::Opaque(_))));
        let lenient = items(&region, 0, Direction::Down, &Profile::LENIENT);
        assert_eq!(lenient.len(), 1);
        let Item::Unit(u) = lenient[0] else { panic!() };
        assert_eq!((u.pn, u.fn_), (Pn(0), InfoClass(3)));
        assert_eq!(u.data, &region[4..]);
        // gdw376-018: F1 then six zero bytes.
        let region = [0, 0, 1, 0, 0, 0, 0, 0, 0, 0];
        let strict = items(&region, 0, Direction::Down, &Profile::default());
        assert_eq!(strict.len(), 1);
        let Item::Opaque(o) = strict[0] else { panic!() };
        assert_eq!(o.reason, OpaqueReason::LengthMismatch);
        assert_eq!(o.at, Some((Pn(0), InfoClass(1))));
        let lenient = items(&region, 0, Direction::Down, &Profile::LENIENT);
        assert!(matches!(
            lenient[0],
            Item::Unit(Unit {
                fn_: InfoClass(1),
                ..
            })
        ));
        assert_eq!(lenient[1], Item::Filler(&[0; 6]));
    }

    #[test]
    fn unknown_layout_is_opaque() {
        let region = [0, 0, 1, 30, 1, 2, 3];
        let it = items(&region, 0x0C, Direction::Up, &Profile::default());
        assert_eq!(it.len(), 1);
        let Item::Opaque(o) = it[0] else { panic!() };
        assert_eq!(o.reason, OpaqueReason::UnknownLayout);
        assert_eq!(o.bytes, &[1, 2, 3]);
    }

    #[test]
    fn multi_pn_request() {
        // AFN 0C request for F25 and F26 of p1..p3: zero-length units, pn-major.
        let d = DaDt::group(&[Pn(1), Pn(2), Pn(3)], &[InfoClass(25), InfoClass(26)]).unwrap();
        let region = d.to_bytes();
        let got: Vec<_> = items(&region, 0x0C, Direction::Down, &Profile::default())
            .into_iter()
            .map(|i| match i {
                Item::Unit(u) => (u.pn.0, u.fn_.0),
                _ => panic!(),
            })
            .collect();
        assert_eq!(
            got,
            vec![(1, 25), (1, 26), (2, 25), (2, 26), (3, 25), (3, 26)]
        );
    }

    #[test]
    fn events_by_le() {
        // gdw376-076: EC1 2, EC2 0, Pm 0, Pn 2; ERC14 (Le 10) and ERC16 (Le 9).
        let d = [
            2, 0, 0, 2, 0x0E, 0x0A, 0x31, 0x10, 0x07, 0x12, 0x10, 0x32, 0x10, 0x07, 0x12, 0x10,
            0x10, 0x09, 0x33, 0x10, 0x07, 0x12, 0x10, 0x80, 0x02, 0x35, 0x90,
        ];
        assert_eq!(event_block_len(&d), Some(d.len()));
        assert_eq!(event_block_len(&d[..d.len() - 1]), None);
    }
}
