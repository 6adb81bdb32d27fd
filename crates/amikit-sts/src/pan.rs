//! The meter's primary account number (PAN) and its Luhn check digit.
//!
//! PAN = IIN (6 digits, e.g. the STS IIN 600727) ‖ DRN (11 digits, the decoder reference
//! number) ‖ check digit = 18 digits. The check digit is the Luhn digit over the first 17.
//! (Verified on the STS 531 PANs: 600727000000000009, 000001000000000082, 600727111111111153.)
//!
//! The legacy form with a 4-digit IIN and a 13-digit DRN is also 18 digits; both forms give
//! the same DKGA02 PAN block (digits 2–17), see [`MeterPan::pan_block`]. The 11-digit DRN
//! printed as the "meter number" often ends in its own Luhn digit, but the compliance steps use
//! DRNs that do not, so it is not enforced here ([`luhn_valid`] checks it when wanted).

use core::fmt;
use core::str::FromStr;

use crate::error::PanError;

/// The Luhn check digit of `digits` (each 0–9): the digit that makes the whole number pass.
pub fn luhn_check_digit(digits: &[u8]) -> u8 {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d % 10);
            if i % 2 == 0 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

/// Whether a string of ASCII digits ends in its own Luhn check digit.
pub fn luhn_valid(text: &str) -> bool {
    let bytes = text.as_bytes();
    let Some((&last, body)) = bytes.split_last() else {
        return false;
    };
    if !bytes.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let mut digits = [0u8; 64];
    if body.len() > digits.len() {
        return false;
    }
    for (d, b) in digits.iter_mut().zip(body) {
        *d = b - b'0';
    }
    digits
        .get(..body.len())
        .is_some_and(|body| luhn_check_digit(body) == last - b'0')
}

/// An 18-digit meter PAN with a valid Luhn check digit.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct MeterPan {
    /// The 18 digit values (0–9).
    digits: [u8; 18],
}

fn parse_digits<const N: usize>(text: &str) -> Result<[u8; N], PanError> {
    let bytes = text.as_bytes();
    if bytes.len() != N {
        return Err(PanError::Length {
            expected: N,
            got: text.chars().count(),
        });
    }
    let mut out = [0u8; N];
    for (position, (d, &b)) in out.iter_mut().zip(bytes).enumerate() {
        if !b.is_ascii_digit() {
            return Err(PanError::NotADigit { position });
        }
        *d = b - b'0';
    }
    Ok(out)
}

impl MeterPan {
    /// A PAN from its IIN (6 digits) and DRN (11 digits); the check digit is computed.
    pub fn from_parts(iin: &str, drn: &str) -> Result<MeterPan, PanError> {
        let iin: [u8; 6] = parse_digits(iin)?;
        let drn: [u8; 11] = parse_digits(drn)?;
        let mut digits = [0u8; 18];
        for (d, s) in digits.iter_mut().zip(iin.iter().chain(drn.iter())) {
            *d = *s;
        }
        let check = digits.get(..17).map(luhn_check_digit).unwrap_or(0);
        if let Some(last) = digits.last_mut() {
            *last = check;
        }
        Ok(MeterPan { digits })
    }

    /// The 18 digits, each 0–9: the issuer identification number (IIN, digits 1–6), the
    /// decoder reference number (DRN, digits 7–17) and the check digit.
    pub fn digits(&self) -> &[u8; 18] {
        &self.digits
    }

    /// The check digit (the 18th).
    pub fn check_digit(&self) -> u8 {
        self.digits.last().copied().unwrap_or(0)
    }

    /// The DKGA02 PAN block: 16 BCD digits = IIN[-5:] ‖ DRN[-11:], i.e. digits 2–17 (with the
    /// legacy 4-digit IIN form, IIN[-3:] ‖ DRN[-13:] is the same digits). E.g.
    /// 600727000000000009 → 0x0072700000000000.
    pub fn pan_block(&self) -> u64 {
        self.digits
            .get(1..17)
            .unwrap_or(&[])
            .iter()
            .fold(0u64, |acc, &d| (acc << 4) | u64::from(d))
    }

    /// The 18 ASCII digits.
    pub(crate) fn ascii_digits(&self) -> [u8; 18] {
        let mut out = [b'0'; 18];
        for (o, d) in out.iter_mut().zip(self.digits) {
            *o = b'0' + d;
        }
        out
    }
}

impl FromStr for MeterPan {
    type Err = PanError;

    /// Parses 18 digits and checks the Luhn digit.
    fn from_str(s: &str) -> Result<MeterPan, PanError> {
        let digits: [u8; 18] = parse_digits(s)?;
        let expected = digits.get(..17).map(luhn_check_digit).unwrap_or(0);
        let found = digits.last().copied().unwrap_or(0);
        if expected != found {
            return Err(PanError::CheckDigit { expected, found });
        }
        Ok(MeterPan { digits })
    }
}

impl fmt::Display for MeterPan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ascii = self.ascii_digits();
        f.write_str(core::str::from_utf8(&ascii).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for MeterPan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MeterPan({self})")
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for MeterPan {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let ascii = self.ascii_digits();
        serializer.serialize_str(core::str::from_utf8(&ascii).map_err(serde::ser::Error::custom)?)
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for MeterPan {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<MeterPan, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = MeterPan;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an 18-digit meter PAN")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<MeterPan, E> {
                v.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compliance_pans() {
        // STS 531 PANs (sts_vectors.json pan_luhn_vectors).
        for (pan, iin, drn, check) in [
            ("600727000000000009", "600727", "00000000000", 9),
            ("000001000000000082", "000001", "00000000008", 2),
            ("600727111111111153", "600727", "11111111115", 3),
        ] {
            let parsed: MeterPan = pan.parse().unwrap();
            assert_eq!(parsed.check_digit(), check);
            assert_eq!(MeterPan::from_parts(iin, drn).unwrap(), parsed);
        }
        let pan: MeterPan = "600727000000000009".parse().unwrap();
        assert_eq!(pan.pan_block(), 0x0072_7000_0000_0000);
        assert_eq!(std::format!("{pan}"), "600727000000000009");
    }

    #[test]
    fn rejects() {
        assert_eq!(
            "600727000000000008".parse::<MeterPan>(),
            Err(PanError::CheckDigit {
                expected: 9,
                found: 8
            })
        );
        // STS 531 CTSA17: a 22-digit PAN is rejected.
        assert_eq!(
            "1234567890411111111113".parse::<MeterPan>(),
            Err(PanError::Length {
                expected: 18,
                got: 22
            })
        );
        assert_eq!(
            "60072700000000000x".parse::<MeterPan>(),
            Err(PanError::NotADigit { position: 17 })
        );
    }

    #[test]
    fn drn_luhn() {
        // Nectar: meter number 47500150231 ends in the Luhn digit of 4750015023.
        assert!(luhn_valid("47500150231"));
        assert!(!luhn_valid("47500150232"));
        assert!(!luhn_valid(""));
        assert_eq!(luhn_check_digit(&[4, 7, 5, 0, 0, 1, 5, 0, 2, 3]), 1);
    }
}
