//! The catalogue of known data identifiers: format, unit, read/write flag and (feature
//! `names`) Chinese and English names.
//!
//! Sources, each in its own table:
//!
//! * [`Source::Package`] — 20,286 DL/T 645-2007 identifiers of families 00 energy, 01 demand,
//!   02 variables, 03 events and 04 parameters, **generated** by `tools/gen_catalogue.py` from
//!   the data tables of the PyPI package `dlt645` 3.2.0 (Apache-2.0, Chen Dongyu; licence in
//!   `LICENSE-dlt645-data-Apache-2.0.txt`), with the data file's errata applied and stored as
//!   386 range rules. The read/write column, the value kinds and the demand sign are amikit's
//!   (see the generator).
//! * [`Source::Prepaid`] — prepayment identifiers from other public code, listed in the shared
//!   data README (remaining money/energy, overdraft, alarm/overdraft/hoarding/reconnect limits,
//!   tariff prices, step values, purchase records, CT/VT ratios, customer number), hand-written
//!   in `extra.rs` with a source comment per row. Not confirmed against the amendment text.
//! * [`Source::Freeze`] — the freeze family 05, written from the layout of the 2007 appendix
//!   (freeze type × item × occurrence) as the amikit developers recall it; not verified
//!   against the primary text.
//!
//! Block identifiers (`FF` in DI2, DI1 or DI0) stand for their members: [`parse_block`] walks a
//! block reply member by member. The 1997 items and
//! the 1997↔2007 map are in [`v1997`].

mod extra;
mod generated;
pub mod v1997;

#[cfg(feature = "names")]
use core::fmt;

use crate::data::Data;
use crate::di::Di;
use crate::error::ValueError;
use crate::value::{Format, Value};

/// Unit of a value.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Unit {
    /// Dimensionless, a count, or not stated.
    None,
    /// kWh.
    KWh,
    /// kvarh.
    Kvarh,
    /// kVAh.
    KVAh,
    /// kW.
    KW,
    /// kvar.
    Kvar,
    /// kVA.
    KVA,
    /// V.
    V,
    /// A.
    A,
    /// Hz.
    Hz,
    /// °C.
    Celsius,
    /// Degrees of angle.
    Degree,
    /// Percent.
    Percent,
    /// Minutes.
    Minute,
    /// Seconds.
    Second,
    /// Milliseconds.
    Millisecond,
    /// 元 (yuan).
    Yuan,
    /// 元/kWh.
    YuanPerKWh,
}

impl Unit {
    /// The symbol (`"kWh"`, `"°C"`, `"yuan/kWh"`), `None` for [`Unit::None`].
    pub const fn symbol(self) -> Option<&'static str> {
        Some(match self {
            Unit::None => return None,
            Unit::KWh => "kWh",
            Unit::Kvarh => "kvarh",
            Unit::KVAh => "kVAh",
            Unit::KW => "kW",
            Unit::Kvar => "kvar",
            Unit::KVA => "kVA",
            Unit::V => "V",
            Unit::A => "A",
            Unit::Hz => "Hz",
            Unit::Celsius => "°C",
            Unit::Degree => "°",
            Unit::Percent => "%",
            Unit::Minute => "min",
            Unit::Second => "s",
            Unit::Millisecond => "ms",
            Unit::Yuan => "yuan",
            Unit::YuanPerKWh => "yuan/kWh",
        })
    }
}

/// Whether an item may be read and/or written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Access {
    /// Read only.
    Read,
    /// Write only (passwords).
    Write,
    /// Read and write.
    ReadWrite,
}

impl Access {
    /// Whether reading is allowed.
    pub const fn readable(self) -> bool {
        !matches!(self, Access::Write)
    }
    /// Whether writing is allowed.
    pub const fn writable(self) -> bool {
        !matches!(self, Access::Read)
    }
}

/// The family of an identifier (DI3).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Family {
    /// 00 energy (and the prepaid registers 0090…).
    Energy,
    /// 01 maximum demand.
    Demand,
    /// 02 instantaneous variables.
    Variable,
    /// 03 events.
    Event,
    /// 04 parameters.
    Parameter,
    /// 05 freeze.
    Freeze,
    /// 06 load records.
    LoadRecord,
    /// Anything else.
    Other(u8),
}

