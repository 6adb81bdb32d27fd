//! Per-terminal keys: the site file gives each terminal one 128-bit key (`[[terminals]] key =
//! "<32 hex digits>"`); the identity key (the AFN 06 challenge answer, see
//! `amikit_gdw376::identity`) and the PW key (the 376.1 message authentication code of
//! downlink commands, Q/GDW 1376.1-2013 §4.3.4.6.2) are derived from it with AES-CMAC under
//! distinct labels, so that neither reveals the other. The master and the terminal derive the
//! same keys from the same site file.
//!
//! The keys are not printed (`Debug` shows only that they exist) and are zeroized on drop.

use amikit_gdw376::identity::AesCmacIdentity;
use amikit_gdw376::security::AesCmacPw;
use zeroize::Zeroize;

/// The label of the identity key's derivation.
const IDENTITY_LABEL: &[u8] = b"amikit station: terminal identity key v1";
/// The label of the PW key's derivation.
const PW_LABEL: &[u8] = b"amikit station: terminal PW key v1";

/// A terminal's derived keys.
#[derive(Clone, PartialEq, Eq)]
pub struct TerminalKeys {
    identity: [u8; 16],
    pw: [u8; 16],
}

impl std::fmt::Debug for TerminalKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TerminalKeys(..)")
    }
}

impl Drop for TerminalKeys {
    fn drop(&mut self) {
        self.identity.zeroize();
        self.pw.zeroize();
    }
}

impl TerminalKeys {
    /// Derives the keys from a terminal's site key.
    #[must_use]
    pub fn derive(site_key: &[u8; 16]) -> Self {
        let kdf = AesCmacPw::new(*site_key);
        Self {
            identity: kdf.tag(IDENTITY_LABEL, &[]),
            pw: kdf.tag(PW_LABEL, &[]),
        }
    }

    /// Parses a site key written as 32 hexadecimal digits and derives the keys.
    ///
    /// # Errors
    ///
    /// When `text` is not 32 hexadecimal digits (the message does not repeat the text).
    pub fn from_hex(text: &str) -> Result<Self, String> {
        let t = text.trim();
        if t.len() != 32 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err("a terminal key is 32 hexadecimal digits".into());
        }
        let mut key = [0u8; 16];
        for (i, b) in key.iter_mut().enumerate() {
            *b = t
                .get(2 * i..2 * i + 2)
                .and_then(|d| u8::from_str_radix(d, 16).ok())
                .ok_or("a terminal key is 32 hexadecimal digits")?;
        }
        let keys = Self::derive(&key);
        key.zeroize();
        Ok(keys)
    }

    /// The identity key (answers and checks AFN 06 challenges).
    #[must_use]
    pub fn identity(&self) -> AesCmacIdentity {
        AesCmacIdentity::new(self.identity)
    }

    /// The PW key (signs and verifies PW).
    #[must_use]
    pub fn pw(&self) -> AesCmacPw {
        AesCmacPw::new(self.pw)
    }
}

/// A fresh random challenge for the AFN 06 identity check (the operating system's generator).
///
/// # Errors
///
/// When the operating system has no random numbers to give.
pub fn challenge() -> Result<[u8; amikit_gdw376::identity::CHALLENGE_LEN], getrandom::Error> {
    let mut c = [0u8; amikit_gdw376::identity::CHALLENGE_LEN];
    getrandom::fill(&mut c)?;
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use amikit_gdw376::Address;
    use amikit_gdw376::identity::IdentityKey;

    #[test]
    fn keys_are_derived_apart_and_never_printed() {
        let k = TerminalKeys::from_hex("000102030405060708090a0b0c0d0e0f").unwrap();
        assert_ne!(k.identity, k.pw);
        assert_eq!(format!("{k:?}"), "TerminalKeys(..)");
        assert_eq!(
            k,
            TerminalKeys::derive(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15])
        );
        let other = TerminalKeys::from_hex("000102030405060708090a0b0c0d0e0e").unwrap();
        let a = Address::new(0x4403, 1);
        let c = challenge().unwrap();
        let (mut x, mut y) = ([0u8; 16], [0u8; 16]);
        k.identity().answer(&a, &c, &mut x).unwrap();
        other.identity().answer(&a, &c, &mut y).unwrap();
        assert_ne!(x, y);
        for bad in [
            "",
            "0001",
            "zz0102030405060708090a0b0c0d0e0f",
            "000102030405060708090a0b0c0d0e0f00",
        ] {
            let e = TerminalKeys::from_hex(bad).unwrap_err();
            assert!(!e.contains("0001"), "{e}");
        }
    }

    #[test]
    fn challenges_differ() {
        assert_ne!(challenge().unwrap(), challenge().unwrap());
    }
}
