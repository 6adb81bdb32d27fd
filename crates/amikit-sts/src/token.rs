//! The 66-bit token and its 20 decimal digits, and the class-bit transposition.
//!
//! A token is a 66-bit number (IEC 62055-41): the 64-bit encrypted data block with the two
//! class bits transposed into it. It is shown as 20 decimal digits, zero padded, optionally
//! grouped `dddd-dddd-dddd-dddd-dddd`; values of 2^66 or more are a format error.
//!
//! Transposition (bit 0 = least significant bit): bits 28 and 27 of the encrypted block move
//! to bits 65 and 64 of the token, and the class bits 1 and 0 take their place.

use core::fmt;
use core::str::FromStr;

use crate::error::TokenError;

/// A token class: the 2-bit field that is never encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TokenClass(u8);

impl TokenClass {
    /// Class 0: transfer credit (electricity, water, gas, time; currency).
    pub const TRANSFER: TokenClass = TokenClass(0);
    /// Class 1: non-meter-specific management (initiate meter test/display); not encrypted.
    pub const INITIATE_TEST: TokenClass = TokenClass(1);
    /// Class 2: meter-specific management (limits, clear credit, key change, …).
    pub const MANAGEMENT: TokenClass = TokenClass(2);
    /// Class 3: reserved by the standard.
    pub const RESERVED: TokenClass = TokenClass(3);

    /// The class with these two bits (the upper bits of `bits` are ignored).
    pub const fn from_bits(bits: u8) -> TokenClass {
        TokenClass(bits & 0b11)
    }

    /// The class as 0–3.
    pub(crate) const fn value(self) -> u8 {
        self.0
    }

    /// Whether tokens of this class are encrypted (all but class 1).
    pub const fn is_encrypted(self) -> bool {
        self.0 != 1
    }
}

impl fmt::Display for TokenClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// One past the largest token value: 2^66.
pub const TOKEN_LIMIT: u128 = 1 << 66;

/// A 66-bit STS token (always below 2^66).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Token(u128);

impl Token {
    /// The token with this 66-bit value; [`TokenError::TooLarge`] for 2^66 or more.
    pub(crate) const fn from_u128(value: u128) -> Result<Token, TokenError> {
        if value >= TOKEN_LIMIT {
            Err(TokenError::TooLarge)
        } else {
            Ok(Token(value))
        }
    }

    /// The token's 66-bit value.
    pub(crate) const fn value(self) -> u128 {
        self.0
    }

    /// Builds a token from its class and the (encrypted, for classes 0, 2, 3) 64-bit block:
    /// block bits 28 and 27 move to token bits 65 and 64, the class bits take their place.
    pub const fn from_block(class: TokenClass, block: u64) -> Token {
        let b28 = (block >> 28) & 1;
        let b27 = (block >> 27) & 1;
        let class = class.0 as u64;
        let low = (block & !(0b11 << 27)) | ((class >> 1) & 1) << 28 | (class & 1) << 27;
        Token((low as u128) | ((b28 as u128) << 65) | ((b27 as u128) << 64))
    }

    /// The class bits (token bits 28 and 27).
    pub const fn class(self) -> TokenClass {
        let low = self.0 as u64;
        TokenClass((((low >> 28) & 1) << 1 | ((low >> 27) & 1)) as u8)
    }

    /// The 64-bit block (still encrypted for classes 0, 2, 3): the inverse of [`Token::from_block`].
    pub const fn block(self) -> u64 {
        let low = self.0 as u64;
        let b28 = ((self.0 >> 65) & 1) as u64;
        let b27 = ((self.0 >> 64) & 1) as u64;
        (low & !(0b11 << 27)) | b28 << 28 | b27 << 27
    }

    /// The 20 ASCII digits, zero padded.
    pub fn to_digits(self) -> [u8; 20] {
        let (high, low) = split_decimal(self.0);
        let mut out = [b'0'; 20];
        write_digits(&mut out, 0, high);
        write_digits(&mut out, 10, low);
        out
    }

