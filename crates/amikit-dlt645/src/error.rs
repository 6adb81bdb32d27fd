//! Error types, one small `Copy` enum per layer.

/// Why a byte string is not a well-formed DL/T 645 frame.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum FrameError {
    /// The buffer ends before the frame does.
    #[error("truncated frame: need {needed} bytes, have {available}")]
    Truncated {
        /// Bytes the frame needs (preamble included).
        needed: usize,
        /// Bytes available.
        available: usize,
    },
    /// The first byte after the `FE` preamble is not `0x68`.
    #[error("no start byte: expected 0x68 at offset {offset}, found 0x{found:02X}")]
    BadStart {
        /// Offset of the offending byte.
        offset: usize,
        /// The byte found there.
        found: u8,
    },
    /// The second `0x68` (after the address) is missing.
    #[error("no second start byte: expected 0x68 after the address, found 0x{0:02X}")]
    BadSecondStart(u8),
    /// An address byte is neither packed BCD nor the `AA` wildcard.
    #[error("address byte A{index} is 0x{byte:02X}: neither BCD nor the AA wildcard")]
    BadAddress {
        /// Which address byte (0 = A0, the first on the wire).
        index: u8,
        /// Its value.
        byte: u8,
    },
    /// The checksum byte does not match the sum of the frame.
    #[error("checksum mismatch: computed 0x{computed:02X}, frame has 0x{found:02X}")]
    Checksum {
        /// Sum (mod 256) from the first `68` through the last data byte.
        computed: u8,
        /// The checksum byte of the frame.
        found: u8,
    },
    /// The end byte is not `0x16`.
    #[error("bad end byte: expected 0x16, found 0x{0:02X}")]
    BadEnd(u8),
    /// Bytes follow the end byte.
    #[error("{0} trailing bytes after the end byte")]
    Trailing(usize),
}

/// Why a frame does not carry a valid request or reply of its function.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum ParseError {
    /// The frame itself is malformed.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The data field has the wrong length for this function.
    #[error("data field of {function} is {actual} bytes, expected {expected}")]
    DataLength {
        /// The function's snake_case name.
        function: &'static str,
        /// What the function needs (a minimum when the field is variable).
        expected: u8,
        /// What the frame has.
        actual: u8,
    },
    /// The data field is longer than the edition allows.
    #[error("data field of {actual} bytes exceeds the limit of {max}")]
    TooLong {
        /// The limit.
        max: u8,
        /// The frame's `L`.
        actual: u8,
    },
    /// The function code is not defined in this edition (the frame is kept as `Unknown`
    /// by [`crate::Repr::parse`]; this error comes from typed helpers only).
    #[error("function code 0x{0:02X} is not defined in this edition")]
    UnknownFunction(u8),
    /// A field value is invalid (bad BCD, impossible time, wrong address kind).
    #[error(transparent)]
    Value(#[from] ValueError),
}

/// Why bytes are not a valid value of their format.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum ValueError {
    /// A nibble is not a decimal digit (byte index in wire order).
    #[error("invalid BCD byte 0x{byte:02X} at offset {offset}")]
    Bcd {
        /// Byte offset (wire order) within the value.
        offset: u8,
        /// The byte.
        byte: u8,
    },
    /// The value has the wrong number of bytes for its format.
    #[error("value is {actual} bytes, format needs {expected}")]
    Length {
        /// Bytes the format needs.
        expected: u8,
        /// Bytes given.
        actual: u8,
    },
    /// A date/time field is out of range (e.g. month 13, 31 April, 24 h).
    #[error("invalid {field}: {value}")]
    Time {
        /// Which field (`"month"`, `"day"`, …).
        field: &'static str,
        /// Its decoded value.
        value: u8,
    },
    /// A code point outside the defined set (e.g. a remote-control command byte).
    #[error("invalid {what}: 0x{value:02X}")]
    Code {
        /// What the byte encodes.
        what: &'static str,
        /// The byte.
        value: u8,
    },
    /// Text that is not a valid address / identifier / number.
    #[error("invalid text for {what}")]
    Text {
        /// What was being parsed.
        what: &'static str,
    },
    /// A date/time lacks a field the conversion needs (e.g. a `MMDDhhmm` value has no year).
    #[error("the time value has no {field}")]
    Missing {
        /// Which field (`"year"`, `"month"`, `"day"`).
        field: &'static str,
    },
}

/// Why a request or reply cannot be encoded.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum EncodeError {
    /// The output buffer is too small.
    #[error("buffer too small: need {needed} bytes, have {got}")]
    BufferTooSmall {
        /// Bytes needed ([`crate::Repr::buffer_len`]).
        needed: usize,
        /// Bytes available.
        got: usize,
    },
    /// The data field would exceed the edition's limit for this kind of frame.
    #[error("data field of {len} bytes exceeds the limit of {max}")]
    TooLong {
        /// The data field length.
        len: usize,
        /// The limit.
        max: u8,
    },
    /// The function does not exist in the chosen edition.
    #[error("{function} does not exist in DL/T 645-{edition}")]
    NotInEdition {
        /// The function's snake_case name.
        function: &'static str,
        /// `1997` or `2007`.
        edition: u16,
    },
    /// The data identifier has the wrong width for the edition (4 bytes 2007, 2 bytes 1997).
    #[error("data identifier width does not match DL/T 645-{edition}")]
    DiWidth {
        /// `1997` or `2007`.
        edition: u16,
    },
    /// The address is not allowed for this function (e.g. broadcast on a read).
    #[error("address not allowed for {function}")]
    Address {
        /// The function's snake_case name.
        function: &'static str,
    },
    /// A field is present/absent against the edition's layout (e.g. an operator code in a
    /// 1997 write, no `SEQ` in a 2007 follow-up read).
    #[error("{function}: field {field} does not match the edition's layout")]
    Layout {
        /// The function's snake_case name.
        function: &'static str,
        /// The field.
        field: &'static str,
    },
    /// A field value cannot be encoded.
    #[error(transparent)]
    Value(#[from] ValueError),
}
