//! Exact values: packed BCD numbers with an implied decimal point, timestamps, bit words.
//!
//! Multi-byte values are sent least significant byte first. Numbers are packed BCD; where the
//! format is signed, the top bit of the most significant byte is the sign (so the magnitude
//! range is e.g. 0…799999.99). A value whose bytes are all `FF` is the "no data" filler and
//! decodes to `None`; any other non-decimal nibble is an error. No floating point anywhere.
//!
//! Numbers decode into `amikit-core`'s exact [`Decimal`]; a complete `YYMMDDhhmmss` time
//! converts into `amikit-core`'s civil [`amikit_core::DateTime`] and back with `TryFrom`.

use core::fmt;

use crate::data::Data;
use crate::error::ValueError;

pub use amikit_core::Decimal;
pub use amikit_core::bcd::{from_bcd, is_bcd_byte, to_bcd};

/// The order and meaning of the bytes of a time value (printed most significant first;
/// on the wire the last field comes first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum TimeLayout {
    /// `YYMMDDhhmmss` (event times; broadcast time `ss mm hh DD MM YY` on the wire).
    YyMmDdHhMmSs,
    /// `YYMMDDhhmm` (demand occurrence, switch times).
    YyMmDdHhMm,
    /// `YYMMDDWW` (date and weekday, 0 = Sunday).
    YyMmDdWw,
    /// `hhmmss`.
    HhMmSs,
    /// `MMDDhhmm`.
    MmDdHhMm,
    /// `DDhh` (settlement day).
    DdHh,
    /// `YYMMDDNN` (holiday date and day-table number).
    YyMmDdNn,
    /// `MMDDNN` (time-zone start and day-table number).
    MmDdNn,
    /// `hhmmNN` (day-period start and tariff number).
    HhMmNn,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Y,
    Mo,
    D,
    H,
    Mi,
    S,
    W,
    N,
}

impl TimeLayout {
    const fn fields(self) -> &'static [Field] {
        use Field::*;
        match self {
            TimeLayout::YyMmDdHhMmSs => &[Y, Mo, D, H, Mi, S],
            TimeLayout::YyMmDdHhMm => &[Y, Mo, D, H, Mi],
            TimeLayout::YyMmDdWw => &[Y, Mo, D, W],
            TimeLayout::HhMmSs => &[H, Mi, S],
            TimeLayout::MmDdHhMm => &[Mo, D, H, Mi],
            TimeLayout::DdHh => &[D, H],
            TimeLayout::YyMmDdNn => &[Y, Mo, D, N],
            TimeLayout::MmDdNn => &[Mo, D, N],
            TimeLayout::HhMmNn => &[H, Mi, N],
        }
    }
}

/// A validated date/time value; absent fields are `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct DateTime {
    /// Full year (2000 + YY).
    pub year: Option<u16>,
    /// 1..=12.
    pub month: Option<u8>,
    /// 1..=31 (checked against the month).
    pub day: Option<u8>,
    /// 0..=23.
    pub hour: Option<u8>,
    /// 0..=59.
    pub minute: Option<u8>,
    /// 0..=59.
    pub second: Option<u8>,
    /// 0..=6, 0 = Sunday.
    pub weekday: Option<u8>,
    /// A table or tariff number attached to the time (`NN` of `YYMMDDNN`, `hhmmNN` …).
    pub number: Option<u8>,
}

/// Days in a month (year `None`: February has 29).
pub(crate) const fn days_in_month(year: Option<u16>, month: u8) -> u8 {
    // Without a year, 2000 (a leap year) stands in: February has 29 days.
    let year = match year {
        Some(y) => y,
        None => 2000,
    };
    amikit_core::calendar::days_in_month(year, month)
}

impl DateTime {
    /// A date and time (all six fields), validated.
    pub fn ymd_hms(
        year: u16,
        month: u8,
        day: u8,
        hour: u8,
        minute: u8,
        second: u8,
    ) -> Result<Self, ValueError> {
        let dt = DateTime {
            year: Some(year),
            month: Some(month),
            day: Some(day),
            hour: Some(hour),
            minute: Some(minute),
            second: Some(second),
            weekday: None,
            number: None,
        };
        dt.validate()?;
        Ok(dt)
    }

