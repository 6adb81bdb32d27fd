//! [`Data`]: a borrowed data-field byte string, either as sent (+0x33) or plain.

use core::fmt;

/// The +0x33 offset every data byte carries on the wire (wrapping both ways).
pub const SCRAMBLE: u8 = 0x33;

/// Adds the wire offset to a plain byte.
#[inline]
pub(crate) const fn scramble(b: u8) -> u8 {
    b.wrapping_add(SCRAMBLE)
}

/// Removes the wire offset from a received byte.
#[inline]
pub(crate) const fn descramble(b: u8) -> u8 {
    b.wrapping_sub(SCRAMBLE)
}

/// Part of a data field, borrowed without copying.
///
/// Parsed frames hand out `Data` over their wire bytes (+0x33); callers building frames give
/// plain bytes. Both compare, iterate and print as **plain** bytes, so a parsed request equals
/// the one it was built from.
#[derive(Clone, Copy)]
pub struct Data<'a> {
    bytes: &'a [u8],
    wire: bool,
}

impl<'a> Data<'a> {
    /// No bytes.
    pub const EMPTY: Data<'static> = Data {
        bytes: &[],
        wire: false,
    };

    /// Plain bytes (without the +0x33 offset), e.g. a value to send.
    pub const fn plain(bytes: &'a [u8]) -> Self {
        Data { bytes, wire: false }
    }

    /// Bytes as on the wire (each +0x33).
    pub const fn wire(bytes: &'a [u8]) -> Self {
        Data { bytes, wire: true }
    }

    /// Number of bytes.
    pub const fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether there are no bytes.
    pub const fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The underlying bytes and whether they are wire (+0x33) bytes.
    pub const fn raw(&self) -> (&'a [u8], bool) {
        (self.bytes, self.wire)
    }

    /// Plain byte at `index`.
    pub fn get(&self, index: usize) -> Option<u8> {
        let b = *self.bytes.get(index)?;
        Some(if self.wire { descramble(b) } else { b })
    }

    /// Plain bytes, in wire order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = u8> + ExactSizeIterator + 'a {
        let wire = self.wire;
        self.bytes
            .iter()
            .map(move |&b| if wire { descramble(b) } else { b })
    }

    /// The first `N` plain bytes.
    pub fn first_chunk<const N: usize>(&self) -> Option<[u8; N]> {
        let mut out = *self.bytes.first_chunk::<N>()?;
        if self.wire {
            out.iter_mut().for_each(|b| *b = descramble(*b));
        }
        Some(out)
    }

    /// Splits after `mid` bytes.
    pub fn split_at(&self, mid: usize) -> Option<(Data<'a>, Data<'a>)> {
        let (a, b) = self.bytes.split_at_checked(mid)?;
        Some((
            Data {
                bytes: a,
                wire: self.wire,
            },
            Data {
                bytes: b,
                wire: self.wire,
            },
        ))
    }

    /// Copies the plain bytes into `out`; returns the count, `None` if `out` is too short.
    pub fn copy_to(&self, out: &mut [u8]) -> Option<usize> {
        let dst = out.get_mut(..self.bytes.len())?;
        for (d, s) in dst.iter_mut().zip(self.iter()) {
            *d = s;
        }
        Some(self.bytes.len())
    }
}

impl Default for Data<'_> {
    fn default() -> Self {
        Data::EMPTY
    }
}

impl PartialEq for Data<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}
impl Eq for Data<'_> {}

impl fmt::Display for Data<'_> {
    /// Upper-case hex of the plain bytes, wire order.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.iter() {
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Data<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Data({self})")
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Data<'_> {
    /// As a hex string of the plain bytes.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_both_ways() {
        // DL/T 645-2007 data field ±33H: -0x33 below 0x33 and +0x33 at/above 0xCD must wrap.
        assert_eq!(descramble(0x00), 0xCD);
        assert_eq!(descramble(0x32), 0xFF);
        assert_eq!(scramble(0xCD), 0x00);
        assert_eq!(scramble(0xFF), 0x32);
        let w = [0x33, 0x00, 0x32];
        let p = [0x00, 0xCD, 0xFF];
        assert_eq!(Data::wire(&w), Data::plain(&p));
        assert_eq!(Data::wire(&w).first_chunk::<2>(), Some([0x00, 0xCD]));
        let mut out = [0u8; 3];
        Data::wire(&w).copy_to(&mut out).unwrap();
        assert_eq!(out, p);
    }
}
