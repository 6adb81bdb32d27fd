//! DL/T 645-1997 identifiers and the 1997↔2007 map.
//!
//! A small hand-written table of the common 1997 items (current and last-month active energy,
//! maximum demand, voltage, current, power, power factor, date/time, constants, meter number).
//! Sources: DL/T 645-1997's voltage format `XXX` and the shared vector (`B613` phase C voltage, 2
//! bytes, 220 V); the other codes and formats are DL/T 645-1997 appendix items as recalled by the
//! amikit developers and are **not verified** against the 1997 text. The map pairs an item with
//! the 2007 identifier of the same quantity; formats differ between editions (1997 voltage `XXX`
//! vs 2007 `XXX.X`), so decode each with its own edition's entry.

use super::Unit;
use crate::data::Data;
use crate::di::{Di, Di97};
use crate::error::ValueError;
use crate::value::{Format, TimeLayout, Value};

/// A known 1997 identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Entry97 {
    /// The identifier.
    pub di: Di97,
    /// The 2007 identifier of the same quantity, if there is one.
    pub di_2007: Option<Di>,
    /// Format of its value.
    pub format: Format,
    /// Unit.
    pub unit: Unit,
    /// English name.
    #[cfg(feature = "names")]
    pub name_en: &'static str,
}

impl Entry97 {
    /// Decodes a value; `Ok(None)` for the `FF` filler.
    #[doc(alias = "decode")]
    pub fn parse<'a>(&self, data: Data<'a>) -> Result<Option<Value<'a>>, ValueError> {
        self.format.parse(data)
    }
}

