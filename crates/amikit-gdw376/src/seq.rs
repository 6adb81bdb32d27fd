//! The sequence field SEQ: TpV, FIR, FIN, CON, PSEQ/RSEQ (Q/GDW 1376.1-2013, application layer: frame sequence field SEQ).

use core::fmt;

/// The SEQ byte, kept as sent.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Seq(pub u8);

/// Position of a frame in a multi-frame message (FIR/FIN).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum FramePosition {
    /// FIR = 1, FIN = 1.
    Single,
    /// FIR = 1, FIN = 0.
    First,
    /// FIR = 0, FIN = 0.
    Middle,
    /// FIR = 0, FIN = 1.
    Last,
}

impl Seq {
    /// Builds SEQ.
    #[must_use]
    pub const fn new(tpv: bool, fir: bool, fin: bool, con: bool, seq: u8) -> Self {
        Seq(((tpv as u8) << 7)
            | ((fir as u8) << 6)
            | ((fin as u8) << 5)
            | ((con as u8) << 4)
            | (seq & 0x0F))
    }
    /// A single frame (FIR = FIN = 1).
    #[must_use]
    pub const fn single(tpv: bool, con: bool, seq: u8) -> Self {
        Seq::new(tpv, true, true, con, seq)
    }
    /// D7: Tp present in AUX.
    #[must_use]
    pub const fn tpv(self) -> bool {
        self.0 & 0x80 != 0
    }
    /// D6: first frame.
    #[must_use]
    pub const fn fir(self) -> bool {
        self.0 & 0x40 != 0
    }
    /// D5: final frame.
    #[must_use]
    pub const fn fin(self) -> bool {
        self.0 & 0x20 != 0
    }
    /// D4: confirmation requested.
    #[must_use]
    pub const fn con(self) -> bool {
        self.0 & 0x10 != 0
    }
    /// D3–D0: PSEQ (requests) or RSEQ (responses).
    #[must_use]
    pub const fn seq(self) -> u8 {
        self.0 & 0x0F
    }
    /// FIR/FIN as a position.
    #[must_use]
    pub const fn position(self) -> FramePosition {
        match (self.fir(), self.fin()) {
            (true, true) => FramePosition::Single,
            (true, false) => FramePosition::First,
            (false, false) => FramePosition::Middle,
            (false, true) => FramePosition::Last,
        }
    }
    /// This SEQ with TpV changed.
    #[must_use]
    pub(crate) const fn with_tpv(self, tpv: bool) -> Self {
        if tpv {
            Seq(self.0 | 0x80)
        } else {
            Seq(self.0 & 0x7F)
        }
    }
}

impl fmt::Debug for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Seq({:#04x} tpv={} fir={} fin={} con={} seq={})",
            self.0,
            u8::from(self.tpv()),
            u8::from(self.fir()),
            u8::from(self.fin()),
            u8::from(self.con()),
            self.seq()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observed_values() {
        // Notes §2.5: C1 → 82 → A3 for a 3-frame AFN 04 F10 download; 80 is TpV with FIR=FIN=0.
        assert_eq!(Seq(0xC1).position(), FramePosition::First);
        assert_eq!(Seq(0x82).position(), FramePosition::Middle);
        assert_eq!(Seq(0xA3).position(), FramePosition::Last);
        assert!(Seq(0x80).tpv());
        let login = Seq(0x78);
        assert!(login.con() && !login.tpv());
        assert_eq!(login.seq(), 8);
        for b in 0..=255u8 {
            let s = Seq(b);
            assert_eq!(Seq::new(s.tpv(), s.fir(), s.fin(), s.con(), s.seq()), s);
        }
    }
}