impl From<Di> for Family {
    /// The family of a DI (its DI3).
    fn from(di: Di) -> Self {
        Family::of(di)
    }
}

impl Family {
    /// The family of a DI.
    pub(crate) const fn of(di: Di) -> Family {
        match di.di3() {
            0x00 => Family::Energy,
            0x01 => Family::Demand,
            0x02 => Family::Variable,
            0x03 => Family::Event,
            0x04 => Family::Parameter,
            0x05 => Family::Freeze,
            0x06 => Family::LoadRecord,
            other => Family::Other(other),
        }
    }
}

/// Where a catalogue entry comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Source {
    /// Generated from the `dlt645` 3.2.0 package data (errata applied).
    Package,
    /// The hand-written prepayment table.
    Prepaid,
    /// The freeze (05) rules.
    Freeze,
}

/// A range rule: DI3 DI2 fixed (`key`), DI1 and DI0 in inclusive ranges.
#[derive(Debug)]
pub(crate) struct Rule {
    pub(crate) key: u16,
    pub(crate) di1: (u8, u8),
    pub(crate) di0: (u8, u8),
    pub(crate) format: Format,
    pub(crate) unit: Unit,
    pub(crate) access: Access,
    #[cfg(feature = "names")]
    pub(crate) zh: &'static str,
    #[cfg(feature = "names")]
    pub(crate) en: Option<&'static str>,
}

impl Rule {
    fn contains(&self, di: Di) -> bool {
        (self.di1.0..=self.di1.1).contains(&di.di1())
            && (self.di0.0..=self.di0.1).contains(&di.di0())
    }
}

const TABLES: [(&[Rule], Source); 8] = [
    (&generated::RULES, Source::Package),
    (&extra::PREPAID, Source::Prepaid),
    (extra::FREEZE[0], Source::Freeze),
    (extra::FREEZE[1], Source::Freeze),
    (extra::FREEZE[2], Source::Freeze),
    (extra::FREEZE[3], Source::Freeze),
    (extra::FREEZE[4], Source::Freeze),
    (extra::FREEZE[5], Source::Freeze),
];

/// A known identifier.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Entry {
    /// The identifier.
    pub di: Di,
    /// Format and length of its value.
    pub format: Format,
    /// Unit of its value.
    pub unit: Unit,
    /// Read/write flag.
    pub access: Access,
    /// Which table it comes from.
    pub source: Source,
    #[cfg(feature = "names")]
    rule: &'static Rule,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.di == other.di && self.source == other.source
    }
}
impl Eq for Entry {}

impl Entry {
    /// The family (DI3).
    pub const fn family(&self) -> Family {
        Family::of(self.di)
    }

    /// Decodes a value of this item; `Ok(None)` for the `FF` "no data" filler.
    #[inline]
    #[doc(alias = "decode")]
    pub fn parse<'a>(&self, data: Data<'a>) -> Result<Option<Value<'a>>, ValueError> {
        self.format.parse(data)
    }

    /// The Chinese name, as in the source table (errata applied).
    #[cfg(feature = "names")]
    pub fn name_zh(&self) -> Name {
        Name {
            template: self.rule.zh,
            di: self.di,
        }
    }

    /// An English name derived from the identifier's structure, where amikit has one.
    #[cfg(feature = "names")]
    pub fn name_en(&self) -> Option<Name> {
        self.rule.en.map(|template| Name {
            template,
            di: self.di,
        })
    }
}

/// A rendered name (`{P}` period prefix, `{S}` English settlement suffix, `{0}`/`{1}` DI0/DI1
/// in decimal).
#[cfg(feature = "names")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Name {
    template: &'static str,
    di: Di,
}

#[cfg(feature = "names")]
impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.template;
        while let Some(open) = rest.find('{') {
            let (head, tail) = rest.split_at(open);
            f.write_str(head)?;
            let Some(close) = tail.find('}') else {
                return f.write_str(tail);
            };
            let (token, after) = tail.split_at(close + 1);
            let (d1, d0) = (self.di.di1(), self.di.di0());
            match token {
                "{P}" if d0 == 0 => f.write_str("（当前）")?,
                "{P}" => write!(f, "（上{d0}结算日）")?,
                "{S}" if d0 == 0 => {}
                "{S}" => write!(f, " (settlement -{d0})")?,
                "{0}" => write!(f, "{d0}")?,
                "{1}" => write!(f, "{d1}")?,
                other => f.write_str(other)?,
            }
            rest = after;
        }
        f.write_str(rest)
    }
}