struct Row(u16, u32, Format, Unit, #[allow(dead_code)] &'static str);

const E: Format = Format::number(4, 2);
const NONE: u32 = u32::MAX;

static ROWS: [Row; 33] = [
    Row(
        0x9010,
        0x0001_0000,
        E,
        Unit::KWh,
        "forward active total energy",
    ),
    Row(
        0x9011,
        0x0001_0100,
        E,
        Unit::KWh,
        "forward active tariff 1 energy",
    ),
    Row(
        0x9012,
        0x0001_0200,
        E,
        Unit::KWh,
        "forward active tariff 2 energy",
    ),
    Row(
        0x9013,
        0x0001_0300,
        E,
        Unit::KWh,
        "forward active tariff 3 energy",
    ),
    Row(
        0x9014,
        0x0001_0400,
        E,
        Unit::KWh,
        "forward active tariff 4 energy",
    ),
    Row(
        0x9020,
        0x0002_0000,
        E,
        Unit::KWh,
        "reverse active total energy",
    ),
    Row(
        0x9021,
        0x0002_0100,
        E,
        Unit::KWh,
        "reverse active tariff 1 energy",
    ),
    Row(
        0x9022,
        0x0002_0200,
        E,
        Unit::KWh,
        "reverse active tariff 2 energy",
    ),
    Row(
        0x9023,
        0x0002_0300,
        E,
        Unit::KWh,
        "reverse active tariff 3 energy",
    ),
    Row(
        0x9024,
        0x0002_0400,
        E,
        Unit::KWh,
        "reverse active tariff 4 energy",
    ),
    Row(
        0x9410,
        0x0001_0001,
        E,
        Unit::KWh,
        "forward active total energy (last month)",
    ),
    Row(
        0x9420,
        0x0002_0001,
        E,
        Unit::KWh,
        "reverse active total energy (last month)",
    ),
    Row(
        0xA010,
        NONE,
        Format::number(3, 4),
        Unit::KW,
        "forward active total max demand",
    ),
    Row(
        0xA020,
        NONE,
        Format::number(3, 4),
        Unit::KW,
        "reverse active total max demand",
    ),
    Row(
        0xB010,
        NONE,
        Format::time(TimeLayout::MmDdHhMm),
        Unit::None,
        "forward active total max demand time",
    ),
    Row(
        0xB611,
        0x0201_0100,
        Format::number(2, 0),
        Unit::V,
        "phase A voltage",
    ),
    Row(
        0xB612,
        0x0201_0200,
        Format::number(2, 0),
        Unit::V,
        "phase B voltage",
    ),
    Row(
        0xB613,
        0x0201_0300,
        Format::number(2, 0),
        Unit::V,
        "phase C voltage",
    ),
    Row(
        0xB621,
        0x0202_0100,
        Format::number(2, 2),
        Unit::A,
        "phase A current",
    ),
    Row(
        0xB622,
        0x0202_0200,
        Format::number(2, 2),
        Unit::A,
        "phase B current",
    ),
    Row(
        0xB623,
        0x0202_0300,
        Format::number(2, 2),
        Unit::A,
        "phase C current",
    ),
    Row(
        0xB630,
        0x0203_0000,
        Format::number(3, 4),
        Unit::KW,
        "total active power",
    ),
    Row(
        0xB631,
        0x0203_0100,
        Format::number(3, 4),
        Unit::KW,
        "phase A active power",
    ),
    Row(
        0xB632,
        0x0203_0200,
        Format::number(3, 4),
        Unit::KW,
        "phase B active power",
    ),
    Row(
        0xB633,
        0x0203_0300,
        Format::number(3, 4),
        Unit::KW,
        "phase C active power",
    ),
    Row(
        0xB650,
        0x0206_0000,
        Format::number(2, 3),
        Unit::None,
        "total power factor",
    ),
    Row(
        0xB651,
        0x0206_0100,
        Format::number(2, 3),
        Unit::None,
        "phase A power factor",
    ),
    Row(
        0xB652,
        0x0206_0200,
        Format::number(2, 3),
        Unit::None,
        "phase B power factor",
    ),
    Row(
        0xB653,
        0x0206_0300,
        Format::number(2, 3),
        Unit::None,
        "phase C power factor",
    ),
    Row(
        0xC010,
        0x0400_0101,
        Format::time(TimeLayout::YyMmDdWw),
        Unit::None,
        "date and weekday",
    ),
    Row(
        0xC011,
        0x0400_0102,
        Format::time(TimeLayout::HhMmSs),
        Unit::None,
        "time",
    ),
    Row(
        0xC030,
        0x0400_0409,
        Format::number(3, 0),
        Unit::None,
        "active constant",
    ),
    Row(
        0xC032,
        0x0400_0402,
        Format {
            kind: crate::value::Kind::Digits,
            len: 6,
        },
        Unit::None,
        "meter number",
    ),
];

fn entry(r: &Row) -> Entry97 {
    Entry97 {
        di: Di97(r.0),
        di_2007: (r.1 != NONE).then_some(Di(r.1)),
        format: r.2,
        unit: r.3,
        #[cfg(feature = "names")]
        name_en: r.4,
    }
}

/// Looks up a 1997 identifier.
pub fn lookup(di: Di97) -> Option<Entry97> {
    ROWS.iter().find(|r| r.0 == di.0).map(entry)
}

/// The 1997 identifier of a 2007 item (the other way: [`Entry97::di_2007`] of [`lookup`]).
pub fn to_1997(di: Di) -> Option<Di97> {
    ROWS.iter().find(|r| r.1 == di.0).map(|r| Di97(r.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_both_ways() {
        assert_eq!(
            lookup(Di97(0xB613)).and_then(|e| e.di_2007),
            Some(Di(0x0201_0300))
        );
        assert_eq!(to_1997(Di(0x0201_0300)), Some(Di97(0xB613)));
        assert_eq!(
            lookup(Di97(0x9010)).and_then(|e| e.di_2007),
            Some(Di::FORWARD_ACTIVE_ENERGY)
        );
        assert_eq!(to_1997(Di(0x0400_0503)), None);
        for r in &ROWS {
            if r.1 != NONE {
                assert!(super::super::lookup(Di(r.1)).is_some(), "{:08X}", r.1);
                assert_eq!(to_1997(Di(r.1)), Some(Di97(r.0)));
            }
        }
    }

    #[test]
    fn voltage_1997_has_no_decimals() {
        // shared vector (cqqqq/go645 TestRead Ver1997): B613 payload 20 02 -> 220 V
        let e = lookup(Di97(0xB613)).unwrap();
        extern crate std;
        use std::string::ToString;
        let v = e.parse(Data::plain(&[0x20, 0x02])).unwrap().unwrap();
        assert_eq!(v.to_string(), "220");
    }
}
