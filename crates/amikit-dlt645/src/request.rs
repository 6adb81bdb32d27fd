//! Requests (master → meter) of every function of both editions.
//!
//! Layouts (data field after −0x33, in wire order):
//!
//! | function | 2007 | 1997 |
//! |---|---|---|
//! | read | `DI(4) [extra: block count / load-record time…]` | `DI(2)` |
//! | read follow-up | `DI(4) SEQ` | `DI(2)` |
//! | re-read | — | empty |
//! | read address | empty, to `AAAAAAAAAAAA` | — |
//! | write | `DI(4) PA P0 P1 P2 C0..C3 data` | `DI(2) PA P0 P1 P2 data` |
//! | write address | new address (6), to `AAAAAAAAAAAA` | new address (6) |
//! | broadcast time | `ss mm hh DD MM YY`, to `999999999999` | same |
//! | freeze | `mm hh DD MM` (`99` = every) | — |
//! | change baud | feature word Z | feature word Z |
//! | change password | `DI(4) PA0 P00 P10 P20 PAN P0N P1N P2N` | `PA0 P00 P10 P20 PAN P0N P1N P2N` |
//! | clear max demand | `PA P0 P1 P2 C0..C3` | empty |
//! | clear meter | `PA P0 P1 P2 C0..C3` | — |
//! | clear events | `PA P0 P1 P2 C0..C3 DI(4)` (`FFFFFFFF` = all) | — |
//! | remote control | see [`crate::remote`] | — |
//! | multi-function output | one byte (00 second pulse, 01 demand period, 02 period switch) | — |
//! | security authentication | opaque | — |
//!
//! The 1997 layouts of write, change password and clear max demand are from the 1997 text as
//! recalled by the amikit developers, not re-verified.

use core::fmt;

use crate::data::Data;
use crate::di::{DataId, Di};
use crate::remote::RemoteControl;
use crate::value::DateTime;

/// A password: level `PA` and three bytes `P0 P1 P2` (wire order).
///
/// `Debug` shows the level only: the code is a credential and never reaches a log.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Password {
    /// Level (`PA`): 02 and 04 are the usual levels; 98/99 mark ESAM-protected writes.
    pub level: u8,
    /// `P0 P1 P2`.
    pub code: [u8; 3],
}

impl core::fmt::Debug for Password {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Password")
            .field("level", &self.level)
            .field("code", &"<redacted>")
            .finish()
    }
}

impl Password {
    /// A password from its level and 6-digit number (`Password::new(2, 123456)` sends
    /// `02 56 34 12`).
    pub const fn new(level: u8, digits: u32) -> Self {
        let d = digits % 1_000_000;
        const fn b(n: u32) -> u8 {
            ((((n / 10) % 10) << 4) | (n % 10)) as u8
        }
        Password {
            level,
            code: [b(d), b(d / 100), b(d / 10_000)],
        }
    }

    /// Wire bytes `PA P0 P1 P2`.
    pub(crate) const fn to_plain(self) -> [u8; 4] {
        [self.level, self.code[0], self.code[1], self.code[2]]
    }

    /// From wire bytes `PA P0 P1 P2`.
    pub(crate) const fn from_plain(b: [u8; 4]) -> Self {
        Password {
            level: b[0],
            code: [b[1], b[2], b[3]],
        }
    }
}

/// Operator code `C0..C3` (wire order), recorded by the meter in its programming log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct OperatorCode(pub [u8; 4]);

/// Password and operator code (2007 writes, clears, remote control).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Auth {
    /// `PA P0 P1 P2`.
    pub password: Password,
    /// `C0..C3`.
    pub operator: OperatorCode,
}

impl Auth {
    /// Wire bytes `PA P0 P1 P2 C0 C1 C2 C3`.
    pub(crate) const fn to_plain(self) -> [u8; 8] {
        let p = self.password.to_plain();
        let c = self.operator.0;
        [p[0], p[1], p[2], p[3], c[0], c[1], c[2], c[3]]
    }

    /// From wire bytes.
    pub(crate) const fn from_plain(b: [u8; 8]) -> Self {
        Auth {
            password: Password::from_plain([b[0], b[1], b[2], b[3]]),
            operator: OperatorCode([b[4], b[5], b[6], b[7]]),
        }
    }
}