    /// Checks every present field's range and the day against the month and year.
    pub(crate) fn validate(&self) -> Result<(), ValueError> {
        let bad = |field, value| Err(ValueError::Time { field, value });
        if let Some(y) = self.year
            && !(2000..=2099).contains(&y)
        {
            return bad("year", (y % 100) as u8);
        }
        if let Some(m) = self.month
            && !(1..=12).contains(&m)
        {
            return bad("month", m);
        }
        if let Some(d) = self.day {
            let max = self.month.map_or(31, |m| days_in_month(self.year, m));
            if d == 0 || d > max {
                return bad("day", d);
            }
        }
        if let Some(h) = self.hour
            && h > 23
        {
            return bad("hour", h);
        }
        if let Some(m) = self.minute
            && m > 59
        {
            return bad("minute", m);
        }
        if let Some(s) = self.second
            && s > 59
        {
            return bad("second", s);
        }
        if let Some(w) = self.weekday
            && w > 6
        {
            return bad("weekday", w);
        }
        Ok(())
    }

    /// Decodes wire bytes (least significant field first) of a layout.
    #[doc(alias = "decode")]
    pub fn parse(layout: TimeLayout, data: Data<'_>) -> Result<Self, ValueError> {
        let fields = layout.fields();
        if data.len() != fields.len() {
            return Err(ValueError::Length {
                expected: fields.len() as u8,
                actual: data.len().min(255) as u8,
            });
        }
        let mut dt = DateTime::default();
        // the wire carries the last printed field first
        for (i, (field, byte)) in fields.iter().rev().zip(data.iter()).enumerate() {
            let v = from_bcd(byte).ok_or(ValueError::Bcd {
                offset: i as u8,
                byte,
            })?;
            match field {
                Field::Y => dt.year = Some(2000 + u16::from(v)),
                Field::Mo => dt.month = Some(v),
                Field::D => dt.day = Some(v),
                Field::H => dt.hour = Some(v),
                Field::Mi => dt.minute = Some(v),
                Field::S => dt.second = Some(v),
                Field::W => dt.weekday = Some(v),
                Field::N => dt.number = Some(v),
            }
        }
        dt.validate()?;
        Ok(dt)
    }

    /// Encodes into wire bytes (plain, least significant field first); returns the count.
    #[doc(alias = "encode")]
    pub fn emit(&self, layout: TimeLayout, out: &mut [u8]) -> Result<usize, ValueError> {
        self.validate()?;
        let fields = layout.fields();
        let have = out.len().min(255) as u8;
        let out = out.get_mut(..fields.len()).ok_or(ValueError::Length {
            expected: fields.len() as u8,
            actual: have,
        })?;
        for (slot, field) in out.iter_mut().zip(fields.iter().rev()) {
            let v = match field {
                Field::Y => self.year.map(|y| (y % 100) as u8),
                Field::Mo => self.month,
                Field::D => self.day,
                Field::H => self.hour,
                Field::Mi => self.minute,
                Field::S => self.second,
                Field::W => self.weekday,
                Field::N => self.number,
            }
            .unwrap_or(0);
            *slot = to_bcd(v).ok_or(ValueError::Code {
                what: "time field",
                value: v,
            })?;
        }
        Ok(fields.len())
    }
}

impl TryFrom<DateTime> for amikit_core::DateTime {
    type Error = ValueError;

    /// The civil date-time of a value with a year, month and day (`YYMMDDhhmmss`,
    /// `YYMMDDhhmm`, `YYMMDDWW`, `YYMMDDNN`); absent hour, minute or second count as 0 (the
    /// start of the time the meter gave). The weekday and number are not carried over.
    ///
    /// # Errors
    /// [`ValueError::Missing`] without a year, month or day; [`ValueError::Time`] for a
    /// field out of range.
    fn try_from(t: DateTime) -> Result<Self, ValueError> {
        let year = t.year.ok_or(ValueError::Missing { field: "year" })?;
        let month = t.month.ok_or(ValueError::Missing { field: "month" })?;
        let day = t.day.ok_or(ValueError::Missing { field: "day" })?;
        t.validate()?;
        amikit_core::DateTime::new(
            year,
            month,
            day,
            t.hour.unwrap_or(0),
            t.minute.unwrap_or(0),
            t.second.unwrap_or(0),
        )
        .map_err(|_| ValueError::Time {
            field: "day",
            value: day,
        })
    }
}