fn rules_of(table: &'static [Rule], key: u16) -> &'static [Rule] {
    let lo = table.partition_point(|r| r.key < key);
    let rest = table.get(lo..).unwrap_or(&[]);
    let n = rest.partition_point(|r| r.key == key);
    rest.get(..n).unwrap_or(&[])
}

fn entry(rule: &'static Rule, di: Di, source: Source) -> Entry {
    Entry {
        di,
        format: rule.format,
        unit: rule.unit,
        access: rule.access,
        source,
        #[cfg(feature = "names")]
        rule,
    }
}

/// Looks up a (non-block) DL/T 645-2007 identifier.
#[inline(always)]
pub fn lookup(di: Di) -> Option<Entry> {
    let key = (di.0 >> 16) as u16;
    // the generated table through its key index
    if let Ok(i) = generated::KEYS.binary_search(&key) {
        let lo = generated::STARTS.get(i).copied().unwrap_or(0);
        let hi = generated::STARTS.get(i + 1).copied().unwrap_or(0);
        if let Some(rule) = generated::RULES
            .get(usize::from(lo)..usize::from(hi))
            .and_then(|rules| rules.iter().find(|r| r.contains(di)))
        {
            return Some(entry(rule, di, Source::Package));
        }
    }
    TABLES.iter().skip(1).find_map(|&(table, source)| {
        rules_of(table, key)
            .iter()
            .find(|r| r.contains(di))
            .map(|r| entry(r, di, source))
    })
}

/// The members of a block identifier (`FF` in DI2, DI1 or DI0 stands for every value there),
/// in ascending order. A non-block identifier yields itself if known.
pub(crate) fn block_members(block: Di) -> Members {
    Members {
        block,
        next: u64::from(block.0 & 0xFF00_0000),
    }
}

/// Iterator of `block_members`.
#[derive(Debug, Clone)]
pub(crate) struct Members {
    block: Di,
    next: u64,
}

impl Members {
    fn matches(&self, di: u32) -> bool {
        let b = self.block.0.to_be_bytes();
        di.to_be_bytes()
            .iter()
            .zip(b)
            .enumerate()
            .all(|(i, (&x, p))| (i > 0 && p == 0xFF) || x == p)
    }
}

impl Iterator for Members {
    type Item = Entry;

    fn next(&mut self) -> Option<Entry> {
        let from = u32::try_from(self.next).ok()?;
        let di3 = self.block.di3();
        let mut best: Option<Entry> = None;
        for &(table, source) in &TABLES {
            let lo = table.partition_point(|r| (r.key >> 8) < u16::from(di3));
            for rule in table.get(lo..).unwrap_or(&[]) {
                if (rule.key >> 8) as u8 != di3 {
                    break;
                }
                let base = u32::from(rule.key) << 16;
                if base + 0xFFFF < from {
                    continue;
                }
                if best.is_some_and(|b| b.di.0 < base) {
                    break;
                }
                // smallest member of this rule >= from that matches the pattern
                'outer: for d1 in rule.di1.0..=rule.di1.1 {
                    let hi = base | (u32::from(d1) << 8);
                    if hi + 0xFF < from {
                        continue;
                    }
                    for d0 in rule.di0.0..=rule.di0.1 {
                        let di = hi | u32::from(d0);
                        if di >= from && self.matches(di) {
                            if best.is_none_or(|b| di < b.di.0) {
                                best = Some(entry(rule, Di(di), source));
                            }
                            break 'outer;
                        }
                    }
                }
            }
        }
        let found = best?;
        self.next = u64::from(found.di.0) + 1;
        Some(found)
    }
}

/// Walks a block reply: each member's value in turn, until the data ends. Stops (with an
/// error item) at a member of variable length or when fewer bytes remain than it needs.
#[doc(alias = "decode_block")]
pub fn parse_block<'a>(block: Di, data: Data<'a>) -> BlockValues<'a> {
    BlockValues {
        members: block_members(block),
        rest: data,
        done: false,
    }
}