/// The communication rate feature word `Z` of "change baud rate" (and of the parameters
/// `04000701..05`).
///
/// **Bit assignment** (DL/T 645-2007, communication rate feature word, as read by the amikit developers): b1 = 600, b2 = 1200,
/// b3 = 2400, b4 = 4800, b5 = 9600, b6 = 19200 bit/s; b0 and b7 reserved. Exactly one bit is set.
/// Implementations disagree (600888/dlt645 writes 9600 as `0x32`, a decimal-as-hex mistake;
/// ng-gateway puts 600 at b0, one bit too low); this reading is not
/// re-verified from the primary text. Any other byte is kept as [`BaudRate::Unknown`], so a
/// meter that follows another table still round-trips.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum BaudRate {
    /// 600 bit/s (b1).
    B600,
    /// 1200 bit/s (b2).
    B1200,
    /// 2400 bit/s (b3), the common default.
    B2400,
    /// 4800 bit/s (b4).
    B4800,
    /// 9600 bit/s (b5).
    B9600,
    /// 19200 bit/s (b6).
    B19200,
    /// A word that is not one of the above.
    Unknown(u8),
}

impl BaudRate {
    /// From the feature word.
    pub(crate) const fn from_word(z: u8) -> Self {
        match z {
            0x02 => BaudRate::B600,
            0x04 => BaudRate::B1200,
            0x08 => BaudRate::B2400,
            0x10 => BaudRate::B4800,
            0x20 => BaudRate::B9600,
            0x40 => BaudRate::B19200,
            other => BaudRate::Unknown(other),
        }
    }

    /// The feature word.
    pub(crate) const fn to_word(self) -> u8 {
        match self {
            BaudRate::B600 => 0x02,
            BaudRate::B1200 => 0x04,
            BaudRate::B2400 => 0x08,
            BaudRate::B4800 => 0x10,
            BaudRate::B9600 => 0x20,
            BaudRate::B19200 => 0x40,
            BaudRate::Unknown(z) => z,
        }
    }

    /// Bits per second, if known.
    pub const fn bits_per_second(self) -> Option<u32> {
        match self {
            BaudRate::B600 => Some(600),
            BaudRate::B1200 => Some(1200),
            BaudRate::B2400 => Some(2400),
            BaudRate::B4800 => Some(4800),
            BaudRate::B9600 => Some(9600),
            BaudRate::B19200 => Some(19200),
            BaudRate::Unknown(_) => None,
        }
    }

    /// From bits per second.
    pub const fn from_bits_per_second(bps: u32) -> Option<Self> {
        match bps {
            600 => Some(BaudRate::B600),
            1200 => Some(BaudRate::B1200),
            2400 => Some(BaudRate::B2400),
            4800 => Some(BaudRate::B4800),
            9600 => Some(BaudRate::B9600),
            19200 => Some(BaudRate::B19200),
            _ => None,
        }
    }
}

/// When to freeze (2007 function `16`): `mm hh DD MM` in wire order, each byte BCD or `99`
/// ("every"); `99999999` freezes at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct FreezeTime(pub [u8; 4]);

impl FreezeTime {
    /// `99999999`: freeze now.
    pub const NOW: FreezeTime = FreezeTime([0x99; 4]);
}

/// The event to clear (2007 function `1B`).
pub type EventId = Di;

/// A request from the master.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum Request<'a> {
    /// 2007 `03`: security authentication (opaque ESAM payload).
    SecurityAuth {
        /// The payload.
        payload: Data<'a>,
    },
    /// `08`: broadcast time.
    BroadcastTime {
        /// The time to set.
        time: DateTime,
    },
    /// Read.
    Read {
        /// What to read.
        di: DataId,
        /// Bytes after the DI (2007: block count `N`, load-record start time); usually empty.
        extra: Data<'a>,
    },
    /// Read follow-up frame.
    ReadFollowUp {
        /// The identifier being read.
        di: DataId,
        /// 2007: frame sequence number `SEQ`; 1997: none.
        seq: Option<u8>,
    },
    /// 1997 `03`: ask the meter to repeat its last reply.
    ReRead,
    /// 2007 `13`: read the address of the (only) meter on the line.
    ReadAddress,
    /// Write.
    Write {
        /// What to write.
        di: DataId,
        /// Password.
        password: Password,
        /// 2007: operator code; 1997: none.
        operator: Option<OperatorCode>,
        /// The value (plain bytes, wire order).
        data: Data<'a>,
    },
    /// Write the communication address.
    WriteAddress {
        /// The new address.
        address: crate::Address,
    },
    /// 2007 `16`: freeze.
    Freeze {
        /// When.
        time: FreezeTime,
    },
    /// Change the communication rate.
    ChangeBaud {
        /// The new rate.
        baud: BaudRate,
    },
    /// Change a password.
    ChangePassword {
        /// 2007: the password's identifier `04000C01..0A`; 1997: none.
        di: Option<Di>,
        /// The current password (with its level).
        old: Password,
        /// The new password (with its level).
        new: Password,
    },
    /// Clear maximum demand (2007: authorised; 1997: no data).
    ClearMaxDemand {
        /// 2007: password and operator code; 1997: none.
        auth: Option<Auth>,
    },
    /// 2007 `1A`: clear the meter.
    ClearMeter {
        /// Password and operator code.
        auth: Auth,
    },
    /// 2007 `1B`: clear events.
    ClearEvents {
        /// Password and operator code.
        auth: Auth,
        /// The event record to clear (`FFFFFFFF`: all).
        event: EventId,
    },
    /// 2007 `1C`: remote control.
    RemoteControl(RemoteControl<'a>),
    /// 2007 `1D`: multi-function terminal output.
    MultiFunctionOutput {
        /// 00 clock second pulse, 01 demand period, 02 period switch.
        mode: u8,
    },
}

