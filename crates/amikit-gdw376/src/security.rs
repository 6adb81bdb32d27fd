//! PW (message authentication) through a [`MacProvider`], and Tp replay protection
//! ([`ReplayGuard`]).
//!
//! The standard has the master's crypto unit compute PW and the terminal's ESAM check it; the
//! algorithm lives in that hardware. This crate routes PW through a trait:
//! * [`ZeroPw`]: all-zero PW, what test systems send;
//! * [`AesCmacPw`] (feature `cmac`): AES-128-CMAC, an *open substitute* for an ESAM, not the
//!   State Grid algorithm. The MAC covers the user data with the PW field left out (C, A, AFN,
//!   SEQ, the data units, then EC and Tp), so Tp is authenticated too; it is truncated to the
//!   PW length;
//! * a hardware provider implements [`MacProvider::sign`] / [`MacProvider::verify`] itself.
//!
//! Verification compares in constant time (`subtle`). Key holders print no key in `Debug` and
//! wipe their key when dropped (`zeroize`).
//!
//! A master station talks to many terminals, each with its own PW key: [`TerminalMac`] is a
//! provider that is told the terminal's address. Every [`MacProvider`] is a [`TerminalMac`] that
//! uses one key for all terminals (the simple case).

use subtle::ConstantTimeEq;

use crate::address::Address;
use crate::auxiliary::Tp;
use crate::error::SecurityError;
use crate::frame::Repr;
use crate::time::DateTime;

/// Computes and checks PW.
pub trait MacProvider {
    /// Writes the PW for a frame whose user data, PW left out, is `head` (C … data units)
    /// followed by `tail` (EC, Tp). `pw.len()` is the profile's PW length.
    ///
    /// # Errors
    ///
    /// [`SecurityError`] when the provider cannot produce a PW of that length.
    fn sign(&mut self, head: &[u8], tail: &[u8], pw: &mut [u8]) -> Result<(), SecurityError>;

    /// Checks a received PW. The default signs again and compares in constant time.
    ///
    /// # Errors
    ///
    /// [`SecurityError::BadPw`], or [`SecurityError::PwLength`] above 64 bytes.
    fn verify(&mut self, head: &[u8], tail: &[u8], pw: &[u8]) -> Result<(), SecurityError> {
        let mut expected = [0u8; 64];
        let e = expected
            .get_mut(..pw.len())
            .ok_or(SecurityError::PwLength {
                expected: 64,
                found: pw.len(),
            })?;
        self.sign(head, tail, e)?;
        if bool::from(e.ct_eq(pw)) {
            Ok(())
        } else {
            Err(SecurityError::BadPw)
        }
    }
}

/// Computes and checks PW for a given terminal: a head-end holds one PW key per terminal
/// (Q/GDW 1376.1-2013 §4.3.4.6.1: PW is computed by the master and checked by the terminal's
/// ESAM, whose keys are per terminal). The master session passes the address of the terminal
/// it talks to (MSA 0) with every frame it signs or checks.
///
/// Every [`MacProvider`] is one, using the same key for all terminals.
pub trait TerminalMac {
    /// Writes the PW of a frame for `terminal` (see [`MacProvider::sign`]).
    ///
    /// # Errors
    ///
    /// [`SecurityError`], e.g. [`SecurityError::BadPw`] when no key is known for `terminal`.
    fn sign_for(
        &mut self,
        terminal: &Address,
        head: &[u8],
        tail: &[u8],
        pw: &mut [u8],
    ) -> Result<(), SecurityError>;

    /// Checks a PW received from `terminal` (see [`MacProvider::verify`]). The default signs
    /// again and compares in constant time.
    ///
    /// # Errors
    ///
    /// [`SecurityError::BadPw`], [`SecurityError::PwLength`] above 64 bytes, or the error of
    /// [`TerminalMac::sign_for`].
    fn verify_for(
        &mut self,
        terminal: &Address,
        head: &[u8],
        tail: &[u8],
        pw: &[u8],
    ) -> Result<(), SecurityError> {
        let mut expected = [0u8; 64];
        let e = expected
            .get_mut(..pw.len())
            .ok_or(SecurityError::PwLength {
                expected: 64,
                found: pw.len(),
            })?;
        self.sign_for(terminal, head, tail, e)?;
        if bool::from(e.ct_eq(pw)) {
            Ok(())
        } else {
            Err(SecurityError::BadPw)
        }
    }
}

