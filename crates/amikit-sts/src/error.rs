//! Error types, one small `Copy` enum per layer.
//!
//! * [`TokenError`]: the 20 digits themselves (the meter's "format" error).
//! * [`FieldError`]: a value does not fit its field of the 64-bit data block.
//! * [`DecodeError`]: a token that does not decode (CRC, missing key).
//! * [`AmountError`], [`TidError`], [`DateTimeError`], [`PanError`]: the value codecs.
//! * [`KeyError`]: key parameters, key lengths and cipher set-up.
//! * [`StaTablesError`]: user-supplied STA tables that are not permutations.
//! * [`VendError`]: the vending side refuses to make a token.
//! * [`Reject`](crate::meter::Reject) (in [`meter`](crate::meter)): the meter refuses a token.

/// The text of a token is not 20 decimal digits below 2^66.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The token does not have 20 digits (after removing the optional grouping).
    #[error("a token has 20 digits, this one has {0}")]
    Length(usize),
    /// A character that is neither a digit nor an allowed group separator.
    #[error("byte {position} of the token is not a decimal digit")]
    NotADigit {
        /// Zero-based byte position in the input.
        position: usize,
    },
    /// A separator that is not between two groups of four digits.
    #[error("misplaced separator at byte {position}: group a token as dddd-dddd-dddd-dddd-dddd")]
    Grouping {
        /// Zero-based byte position in the input.
        position: usize,
    },
    /// The 20 digits are 2^66 or more (73786976294838206464 or more).
    #[error("the token's value is 2^66 or more")]
    TooLarge,
}

/// A value does not fit the field of the data block that should carry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FieldError {
    /// `value` is above `max`, the largest value of the field.
    #[error("{field} = {value} does not fit its field (max {max})")]
    OutOfRange {
        /// The field's name.
        field: &'static str,
        /// The value given.
        value: u64,
        /// The largest value the field holds.
        max: u64,
    },
}

/// A token cannot be decoded into a data block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The CRC of the decrypted block does not match: a wrong key, a wrong algorithm or a typo.
    #[error(
        "CRC mismatch (block has {found:04X}, computed {computed:04X}): wrong key or mistyped token"
    )]
    Crc {
        /// The CRC field of the block.
        found: u16,
        /// The CRC computed over the class and the first 48 bits of the block.
        computed: u16,
    },
    /// A class 0, 2 or 3 token is encrypted and no cipher was given.
    #[error("class {class} tokens are encrypted: a decoder key is needed")]
    NeedsKey {
        /// The token class.
        class: u8,
    },
}

/// An amount that the 16-bit exponent/mantissa code cannot carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AmountError {
    /// Above 18 201 624 (the largest value, 1 820 162.4 in tenths).
    #[error("{0} is above the largest amount a token carries (18201624 in the field's unit)")]
    TooLarge(u64),
    /// A decimal text that is not a non-negative number with optional fraction.
    #[error("not a non-negative decimal number")]
    Syntax,
}

/// A TID that cannot be made or is not valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TidError {
    /// The date-time is before 00:00 of the base date.
    #[error("the date-time is before the base date {base}-01-01")]
    BeforeBase {
        /// The base date's year.
        base: u16,
    },
    /// The minutes since the base date do not fit in 24 bits (the TID rollover).
    #[error("{minutes} minutes since the base date do not fit in 24 bits (TID rollover)")]
    Rollover {
        /// Minutes since the base date.
        minutes: u64,
    },
    /// A 24-bit value was expected.
    #[error("TID {0} does not fit in 24 bits")]
    TooLarge(u32),
    /// The TID falls on the reserved minute (TID mod 1440 == 1), which vending never issues.
    #[error("TID {0} is the reserved minute 00:01 (TID mod 1440 == 1)")]
    Reserved(u32),
}

/// A civil date-time that does not exist or cannot be parsed: `amikit-core`'s calendar error
/// (the TID's [`DateTime`](crate::tid::DateTime) is `amikit-core`'s).
pub type DateTimeError = amikit_core::CalendarError;

/// A meter PAN (primary account number) that is not valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PanError {
    /// A PAN has 18 digits (IIN 6 + DRN 11 + check digit); an IIN 6 digits; a DRN 11 digits.
    #[error("expected {expected} digits, got {got}")]
    Length {
        /// Number of digits expected.
        expected: usize,
        /// Number of characters given.
        got: usize,
    },
    /// A character that is not a decimal digit.
    #[error("character {position} is not a decimal digit")]
    NotADigit {
        /// Zero-based position.
        position: usize,
    },
    /// The last digit is not the Luhn check digit of the first 17.
    #[error("check digit {found} is wrong: the Luhn digit of the first 17 digits is {expected}")]
    CheckDigit {
        /// The Luhn digit of the first 17 digits.
        expected: u8,
        /// The 18th digit given.
        found: u8,
    },
}

