//! Small helpers shared by the unit types.

use core::fmt;

/// Bytes shown as upper-case hex (serialised as a hex string).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct HexBytes<'a>(pub &'a [u8]);

impl fmt::Display for HexBytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for HexBytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HexBytes({self})")
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for HexBytes<'_> {
    /// As an upper-case hex string.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Serialises a byte slice or array as a hex string (for `#[serde(serialize_with)]`).
#[cfg(feature = "serde")]
pub(crate) fn ser_hex<S: serde::Serializer, B: AsRef<[u8]>>(
    b: &B,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_str(&HexBytes(b.as_ref()))
}

/// Serialises an optional byte slice as a hex string or `null` (for `#[serde(serialize_with)]`).
#[cfg(feature = "serde")]
pub(crate) fn ser_opt_hex<S: serde::Serializer>(
    b: &Option<&[u8]>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match b {
        Some(b) => s.collect_str(&HexBytes(b)),
        None => s.serialize_none(),
    }
}