/// Iterator of [`parse_block`].
#[derive(Debug, Clone)]
pub struct BlockValues<'a> {
    members: Members,
    rest: Data<'a>,
    done: bool,
}

impl<'a> Iterator for BlockValues<'a> {
    type Item = (Option<Entry>, Result<Option<Value<'a>>, ValueError>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.rest.is_empty() {
            return None;
        }
        let Some(member) = self.members.next() else {
            self.done = true;
            return Some((None, Ok(Some(Value::Bytes(self.rest)))));
        };
        let len = usize::from(member.format.len);
        match self.rest.split_at(len) {
            Some((this, rest)) if len > 0 => {
                self.rest = rest;
                Some((Some(member), member.parse(this)))
            }
            _ => {
                self.done = true;
                Some((
                    Some(member),
                    Err(ValueError::Length {
                        expected: member.format.len,
                        actual: self.rest.len().min(255) as u8,
                    }),
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::value::{Decimal, Kind};
    use std::string::ToString;
    use std::vec::Vec;

    #[test]
    fn key_index_matches_rules() {
        assert_eq!(generated::STARTS.len(), generated::KEYS.len() + 1);
        for (i, k) in generated::KEYS.iter().enumerate() {
            let rules = &generated::RULES
                [usize::from(generated::STARTS[i])..usize::from(generated::STARTS[i + 1])];
            assert!(!rules.is_empty());
            assert!(rules.iter().all(|r| r.key == *k));
        }
        assert_eq!(
            usize::from(*generated::STARTS.last().unwrap()),
            generated::RULES.len()
        );
    }

    #[test]
    fn tables_sorted_and_disjoint() {
        for (table, _) in TABLES {
            for w in table.windows(2) {
                let (a, b) = (&w[0], &w[1]);
                assert!(
                    (a.key, a.di1.0, a.di0.0) < (b.key, b.di1.0, b.di0.0),
                    "{a:?} {b:?}"
                );
                if a.key == b.key {
                    let overlap1 = a.di1.0 <= b.di1.1 && b.di1.0 <= a.di1.1;
                    let overlap0 = a.di0.0 <= b.di0.1 && b.di0.0 <= a.di0.1;
                    assert!(!(overlap1 && overlap0), "{a:?} {b:?}");
                }
            }
        }
    }

    #[test]
    fn energy_and_errata() {
        let e = lookup(Di(0x0001_0000)).unwrap();
        assert_eq!(e.unit, Unit::KWh);
        assert_eq!(e.source, Source::Package);
        assert_eq!(e.access, Access::Read);
        // erratum sign-unsigned-energy: forward active is unsigned (0x85 is digits 85)
        let v = e.parse(Data::plain(&[0, 0, 0, 0x85])).unwrap().unwrap();
        assert_eq!(v.number(), Some(Decimal::new(85_000_000, 2)));
        // combined active (00000000) keeps the sign
        let c = lookup(Di(0x0000_0000)).unwrap();
        let v = c.parse(Data::plain(&[0, 0, 0, 0x85])).unwrap().unwrap();
        assert_eq!(v.to_string(), "-50000.00");
        // 12th settlement period of tariff 63 exists; 13th does not
        assert!(lookup(Di(0x0001_3F0C)).is_some());
        assert!(lookup(Di(0x0001_3F0D)).is_none());
        assert!(lookup(Di(0x0001_4000)).is_none());
    }

    #[test]
    fn variables() {
        let v = lookup(Di(0x0201_0300)).unwrap();
        assert_eq!(v.unit, Unit::V);
        assert_eq!(v.format, Format::number(2, 1));
        let f = lookup(Di::FREQUENCY).unwrap();
        assert_eq!(
            f.parse(Data::plain(&[0x03, 0x50]))
                .unwrap()
                .unwrap()
                .to_string(),
            "50.03"
        );
        // erratum unit-power-factor: no unit
        assert_eq!(lookup(Di(0x0206_0000)).unwrap().unit, Unit::None);
        assert_eq!(lookup(Di(0x0207_0100)).unwrap().unit, Unit::Degree);
        // current is signed (sign bit set = reverse direction)
        let i = lookup(Di(0x0202_0100)).unwrap();
        assert_eq!(
            i.parse(Data::plain(&[0x00, 0x50, 0x81]))
                .unwrap()
                .unwrap()
                .to_string(),
            "-15.000"
        );
        assert_eq!(lookup(Di(0x0280_000A)).unwrap().unit, Unit::Minute);
    }

    #[test]
    fn parameters_and_status_word() {
        let s = lookup(Di::STATUS_WORD_3).unwrap();
        assert_eq!(s.format.kind, Kind::Word);
        assert_eq!(s.access, Access::Read);
        assert_eq!(
            s.parse(Data::plain(&[0x10, 0x00])).unwrap(),
            Some(Value::Word(0x0010))
        );
        assert_eq!(lookup(Di(0x0400_0C01)).unwrap().access, Access::Write);
        assert_eq!(lookup(Di::DATE).unwrap().access, Access::ReadWrite);
        let a = lookup(Di::ADDRESS).unwrap();
        let v = a
            .parse(Data::plain(&[0x76, 0x02, 0x02, 0x47, 0x02, 0x02]))
            .unwrap()
            .unwrap();
        assert_eq!(v.to_string(), "020247020276");
    }

    #[test]
    fn prepaid_and_freeze() {
        let m = lookup(Di::REMAINING_MONEY).unwrap();
        assert_eq!((m.unit, m.source), (Unit::Yuan, Source::Prepaid));
        assert_eq!(
            m.parse(Data::plain(&[0x56, 0x34, 0x12, 0x00]))
                .unwrap()
                .unwrap()
                .to_string(),
            "1234.56"
        );
        let p = lookup(Di(0x0405_0103)).unwrap();
        assert_eq!(p.unit, Unit::YuanPerKWh);
        assert_eq!(p.format, Format::number(4, 4));
        let f = lookup(Di(0x0506_0001)).unwrap();
        assert_eq!(f.source, Source::Freeze);
        assert_eq!(f.family(), Family::Freeze);
    }

    #[test]
    fn blocks_expand() {
        let v: Vec<u32> = block_members(Di::VOLTAGE_BLOCK).map(|e| e.di.0).collect();
        assert_eq!(v, [0x0201_0100, 0x0201_0200, 0x0201_0300]);
        // total + 63 tariffs, current period
        assert_eq!(block_members(Di(0x0001_FF00)).count(), 64);
        // current + 12 settlement periods
        assert_eq!(block_members(Di(0x0001_00FF)).count(), 13);
        // block reply of a 4-tariff meter: total, T1..T4
        let mut data = Vec::new();
        for n in 1..=5u8 {
            data.extend([n, 0, 0, 0]);
        }
        let vals: Vec<_> = parse_block(Di(0x0001_FF00), Data::plain(&data))
            .map(|(e, v)| (e.unwrap().di.0, v.unwrap().unwrap().to_string()))
            .collect();
        assert_eq!(vals.len(), 5);
        assert_eq!(vals[4], (0x0001_0400, "0.05".to_string()));
    }

    #[cfg(feature = "names")]
    #[test]
    fn names() {
        let e = lookup(Di(0x0001_0000)).unwrap();
        assert_eq!(e.name_zh().to_string(), "（当前）正向有功总电能");
        assert_eq!(
            e.name_en().unwrap().to_string(),
            "forward active total energy"
        );
        let e = lookup(Di(0x0001_0203)).unwrap();
        assert_eq!(e.name_zh().to_string(), "（上3结算日）正向有功费率2电能");
        assert_eq!(
            e.name_en().unwrap().to_string(),
            "forward active tariff 2 energy (settlement -3)"
        );
        // erratum name-battery-external
        let e = lookup(Di(0x0280_0009)).unwrap();
        assert_eq!(e.name_zh().to_string(), "停电抄表电池电压(外部)");
        assert_eq!(
            lookup(Di(0x0201_0300))
                .unwrap()
                .name_en()
                .unwrap()
                .to_string(),
            "phase C voltage"
        );
        assert_eq!(
            lookup(Di(0x0301_0105)).unwrap().name_zh().to_string(),
            "(上5次)A相失压记录"
        );
    }
}