impl<M: MacProvider> TerminalMac for M {
    fn sign_for(
        &mut self,
        _terminal: &Address,
        head: &[u8],
        tail: &[u8],
        pw: &mut [u8],
    ) -> Result<(), SecurityError> {
        self.sign(head, tail, pw)
    }
    fn verify_for(
        &mut self,
        _terminal: &Address,
        head: &[u8],
        tail: &[u8],
        pw: &[u8],
    ) -> Result<(), SecurityError> {
        self.verify(head, tail, pw)
    }
}

/// A [`TerminalMac`] bound to one terminal: the [`MacProvider`] the frame builder and
/// [`verify_pw`] take.
#[derive(Debug)]
pub struct ForTerminal<'a, T: TerminalMac + ?Sized> {
    /// The per-terminal provider.
    pub keys: &'a mut T,
    /// The terminal (MSA 0).
    pub terminal: Address,
}

impl<T: TerminalMac + ?Sized> MacProvider for ForTerminal<'_, T> {
    fn sign(&mut self, head: &[u8], tail: &[u8], pw: &mut [u8]) -> Result<(), SecurityError> {
        self.keys.sign_for(&self.terminal, head, tail, pw)
    }
    fn verify(&mut self, head: &[u8], tail: &[u8], pw: &[u8]) -> Result<(), SecurityError> {
        self.keys.verify_for(&self.terminal, head, tail, pw)
    }
}

/// The all-zero PW test systems send (Q/GDW 1376.1-2013, auxiliary information AUX: PW).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ZeroPw;

impl MacProvider for ZeroPw {
    fn sign(&mut self, _head: &[u8], _tail: &[u8], pw: &mut [u8]) -> Result<(), SecurityError> {
        pw.fill(0);
        Ok(())
    }
}

/// AES-128-CMAC over the user data without the PW field, truncated to the PW length
/// (≤ 16 bytes). An open substitute for ESAM hardware. Its `Debug` shows no key; the key is
/// wiped when it is dropped.
#[cfg(feature = "cmac")]
#[derive(Clone)]
pub struct AesCmacPw {
    key: [u8; 16],
}

#[cfg(feature = "cmac")]
impl Drop for AesCmacPw {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.key);
    }
}

#[cfg(feature = "cmac")]
impl core::fmt::Debug for AesCmacPw {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("AesCmacPw(..)")
    }
}

#[cfg(feature = "cmac")]
impl AesCmacPw {
    /// A provider with a 128-bit key.
    #[must_use]
    pub const fn new(key: [u8; 16]) -> Self {
        AesCmacPw { key }
    }
    /// The full 16-byte tag over `head || tail`.
    #[must_use]
    pub fn tag(&self, head: &[u8], tail: &[u8]) -> [u8; 16] {
        use cmac::{KeyInit, Mac};
        let mut mac = <cmac::Cmac<aes::Aes128> as KeyInit>::new(&self.key.into());
        mac.update(head);
        mac.update(tail);
        mac.finalize().into_bytes().into()
    }
}

#[cfg(feature = "cmac")]
impl MacProvider for AesCmacPw {
    fn sign(&mut self, head: &[u8], tail: &[u8], pw: &mut [u8]) -> Result<(), SecurityError> {
        let tag = self.tag(head, tail);
        let t = tag.get(..pw.len()).ok_or(SecurityError::PwLength {
            expected: 16,
            found: pw.len(),
        })?;
        pw.copy_from_slice(t);
        Ok(())
    }
}

/// A frame's user data split around PW: `(head, pw, tail)`.
pub type PwSplit<'a> = (&'a [u8], &'a [u8], &'a [u8]);

/// Splits a frame's user data around PW: `(head, pw, tail)`.
///
/// # Errors
///
/// [`SecurityError::PwMissing`] when the parsed frame carries no PW.
pub fn split_pw<'a>(user_data: &'a [u8], repr: &Repr<'_>) -> Result<PwSplit<'a>, SecurityError> {
    let pw_len = repr.pw.map(<[u8]>::len).ok_or(SecurityError::PwMissing)?;
    let head_len = 3 + repr.address_width.len() + repr.units.len();
    let (head, rest) = user_data
        .split_at_checked(head_len)
        .ok_or(SecurityError::PwMissing)?;
    let (pw, tail) = rest
        .split_at_checked(pw_len)
        .ok_or(SecurityError::PwMissing)?;
    Ok((head, pw, tail))
}

