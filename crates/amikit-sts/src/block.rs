//! The 64-bit data block and its typed contents for every class and subclass.
//!
//! A plain data block is 64 bits, written MSB first: `subclass (4) | … (44) | CRC (16)`. The
//! 44 bits in between depend on the class and subclass:
//!
//! | class/sub | type | layout after the subclass |
//! |---|---|---|
//! | 0/0–0/3 | [`Credit`] (electricity, water, gas, time) | RND 4, TID 24, amount 16 |
//! | 0/4–0/7 | [`CurrencyCredit`] (**layout assumed**, unit 0.00001 base currency) | RND 4, TID 24, amount 16 |
//! | 1/0, 1/1 | [`MeterTest`] (not encrypted) | control 36 + MfrCode 8, or control 28 + MfrCode 16 |
//! | 2/0 | [`MaxPowerLimit`] | RND, TID, limit 16 (amount code, W) |
//! | 2/1 | [`ClearCredit`] | RND, TID, register 16 |
//! | 2/2 | [`TariffRate`] | RND, TID, rate 16 |
//! | 2/3 | [`KeyChange1`] | KENHO 4, KRN 4, RO 1, 3KCT 1, KT 2, key bits 32 |
//! | 2/4 | [`KeyChange2`] | KENLO 4, TI 8, key bits 32 |
//! | 2/5 | [`ClearTamper`] | RND, TID, pad 16 |
//! | 2/6 | [`MaxPhasePowerUnbalanceLimit`] | RND, TID, limit 16 (amount code, W) |
//! | 2/7 | [`WaterMeterFactor`] | RND, TID, factor 16 |
//! | 2/8 | [`KeyChange3`] | SGC bits 12, key bits 32 |
//! | 2/9 | [`KeyChange4`] | SGC bits 12, key bits 32 |
//! | other | [`ReservedBlock`] (kept bit for bit) | 44 bits |
//!
//! All layouts except 0/4–0/7 were verified against the STS 531 compliance tokens (2/2 and 2/7
//! only against NectarAPI's own tokens). The CRC is described in [`crate::crc`].

use crate::amount::Amount;
use crate::crc;
use crate::error::{DecodeError, FieldError};
use crate::keys::{KeySection, KeyType};
use crate::tid::Tid;
use crate::token::TokenClass;

/// The 4-bit random number (RND) of TID-bearing tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Rnd(u8);

impl Rnd {
    /// The RND 0–15.
    pub(crate) const fn new(value: u8) -> Result<Rnd, FieldError> {
        if value > 15 {
            Err(FieldError::OutOfRange {
                field: "RND",
                value: value as u64,
                max: 15,
            })
        } else {
            Ok(Rnd(value))
        }
    }

    /// The low 4 bits of `bits`.
    pub const fn from_bits(bits: u8) -> Rnd {
        Rnd(bits & 15)
    }

    /// 0–15.
    pub(crate) const fn value(self) -> u8 {
        self.0
    }
}

/// The commodity of a credit token (the low two bits of subclasses 0–7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum CreditKind {
    /// Subclass 0 (4 for currency): electricity, 0.1 kWh.
    Electricity,
    /// Subclass 1 (5): water, 0.1 m³.
    Water,
    /// Subclass 2 (6): gas, 0.1 m³.
    Gas,
    /// Subclass 3 (7): time, 0.1 of the time unit.
    Time,
}

impl CreditKind {
    /// The kind of subclass `subclass & 3`.
    pub const fn from_subclass(subclass: u8) -> CreditKind {
        match subclass & 3 {
            0 => CreditKind::Electricity,
            1 => CreditKind::Water,
            2 => CreditKind::Gas,
            _ => CreditKind::Time,
        }
    }

    /// 0–3.
    pub const fn index(self) -> u8 {
        match self {
            CreditKind::Electricity => 0,
            CreditKind::Water => 1,
            CreditKind::Gas => 2,
            CreditKind::Time => 3,
        }
    }

    /// The unit of one tenth, for display.
    pub const fn unit(self) -> &'static str {
        match self {
            CreditKind::Electricity => "kWh",
            CreditKind::Water | CreditKind::Gas => "m3",
            CreditKind::Time => "time units",
        }
    }
}