impl TryFrom<amikit_core::DateTime> for DateTime {
    type Error = ValueError;

    /// The six fields of `YYMMDDhhmmss` (DL/T 645-2007 Appendix A: years 2000–2099), without
    /// weekday or number.
    ///
    /// # Errors
    /// [`ValueError::Time`] for a year outside 2000–2099 (the wire has two year digits).
    fn try_from(t: amikit_core::DateTime) -> Result<Self, ValueError> {
        DateTime::ymd_hms(
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
        )
    }
}

impl fmt::Display for DateTime {
    /// ISO-like: `2024-05-17 13:45:00`, `13:45:00`, `05-17`, with ` #NN` for a number and
    /// ` w3` for a weekday.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        if let Some(y) = self.year {
            write!(f, "{y:04}")?;
            sep = "-";
        }
        if let Some(m) = self.month {
            write!(f, "{sep}{m:02}")?;
            sep = "-";
        }
        if let Some(d) = self.day {
            write!(f, "{sep}{d:02}")?;
            sep = " ";
        }
        if let Some(h) = self.hour {
            write!(f, "{sep}{h:02}")?;
            if let Some(m) = self.minute {
                write!(f, ":{m:02}")?;
            }
            if let Some(s) = self.second {
                write!(f, ":{s:02}")?;
            }
            sep = " ";
        }
        if let Some(w) = self.weekday {
            write!(f, "{sep}w{w}")?;
            sep = " ";
        }
        if let Some(n) = self.number {
            write!(f, "{sep}#{n:02}")?;
        }
        Ok(())
    }
}

/// How the bytes of a data item are to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Kind {
    /// A packed-BCD number with `decimals` implied fractional digits, optionally signed.
    Number {
        /// Implied fractional digits.
        decimals: u8,
        /// Top bit of the most significant byte is the sign.
        signed: bool,
    },
    /// A date/time.
    Time(TimeLayout),
    /// A bit word (status words, feature words): shown as hex, most significant byte first.
    Word,
    /// ASCII text (sent last character first, like every multi-byte item).
    Ascii,
    /// A packed-BCD digit string kept with its leading zeros (addresses, meter numbers).
    Digits,
    /// A maximum demand: `XX.XXXX` (3 bytes) followed by its `YYMMDDhhmm` occurrence time.
    Demand {
        /// Top bit of the value's most significant byte is the sign.
        signed: bool,
    },
    /// A multi-member record or a layout not decoded here: raw bytes.
    Raw,
}

/// The format of a data item: kind and byte length (0 = variable).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Format {
    /// How to read it.
    pub kind: Kind,
    /// Bytes (0 = variable length).
    pub len: u8,
}

impl From<TimeLayout> for Format {
    /// The format of a time value in `layout`.
    fn from(layout: TimeLayout) -> Self {
        Format::time(layout)
    }
}

impl Format {
    /// An unsigned number.
    pub(crate) const fn number(len: u8, decimals: u8) -> Format {
        Format {
            kind: Kind::Number {
                decimals,
                signed: false,
            },
            len,
        }
    }

    /// A time value.
    pub(crate) const fn time(layout: TimeLayout) -> Format {
        Format {
            kind: Kind::Time(layout),
            len: layout.fields().len() as u8,
        }
    }