/// Verifies the PW of a parsed frame; `user_data` is [`Frame::user_data`](crate::Frame::user_data).
///
/// # Errors
///
/// [`SecurityError::PwMissing`], [`SecurityError::BadPw`].
pub fn verify_pw<M: MacProvider + ?Sized>(
    user_data: &[u8],
    repr: &Repr<'_>,
    mac: &mut M,
) -> Result<(), SecurityError> {
    let (head, pw, tail) = split_pw(user_data, repr)?;
    mac.verify(head, tail, pw)
}

/// Replay protection from Tp (Q/GDW 1376.1-2013 §4.3.4.6.3, time label): a frame whose send
/// time plus allowed delay has passed is rejected, and so is a PFC seen again (from the same
/// MSA) while its window is open. Frames with delay 0 carry no window and are not tracked
/// (a terminal refuses them where Tp is required; see the terminal session).
///
/// Fails closed:
/// * a send time that is not a time (non-BCD, hour 24, minute 60, day 0 …) or whose day does
///   not exist in the month it must lie in (day 31 in a 30-day month, 30 February …) is
///   [`SecurityError::BadTime`];
/// * it remembers up to `N` open windows and **never forgets one that is still open**: windows
///   that have closed are dropped first; when all `N` are open a new PFC is refused with
///   [`SecurityError::ReplayFull`] (size `N` for the request rate × allowed delay you accept).
///
/// RAM: 16 bytes per window.
#[derive(Debug, Clone)]
pub struct ReplayGuard<const N: usize = 16> {
    seen: [Window; N],
    /// Seconds a send time may lie ahead of the receiver's clock (clock skew); default 300.
    pub future_tolerance_s: u32,
}

/// One remembered PFC: who sent it and when its window closes (seconds since 1970).
#[derive(Debug, Clone, Copy)]
struct Window {
    expires: i64,
    msa: u8,
    pfc: u8,
    used: bool,
}

impl Window {
    const EMPTY: Window = Window {
        expires: 0,
        msa: 0,
        pfc: 0,
        used: false,
    };
    const fn open_at(&self, now_s: i64) -> bool {
        self.used && self.expires >= now_s
    }
}

impl<const N: usize> Default for ReplayGuard<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> ReplayGuard<N> {
    /// An empty guard with a 300 s skew tolerance.
    #[must_use]
    pub const fn new() -> Self {
        ReplayGuard {
            seen: [Window::EMPTY; N],
            future_tolerance_s: 300,
        }
    }

    /// Resolves Tp's `DD hh:mm:ss` to seconds since 1970 relative to `now`: this month, or the
    /// previous one when the time lies ahead of `now` by more than the skew tolerance.
    ///
    /// # Errors
    ///
    /// [`SecurityError::BadTime`] when the send time is not a valid time or its day does not
    /// exist in the month it resolves to.
    pub fn send_seconds(&self, now: &DateTime, tp: &Tp) -> Result<i64, SecurityError> {
        let t = tp.send_time().map_err(|_| SecurityError::BadTime)?;
        if !t.is_plausible() {
            return Err(SecurityError::BadTime);
        }
        let now_s = now.seconds_since_epoch();
        // The send time in a given month: an error when the day does not exist there (no
        // normalising 31 April into 1 May).
        let at = |y: u16, m: u8| {
            DateTime::new(y, m, t.day, t.hour, t.minute, t.second)
                .map(DateTime::seconds_since_epoch)
        };
        let (y, m) = (now.year(), now.month());
        if let Ok(this) = at(y, m)
            && this <= now_s.saturating_add(i64::from(self.future_tolerance_s))
        {
            return Ok(this);
        }
        let (py, pm) = if m == 1 {
            (y.checked_sub(1).ok_or(SecurityError::BadTime)?, 12)
        } else {
            (y, m - 1)
        };
        at(py, pm).map_err(|_| SecurityError::BadTime)
    }

    /// Checks Tp's expiry at `now` without remembering its PFC; returns when its window closes
    /// (`None` for delay 0: no expiry).
    ///
    /// # Errors
    ///
    /// [`SecurityError::Expired`], [`SecurityError::BadTime`].
    pub fn check_expiry(&self, now: &DateTime, tp: &Tp) -> Result<Option<i64>, SecurityError> {
        let now_s = now.seconds_since_epoch();
        let sent = self.send_seconds(now, tp)?;
        if tp.delay_min == 0 {
            return Ok(None);
        }
        let age = now_s - sent;
        let allowed = i64::from(tp.delay_min) * 60;
        if age > allowed {
            return Err(SecurityError::Expired {
                age_s: u32::try_from(age).unwrap_or(u32::MAX),
                allowed_s: u32::try_from(allowed).unwrap_or(u32::MAX),
            });
        }
        Ok(Some(sent + allowed))
    }