const fn check(field: &'static str, value: u64, bits: u32) -> Result<u64, FieldError> {
    let max = (1u64 << bits) - 1;
    if value > max {
        Err(FieldError::OutOfRange { field, value, max })
    } else {
        Ok(value)
    }
}

/// RND, TID and the 16-bit value of a block: `sub | RND | TID | value`.
const fn tid_fields(block: u64) -> (Rnd, Tid, u16) {
    let rnd = Rnd::from_bits((block >> 56) as u8);
    let tid = Tid::from_bits((block >> 32) as u32);
    (rnd, tid, (block >> 16) as u16)
}

const fn tid_first48(subclass: u8, rnd: Rnd, tid: Tid, value: u16) -> u64 {
    (subclass as u64) << 44 | (rnd.0 as u64) << 40 | (tid.value() as u64) << 16 | value as u64
}

/// Class 0, subclasses 0–3: transfer credit (electricity, water, gas, time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Credit {
    /// The commodity (the subclass).
    pub kind: CreditKind,
    /// Random number.
    pub rnd: Rnd,
    /// Token identifier.
    pub tid: Tid,
    /// The amount, in tenths of the commodity's unit.
    pub amount: Amount,
}

/// Class 0, subclasses 4–7: currency transfer.
///
/// **Layout unverified by vectors.** What is checked against outside material: subclasses 4–7
/// are the currency transfers for electricity, water, gas and time, and one unit of the amount
/// is 0.00001 of a *base currency unit* whose denomination the utility chooses when it
/// configures its meters (STS Association, "Token types", <https://www.sts.org.za/token-types>,
/// summarising IEC 62055-41 token class 0). What is assumed: the bit layout is that of the unit
/// credit (RND 4, TID 24, 16-bit amount code, IEC 62055-41 §6.3.2), as no public token of these
/// subclasses exists to check it with. A third-party port of "STS202-1 Ed2" instead claims a
/// 20-bit signed amount whose top four bits replace the RND and a changed CRC input; that
/// variant is not implemented. Check against real tokens before relying on interoperability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CurrencyCredit {
    /// The commodity (subclass − 4).
    pub kind: CreditKind,
    /// Random number.
    pub rnd: Rnd,
    /// Token identifier.
    pub tid: Tid,
    /// The amount code, in units of 0.00001 base currency unit (see above).
    pub amount: Amount,
}

/// The two layouts of class 1 (initiate meter test/display).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum MeterTestFormat {
    /// Subclass 0: 36-bit control field, 8-bit (2-digit) manufacturer code.
    TwoDigitMfr,
    /// Subclass 1: 28-bit control field, 16-bit (4-digit) manufacturer code.
    FourDigitMfr,
}

/// Class 1, subclasses 0 and 1: initiate meter test or display. **Not encrypted.**
///
/// Each control bit selects one test or display function; the manufacturer code is binary
/// (0–99 in 8 bits, 0–9999 in 16 bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct MeterTest {
    /// Which layout (the subclass).
    pub format: MeterTestFormat,
    /// The control bits (36 or 28 bits).
    pub control: u64,
    /// The manufacturer code (8 or 16 bits).
    pub manufacturer_code: u16,
}

