//! Error types, one small `Copy` enum per layer.
//!
//! "The peer sent something wrong" ([`FrameError`], [`ParseError`], [`FormatError`]) is kept apart
//! from "the caller asked for something impossible" ([`EncodeError`]).

/// The link layer is wrong: `68 L L 68 … CS 16` does not hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum FrameError {
    /// Fewer bytes than the smallest frame or than the length field promises.
    #[error("truncated: {needed} bytes needed, {available} available")]
    Truncated {
        /// Bytes the frame needs.
        needed: usize,
        /// Bytes present.
        available: usize,
    },
    /// The first byte is not `68`.
    #[error("bad start byte {0:#04x} (expected 0x68)")]
    BadStart(u8),
    /// The byte after the two L copies is not `68`.
    #[error("bad second start byte {0:#04x} (expected 0x68)")]
    BadSecondStart(u8),
    /// The two copies of L differ.
    #[error("L copies differ: {first:#06x} vs {second:#06x}")]
    LengthMismatch {
        /// First copy.
        first: u16,
        /// Second copy.
        second: u16,
    },
    /// The protocol id (L bits D1–D0) is not accepted by the profile.
    #[error("protocol id {0} not accepted (2 = Q/GDW 376.1, 1 = Q/GDW 130-2005)")]
    ProtocolId(u8),
    /// The user-data length is below the 8-byte header (C, A, AFN, SEQ).
    #[error("user-data length {0} is shorter than the header")]
    TooShort(usize),
    /// The user data is longer than the caller's limit.
    #[error("user-data length {length} exceeds the limit {limit}")]
    TooLong {
        /// Declared user-data length.
        length: usize,
        /// Accepted maximum.
        limit: usize,
    },
    /// The checksum does not match the user data.
    #[error("checksum {found:#04x}, computed {computed:#04x}")]
    Checksum {
        /// CS byte in the frame.
        found: u8,
        /// Sum of the user data.
        computed: u8,
    },
    /// The last byte is not `16`.
    #[error("bad end byte {0:#04x} (expected 0x16)")]
    BadEnd(u8),
    /// Bytes follow the end byte.
    #[error("{0} bytes after the end byte")]
    TrailingBytes(usize),
}

/// The header or auxiliary fields do not fit the user data under the chosen profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum ParseError {
    /// The link layer is wrong.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The user data is too short for the header plus the auxiliary fields the profile requires.
    #[error("user data of {available} bytes cannot hold header and AUX ({needed} bytes)")]
    AuxTooLong {
        /// Bytes needed by header + PW + EC + Tp.
        needed: usize,
        /// User-data bytes present.
        available: usize,
    },
    /// A1 (region code) is not BCD and the profile does not allow it.
    #[error("region code A1 {0:#06x} is not BCD")]
    RegionNotBcd(u16),
    /// A Tp field is not valid (non-BCD send time).
    #[error("Tp send time is not BCD")]
    TpNotBcd,
    /// A DA/DT pair is not valid.
    #[error(transparent)]
    DaDt(#[from] DaDtError),
}

/// A DA/DT (Pn/Fn) group is not valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum DaDtError {
    /// DA1 has bits set but DA2 (group) is 0, and DA1 is not `FF` ("all points").
    #[error("DA {da1:#04x} {da2:#04x}: point bits without a group")]
    BadDa {
        /// DA1 (bit mask).
        da1: u8,
        /// DA2 (group).
        da2: u8,
    },
    /// DT1 is 0 (no Fn) or DT2 is above 30.
    #[error("DT {dt1:#04x} {dt2:#04x}: no Fn or group above 30")]
    BadDt {
        /// DT1 (bit mask).
        dt1: u8,
        /// DT2 (group).
        dt2: u8,
    },
    /// A pn or Fn number cannot be encoded (pn 1–2040, Fn 1–248).
    #[error("pn {pn} / Fn {fn_} out of range")]
    OutOfRange {
        /// Point number.
        pn: u16,
        /// Function number.
        fn_: u8,
    },
    /// Points or functions given for one DA/DT are not in one group of eight.
    #[error("pn or Fn not in one group of eight")]
    MixedGroups,
}

