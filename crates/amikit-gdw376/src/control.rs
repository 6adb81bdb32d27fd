//! The control field C: DIR, PRM, FCB/ACD, FCV and the function code (Q/GDW 1376.1-2013, link layer: control field C).
//!
//! C values are never rejected for their semantics: real devices send `51`, `98`, `CB`, `10`
//! and confirms with function 8 or 11 (captured traffic). [`Control`] keeps the byte and decodes it.

use core::fmt;

/// Transmission direction (D7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Direction {
    /// DIR = 0: master station → terminal.
    Down,
    /// DIR = 1: terminal → master station.
    Up,
}

/// The control byte C, kept as sent.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Control(pub u8);

impl Control {
    /// Master read (`4B`): DIR 0, PRM 1, function 11 (request class-2 data is the code; reads use it).
    pub const MASTER_READ: Control = Control(0x4B);
    /// Master set / control (`4A`): DIR 0, PRM 1, function 10.
    pub const MASTER_COMMAND: Control = Control(0x4A);
    /// Master reset (`41`): DIR 0, PRM 1, function 1.
    pub const MASTER_RESET: Control = Control(0x41);
    /// Master acknowledgement of login/heartbeat (`0B`): DIR 0, PRM 0, function 11 (link status).
    pub const MASTER_LINK_ACK: Control = Control(0x0B);
    /// Master confirm (`00`): DIR 0, PRM 0, function 0.
    pub const MASTER_CONFIRM: Control = Control(0x00);
    /// Terminal login / heartbeat / logout (`C9`): DIR 1, PRM 1, function 9 (link test).
    pub const TERMINAL_LINK_TEST: Control = Control(0xC9);
    /// Terminal-initiated report (`C4`): DIR 1, PRM 1, function 4.
    pub const TERMINAL_REPORT: Control = Control(0xC4);
    /// Terminal data reply (`88`): DIR 1, PRM 0, function 8.
    pub const TERMINAL_DATA: Control = Control(0x88);
    /// Terminal confirm (`80`): DIR 1, PRM 0, function 0.
    pub const TERMINAL_CONFIRM: Control = Control(0x80);
    /// Terminal deny / no data (`89`): DIR 1, PRM 0, function 9.
    pub const TERMINAL_DENY: Control = Control(0x89);

    /// Builds C from its fields; `fcb_acd` is FCB downlink and ACD uplink.
    #[must_use]
    pub const fn new(dir: Direction, prm: bool, fcb_acd: bool, fcv: bool, function: u8) -> Self {
        let mut c = function & 0x0F;
        if matches!(dir, Direction::Up) {
            c |= 0x80;
        }
        if prm {
            c |= 0x40;
        }
        if fcb_acd {
            c |= 0x20;
        }
        if fcv {
            c |= 0x10;
        }
        Control(c)
    }

    /// D7: direction.
    #[must_use]
    pub const fn dir(self) -> Direction {
        if self.0 & 0x80 != 0 {
            Direction::Up
        } else {
            Direction::Down
        }
    }
    /// D6: PRM, 1 when the frame comes from the initiating station.
    #[must_use]
    pub const fn prm(self) -> bool {
        self.0 & 0x40 != 0
    }
    /// D5: FCB (downlink) or ACD (uplink).
    #[must_use]
    pub const fn fcb_acd(self) -> bool {
        self.0 & 0x20 != 0
    }
    /// D5 on an uplink frame: important events pending; EC is in AUX. False on downlink frames.
    #[must_use]
    pub const fn acd(self) -> bool {
        matches!(self.dir(), Direction::Up) && self.fcb_acd()
    }
    /// D4: FCV downlink; reserved (but seen set, e.g. `98`) uplink.
    #[must_use]
    pub const fn fcv(self) -> bool {
        self.0 & 0x10 != 0
    }
    /// D3–D0: function code.
    #[must_use]
    pub(crate) const fn function_code(self) -> u8 {
        self.0 & 0x0F
    }
    /// The function code, interpreted by PRM.
    #[must_use]
    pub const fn function(self) -> Function {
        if self.prm() {
            Function::Primary(PrimaryFunction::from_code(self.function_code()))
        } else {
            Function::Secondary(SecondaryFunction::from_code(self.function_code()))
        }
    }
    /// This byte with ACD (uplink) / FCB (downlink) set or cleared.
    #[must_use]
    pub(crate) const fn with_fcb_acd(self, on: bool) -> Self {
        if on {
            Control(self.0 | 0x20)
        } else {
            Control(self.0 & !0x20)
        }
    }
}

impl fmt::Debug for Control {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Control({:#04x} {:?} prm={} d5={} d4={} {:?})",
            self.0,
            self.dir(),
            u8::from(self.prm()),
            u8::from(self.fcb_acd()),
            u8::from(self.fcv()),
            self.function()
        )
    }
}