    /// Decodes a value; `Ok(None)` for the all-`FF` "no data" filler.
    #[inline]
    #[doc(alias = "decode")]
    pub fn parse<'a>(&self, data: Data<'a>) -> Result<Option<Value<'a>>, ValueError> {
        if self.len != 0 && data.len() != usize::from(self.len) {
            return Err(ValueError::Length {
                expected: self.len,
                actual: data.len().min(255) as u8,
            });
        }
        if let Kind::Number { decimals, signed } = self.kind
            && (1..=8).contains(&data.len())
        {
            // one load for the filler test and the digits
            let x = load_plain(data);
            let all = if data.len() == 8 {
                u64::MAX
            } else {
                (1u64 << (8 * data.len())) - 1
            };
            if x == all {
                return Ok(None);
            }
            return swar_digits(x, data, decimals, signed).map(|d| Some(Value::Number(d)));
        }
        if is_filler(data) {
            return Ok(None);
        }
        Ok(Some(match self.kind {
            Kind::Number { decimals, signed } => {
                Value::Number(parse_number(data, decimals, signed)?)
            }
            Kind::Time(layout) => Value::Time(DateTime::parse(layout, data)?),
            Kind::Word => {
                if data.len() > 4 {
                    Value::Bytes(data)
                } else {
                    Value::Word(data.iter().rev().fold(0u32, |a, b| (a << 8) | u32::from(b)))
                }
            }
            Kind::Ascii => Value::Ascii(data),
            Kind::Digits => {
                if let Some((i, b)) = data.iter().enumerate().find(|(_, b)| !is_bcd_byte(*b)) {
                    return Err(ValueError::Bcd {
                        offset: i as u8,
                        byte: b,
                    });
                }
                Value::Digits(data)
            }
            Kind::Demand { signed } => {
                let (value, time) = data.split_at(3).ok_or(ValueError::Length {
                    expected: 8,
                    actual: data.len().min(255) as u8,
                })?;
                // A meter without a recorded maximum may fill the time with FF or zeros.
                let time = if time.iter().all(|b| b == 0xFF || b == 0) {
                    None
                } else {
                    Some(DateTime::parse(TimeLayout::YyMmDdHhMm, time)?)
                };
                Value::Demand {
                    value: parse_number(value, 4, signed)?,
                    time,
                }
            }
            Kind::Raw => Value::Bytes(data),
        }))
    }
}

impl Format {
    /// Encodes a value into plain wire bytes (least significant byte first, before the +0x33
    /// scrambling that [`Repr::emit`](crate::Repr::emit) applies); returns the byte count. The
    /// inverse of [`Format::parse`]: numbers are rescaled exactly to the format's decimals (a
    /// value that needs more decimals, more digits or a sign the format lacks is refused), times
    /// are validated, words must fit, digit strings, ASCII and raw bytes must have the format's
    /// length (any length for a variable-length format).
    ///
    /// A meter answers a read with it: look the identifier up in the
    /// [`catalogue`](crate::catalogue) and encode the value there.
    ///
    /// ```
    /// use amikit_dlt645::value::{Decimal, Value};
    /// use amikit_dlt645::{Data, Di, catalogue};
    ///
    /// // Forward active energy 1520.37 kWh (XXXXXX.XX) as a meter sends it.
    /// let entry = catalogue::lookup(Di(0x0001_0000)).unwrap();
    /// let mut out = [0u8; 8];
    /// let n = entry.format.emit(&Value::Number(Decimal::new(152_037, 2)), &mut out).unwrap();
    /// assert_eq!(&out[..n], &[0x37, 0x20, 0x15, 0x00]);
    /// let back = entry.parse(Data::plain(&out[..n])).unwrap().unwrap();
    /// assert_eq!(back.number(), Some(Decimal::new(152_037, 2)));
    /// ```
    #[doc(alias = "encode")]
    pub fn emit(&self, value: &Value<'_>, out: &mut [u8]) -> Result<usize, ValueError> {
        let have = out.len().min(255) as u8;
        let mismatch = ValueError::Code {
            what: "value kind for this format",
            value: self.len,
        };
        match (self.kind, value) {
            (Kind::Number { decimals, signed }, Value::Number(d)) => {
                emit_number(*d, self.len, decimals, signed, out)
            }
            (Kind::Time(layout), Value::Time(t)) => t.emit(layout, out),
            (Kind::Word, Value::Word(w)) => {
                let len = usize::from(self.len);
                if len < 4 && u64::from(*w) >> (8 * len) != 0 {
                    return Err(ValueError::Code {
                        what: "word too wide for its format",
                        value: self.len,
                    });
                }
                let dst = out.get_mut(..len).ok_or(ValueError::Length {
                    expected: self.len,
                    actual: have,
                })?;
                for (i, b) in dst.iter_mut().enumerate() {
                    *b = u32::checked_shr(*w, 8 * i as u32).unwrap_or(0) as u8;
                }
                Ok(len)
            }
            (Kind::Digits, Value::Digits(d))
            | (Kind::Ascii, Value::Ascii(d))
            | (Kind::Raw, Value::Bytes(d)) => {
                if self.len != 0 && d.len() != usize::from(self.len) {
                    return Err(ValueError::Length {
                        expected: self.len,
                        actual: d.len().min(255) as u8,
                    });
                }
                let dst = out.get_mut(..d.len()).ok_or(ValueError::Length {
                    expected: d.len().min(255) as u8,
                    actual: have,
                })?;
                for (slot, b) in dst.iter_mut().zip(d.iter()) {
                    *slot = b;
                }
                Ok(d.len())
            }
            (Kind::Demand { signed }, Value::Demand { value, time }) => {
                let n = emit_number(*value, 3, 4, signed, out)?;
                let rest = out.get_mut(n..).unwrap_or_default();
                let m = match time {
                    Some(t) => t.emit(TimeLayout::YyMmDdHhMm, rest)?,
                    None => fill(rest, 5, 0x00)?,
                };
                Ok(n + m)
            }
            _ => Err(mismatch),
        }
    }
}