/// An Appendix A data format does not hold a valid value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum FormatError {
    /// A nibble that must be a decimal digit is above 9 (e.g. `EF` filler).
    #[error("byte {offset} ({byte:#04x}) is not BCD")]
    NotBcd {
        /// Offset of the byte inside the field.
        offset: usize,
        /// The byte.
        byte: u8,
    },
    /// Fewer bytes than the format needs.
    #[error("{needed} bytes needed, {available} available")]
    Truncated {
        /// Field size.
        needed: usize,
        /// Bytes present.
        available: usize,
    },
    /// A value cannot be encoded in the format (too many digits, bad field).
    #[error("value out of range for the format")]
    OutOfRange,
}

/// A typed data unit could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum UnitError {
    /// The unit's bytes do not have the layout's length.
    #[error("unit length {available}, layout needs {needed}")]
    Length {
        /// Bytes the layout needs.
        needed: usize,
        /// Bytes present.
        available: usize,
    },
    /// A field holds an invalid data format.
    #[error("field at offset {offset}: {error}")]
    Format {
        /// Offset of the field inside the unit.
        offset: usize,
        /// What is wrong with it.
        error: FormatError,
    },
    /// A field holds a value the standard does not allow.
    #[error("field at offset {offset} has an invalid value {value:#04x}")]
    Value {
        /// Offset of the field inside the unit.
        offset: usize,
        /// The byte.
        value: u8,
    },
}

/// Encoding failed (the caller's fault, not the peer's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum EncodeError {
    /// The output buffer is too small.
    #[error("buffer too small: {needed} bytes needed, {got} given")]
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes given.
        got: usize,
    },
    /// The user data would exceed 16 383 bytes (the 14-bit L field).
    #[error("user data of {0} bytes exceeds the 14-bit L field")]
    TooLong(usize),
    /// A value cannot be represented on the wire.
    #[error("value out of range: {0}")]
    OutOfRange(&'static str),
    /// A DA/DT cannot be encoded.
    #[error(transparent)]
    DaDt(#[from] DaDtError),
    /// A data format cannot be encoded.
    #[error(transparent)]
    Format(#[from] FormatError),
    /// The PW provider failed.
    #[error(transparent)]
    Security(#[from] SecurityError),
}

/// PW (message authentication) or Tp (replay) check failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum SecurityError {
    /// The frame carries no PW although one is required.
    #[error("PW missing")]
    PwMissing,
    /// The PW has another length than the provider produces.
    #[error("PW length {found}, provider expects {expected}")]
    PwLength {
        /// Provider's PW length.
        expected: usize,
        /// Length in the frame.
        found: usize,
    },
    /// The PW does not verify.
    #[error("PW does not verify")]
    BadPw,
    /// The frame's send time plus allowed delay has passed.
    #[error("Tp expired: sent {age_s} s ago, {allowed_s} s allowed")]
    Expired {
        /// Age of the frame in seconds.
        age_s: u32,
        /// Allowed delay in seconds.
        allowed_s: u32,
    },
    /// A PFC was seen again inside its validity window.
    #[error("replayed PFC {0}")]
    Replay(u8),
    /// The Tp send time is not BCD / not a valid time.
    #[error("Tp send time invalid")]
    BadTime,
    /// The key has the wrong length.
    #[error("bad key length")]
    KeyLength,
    /// The replay guard remembers as many open windows as it can hold; a new PFC is refused
    /// rather than an open window forgotten.
    #[error("replay guard full: {0} windows still open")]
    ReplayFull(usize),
    /// Tp is required (or present) but no calendar time has been given to check it against.
    #[error("no calendar time to check Tp against")]
    NoClock,
    /// A frame that must carry Tp (a command) has none, or one without an expiry (delay 0).
    #[error("Tp required: missing, or without an expiry")]
    TpRequired,
    /// The terminal's identity proof (AFN 06) did not verify.
    #[error("identity proof does not verify")]
    BadProof,
}