impl Request<'_> {
    /// The function of this request.
    pub const fn function(&self) -> crate::Function {
        use crate::Function as F;
        match self {
            Request::SecurityAuth { .. } => F::SecurityAuth,
            Request::BroadcastTime { .. } => F::BroadcastTime,
            Request::Read { .. } => F::Read,
            Request::ReadFollowUp { .. } => F::ReadFollowUp,
            Request::ReRead => F::ReRead,
            Request::ReadAddress => F::ReadAddress,
            Request::Write { .. } => F::Write,
            Request::WriteAddress { .. } => F::WriteAddress,
            Request::Freeze { .. } => F::Freeze,
            Request::ChangeBaud { .. } => F::ChangeBaud,
            Request::ChangePassword { .. } => F::ChangePassword,
            Request::ClearMaxDemand { .. } => F::ClearMaxDemand,
            Request::ClearMeter { .. } => F::ClearMeter,
            Request::ClearEvents { .. } => F::ClearEvents,
            Request::RemoteControl(_) => F::RemoteControl,
            Request::MultiFunctionOutput { .. } => F::MultiFunctionOutput,
        }
    }

    /// The data identifier, for the functions that carry one.
    pub const fn di(&self) -> Option<DataId> {
        match self {
            Request::Read { di, .. }
            | Request::ReadFollowUp { di, .. }
            | Request::Write { di, .. } => Some(*di),
            Request::ChangePassword { di: Some(d), .. } => Some(DataId::V2007(*d)),
            _ => None,
        }
    }
}

impl fmt::Display for BaudRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.bits_per_second() {
            Some(b) => write!(f, "{b} bit/s"),
            None => write!(f, "unknown feature word 0x{:02X}", self.to_word()),
        }
    }
}

impl From<Password> for [u8; 4] {
    /// Wire bytes `PA P0 P1 P2`.
    fn from(value: Password) -> Self {
        value.to_plain()
    }
}

impl From<[u8; 4]> for Password {
    /// From wire bytes `PA P0 P1 P2`.
    fn from(value: [u8; 4]) -> Self {
        Password::from_plain(value)
    }
}

impl From<Auth> for [u8; 8] {
    /// Wire bytes `PA P0 P1 P2 C0 C1 C2 C3`.
    fn from(value: Auth) -> Self {
        value.to_plain()
    }
}

impl From<[u8; 8]> for Auth {
    /// From wire bytes `PA P0 P1 P2 C0 C1 C2 C3`.
    fn from(value: [u8; 8]) -> Self {
        Auth::from_plain(value)
    }
}

impl From<BaudRate> for u8 {
    /// The feature word `Z`.
    fn from(value: BaudRate) -> Self {
        value.to_word()
    }
}

impl From<u8> for BaudRate {
    /// From the feature word `Z` (any other byte is [`BaudRate::Unknown`]).
    fn from(value: u8) -> Self {
        BaudRate::from_word(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_digits() {
        assert_eq!(
            Password::new(2, 123_456).to_plain(),
            [0x02, 0x56, 0x34, 0x12]
        );
    }

    #[test]
    fn password_debug_hides_the_code() {
        extern crate std;
        use std::format;
        let shown = format!("{:?}", Password::new(4, 123_456));
        assert!(shown.contains("level: 4"), "{shown}");
        for digits in ["56", "34", "12", "86", "52", "18"] {
            assert!(!shown.contains(digits), "{shown}");
        }
    }

    #[test]
    fn baud_words() {
        // 9600 is b5 (0x20), not 0x32 (600888) nor 0x10 (ng-gateway).
        assert_eq!(BaudRate::B9600.to_word(), 0x20);
        assert_eq!(BaudRate::from_word(0x32), BaudRate::Unknown(0x32));
        assert_eq!(BaudRate::from_word(0x08).bits_per_second(), Some(2400));
        for z in 0..=255u8 {
            assert_eq!(BaudRate::from_word(z).to_word(), z);
        }
    }
}