macro_rules! tid_block {
    ($(#[$doc:meta])* $name:ident, $subclass:expr, $field:ident: $ty:ty, $fdoc:literal,
     $from:expr, $to:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
        pub struct $name {
            /// Random number.
            pub rnd: Rnd,
            /// Token identifier.
            pub tid: Tid,
            #[doc = $fdoc]
            pub $field: $ty,
        }

        impl $name {
            /// The subclass.
            pub const SUBCLASS: u8 = $subclass;

            const fn from_block(block: u64) -> $name {
                let (rnd, tid, raw) = tid_fields(block);
                $name {
                    rnd,
                    tid,
                    $field: $from(raw),
                }
            }

            const fn first48(&self) -> u64 {
                tid_first48($subclass, self.rnd, self.tid, $to(self.$field))
            }
        }
    };
}

const fn amount_from(raw: u16) -> Amount {
    Amount::from_raw(raw)
}
const fn amount_to(a: Amount) -> u16 {
    a.raw()
}
const fn same(v: u16) -> u16 {
    v
}

tid_block!(
    /// Class 2, subclass 0: set maximum power limit.
    MaxPowerLimit, 0, limit: Amount, "The limit, amount code in watts.", amount_from, amount_to
);
tid_block!(
    /// Class 2, subclass 1: clear credit. Register 0xFFFF is taken to mean all registers (the
    /// compliance steps use 0xFFFF, 0, 4, 5, 6, 7; the meaning of each number is unverified).
    ClearCredit, 1, register: u16, "The register to clear.", same, same
);
tid_block!(
    /// Class 2, subclass 2: set tariff rate (layout checked on NectarAPI tokens only).
    TariffRate, 2, rate: u16, "The rate (meaning defined by the meter).", same, same
);
tid_block!(
    /// Class 2, subclass 5: clear tamper condition.
    ClearTamper, 5, pad: u16, "Padding, 0 when issued.", same, same
);
tid_block!(
    /// Class 2, subclass 6: set maximum phase power unbalance limit.
    MaxPhasePowerUnbalanceLimit, 6, limit: Amount, "The limit, amount code in watts.",
    amount_from, amount_to
);
tid_block!(
    /// Class 2, subclass 7: set water meter factor (layout checked on NectarAPI tokens only).
    WaterMeterFactor, 7, factor: u16, "The factor (meaning defined by the meter).", same, same
);

/// Class 2, subclass 3: set 1st section decoder key.
///
/// For a 64-bit key it carries key bits 63–32; for a 128-bit key, bits 127–96.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct KeyChange1 {
    /// KENHO: the high nibble of the new key expiry number (4 bits).
    pub ken_high: u8,
    /// The new key revision number (4 bits).
    pub krn: u8,
    /// RO: rollover; the meter clears its TID memory when the new key is installed.
    pub rollover: bool,
    /// 3KCT (reserved bit in older editions): a third section carries the new SGC (64-bit keys).
    pub third_section: bool,
    /// The new key type.
    pub kt: KeyType,
    /// Key bits 63–32 (64-bit key) or 127–96 (128-bit key).
    pub key_bits: KeySection,
}

/// Class 2, subclass 4: set 2nd section decoder key. Carries the lowest 32 key bits.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct KeyChange2 {
    /// KENLO: the low nibble of the new key expiry number (4 bits).
    pub ken_low: u8,
    /// The new tariff index (8 bits, binary; 0–99 in use).
    pub ti: u8,
    /// Key bits 31–0.
    pub key_bits: KeySection,
}

/// Class 2, subclass 8: set 3rd section decoder key.
///
/// For a 128-bit key: key bits 95–64 and the low 12 bits of the new SGC (as a 24-bit binary
/// number). For a 64-bit key with the 3KCT bit set, the section instead carries the new SGC as
/// 24 bits followed by 20 zero bits (**unverified**).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct KeyChange3 {
    /// The low 12 bits of the new SGC (12 bits).
    pub sgc_bits: u16,
    /// Key bits 95–64.
    pub key_bits: KeySection,
}

impl KeyChange3 {
    /// The 24-bit SGC of the 64-bit-key 3KCT form, if the 20 trailing bits are zero
    /// (**unverified** layout).
    pub(crate) const fn sgc_3kct(&self) -> Option<u32> {
        let bits = self.key_bits.bits();
        if bits & 0xF_FFFF == 0 {
            Some((self.sgc_bits as u32) << 12 | bits >> 20)
        } else {
            None
        }
    }

    /// The 3KCT form for a 64-bit key: the 24-bit SGC then 20 zero bits (**unverified**).
    pub(crate) const fn for_3kct(sgc: u32) -> KeyChange3 {
        KeyChange3 {
            sgc_bits: ((sgc >> 12) & 0xFFF) as u16,
            key_bits: KeySection::new((sgc & 0xFFF) << 20),
        }
    }
}

/// Class 2, subclass 9: set 4th section decoder key: key bits 63–32 and the high 12 bits of
/// the new SGC (128-bit keys only).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct KeyChange4 {
    /// The high 12 bits of the new SGC (12 bits).
    pub sgc_bits: u16,
    /// Key bits 63–32.
    pub key_bits: KeySection,
}

