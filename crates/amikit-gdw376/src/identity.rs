//! Terminal identity: a challenge-response proof over AFN 06 (authentication and key
//! negotiation, Q/GDW 1376.1-2013 §5.6).
//!
//! The standard's AFN 06 carries four p0 units of 16 bytes each, in both directions:
//! F1 identity-authentication request, F2 identity-authentication response, F3 random-number
//! request, F4 random-number response (unit lengths as read by the State Grid reference library
//! of 2013, `qgdw_3761_api.h`: `sMtIdAuthQ`, `sMtIdAuthA`, `sMtRandQ`, `sMtRandA`, all
//! `UINT8[16]`). How the 16 bytes are computed lives in the ESAM and is not public; this module
//! defines the smallest faithful use and documents it as ours:
//!
//! 1. after the terminal's login (AFN 02 F1) the master sends AFN 06 F1 (p0) whose unit is a
//!    16-byte random challenge the caller supplies (the crate draws no random numbers);
//! 2. the terminal answers AFN 06 F2 (p0) whose unit is
//!    `answer = key-MAC(DOMAIN ‖ A1 (2 bytes, LE) ‖ A2 (4 bytes, LE) ‖ challenge)` with its own
//!    per-terminal key, computed through an [`IdentityKey`] (the software [`AesCmacIdentity`]
//!    with feature `cmac`, or an ESAM);
//! 3. the master computes the same with the key it holds for that terminal and compares in
//!    constant time.
//!
//! The address in the MAC binds an answer to the terminal that was asked, the fresh challenge
//! binds it to this login: a recorded answer, an answer to another challenge, or another
//! terminal's answer does not verify. F3/F4 are typed (see [`crate::units`]) but not used by
//! the sessions.

use subtle::ConstantTimeEq;

use crate::address::Address;
use crate::error::SecurityError;

/// Bytes of each AFN 06 unit (challenge, answer, random numbers).
pub const CHALLENGE_LEN: usize = 16;

/// Domain separation for the answer's MAC.
pub const DOMAIN: &[u8] = b"amikit Q/GDW 1376.1 AFN 06 F2 v1";

/// The bytes an answer's MAC covers after [`DOMAIN`]: A1 (LE), A2 (LE, 4 bytes), challenge.
#[must_use]
pub fn message(terminal: &Address, challenge: &[u8; CHALLENGE_LEN]) -> [u8; 22] {
    let mut m = [0u8; 22];
    let a1 = terminal.a1.to_le_bytes();
    let a2 = terminal.a2.to_le_bytes();
    for (dst, src) in m.iter_mut().zip(a1.iter().chain(&a2).chain(challenge)) {
        *dst = *src;
    }
    m
}

/// A per-terminal identity key: computes (terminal side) and checks (master side) the answer
/// to a challenge. The master's implementation looks up the key of `terminal`.
pub trait IdentityKey {
    /// Writes the answer of `terminal` to `challenge`.
    ///
    /// # Errors
    ///
    /// [`SecurityError::BadProof`] when no key is known for `terminal`.
    fn answer(
        &mut self,
        terminal: &Address,
        challenge: &[u8; CHALLENGE_LEN],
        out: &mut [u8; CHALLENGE_LEN],
    ) -> Result<(), SecurityError>;

    /// Checks an answer; the default computes it again and compares in constant time.
    ///
    /// # Errors
    ///
    /// [`SecurityError::BadProof`].
    fn verify(
        &mut self,
        terminal: &Address,
        challenge: &[u8; CHALLENGE_LEN],
        answer: &[u8; CHALLENGE_LEN],
    ) -> Result<(), SecurityError> {
        let mut expected = [0u8; CHALLENGE_LEN];
        self.answer(terminal, challenge, &mut expected)?;
        if bool::from(expected.ct_eq(answer)) {
            Ok(())
        } else {
            Err(SecurityError::BadProof)
        }
    }
}

/// No key: every answer is refused (a terminal that cannot prove itself, a master that knows
/// no key for it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoIdentity;

impl IdentityKey for NoIdentity {
    fn answer(
        &mut self,
        _terminal: &Address,
        _challenge: &[u8; CHALLENGE_LEN],
        _out: &mut [u8; CHALLENGE_LEN],
    ) -> Result<(), SecurityError> {
        Err(SecurityError::BadProof)
    }
}

/// AES-128-CMAC (RFC 4493) over [`DOMAIN`] ‖ [`message`] with a per-terminal key: the
/// software stand-in for an ESAM (feature `cmac`). Its `Debug` shows no key; the key is wiped
/// when it is dropped.
#[cfg(feature = "cmac")]
#[derive(Clone)]
pub struct AesCmacIdentity {
    key: [u8; 16],
}

#[cfg(feature = "cmac")]
impl Drop for AesCmacIdentity {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.key);
    }
}

#[cfg(feature = "cmac")]
impl core::fmt::Debug for AesCmacIdentity {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("AesCmacIdentity(..)")
    }
}

#[cfg(feature = "cmac")]
impl AesCmacIdentity {
    /// An identity key of 128 bits.
    #[must_use]
    pub const fn new(key: [u8; 16]) -> Self {
        AesCmacIdentity { key }
    }
}

#[cfg(feature = "cmac")]
impl IdentityKey for AesCmacIdentity {
    fn answer(
        &mut self,
        terminal: &Address,
        challenge: &[u8; CHALLENGE_LEN],
        out: &mut [u8; CHALLENGE_LEN],
    ) -> Result<(), SecurityError> {
        use cmac::{KeyInit, Mac};
        let mut mac = <cmac::Cmac<aes::Aes128> as KeyInit>::new(&self.key.into());
        mac.update(DOMAIN);
        mac.update(&message(terminal, challenge));
        let tag: [u8; 16] = mac.finalize().into_bytes().into();
        *out = tag;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_layout() {
        let m = message(&Address::new(0x4403, 0x0001_0203), &[0xAA; 16]);
        assert_eq!(&m[..6], &[0x03, 0x44, 0x03, 0x02, 0x01, 0x00]);
        assert_eq!(&m[6..], &[0xAA; 16]);
        let mut out = [0u8; 16];
        assert_eq!(
            NoIdentity.answer(&Address::new(1, 1), &[0; 16], &mut out),
            Err(SecurityError::BadProof)
        );
    }

    #[cfg(feature = "cmac")]
    #[test]
    fn cmac_answer_binds_key_terminal_and_challenge() {
        let t = Address::new(0x4403, 7);
        let mut k = AesCmacIdentity::new([1; 16]);
        let mut a = [0u8; 16];
        k.answer(&t, &[9; 16], &mut a).unwrap();
        assert_eq!(k.verify(&t, &[9; 16], &a), Ok(()));
        assert_eq!(
            k.verify(&t, &[8; 16], &a),
            Err(SecurityError::BadProof),
            "other challenge"
        );
        assert_eq!(
            k.verify(&Address::new(0x4403, 8), &[9; 16], &a),
            Err(SecurityError::BadProof),
            "other terminal"
        );
        assert_eq!(
            AesCmacIdentity::new([2; 16]).verify(&t, &[9; 16], &a),
            Err(SecurityError::BadProof),
            "other key"
        );
    }
}
