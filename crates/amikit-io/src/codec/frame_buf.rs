//! An owned frame in a fixed array.

use core::fmt;

/// A frame's bytes owned in an `N`-byte array (no heap): what the codecs yield.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct FrameBuf<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

impl<const N: usize> FrameBuf<N> {
    /// A copy of `bytes`, `None` when longer than `N`.
    pub fn copy_from(bytes: &[u8]) -> Option<Self> {
        let mut buf = FrameBuf {
            bytes: [0; N],
            len: bytes.len(),
        };
        buf.bytes.get_mut(..bytes.len())?.copy_from_slice(bytes);
        Some(buf)
    }

    /// The frame's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&[])
    }

    /// Its length.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True for an empty buffer (never yielded by the codecs).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl<const N: usize> AsRef<[u8]> for FrameBuf<N> {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl<const N: usize> core::ops::Deref for FrameBuf<N> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl<const N: usize> fmt::Debug for FrameBuf<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.as_bytes() {
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}