/// A block of a class/subclass this crate does not interpret (reserved by the standard),
/// kept bit for bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ReservedBlock {
    /// The class.
    pub class: TokenClass,
    /// The subclass (4 bits).
    pub subclass: u8,
    /// The 44 bits between the subclass and the CRC.
    pub data: u64,
}

/// The typed contents of a data block. Not `Copy`: the key-change sections carry key bits,
/// zeroized when dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum TokenData {
    /// 0/0–0/3.
    Credit(Credit),
    /// 0/4–0/7 (layout unverified).
    Currency(CurrencyCredit),
    /// 1/0, 1/1.
    MeterTest(MeterTest),
    /// 2/0.
    MaxPowerLimit(MaxPowerLimit),
    /// 2/1.
    ClearCredit(ClearCredit),
    /// 2/2.
    TariffRate(TariffRate),
    /// 2/3.
    KeyChange1(KeyChange1),
    /// 2/4.
    KeyChange2(KeyChange2),
    /// 2/5.
    ClearTamper(ClearTamper),
    /// 2/6.
    MaxPhasePowerUnbalanceLimit(MaxPhasePowerUnbalanceLimit),
    /// 2/7.
    WaterMeterFactor(WaterMeterFactor),
    /// 2/8.
    KeyChange3(KeyChange3),
    /// 2/9.
    KeyChange4(KeyChange4),
    /// Any other class/subclass.
    Reserved(ReservedBlock),
}

impl TokenData {
    /// Interprets a plain 64-bit block of `class` **without** checking its CRC (total: every
    /// block has a typed reading). Use [`TokenData::parse`] to check the CRC first.
    pub const fn from_block(class: TokenClass, block: u64) -> TokenData {
        let subclass = (block >> 60) as u8;
        let payload = (block >> 16) & 0xFFF_FFFF_FFFF; // the 44 bits after the subclass
        match (class.value(), subclass) {
            (0, 0..=3) => {
                let (rnd, tid, raw) = tid_fields(block);
                TokenData::Credit(Credit {
                    kind: CreditKind::from_subclass(subclass),
                    rnd,
                    tid,
                    amount: Amount::from_raw(raw),
                })
            }
            (0, 4..=7) => {
                let (rnd, tid, raw) = tid_fields(block);
                TokenData::Currency(CurrencyCredit {
                    kind: CreditKind::from_subclass(subclass),
                    rnd,
                    tid,
                    amount: Amount::from_raw(raw),
                })
            }
            (1, 0) => TokenData::MeterTest(MeterTest {
                format: MeterTestFormat::TwoDigitMfr,
                control: payload >> 8,
                manufacturer_code: (payload & 0xFF) as u16,
            }),
            (1, 1) => TokenData::MeterTest(MeterTest {
                format: MeterTestFormat::FourDigitMfr,
                control: payload >> 16,
                manufacturer_code: payload as u16,
            }),
            (2, 0) => TokenData::MaxPowerLimit(MaxPowerLimit::from_block(block)),
            (2, 1) => TokenData::ClearCredit(ClearCredit::from_block(block)),
            (2, 2) => TokenData::TariffRate(TariffRate::from_block(block)),
            (2, 3) => TokenData::KeyChange1(KeyChange1 {
                ken_high: ((payload >> 40) & 15) as u8,
                krn: ((payload >> 36) & 15) as u8,
                rollover: (payload >> 35) & 1 == 1,
                third_section: (payload >> 34) & 1 == 1,
                kt: KeyType::from_bits((payload >> 32) as u8),
                key_bits: KeySection::new(payload as u32),
            }),
            (2, 4) => TokenData::KeyChange2(KeyChange2 {
                ken_low: ((payload >> 40) & 15) as u8,
                ti: (payload >> 32) as u8,
                key_bits: KeySection::new(payload as u32),
            }),
            (2, 5) => TokenData::ClearTamper(ClearTamper::from_block(block)),
            (2, 6) => TokenData::MaxPhasePowerUnbalanceLimit(
                MaxPhasePowerUnbalanceLimit::from_block(block),
            ),
            (2, 7) => TokenData::WaterMeterFactor(WaterMeterFactor::from_block(block)),
            (2, 8) => TokenData::KeyChange3(KeyChange3 {
                sgc_bits: ((payload >> 32) & 0xFFF) as u16,
                key_bits: KeySection::new(payload as u32),
            }),
            (2, 9) => TokenData::KeyChange4(KeyChange4 {
                sgc_bits: ((payload >> 32) & 0xFFF) as u16,
                key_bits: KeySection::new(payload as u32),
            }),
            _ => TokenData::Reserved(ReservedBlock {
                class,
                subclass,
                data: payload,
            }),
        }
    }

