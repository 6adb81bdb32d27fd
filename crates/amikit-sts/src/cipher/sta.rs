//! EA07, the Standard Transfer Algorithm (STA), with user-supplied tables.
//!
//! A 64-bit block cipher with a 64-bit key, 16 rounds, two 4-bit substitution boxes S1, S2 and a
//! 64-position bit permutation P. Bit 0 is the least significant bit.
//!
//! ```text
//! encrypt(K, X):
//!   k = rotr64(!K, 12)
//!   16 times:
//!     nibble n of X (bits 4n..4n+3) := (bit 4n+3 of k ? S2 : S1)[nibble n]
//!     X := permute(X)            (bit i moves to bit P[i])
//!     k := rotl64(k, 1)
//! decrypt(K, Y): the exact inverse, rounds in reverse order.
//! ```
//!
//! The production tables are licensed STS Association material and are **not** in this crate:
//! build a [`StaTables`] from your own copy with [`StaTables::new`] (which checks that each table
//! is a permutation). [`SAMPLE_TABLES`] are the sample tables printed in IEC 62055-41, for
//! examples and tests; real meters do not use them.
//!
//! Speed: the substitution and the permutation of each round are one table-driven step. For
//! each nibble position `n`, box choice `s` and nibble value `v`, [`StaTables`] precomputes
//! `permute(S_s[v] << 4n)`, so a round is 16 lookups OR-ed together instead of 16 substitutions
//! and 64 single-bit moves. The tables take about 10 KiB; [`StaTables::new`] is a `const fn`, so
//! a firmware can build them at compile time into flash.

use super::BlockCipher64;
use core::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::{StaTable, StaTablesError};

/// Validated STA tables (S1, S2, P) with the lookup tables derived from them.
#[derive(Clone, PartialEq, Eq)]
pub struct StaTables {
    s: [[u8; 16]; 2],
    s_inv: [[u8; 16]; 2],
    p: [u8; 64],
    /// `sp[n][s << 4 | v] = permute(S_s[v] << 4n)`.
    sp: [[u64; 32]; 16],
    /// `isp[n][s << 4 | v] = inverse_permute(S_s⁻¹[v] << 4n)`.
    isp: [[u64; 32]; 16],
    /// `ip[n][v] = inverse_permute(v << 4n)`.
    ip: [[u64; 16]; 16],
}

/// The sample substitution box S1 printed in IEC 62055-41.
pub const SAMPLE_S1: [u8; 16] = [12, 10, 8, 4, 3, 15, 0, 2, 14, 1, 5, 13, 6, 9, 7, 11];
/// The sample substitution box S2 printed in IEC 62055-41.
pub const SAMPLE_S2: [u8; 16] = [6, 9, 7, 4, 3, 10, 12, 14, 2, 13, 1, 15, 0, 11, 8, 5];
/// The sample permutation P printed in IEC 62055-41 (bit `i` moves to bit `P[i]`).
pub const SAMPLE_P: [u8; 64] = [
    29, 27, 34, 9, 16, 62, 55, 2, 40, 49, 38, 25, 33, 61, 30, 23, 1, 41, 21, 57, 42, 15, 5, 58, 19,
    53, 22, 17, 48, 28, 24, 39, 3, 60, 36, 14, 11, 52, 54, 12, 31, 51, 10, 26, 0, 45, 37, 43, 44,
    6, 59, 4, 7, 35, 56, 50, 13, 18, 32, 47, 46, 63, 20, 8,
];

/// The sample STA tables of IEC 62055-41 (for examples and tests; not the production tables).
///
/// With them the standard's worked example (key `0ABC12DEF3456789`, block
/// `0B19EB230100C207`) gives the token 51043465443420856213.
pub static SAMPLE_TABLES: StaTables = StaTables::build(&SAMPLE_S1, &SAMPLE_S2, &SAMPLE_P);

// Const helpers: element access without `[]` indexing (the crate forbids panicking indexing).
const fn get(table: &[u8], index: usize) -> u8 {
    match table.split_at_checked(index) {
        Some((_, [value, ..])) => *value,
        _ => 0,
    }
}

const fn set_u8(table: &mut [u8], index: usize, value: u8) {
    if let Some((_, [slot, ..])) = table.split_at_mut_checked(index) {
        *slot = value;
    }
}