    /// The 24 ASCII characters of the grouped form `dddd-dddd-dddd-dddd-dddd`.
    pub(crate) fn to_grouped(self) -> [u8; 24] {
        let digits = self.to_digits();
        let mut out = [b'-'; 24];
        for (group, chunk) in digits.chunks_exact(4).enumerate() {
            let start = group * 5;
            if let Some(dst) = out.get_mut(start..start + 4) {
                dst.copy_from_slice(chunk);
            }
        }
        out
    }

    /// Parses 20 digits, or five groups of four separated by `-` or a space, from bytes.
    pub fn parse_bytes(text: &[u8]) -> Result<Token, TokenError> {
        let mut value: u128 = 0;
        let mut digits = 0usize;
        let grouped = text.len() == 24 && matches!(text.get(4), Some(b'-' | b' '));
        for (position, &byte) in text.iter().enumerate() {
            match byte {
                b'0'..=b'9' => {
                    if grouped && position % 5 == 4 {
                        return Err(TokenError::Grouping { position });
                    }
                    digits += 1;
                    if digits > 20 {
                        return Err(TokenError::Length(count_digits(text)));
                    }
                    value = value * 10 + u128::from(byte - b'0');
                }
                b'-' | b' ' => {
                    if !(grouped && position % 5 == 4) {
                        return Err(TokenError::Grouping { position });
                    }
                }
                _ => return Err(TokenError::NotADigit { position }),
            }
        }
        if digits != 20 {
            return Err(TokenError::Length(digits));
        }
        Token::from_u128(value)
    }
}

/// `(value / 10^10, value % 10^10)` for `value < 2^66`, with 64-bit arithmetic only (a 128-bit
/// division is a slow library call on most targets).
const fn split_decimal(value: u128) -> (u64, u64) {
    const E10: u64 = 10_000_000_000;
    // 2^64 = 1_844_674_407 · 10^10 + 3_709_551_616.
    let hi = (value >> 64) as u64; // 0..=3
    let lo = value as u64;
    let t = hi * 3_709_551_616 + lo % E10; // < 2.2 · 10^10
    (hi * 1_844_674_407 + lo / E10 + t / E10, t % E10)
}

fn count_digits(text: &[u8]) -> usize {
    text.iter().filter(|b| b.is_ascii_digit()).count()
}

/// Writes `value` (< 10^10) as 10 zero-padded digits at `out[start..start + 10]`.
fn write_digits(out: &mut [u8; 20], start: usize, mut value: u64) {
    if let Some(dst) = out.get_mut(start..start + 10) {
        for d in dst.iter_mut().rev() {
            *d = b'0' + (value % 10) as u8;
            value /= 10;
        }
    }
}

impl FromStr for Token {
    type Err = TokenError;

    /// Parses `dddddddddddddddddddd` or `dddd-dddd-dddd-dddd-dddd` (a space also separates).
    fn from_str(s: &str) -> Result<Token, TokenError> {
        Token::parse_bytes(s.as_bytes())
    }
}