    /// Checks the CRC of a plain block of `class`, then interprets it.
    pub const fn parse(class: TokenClass, block: u64) -> Result<TokenData, DecodeError> {
        match crc::check(class, block) {
            Ok(()) => Ok(TokenData::from_block(class, block)),
            Err(e) => Err(e),
        }
    }

    /// The token class.
    pub const fn class(&self) -> TokenClass {
        match self {
            TokenData::Credit(_) | TokenData::Currency(_) => TokenClass::TRANSFER,
            TokenData::MeterTest(_) => TokenClass::INITIATE_TEST,
            TokenData::Reserved(r) => r.class,
            _ => TokenClass::MANAGEMENT,
        }
    }

    /// The subclass (0–15).
    pub const fn subclass(&self) -> u8 {
        match self {
            TokenData::Credit(c) => c.kind.index(),
            TokenData::Currency(c) => 4 + c.kind.index(),
            TokenData::MeterTest(t) => match t.format {
                MeterTestFormat::TwoDigitMfr => 0,
                MeterTestFormat::FourDigitMfr => 1,
            },
            TokenData::MaxPowerLimit(_) => 0,
            TokenData::ClearCredit(_) => 1,
            TokenData::TariffRate(_) => 2,
            TokenData::KeyChange1(_) => 3,
            TokenData::KeyChange2(_) => 4,
            TokenData::ClearTamper(_) => 5,
            TokenData::MaxPhasePowerUnbalanceLimit(_) => 6,
            TokenData::WaterMeterFactor(_) => 7,
            TokenData::KeyChange3(_) => 8,
            TokenData::KeyChange4(_) => 9,
            TokenData::Reserved(r) => r.subclass & 15,
        }
    }

    /// The TID, for the TID-bearing types (credit and TID-bearing management tokens).
    pub const fn tid(&self) -> Option<Tid> {
        match self.stamp() {
            Some((_, tid)) => Some(tid),
            None => None,
        }
    }

    /// The RND, for the TID-bearing types.
    pub const fn rnd(&self) -> Option<Rnd> {
        match self.stamp() {
            Some((rnd, _)) => Some(rnd),
            None => None,
        }
    }

    const fn stamp(&self) -> Option<(Rnd, Tid)> {
        match self {
            TokenData::Credit(c) => Some((c.rnd, c.tid)),
            TokenData::Currency(c) => Some((c.rnd, c.tid)),
            TokenData::MaxPowerLimit(c) => Some((c.rnd, c.tid)),
            TokenData::ClearCredit(c) => Some((c.rnd, c.tid)),
            TokenData::TariffRate(c) => Some((c.rnd, c.tid)),
            TokenData::ClearTamper(c) => Some((c.rnd, c.tid)),
            TokenData::MaxPhasePowerUnbalanceLimit(c) => Some((c.rnd, c.tid)),
            TokenData::WaterMeterFactor(c) => Some((c.rnd, c.tid)),
            _ => None,
        }
    }

