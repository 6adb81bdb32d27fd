//! Exact values: BCD, decimals, timestamps.

/// Whether both nibbles of `b` are decimal digits.
#[inline]
pub const fn is_bcd_byte(b: u8) -> bool {
    (b & 0x0F) <= 9 && (b >> 4) <= 9
}