impl fmt::Display for Token {
    /// The 20 digits; with `{:#}` the grouped form `dddd-dddd-dddd-dddd-dddd`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() {
            let grouped = self.to_grouped();
            f.write_str(core::str::from_utf8(&grouped).map_err(|_| fmt::Error)?)
        } else {
            let digits = self.to_digits();
            f.write_str(core::str::from_utf8(&digits).map_err(|_| fmt::Error)?)
        }
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token({self})")
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Token {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let digits = self.to_digits();
        serializer.serialize_str(core::str::from_utf8(&digits).map_err(serde::ser::Error::custom)?)
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Token {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Token, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Token;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a 20-digit STS token")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Token, E> {
                v.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

impl From<TokenClass> for u8 {
    /// The value of a [`TokenClass`].
    fn from(value: TokenClass) -> Self {
        value.value()
    }
}

impl TryFrom<u128> for Token {
    type Error = TokenError;

    /// The token with this 66-bit value; [`TokenError::TooLarge`] for 2^66 or more.
    fn try_from(value: u128) -> Result<Self, TokenError> {
        Self::from_u128(value)
    }
}

impl From<Token> for u128 {
    /// The value of a [`Token`].
    fn from(value: Token) -> Self {
        value.value()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_conversions_check_ranges() {
        use crate::tid::Tid;
        assert_eq!(Token::try_from(TOKEN_LIMIT), Err(TokenError::TooLarge));
        let t = Token::try_from(TOKEN_LIMIT - 1).unwrap();
        assert_eq!(u128::from(t), TOKEN_LIMIT - 1);
        assert_eq!(u32::from(Tid::try_from(Tid::MAX).unwrap()), Tid::MAX);
        assert!(Tid::try_from(Tid::MAX + 1).is_err());
        assert_eq!(u8::from(TokenClass::from_bits(6)), 2);
    }

    // IEC 62055-41 worked example (sample tables): 66-bit 0x2C45ED1618406DF95, class 0,
    // encrypted block C45ED1619406DF95 (IEC 62055-41 worked example of the STA).
    #[test]
    fn worked_example_transposition() {
        let token = Token::from_block(TokenClass::TRANSFER, 0xC45E_D161_9406_DF95);
        assert_eq!(token.value(), 0x2_C45E_D161_8406_DF95);
        assert_eq!(&token.to_digits(), b"51043465443420856213");
        assert_eq!(token.class(), TokenClass::TRANSFER);
        assert_eq!(token.block(), 0xC45E_D161_9406_DF95);
    }

    #[test]
    fn parses_plain_and_grouped() {
        let plain: Token = "51043465443420856213".parse().unwrap();
        let grouped: Token = "5104-3465-4434-2085-6213".parse().unwrap();
        let spaced: Token = "5104 3465 4434 2085 6213".parse().unwrap();
        assert_eq!(plain, grouped);
        assert_eq!(plain, spaced);
        assert_eq!(&plain.to_grouped(), b"5104-3465-4434-2085-6213");
        assert_eq!(std::format!("{plain}"), "51043465443420856213");
        assert_eq!(std::format!("{plain:#}"), "5104-3465-4434-2085-6213");
    }

    #[test]
    fn rejects_bad_text() {
        assert_eq!("1234".parse::<Token>(), Err(TokenError::Length(4)));
        assert_eq!(
            "510434654434208562131".parse::<Token>(),
            Err(TokenError::Length(21))
        );
        assert_eq!(
            "5104346544342085621x".parse::<Token>(),
            Err(TokenError::NotADigit { position: 19 })
        );
        assert_eq!(
            "51043-465-4434-2085-6213".parse::<Token>(),
            Err(TokenError::Grouping { position: 5 })
        );
        assert_eq!(
            "5104-3465-44342-085-6213".parse::<Token>(),
            Err(TokenError::Grouping { position: 14 })
        );
        // 2^66 exactly, and the largest 20-digit number.
        assert_eq!(
            "73786976294838206464".parse::<Token>(),
            Err(TokenError::TooLarge)
        );
        assert_eq!(
            "99999999999999999999".parse::<Token>(),
            Err(TokenError::TooLarge)
        );
        assert!("73786976294838206463".parse::<Token>().is_ok());
        // 24 digits are a length error, not a grouping one.
        assert_eq!(
            "510434654434208562131234".parse::<Token>(),
            Err(TokenError::Length(24))
        );
    }

    #[test]
    fn decimal_split() {
        for v in [
            0u128,
            1,
            u128::from(u64::MAX),
            u128::from(u64::MAX) + 1,
            TOKEN_LIMIT - 1,
        ] {
            let (h, l) = split_decimal(v);
            assert_eq!(u128::from(h) * 10_000_000_000 + u128::from(l), v);
            assert!(l < 10_000_000_000);
        }
    }

    #[test]
    fn tokens_above_2_pow_64() {
        // IEC 62055-41 decimal token form: a class-1 token above 2^64.
        let token: Token = "18446744073843772416".parse().unwrap();
        assert!(token.value() > u128::from(u64::MAX));
        assert_eq!(&token.to_digits(), b"18446744073843772416");
    }
}