    /// The first 48 bits of the plain block (subclass and payload, no CRC).
    pub const fn first48(&self) -> Result<u64, FieldError> {
        let sub = self.subclass() as u64;
        Ok(match self {
            TokenData::Credit(c) => tid_first48(c.kind.index(), c.rnd, c.tid, c.amount.raw()),
            TokenData::Currency(c) => tid_first48(4 + c.kind.index(), c.rnd, c.tid, c.amount.raw()),
            TokenData::MeterTest(t) => match t.format {
                MeterTestFormat::TwoDigitMfr => {
                    let control = match check("control", t.control, 36) {
                        Ok(v) => v,
                        Err(e) => return Err(e),
                    };
                    let mfr = match check("manufacturer code", t.manufacturer_code as u64, 8) {
                        Ok(v) => v,
                        Err(e) => return Err(e),
                    };
                    sub << 44 | control << 8 | mfr
                }
                MeterTestFormat::FourDigitMfr => {
                    let control = match check("control", t.control, 28) {
                        Ok(v) => v,
                        Err(e) => return Err(e),
                    };
                    sub << 44 | control << 16 | t.manufacturer_code as u64
                }
            },
            TokenData::MaxPowerLimit(b) => b.first48(),
            TokenData::ClearCredit(b) => b.first48(),
            TokenData::TariffRate(b) => b.first48(),
            TokenData::ClearTamper(b) => b.first48(),
            TokenData::MaxPhasePowerUnbalanceLimit(b) => b.first48(),
            TokenData::WaterMeterFactor(b) => b.first48(),
            TokenData::KeyChange1(k) => {
                let ken = match check("KENHO", k.ken_high as u64, 4) {
                    Ok(v) => v,
                    Err(e) => return Err(e),
                };
                let krn = match check("KRN", k.krn as u64, 4) {
                    Ok(v) => v,
                    Err(e) => return Err(e),
                };
                sub << 44
                    | ken << 40
                    | krn << 36
                    | (k.rollover as u64) << 35
                    | (k.third_section as u64) << 34
                    | (k.kt.value() as u64) << 32
                    | k.key_bits.bits() as u64
            }
            TokenData::KeyChange2(k) => {
                let ken = match check("KENLO", k.ken_low as u64, 4) {
                    Ok(v) => v,
                    Err(e) => return Err(e),
                };
                sub << 44 | ken << 40 | (k.ti as u64) << 32 | k.key_bits.bits() as u64
            }
            TokenData::KeyChange3(k) => {
                let sgc = match check("SGC bits", k.sgc_bits as u64, 12) {
                    Ok(v) => v,
                    Err(e) => return Err(e),
                };
                sub << 44 | sgc << 32 | k.key_bits.bits() as u64
            }
            TokenData::KeyChange4(k) => {
                let sgc = match check("SGC bits", k.sgc_bits as u64, 12) {
                    Ok(v) => v,
                    Err(e) => return Err(e),
                };
                sub << 44 | sgc << 32 | k.key_bits.bits() as u64
            }
            TokenData::Reserved(r) => {
                let data = match check("reserved data", r.data, 44) {
                    Ok(v) => v,
                    Err(e) => return Err(e),
                };
                sub << 44 | data
            }
        })
    }

    /// The complete plain 64-bit block, CRC included.
    #[doc(alias = "to_block")]
    pub const fn emit(&self) -> Result<u64, FieldError> {
        match self.first48() {
            Ok(first48) => Ok(crc::seal(self.class(), first48)),
            Err(e) => Err(e),
        }
    }

    /// A short name of the token type (the standard's name without spaces).
    pub const fn name(&self) -> &'static str {
        match self {
            TokenData::Credit(c) => match c.kind {
                CreditKind::Electricity => "TransferElectricityCredit",
                CreditKind::Water => "TransferWaterCredit",
                CreditKind::Gas => "TransferGasCredit",
                CreditKind::Time => "TransferTimeCredit",
            },
            TokenData::Currency(_) => "TransferCurrencyCredit",
            TokenData::MeterTest(t) => match t.format {
                MeterTestFormat::TwoDigitMfr => "InitiateMeterTestOrDisplay1",
                MeterTestFormat::FourDigitMfr => "InitiateMeterTestOrDisplay2",
            },
            TokenData::MaxPowerLimit(_) => "SetMaximumPowerLimit",
            TokenData::ClearCredit(_) => "ClearCredit",
            TokenData::TariffRate(_) => "SetTariffRate",
            TokenData::KeyChange1(_) => "Set1stSectionDecoderKey",
            TokenData::KeyChange2(_) => "Set2ndSectionDecoderKey",
            TokenData::ClearTamper(_) => "ClearTamperCondition",
            TokenData::MaxPhasePowerUnbalanceLimit(_) => "SetMaximumPhasePowerUnbalanceLimit",
            TokenData::WaterMeterFactor(_) => "SetWaterMeterFactor",
            TokenData::KeyChange3(_) => "Set3rdSectionDecoderKey",
            TokenData::KeyChange4(_) => "Set4thSectionDecoderKey",
            TokenData::Reserved(_) => "Reserved",
        }
    }
}