const fn set_u64(table: &mut [u64], index: usize, value: u64) {
    if let Some((_, [slot, ..])) = table.split_at_mut_checked(index) {
        *slot = value;
    }
}

const fn check_permutation(table: &[u8], which: StaTable) -> Result<(), StaTablesError> {
    let len = table.len();
    let mut seen = 0u64;
    let mut index = 0;
    while index < len {
        let value = get(table, index);
        if value as usize >= len {
            return Err(StaTablesError::OutOfRange {
                table: which,
                index,
                value: value as u16,
                len,
            });
        }
        if seen & (1 << value) != 0 {
            return Err(StaTablesError::Duplicate {
                table: which,
                index,
                value,
            });
        }
        seen |= 1 << value;
        index += 1;
    }
    Ok(())
}

const fn permute(p: &[u8; 64], x: u64) -> u64 {
    let mut out = 0u64;
    let mut i = 0;
    while i < 64 {
        out |= ((x >> i) & 1) << (get(p, i) & 63);
        i += 1;
    }
    out
}

const fn inverse_permute(p: &[u8; 64], y: u64) -> u64 {
    let mut out = 0u64;
    let mut i = 0;
    while i < 64 {
        out |= ((y >> (get(p, i) & 63)) & 1) << i;
        i += 1;
    }
    out
}

const fn invert16(s: &[u8; 16]) -> [u8; 16] {
    let mut inv = [0u8; 16];
    let mut v = 0;
    while v < 16 {
        set_u8(&mut inv, (get(s, v) & 15) as usize, v as u8);
        v += 1;
    }
    inv
}

impl StaTables {
    /// Validates S1, S2 (permutations of 0–15) and P (a permutation of 0–63) and builds the
    /// lookup tables. A `const fn`: `static TABLES: StaTables = match StaTables::new(…)` puts
    /// them in flash.
    pub const fn new(
        s1: &[u8; 16],
        s2: &[u8; 16],
        p: &[u8; 64],
    ) -> Result<StaTables, StaTablesError> {
        if let Err(e) = check_permutation(s1, StaTable::S1) {
            return Err(e);
        }
        if let Err(e) = check_permutation(s2, StaTable::S2) {
            return Err(e);
        }
        if let Err(e) = check_permutation(p, StaTable::P) {
            return Err(e);
        }
        Ok(StaTables::build(s1, s2, p))
    }

    /// As [`StaTables::new`], from slices of any length (e.g. parsed from a file).
    pub fn from_slices(s1: &[u8], s2: &[u8], p: &[u8]) -> Result<StaTables, StaTablesError> {
        let s1: &[u8; 16] = s1.try_into().map_err(|_| StaTablesError::Length {
            table: StaTable::S1,
            expected: 16,
            got: s1.len(),
        })?;
        let s2: &[u8; 16] = s2.try_into().map_err(|_| StaTablesError::Length {
            table: StaTable::S2,
            expected: 16,
            got: s2.len(),
        })?;
        let p: &[u8; 64] = p.try_into().map_err(|_| StaTablesError::Length {
            table: StaTable::P,
            expected: 64,
            got: p.len(),
        })?;
        StaTables::new(s1, s2, p)
    }

    /// Builds the lookup tables; the inputs must already be permutations.
    const fn build(s1: &[u8; 16], s2: &[u8; 16], p: &[u8; 64]) -> StaTables {
        let s = [*s1, *s2];
        let s_inv = [invert16(s1), invert16(s2)];
        let mut sp = [[0u64; 32]; 16];
        let mut isp = [[0u64; 32]; 16];
        let mut ip = [[0u64; 16]; 16];
        let mut n = 0;
        while n < 16 {
            let mut v = 0;
            while v < 16 {
                let shift = 4 * n as u32;
                let (sp_n, isp_n, ip_n) = match (
                    sp.split_at_mut_checked(n),
                    isp.split_at_mut_checked(n),
                    ip.split_at_mut_checked(n),
                ) {
                    (Some((_, [a, ..])), Some((_, [b, ..])), Some((_, [c, ..]))) => (a, b, c),
                    _ => break,
                };
                set_u64(sp_n, v, permute(p, (get(s1, v) as u64) << shift));
                set_u64(sp_n, 16 + v, permute(p, (get(s2, v) as u64) << shift));
                set_u64(
                    isp_n,
                    v,
                    inverse_permute(p, (get(&s_inv[0], v) as u64) << shift),
                );
                set_u64(
                    isp_n,
                    16 + v,
                    inverse_permute(p, (get(&s_inv[1], v) as u64) << shift),
                );
                set_u64(ip_n, v, inverse_permute(p, (v as u64) << shift));
                v += 1;
            }
            n += 1;
        }
        StaTables {
            s,
            s_inv,
            p: *p,
            sp,
            isp,
            ip,
        }
    }