fn fill(out: &mut [u8], len: u8, byte: u8) -> Result<usize, ValueError> {
    let have = out.len().min(255) as u8;
    let dst = out.get_mut(..usize::from(len)).ok_or(ValueError::Length {
        expected: len,
        actual: have,
    })?;
    dst.fill(byte);
    Ok(dst.len())
}

/// Whether a value is the all-`FF` "no data" filler (and not empty).
#[inline]
pub(crate) fn is_filler(data: Data<'_>) -> bool {
    let (bytes, wire) = data.raw();
    let ff = if wire {
        crate::data::scramble(0xFF)
    } else {
        0xFF
    };
    !bytes.is_empty() && bytes.iter().all(|&b| b == ff)
}

/// Decodes a packed-BCD number (wire order, least significant byte first).
#[inline]
#[doc(alias = "decode_number")]
pub fn parse_number(data: Data<'_>, decimals: u8, signed: bool) -> Result<Decimal, ValueError> {
    let len = data.len();
    if len == 0 || len > 9 {
        return Err(ValueError::Length {
            expected: 9,
            actual: len.min(255) as u8,
        });
    }
    if len <= 8 {
        return decode_number_swar(data, decimals, signed);
    }
    let mut plain = [0u8; 9];
    data.copy_to(&mut plain);
    let mut negative = false;
    if signed && let Some(top) = plain.get_mut(len - 1) {
        negative = *top & 0x80 != 0;
        *top &= 0x7F;
    }
    let mut m: i64 = 0;
    for (i, &b) in plain.iter().take(len).enumerate().rev() {
        if !is_bcd_byte(b) {
            return Err(ValueError::Bcd {
                offset: i as u8,
                byte: data.get(i).unwrap_or(b),
            });
        }
        m = m * 100 + i64::from(b >> 4) * 10 + i64::from(b & 0x0F);
    }
    Ok(Decimal::new(if negative { -m } else { m }, decimals))
}

const LANES_0F: u64 = 0x0F0F_0F0F_0F0F_0F0F;
const LANES_80: u64 = 0x8080_8080_8080_8080;
const LANES_33: u64 = 0x3333_3333_3333_3333;

/// Up to 8 bytes as one little-endian word, −0x33 per byte when `wire`.
#[inline]
fn load_plain(data: Data<'_>) -> u64 {
    let (bytes, wire) = data.raw();
    let x = match *bytes {
        [a] => u64::from(a),
        [a, b] => u64::from(u16::from_le_bytes([a, b])),
        [a, b, c] => u64::from(u32::from_le_bytes([a, b, c, 0])),
        [a, b, c, d] => u64::from(u32::from_le_bytes([a, b, c, d])),
        _ => {
            let mut b = [0u8; 8];
            for (d, s) in b.iter_mut().zip(bytes) {
                *d = *s;
            }
            u64::from_le_bytes(b)
        }
    };
    if wire {
        // per-byte wrapping subtraction of 0x33 without borrows between bytes
        let mask = if bytes.len() >= 8 {
            u64::MAX
        } else {
            (1u64 << (8 * bytes.len())) - 1
        };
        (((x | LANES_80) - LANES_33) ^ ((x ^ !LANES_33) & LANES_80)) & mask
    } else {
        x
    }
}

/// `parse_number` for 1..=8 bytes, eight digits pairs at a time.
#[inline]
fn decode_number_swar(data: Data<'_>, decimals: u8, signed: bool) -> Result<Decimal, ValueError> {
    swar_digits(load_plain(data), data, decimals, signed)
}