impl TryFrom<u8> for Rnd {
    type Error = FieldError;

    /// The RND with this value; an error above 15 (4 bits).
    fn try_from(value: u8) -> Result<Self, FieldError> {
        Self::new(value)
    }
}

impl From<Rnd> for u8 {
    /// The value of a [`Rnd`].
    fn from(value: Rnd) -> Self {
        value.value()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credit_block_worked_example() {
        // IEC 62055-41 worked example: 0B19EB230100C207 = class 0, sub 0, RND 11,
        // TID 0x19EB23, amount 0x0100 (25.6 kWh), CRC C207.
        let data = TokenData::parse(TokenClass::TRANSFER, 0x0B19_EB23_0100_C207).unwrap();
        let TokenData::Credit(c) = data else {
            panic!("not a credit block: {data:?}")
        };
        assert_eq!(c.kind, CreditKind::Electricity);
        assert_eq!(c.rnd.value(), 11);
        assert_eq!(c.tid.value(), 0x19_EB23);
        assert_eq!(c.amount.value(), 256);
        assert_eq!(data.emit(), Ok(0x0B19_EB23_0100_C207));
    }

    #[test]
    fn key_change_blocks() {
        // STS 531-1-0-04 CTSA05: 2/3 3F4A1D7B719A764F (KENHO 15, KRN 4, RO 1, KT 2) and
        // 2/8 824172EF892ED7EC (SGC bits 0x241).
        let data = TokenData::parse(TokenClass::MANAGEMENT, 0x3F4A_1D7B_719A_764F).unwrap();
        assert_eq!(
            data,
            TokenData::KeyChange1(KeyChange1 {
                ken_high: 15,
                krn: 4,
                rollover: true,
                third_section: false,
                kt: KeyType::Unique,
                key_bits: KeySection::new(0x1D7B_719A)
            })
        );
        assert_eq!(data.emit(), Ok(0x3F4A_1D7B_719A_764F));
        let data = TokenData::parse(TokenClass::MANAGEMENT, 0x8241_72EF_892E_D7EC).unwrap();
        assert_eq!(
            data,
            TokenData::KeyChange3(KeyChange3 {
                sgc_bits: 0x241,
                key_bits: KeySection::new(0x72EF_892E)
            })
        );
    }

    #[test]
    fn meter_test_blocks() {
        // STS 531 CTSA02: 1/0 0FFFFFFFFF005EFF and 1/1 1FFFFFFF00001D9F.
        let data = TokenData::parse(TokenClass::INITIATE_TEST, 0x0FFF_FFFF_FF00_5EFF).unwrap();
        assert_eq!(
            data,
            TokenData::MeterTest(MeterTest {
                format: MeterTestFormat::TwoDigitMfr,
                control: 0xF_FFFF_FFFF,
                manufacturer_code: 0
            })
        );
        let data = TokenData::parse(TokenClass::INITIATE_TEST, 0x1FFF_FFFF_0000_1D9F).unwrap();
        assert_eq!(data.emit(), Ok(0x1FFF_FFFF_0000_1D9F));
        let too_wide = TokenData::MeterTest(MeterTest {
            format: MeterTestFormat::FourDigitMfr,
            control: 1 << 28,
            manufacturer_code: 0,
        });
        assert!(too_wide.emit().is_err());
    }

    #[test]
    fn reserved_is_lossless() {
        for (class, block) in [
            (TokenClass::MANAGEMENT, 0xA123_4567_89AB_0000u64),
            (TokenClass::RESERVED, 0x0123_4567_89AB_0000),
            (TokenClass::INITIATE_TEST, 0x2123_4567_89AB_0000),
            (TokenClass::TRANSFER, 0x8123_4567_89AB_0000),
        ] {
            let data = TokenData::from_block(class, block);
            assert!(matches!(data, TokenData::Reserved(_)), "{data:?}");
            assert_eq!(data.first48(), Ok(block >> 16));
        }
    }

    #[test]
    fn crc_mismatch() {
        assert_eq!(
            TokenData::parse(TokenClass::TRANSFER, 0x0B19_EB23_0100_C208),
            Err(DecodeError::Crc {
                found: 0xC208,
                computed: 0xC207
            })
        );
    }
}