    /// Open windows remembered.
    #[must_use]
    pub fn open_windows(&self) -> usize {
        self.seen.iter().filter(|w| w.used).count()
    }

    /// Checks a received Tp at local time `now` and remembers its PFC. A refused Tp leaves the
    /// guard as it was.
    ///
    /// # Errors
    ///
    /// [`SecurityError::Expired`], [`SecurityError::Replay`], [`SecurityError::BadTime`],
    /// [`SecurityError::ReplayFull`].
    pub fn check(&mut self, now: &DateTime, msa: u8, tp: &Tp) -> Result<(), SecurityError> {
        let Some(expires) = self.check_expiry(now, tp)? else {
            return Ok(());
        };
        let now_s = now.seconds_since_epoch();
        if self
            .seen
            .iter()
            .any(|w| w.open_at(now_s) && w.msa == msa && w.pfc == tp.pfc)
        {
            return Err(SecurityError::Replay(tp.pfc));
        }
        // Only windows that have closed may be forgotten.
        let Some(slot) = self.seen.iter_mut().find(|w| !w.open_at(now_s)) else {
            return Err(SecurityError::ReplayFull(N));
        };
        *slot = Window {
            expires,
            msa,
            pfc: tp.pfc,
            used: true,
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::Format16;

    fn now() -> DateTime {
        DateTime::new(2024, 3, 1, 0, 2, 0).unwrap()
    }

    #[test]
    fn zero_pw() {
        let mut z = ZeroPw;
        let mut pw = [1u8; 16];
        z.sign(b"head", b"", &mut pw).unwrap();
        assert_eq!(pw, [0; 16]);
        assert!(z.verify(b"x", b"", &[0; 16]).is_ok());
        assert_eq!(z.verify(b"x", b"", &[0, 1]), Err(SecurityError::BadPw));
    }

    #[cfg(feature = "cmac")]
    #[test]
    fn cmac_rfc4493() {
        // RFC 4493 example 2: key 2b7e1516..., M = 6bc1bee2 2e409f96 e93d7e11 7393172a,
        // tag 070a16b4 6b4d4144 f79bdd9d d04a287c.
        let key = [
            0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6, 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf,
            0x4f, 0x3c,
        ];
        let m = [
            0x6b, 0xc1, 0xbe, 0xe2, 0x2e, 0x40, 0x9f, 0x96, 0xe9, 0x3d, 0x7e, 0x11, 0x73, 0x93,
            0x17, 0x2a,
        ];
        let p = AesCmacPw::new(key);
        assert_eq!(
            p.tag(&m[..5], &m[5..]),
            [
                0x07, 0x0a, 0x16, 0xb4, 0x6b, 0x4d, 0x41, 0x44, 0xf7, 0x9b, 0xdd, 0x9d, 0xd0, 0x4a,
                0x28, 0x7c
            ]
        );
        let mut mac = p.clone();
        let mut pw = [0u8; 2];
        mac.sign(&m, &[], &mut pw).unwrap();
        assert_eq!(pw, [0x07, 0x0a]);
        assert!(mac.verify(&m, &[], &pw).is_ok());
        assert_eq!(mac.verify(&m[1..], &[], &pw), Err(SecurityError::BadPw));
        let mut long = [0u8; 17];
        assert!(mac.sign(&m, &[], &mut long).is_err());
    }

    #[test]
    fn replay_window() {
        let mut g = ReplayGuard::<4>::new();
        let t = |pfc, day, hour, minute, delay| {
            Tp::new(
                pfc,
                Format16 {
                    second: 0,
                    minute,
                    hour,
                    day,
                },
                delay,
            )
            .unwrap()
        };
        // Sent at 00:00 on the 1st with 5 minutes allowed, received at 00:02: fine.
        assert_eq!(g.check(&now(), 1, &t(7, 1, 0, 0, 5)), Ok(()));
        // Same PFC from the same MSA inside the window: replay.
        assert_eq!(
            g.check(&now(), 1, &t(7, 1, 0, 0, 5)),
            Err(SecurityError::Replay(7))
        );
        // Another MSA may use the same PFC.
        assert_eq!(g.check(&now(), 2, &t(7, 1, 0, 0, 5)), Ok(()));
        // Sent at 23:50 on the 29th of February (previous month), 5 min: expired.
        assert!(matches!(
            g.check(&now(), 1, &t(8, 29, 23, 50, 5)),
            Err(SecurityError::Expired { .. })
        ));
        // Delay 0: no expiry, no tracking.
        assert_eq!(g.check(&now(), 1, &t(9, 29, 23, 50, 0)), Ok(()));
        assert_eq!(g.check(&now(), 1, &t(9, 29, 23, 50, 0)), Ok(()));
        // After the window closes the PFC is free again.
        let later = now().add_seconds(8 * 60).unwrap(); // 00:10:00
        assert!(g.check(&later, 1, &t(7, 1, 0, 9, 5)).is_ok());
        // A day-of-month time ahead of our clock by more than the tolerance is last month's.
        assert!(matches!(
            g.check(&now(), 1, &t(3, 1, 0, 20, 5)),
            Err(SecurityError::Expired { .. })
        ));
        // Ahead within the tolerance (clock skew) is accepted.
        assert_eq!(g.check(&now(), 1, &t(4, 1, 0, 5, 5)), Ok(()));
        let bad = Tp::from_bytes([1, 0xAA, 0, 0, 1, 5]);
        assert_eq!(g.check(&now(), 1, &bad), Err(SecurityError::BadTime));
    }

    fn tp(pfc: u8, day: u8, hour: u8, minute: u8, delay: u8) -> Tp {
        Tp::new(
            pfc,
            Format16 {
                second: 0,
                minute,
                hour,
                day,
            },
            delay,
        )
        .unwrap()
    }

    #[test]
    fn impossible_days_fail_closed() {
        let g = ReplayGuard::<4>::new();
        // 2024-05-01 00:02: day 31 resolves to April (30 days): no such day. Before, it was
        // read as 1 May 00:00 (days_from_civil normalises) and accepted.
        let may1 = DateTime::new(2024, 5, 1, 0, 2, 0).unwrap();
        assert_eq!(
            g.check_expiry(&may1, &tp(1, 31, 0, 0, 5)),
            Err(SecurityError::BadTime)
        );
        // 1 March: 30 is last month's, and February 2023 has no 30th.
        let mar1 = DateTime::new(2023, 3, 1, 0, 2, 0).unwrap();
        assert_eq!(
            g.check_expiry(&mar1, &tp(1, 30, 23, 59, 5)),
            Err(SecurityError::BadTime)
        );
        // 29 February exists in 2024 and is placed there.
        let mar1_24 = DateTime::new(2024, 3, 1, 0, 2, 0).unwrap();
        assert!(matches!(
            g.check_expiry(&mar1_24, &tp(1, 29, 23, 59, 5)),
            Ok(Some(_))
        ));
        // Day 0, hour 24, minute 60, second 60, non-BCD.
        for raw in [
            [1, 0x00, 0x00, 0x00, 0x00, 5],
            [1, 0x00, 0x00, 0x24, 0x01, 5],
            [1, 0x00, 0x60, 0x00, 0x01, 5],
            [1, 0x60, 0x00, 0x00, 0x01, 5],
            [1, 0x00, 0x0A, 0x00, 0x01, 5],
            [1, 0x00, 0x00, 0x00, 0x32, 5],
        ] {
            assert_eq!(
                g.check_expiry(&may1, &Tp::from_bytes(raw)),
                Err(SecurityError::BadTime),
                "{raw:02X?}"
            );
        }
    }

    #[test]
    fn full_guard_refuses_instead_of_forgetting() {
        let mut g = ReplayGuard::<2>::new();
        assert_eq!(g.check(&now(), 1, &tp(1, 1, 0, 0, 5)), Ok(()));
        assert_eq!(g.check(&now(), 1, &tp(2, 1, 0, 1, 5)), Ok(()));
        // Both windows open: a third PFC is refused, the guard unchanged.
        assert_eq!(
            g.check(&now(), 1, &tp(3, 1, 0, 1, 5)),
            Err(SecurityError::ReplayFull(2))
        );
        assert_eq!(g.open_windows(), 2);
        // PFC 1 is still remembered: its replay is refused (before, it had been evicted).
        assert_eq!(
            g.check(&now(), 1, &tp(1, 1, 0, 0, 5)),
            Err(SecurityError::Replay(1))
        );
        // Once PFC 1's window has closed (00:05), its slot is reused.
        let later = now().add_seconds(3 * 60 + 30).unwrap(); // 00:05:30
        assert_eq!(g.check(&later, 1, &tp(3, 1, 0, 4, 5)), Ok(()));
        assert_eq!(
            g.check(&later, 1, &tp(2, 1, 0, 1, 5)),
            Err(SecurityError::Replay(2))
        );
    }
}