/// A function code as interpreted by PRM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Function {
    /// PRM = 1 (initiating station).
    Primary(PrimaryFunction),
    /// PRM = 0 (responding station).
    Secondary(SecondaryFunction),
}

impl From<Function> for u8 {
    /// The 4-bit function code.
    fn from(f: Function) -> u8 {
        match f {
            Function::Primary(p) => p.code(),
            Function::Secondary(s) => s.code(),
        }
    }
}

impl Function {
    /// A short English name.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Function::Primary(p) => p.name(),
            Function::Secondary(s) => s.name(),
        }
    }
}

/// Function codes with PRM = 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum PrimaryFunction {
    /// 1: reset.
    Reset,
    /// 4: user data, no reply expected.
    UserData,
    /// 9: link test (login, heartbeat, logout).
    LinkTest,
    /// 10: request class-1 data (also used for sets and controls).
    RequestClass1,
    /// 11: request class-2 data (also used for reads).
    RequestClass2,
    /// Any other code.
    Unknown(u8),
}

impl From<u8> for PrimaryFunction {
    /// Decodes a 4-bit function code (the high nibble is ignored).
    fn from(code: u8) -> Self {
        Self::from_code(code)
    }
}

impl From<PrimaryFunction> for u8 {
    /// The 4-bit function code.
    fn from(f: PrimaryFunction) -> u8 {
        f.code()
    }
}

impl PrimaryFunction {
    /// Decodes a 4-bit code.
    const fn from_code(code: u8) -> Self {
        match code & 0x0F {
            1 => Self::Reset,
            4 => Self::UserData,
            9 => Self::LinkTest,
            10 => Self::RequestClass1,
            11 => Self::RequestClass2,
            other => Self::Unknown(other),
        }
    }
    /// The 4-bit code.
    const fn code(self) -> u8 {
        match self {
            Self::Reset => 1,
            Self::UserData => 4,
            Self::LinkTest => 9,
            Self::RequestClass1 => 10,
            Self::RequestClass2 => 11,
            Self::Unknown(c) => c & 0x0F,
        }
    }
    /// A short English name.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Reset => "reset",
            Self::UserData => "user data",
            Self::LinkTest => "link test",
            Self::RequestClass1 => "request class 1 data",
            Self::RequestClass2 => "request class 2 data",
            Self::Unknown(_) => "unknown",
        }
    }
}

/// Function codes with PRM = 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum SecondaryFunction {
    /// 0: confirm.
    Confirm,
    /// 8: user data (response).
    UserData,
    /// 9: deny / no data.
    Deny,
    /// 11: link status.
    LinkStatus,
    /// Any other code.
    Unknown(u8),
}

impl From<u8> for SecondaryFunction {
    /// Decodes a 4-bit function code (the high nibble is ignored).
    fn from(code: u8) -> Self {
        Self::from_code(code)
    }
}

impl From<SecondaryFunction> for u8 {
    /// The 4-bit function code.
    fn from(f: SecondaryFunction) -> u8 {
        f.code()
    }
}

impl SecondaryFunction {
    /// Decodes a 4-bit code.
    const fn from_code(code: u8) -> Self {
        match code & 0x0F {
            0 => Self::Confirm,
            8 => Self::UserData,
            9 => Self::Deny,
            11 => Self::LinkStatus,
            other => Self::Unknown(other),
        }
    }
    /// The 4-bit code.
    const fn code(self) -> u8 {
        match self {
            Self::Confirm => 0,
            Self::UserData => 8,
            Self::Deny => 9,
            Self::LinkStatus => 11,
            Self::Unknown(c) => c & 0x0F,
        }
    }
    /// A short English name.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Confirm => "confirm",
            Self::UserData => "user data",
            Self::Deny => "deny / no data",
            Self::LinkStatus => "link status",
            Self::Unknown(_) => "unknown",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observed_values() {
        // Notes §2.2: C9 login/heartbeat, 4B read, 88 reply, A8 reply with ACD, C4 report.
        let c = Control(0xC9);
        assert_eq!(c.dir(), Direction::Up);
        assert!(c.prm());
        assert_eq!(c.function(), Function::Primary(PrimaryFunction::LinkTest));
        let r = Control(0x4B);
        assert_eq!(r.dir(), Direction::Down);
        assert_eq!(
            r.function(),
            Function::Primary(PrimaryFunction::RequestClass2)
        );
        assert!(Control(0xA8).acd());
        assert!(!Control(0x6B).acd()); // downlink D5 is FCB
        assert_eq!(
            Control(0x98).function(),
            Function::Secondary(SecondaryFunction::UserData)
        );
        assert!(Control(0x98).fcv());
        assert_eq!(
            Control::new(Direction::Up, false, true, false, 8),
            Control(0xA8)
        );
        for b in 0..=255u8 {
            let c = Control(b);
            let back = Control::new(c.dir(), c.prm(), c.fcb_acd(), c.fcv(), c.function_code());
            assert_eq!(back, c);
        }
    }
}