    /// The first substitution box.
    pub const fn s1(&self) -> &[u8; 16] {
        &self.s[0]
    }

    /// The second substitution box.
    pub const fn s2(&self) -> &[u8; 16] {
        &self.s[1]
    }

    /// The permutation (bit `i` moves to bit `p()[i]`).
    pub const fn p(&self) -> &[u8; 64] {
        &self.p
    }
}

impl fmt::Debug for StaTables {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaTables")
            .field("s1", self.s1())
            .field("s2", self.s2())
            .field("p", self.p())
            .finish_non_exhaustive()
    }
}

/// An STA (EA07) cipher: a key schedule over borrowed [`StaTables`].
#[derive(Clone)]
pub struct Sta<'t> {
    tables: &'t StaTables,
    /// Bit `n` of `select[r]` is bit `4n + 3` of round key `r`: 0 selects S1, 1 selects S2.
    select: [u16; 16],
}

impl<'t> Sta<'t> {
    /// The cipher for this 64-bit decoder key (big-endian, DES-output order from DKGA02).
    pub fn new(key: u64, tables: &'t StaTables) -> Sta<'t> {
        let mut k = (!key).rotate_right(12);
        let mut select = [0u16; 16];
        for s in &mut select {
            *s = nibble_top_bits(k);
            k = k.rotate_left(1);
        }
        Sta { tables, select }
    }

    /// The tables this cipher uses.
    pub fn tables(&self) -> &'t StaTables {
        self.tables
    }
}

impl BlockCipher64 for Sta<'_> {
    /// Encrypts one 64-bit block.
    fn encrypt(&self, block: u64) -> u64 {
        let mut x = block;
        for &select in &self.select {
            x = substitute_permute(&self.tables.sp, select, x);
        }
        x
    }

    /// Decrypts one 64-bit block.
    fn decrypt(&self, block: u64) -> u64 {
        // Rounds in reverse: inverse-permute, then (inverse-substitute with round key r,
        // inverse-permute) for r = 15..1, then inverse-substitute with round key 0.
        let mut x = block;
        let mut out = 0u64;
        for (n, table) in self.tables.ip.iter().enumerate() {
            out |= table
                .get(((x >> (4 * n)) & 15) as usize)
                .copied()
                .unwrap_or(0);
        }
        x = out;
        let (first, later) = self.select.split_first().unwrap_or((&0, &[]));
        for &select in later.iter().rev() {
            x = substitute_permute(&self.tables.isp, select, x);
        }
        let mut out = 0u64;
        for n in 0..16 {
            let nibble = ((x >> (4 * n)) & 15) as usize;
            let sbox = self.tables.s_inv.get(usize::from((first >> n) & 1));
            let v = sbox.and_then(|s| s.get(nibble)).copied().unwrap_or(0);
            out |= u64::from(v) << (4 * n);
        }
        out
    }
}

/// Gathers bit `4n + 3` of `k` into bit `n` of the result, for n = 0..16.
#[inline(always)]
const fn nibble_top_bits(k: u64) -> u16 {
    let mut x = (k >> 3) & 0x1111_1111_1111_1111;
    x = (x | x >> 3) & 0x0303_0303_0303_0303;
    x = (x | x >> 6) & 0x000F_000F_000F_000F;
    x = (x | x >> 12) & 0x0000_00FF_0000_00FF;
    ((x | x >> 24) & 0xFFFF) as u16
}

/// One round: substitute every nibble with the box `select` chooses, then permute, as 16
/// lookups in `table[n][s << 4 | v]`.
#[inline(always)]
fn substitute_permute(table: &[[u64; 32]; 16], select: u16, x: u64) -> u64 {
    let mut out = 0u64;
    for (n, row) in table.iter().enumerate() {
        let index = ((usize::from(select) >> n) & 1) << 4 | ((x >> (4 * n)) & 15) as usize;
        out |= row.get(index).copied().unwrap_or(0);
    }
    out
}