/// The first byte of `data` that is not two BCD digits (the sign bit of a signed value's top
/// byte aside), as an error. Off the hot path.
#[cold]
#[inline(never)]
fn first_bad_digit(data: Data<'_>, signed: bool) -> Option<ValueError> {
    let len = data.len();
    data.iter().enumerate().find_map(|(i, byte)| {
        let b = if signed && i + 1 == len {
            byte & 0x7F
        } else {
            byte
        };
        (!is_bcd_byte(b)).then_some(ValueError::Bcd {
            offset: i as u8,
            byte,
        })
    })
}

/// The digits of `x` (the plain bytes of `data`, 1..=8 of them, little-endian).
#[inline]
fn swar_digits(
    mut x: u64,
    data: Data<'_>,
    decimals: u8,
    signed: bool,
) -> Result<Decimal, ValueError> {
    let len = data.len();
    let top_bit = 8 * (len as u32) - 1;
    let negative = signed && (x >> top_bit) & 1 == 1;
    if signed {
        x &= !(1u64 << top_bit);
    }
    let lo = x & LANES_0F;
    let hi = (x >> 4) & LANES_0F;
    let six = 0x0606_0606_0606_0606u64;
    let carry = 0x1010_1010_1010_1010u64;
    if ((lo + six) | (hi + six)) & carry != 0
        && let Some(e) = first_bad_digit(data, signed)
    {
        return Err(e);
    }
    // per byte: tens * 10 + units, then pairs of lanes: low + high * 100, …
    let v = lo + hi * 10;
    let v = (v & 0x00FF_00FF_00FF_00FF) + ((v >> 8) & 0x00FF_00FF_00FF_00FF) * 100;
    let v = (v & 0x0000_FFFF_0000_FFFF) + ((v >> 16) & 0x0000_FFFF_0000_FFFF) * 10_000;
    let v = (v & 0xFFFF_FFFF) + (v >> 32) * 100_000_000;
    let m = v as i64;
    Ok(Decimal::new(if negative { -m } else { m }, decimals))
}

/// Encodes a number into `len` BCD bytes (plain, least significant first), with the sign bit
/// if `signed`. The value's scale must equal `decimals`.
#[doc(alias = "encode_number")]
pub fn emit_number(
    value: Decimal,
    len: u8,
    decimals: u8,
    signed: bool,
    out: &mut [u8],
) -> Result<usize, ValueError> {
    let len_us = usize::from(len);
    let bad = ValueError::Code {
        what: "number out of range for its format",
        value: len,
    };
    let value = if value.scale == decimals {
        value
    } else {
        let n = value.normalize();
        if n.scale > decimals {
            return Err(bad);
        }
        let factor = 10i64
            .checked_pow(u32::from(decimals - n.scale))
            .ok_or(bad)?;
        Decimal::new(n.mantissa.checked_mul(factor).ok_or(bad)?, decimals)
    };
    if value.mantissa < 0 && !signed {
        return Err(bad);
    }
    let have = out.len().min(255) as u8;
    let out = out.get_mut(..len_us).ok_or(ValueError::Length {
        expected: len,
        actual: have,
    })?;
    let mut rest = value.mantissa.unsigned_abs();
    for b in out.iter_mut() {
        let lo = (rest % 10) as u8;
        rest /= 10;
        let hi = (rest % 10) as u8;
        rest /= 10;
        *b = (hi << 4) | lo;
    }
    if rest != 0 {
        return Err(bad);
    }
    if signed && let Some(top) = out.last_mut() {
        if *top & 0x80 != 0 {
            return Err(bad);
        }
        if value.mantissa < 0 {
            *top |= 0x80;
        }
    }
    Ok(len_us)
}