/// Key parameters, key material or a cipher choice that is not valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// A supply group code has 6 decimal digits (0–999999).
    #[error("supply group code {0} is not 6 decimal digits")]
    SupplyGroupCode(u32),
    /// A tariff index is 0–99.
    #[error("tariff index {0} is not 0-99")]
    TariffIndex(u8),
    /// A key revision number is one hex digit (1–15; the standard assigns 1–9).
    #[error("key revision number {0} is not 1-15")]
    KeyRevision(u8),
    /// A key type is 0–3.
    #[error("key type {0} is not 0-3")]
    KeyType(u8),
    /// A base date is 1993, 2014 or 2035.
    #[error("base date {0} is not 1993, 2014 or 2035")]
    BaseDate(u16),
    /// An encryption algorithm code is 07, 09 or 11.
    #[error("encryption algorithm {0:02} is not 07, 09 or 11")]
    Algorithm(u8),
    /// Key material of the wrong length.
    #[error("{what} must be {expected} bytes, got {got}")]
    Length {
        /// Which key.
        what: &'static str,
        /// Bytes expected.
        expected: usize,
        /// Bytes given.
        got: usize,
    },
    /// The decoder key does not suit the algorithm (64-bit for EA07/EA09, 128-bit for EA11).
    #[error("a {bits}-bit decoder key does not suit EA{ea:02}")]
    KeySize {
        /// Bits of the key given.
        bits: u16,
        /// The algorithm code.
        ea: u8,
    },
    /// EA07 needs STA tables and none were given.
    #[error("EA07 (STA) needs substitution and permutation tables")]
    MissingStaTables,
    /// A derivation algorithm that cannot make a key for this algorithm (DKGA02 makes 64-bit keys only).
    #[error("DKGA{dkga:02} cannot make a key for EA{ea:02}")]
    Unsupported {
        /// The DKGA number.
        dkga: u8,
        /// The algorithm code.
        ea: u8,
    },
    /// The PAN is not valid.
    #[error("meter PAN: {0}")]
    Pan(#[from] PanError),
}

/// Which STA table failed validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StaTable {
    /// The first substitution box.
    S1,
    /// The second substitution box.
    S2,
    /// The bit permutation.
    P,
}

impl core::fmt::Display for StaTable {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            StaTable::S1 => "S1",
            StaTable::S2 => "S2",
            StaTable::P => "P",
        })
    }
}

/// User-supplied STA tables that are not permutations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StaTablesError {
    /// A table of the wrong length (S1 and S2 have 16 entries, P has 64).
    #[error("table {table} has {got} entries, expected {expected}")]
    Length {
        /// The table.
        table: StaTable,
        /// Entries expected.
        expected: usize,
        /// Entries given.
        got: usize,
    },
    /// An entry outside 0..len.
    #[error("table {table} entry {index} is {value}, outside 0..{len}")]
    OutOfRange {
        /// The table.
        table: StaTable,
        /// Position of the entry.
        index: usize,
        /// Its value.
        value: u16,
        /// Length of the table.
        len: usize,
    },
    /// A value that appears twice, so the table is not a permutation.
    #[error("table {table} is not a permutation: {value} appears twice (second time at {index})")]
    Duplicate {
        /// The table.
        table: StaTable,
        /// Position of the second occurrence.
        index: usize,
        /// The repeated value.
        value: u8,
    },
}

/// The vending side refuses to make a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VendError {
    /// Credit is never issued to a meter on its default key (KT = 1, DDTK; STS 531 CTSA16).
    #[error("refused: the meter is on a default key (KT=1), which may receive no credit")]
    DefaultKey,
    /// The TID cannot be made or is reserved.
    #[error("TID: {0}")]
    Tid(#[from] TidError),
    /// The amount cannot be carried.
    #[error("amount: {0}")]
    Amount(#[from] AmountError),
    /// A value does not fit its field.
    #[error("{0}")]
    Field(#[from] FieldError),
    /// Key material or parameters are not valid.
    #[error("key: {0}")]
    Key(#[from] KeyError),
    /// A 128-bit key change carries the supply group code, and none was given.
    #[error("a 128-bit key change needs the supply group code")]
    MissingSgc,
}