impl fmt::Debug for Sta<'_> {
    /// The key schedule is secret: `Debug` shows nothing of it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sta(****)")
    }
}

impl Drop for Sta<'_> {
    /// The round keys are a permutation of the key's bits: wiped.
    fn drop(&mut self) {
        self.select.zeroize();
    }
}

impl ZeroizeOnDrop for Sta<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    /// The specification's bit-by-bit form (IEC 62055-41, EA07 STA), as an independent reference.
    fn reference_encrypt(tables: &StaTables, key: u64, mut x: u64) -> u64 {
        let mut k = (!key).rotate_right(12);
        for _ in 0..16 {
            let mut y = 0u64;
            for n in 0..16 {
                let sbox = if (k >> (4 * n + 3)) & 1 == 1 {
                    tables.s2()
                } else {
                    tables.s1()
                };
                y |= u64::from(sbox[((x >> (4 * n)) & 15) as usize]) << (4 * n);
            }
            x = 0;
            for i in 0..64 {
                x |= ((y >> i) & 1) << tables.p()[i];
            }
            k = k.rotate_left(1);
        }
        x
    }

    #[test]
    fn worked_example_sample_tables() {
        // IEC 62055-41 worked example of the STA (EA07): DK 0ABC12DEF3456789, block
        // 0B19EB230100C207 → C45ED1619406DF95 (token 51043465443420856213).
        let sta = Sta::new(0x0ABC_12DE_F345_6789, &SAMPLE_TABLES);
        assert_eq!(sta.encrypt(0x0B19_EB23_0100_C207), 0xC45E_D161_9406_DF95);
        assert_eq!(sta.decrypt(0xC45E_D161_9406_DF95), 0x0B19_EB23_0100_C207);
        assert_eq!(
            reference_encrypt(&SAMPLE_TABLES, 0x0ABC_12DE_F345_6789, 0x0B19_EB23_0100_C207),
            0xC45E_D161_9406_DF95
        );
    }

    #[test]
    fn table_driven_matches_reference() {
        let mut x = 0x0123_4567_89AB_CDEFu64;
        let mut key = 0xFEDC_BA98_7654_3210u64;
        for _ in 0..200 {
            let sta = Sta::new(key, &SAMPLE_TABLES);
            let c = sta.encrypt(x);
            assert_eq!(c, reference_encrypt(&SAMPLE_TABLES, key, x));
            assert_eq!(sta.decrypt(c), x);
            key = key.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(7) ^ c;
            x = x.wrapping_mul(0xD1B5_4A32_D192_ED03) ^ key;
        }
    }

    #[test]
    fn gathers_selection_bits() {
        let mut k = 0x0123_4567_89AB_CDEFu64;
        for _ in 0..100 {
            let slow = (0..16).fold(0u16, |acc, n| {
                acc | ((((k >> (4 * n + 3)) & 1) as u16) << n)
            });
            assert_eq!(nibble_top_bits(k), slow);
            k = k.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17);
        }
    }

    #[test]
    fn new_validates() {
        assert_eq!(
            StaTables::new(&SAMPLE_S1, &SAMPLE_S2, &SAMPLE_P).as_ref(),
            Ok(&SAMPLE_TABLES)
        );
        let mut s1 = SAMPLE_S1;
        s1[3] = s1[4];
        assert_eq!(
            StaTables::new(&s1, &SAMPLE_S2, &SAMPLE_P).err(),
            Some(StaTablesError::Duplicate {
                table: StaTable::S1,
                index: 4,
                value: 3
            })
        );
        let mut p = SAMPLE_P;
        p[10] = 64;
        assert_eq!(
            StaTables::new(&SAMPLE_S1, &SAMPLE_S2, &p).err(),
            Some(StaTablesError::OutOfRange {
                table: StaTable::P,
                index: 10,
                value: 64,
                len: 64
            })
        );
        assert_eq!(
            StaTables::from_slices(&SAMPLE_S1, &SAMPLE_S2, &SAMPLE_P[..63]).err(),
            Some(StaTablesError::Length {
                table: StaTable::P,
                expected: 64,
                got: 63
            })
        );
    }
}