/// A decoded value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum Value<'a> {
    /// An exact decimal number.
    Number(Decimal),
    /// A validated date/time.
    Time(DateTime),
    /// A bit word (≤ 4 bytes), most significant byte first.
    Word(u32),
    /// ASCII text, in wire order (reverse it for reading order).
    Ascii(Data<'a>),
    /// BCD digits in wire order (printed most significant first, leading zeros kept).
    Digits(Data<'a>),
    /// A maximum demand and when it occurred (`None`: no time recorded).
    Demand {
        /// The demand.
        value: Decimal,
        /// Its occurrence time.
        time: Option<DateTime>,
    },
    /// Raw bytes (records, unknown layouts).
    Bytes(Data<'a>),
}

impl Value<'_> {
    /// The number, for [`Value::Number`] and the value of [`Value::Demand`].
    pub fn number(&self) -> Option<Decimal> {
        match self {
            Value::Number(d) | Value::Demand { value: d, .. } => Some(*d),
            _ => None,
        }
    }
}

impl fmt::Display for Value<'_> {
    /// Numbers as decimal strings, times ISO-like, words as hex, ASCII in reading order,
    /// bytes as hex (wire order).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Number(d) => d.fmt(f),
            Value::Time(t) => t.fmt(f),
            Value::Word(w) => write!(f, "{w:X}"),
            Value::Ascii(a) => {
                for b in a.iter().rev() {
                    let c = if b.is_ascii_graphic() || b == b' ' {
                        b as char
                    } else {
                        '.'
                    };
                    write!(f, "{c}")?;
                }
                Ok(())
            }
            Value::Digits(d) => {
                for b in d.iter().rev() {
                    write!(f, "{b:02X}")?;
                }
                Ok(())
            }
            Value::Demand { value, time } => {
                value.fmt(f)?;
                if let Some(t) = time {
                    write!(f, " @ {t}")?;
                }
                Ok(())
            }
            Value::Bytes(b) => b.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::ToString;

    #[test]
    fn numbers() {
        // unsurper vector: 02 00 00 00, XXXXXX.XX -> 0.02
        let d = parse_number(Data::plain(&[0x02, 0, 0, 0]), 2, false).unwrap();
        assert_eq!(d.to_string(), "0.02");
        // johngai19 vector: 97 22, XXX.X -> 229.7
        assert_eq!(
            parse_number(Data::plain(&[0x97, 0x22]), 1, false)
                .unwrap()
                .to_string(),
            "229.7"
        );
        // sign bit: 00 00 00 85 signed -> -50000.00 ; unsigned -> invalid? no: 0x85 is BCD 85
        assert_eq!(
            parse_number(Data::plain(&[0, 0, 0, 0x85]), 2, true)
                .unwrap()
                .to_string(),
            "-50000.00"
        );
        assert_eq!(
            parse_number(Data::plain(&[0, 0, 0, 0x85]), 2, false)
                .unwrap()
                .to_string(),
            "850000.00"
        );
        assert_eq!(
            parse_number(Data::plain(&[0x1A]), 0, false),
            Err(ValueError::Bcd {
                offset: 0,
                byte: 0x1A
            })
        );
    }

    #[test]
    fn swar_matches_bytewise() {
        // every 2-byte plain and wire value, both signs
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                for signed in [false, true] {
                    let plain = [a, b];
                    let wire = [a.wrapping_add(0x33), b.wrapping_add(0x33)];
                    let fast = parse_number(Data::plain(&plain), 1, signed);
                    let fast_w = parse_number(Data::wire(&wire), 1, signed);
                    // bytewise reference
                    let top = if signed { b & 0x7F } else { b };
                    let ok = is_bcd_byte(a) && is_bcd_byte(top);
                    if ok {
                        let m = i64::from(from_bcd(top).unwrap()) * 100
                            + i64::from(from_bcd(a).unwrap());
                        let m = if signed && b & 0x80 != 0 { -m } else { m };
                        assert_eq!(fast, Ok(Decimal::new(m, 1)));
                        assert_eq!(fast_w, fast);
                    } else {
                        assert!(
                            matches!(fast, Err(ValueError::Bcd { .. })),
                            "{a:02X}{b:02X}"
                        );
                        assert!(matches!(fast_w, Err(ValueError::Bcd { .. })));
                    }
                }
            }
        }
        assert_eq!(
            parse_number(Data::plain(&[0x99; 8]), 0, false)
                .unwrap()
                .mantissa,
            9_999_999_999_999_999
        );
        assert_eq!(
            parse_number(
                Data::plain(&[0x12, 0x34, 0x56, 0x78, 0x90, 0x12, 0x34, 0x56]),
                0,
                false
            )
            .unwrap()
            .mantissa,
            5_634_129_078_563_412
        );
    }

    #[test]
    fn filler_is_none() {
        let f = Format::number(4, 2);
        assert_eq!(f.parse(Data::plain(&[0xFF; 4])), Ok(None));
        assert!(f.parse(Data::plain(&[0xFF, 0xFF, 0, 0])).is_err());
        assert!(f.parse(Data::plain(&[0; 3])).is_err());
    }

    #[test]
    fn encode_round_trip() {
        let mut out = [0u8; 4];
        emit_number(Decimal::new(-123_456, 2), 4, 2, true, &mut out).unwrap();
        assert_eq!(out, [0x56, 0x34, 0x12, 0x80]);
        assert_eq!(
            parse_number(Data::plain(&out), 2, true).unwrap(),
            Decimal::new(-123_456, 2)
        );
        assert!(emit_number(Decimal::new(80_000_000, 2), 4, 2, true, &mut out).is_err());
        assert!(emit_number(Decimal::new(1, 3), 4, 2, false, &mut out).is_err());
        emit_number(Decimal::new(5, 0), 4, 2, false, &mut out).unwrap();
        assert_eq!(out, [0x00, 0x05, 0, 0]);
    }

    #[test]
    fn times() {
        // 2024-02-29 23:59:58 as ss mm hh DD MM YY
        let w = [0x58, 0x59, 0x23, 0x29, 0x02, 0x24];
        let t = DateTime::parse(TimeLayout::YyMmDdHhMmSs, Data::plain(&w)).unwrap();
        assert_eq!(t.to_string(), "2024-02-29 23:59:58");
        let mut out = [0u8; 6];
        t.emit(TimeLayout::YyMmDdHhMmSs, &mut out).unwrap();
        assert_eq!(out, w);
        // 2023-02-29 does not exist
        let w = [0x58, 0x59, 0x23, 0x29, 0x02, 0x23];
        assert_eq!(
            DateTime::parse(TimeLayout::YyMmDdHhMmSs, Data::plain(&w)),
            Err(ValueError::Time {
                field: "day",
                value: 29
            })
        );
        // 24 h
        assert!(DateTime::parse(TimeLayout::HhMmSs, Data::plain(&[0, 0, 0x24])).is_err());
        // weekday 7
        assert!(DateTime::parse(TimeLayout::YyMmDdWw, Data::plain(&[7, 1, 1, 0x24])).is_err());
        let d = DateTime::parse(TimeLayout::YyMmDdWw, Data::plain(&[5, 0x17, 5, 0x24])).unwrap();
        assert_eq!(d.to_string(), "2024-05-17 w5");
    }

    #[test]
    fn civil_conversions() {
        // 24-05-17 13:45:00 on the wire (least significant field first).
        let w = [0x00, 0x45, 0x13, 0x17, 0x05, 0x24];
        let t = DateTime::parse(TimeLayout::YyMmDdHhMmSs, Data::plain(&w)).unwrap();
        let civil = amikit_core::DateTime::try_from(t).unwrap();
        assert_eq!(civil.to_string(), "2024-05-17T13:45:00");
        assert_eq!(DateTime::try_from(civil), Ok(t));
        let mut out = [0u8; 6];
        DateTime::try_from(civil)
            .unwrap()
            .emit(TimeLayout::YyMmDdHhMmSs, &mut out)
            .unwrap();
        assert_eq!(out, w);
        // A date with weekday: midnight.
        let d = DateTime::parse(TimeLayout::YyMmDdWw, Data::plain(&[5, 0x17, 5, 0x24])).unwrap();
        assert_eq!(
            amikit_core::DateTime::try_from(d).map(|c| c.to_string()),
            Ok("2024-05-17T00:00:00".into())
        );
        // No year: refused, not guessed.
        let md = DateTime::parse(TimeLayout::MmDdHhMm, Data::plain(&[0, 0, 1, 1])).unwrap();
        assert_eq!(
            amikit_core::DateTime::try_from(md),
            Err(ValueError::Missing { field: "year" })
        );
        // Two year digits on the wire: 1999 and 2100 do not fit.
        let y1999 = amikit_core::DateTime::new(1999, 12, 31, 0, 0, 0).unwrap();
        assert!(DateTime::try_from(y1999).is_err());
        let y2100 = amikit_core::DateTime::new(2100, 1, 1, 0, 0, 0).unwrap();
        assert!(DateTime::try_from(y2100).is_err());
    }
}
