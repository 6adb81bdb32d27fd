//! The control byte `C`: direction (D7), abnormal reply (D6), follow-up (D5), function (D4..D0),
//! with the function tables of each edition.

use core::fmt;

/// The edition of DL/T 645 a frame follows. The frame layout is the same; the function codes,
/// the width of the data identifier (2007: 4 bytes, 1997: 2 bytes) and the data formats differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Edition {
    /// DL/T 645-2007 (with the 2013 security amendment's `03` function).
    #[default]
    V2007,
    /// DL/T 645-1997.
    V1997,
}

impl Edition {
    /// Bytes of a data identifier: 4 (2007) or 2 (1997).
    pub const fn di_len(self) -> usize {
        match self {
            Edition::V2007 => 4,
            Edition::V1997 => 2,
        }
    }

    /// The year in the standard's name (`2007` / `1997`).
    pub const fn year(self) -> u16 {
        match self {
            Edition::V2007 => 2007,
            Edition::V1997 => 1997,
        }
    }

    /// Largest data field (`L`) the text allows for reads: 200 bytes (both editions state
    /// "读数据时 L≤200").
    pub(crate) const fn max_data_len(self) -> u8 {
        200
    }

    /// Largest data field of a write request: 50 bytes (both editions: "写数据时 L≤50").
    pub(crate) const fn max_write_len(self) -> u8 {
        50
    }

    /// Guesses the edition from a control byte: codes that exist in one edition only decide;
    /// `08` (broadcast time, both) and `03` (2007 security authentication / 1997 re-read) are
    /// ambiguous and give `None`. Callers usually default to 2007 then; for `03`, a request
    /// without data (`L = 0`) is the 1997 re-read.
    pub fn detect(control: Control) -> Option<Edition> {
        match control.code() {
            0x01 | 0x02 | 0x04 | 0x0A | 0x0C | 0x0F | 0x10 => Some(Edition::V1997),
            0x11..=0x1D => Some(Edition::V2007),
            _ => None,
        }
    }
}

impl fmt::Display for Edition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.year())
    }
}

/// Who sent a frame (bit D7 of the control byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Direction {
    /// D7 = 0: a command from the master (terminal, hand-held unit, head-end).
    MasterToSlave,
    /// D7 = 1: a reply from the meter.
    SlaveToMaster,
}

impl Direction {
    /// `"master_to_slave"` / `"slave_to_master"`.
    pub const fn name(self) -> &'static str {
        match self {
            Direction::MasterToSlave => "master_to_slave",
            Direction::SlaveToMaster => "slave_to_master",
        }
    }
}

/// The control byte, kept whole (lossless for unknown codes).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Control(pub u8);

impl Control {
    /// D7: direction bit (1 = reply from the meter).
    pub const DIRECTION: u8 = 0x80;
    /// D6: abnormal reply bit.
    pub const ABNORMAL: u8 = 0x40;
    /// D5: follow-up frames exist.
    pub const FOLLOW_UP: u8 = 0x20;
    /// D4..D0: function code mask.
    pub const CODE_MASK: u8 = 0x1F;

    /// A request (D7 = 0) for a function code.
    pub const fn request(code: u8) -> Control {
        Control(code & Self::CODE_MASK)
    }

    /// A normal reply (D7 = 1), with the follow-up bit if `more`.
    pub const fn reply(code: u8, more: bool) -> Control {
        let follow = if more { Self::FOLLOW_UP } else { 0 };
        Control((code & Self::CODE_MASK) | Self::DIRECTION | follow)
    }

    /// An abnormal reply (D7 = D6 = 1).
    pub const fn abnormal(code: u8) -> Control {
        Control((code & Self::CODE_MASK) | Self::DIRECTION | Self::ABNORMAL)
    }

    /// Direction (D7).
    pub const fn direction(self) -> Direction {
        if self.0 & Self::DIRECTION != 0 {
            Direction::SlaveToMaster
        } else {
            Direction::MasterToSlave
        }
    }

    /// Whether this is a reply (D7 = 1).
    pub const fn is_reply(self) -> bool {
        self.0 & Self::DIRECTION != 0
    }

    /// Abnormal reply (D6).
    pub const fn is_abnormal(self) -> bool {
        self.0 & Self::ABNORMAL != 0
    }

    /// Follow-up frames exist (D5).
    pub const fn has_follow_up(self) -> bool {
        self.0 & Self::FOLLOW_UP != 0
    }

    /// Function code D4..D0.
    pub const fn code(self) -> u8 {
        self.0 & Self::CODE_MASK
    }

    /// The function under an edition's table.
    pub fn function(self, edition: Edition) -> Function {
        Function::from_code(edition, self.code())
    }
}

impl fmt::Debug for Control {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Control(0x{:02X})", self.0)
    }
}

impl fmt::Display for Control {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02X}", self.0)
    }
}

/// A function (D4..D0 of the control byte), named the same in both editions; the codes differ
/// and [`Function::from_code`] / [`Function::code`] apply the right table.
///
/// | function | 2007 | 1997 |
/// |---|---|---|
/// | security authentication | 03 | — |
/// | broadcast time | 08 | 08 |
/// | read | 11 | 01 |
/// | read follow-up | 12 | 02 |
/// | re-read | — | 03 |
/// | read address | 13 | — |
/// | write | 14 | 04 |
/// | write address | 15 | 0A |
/// | freeze | 16 | — |
/// | change baud rate | 17 | 0C |
/// | change password | 18 | 0F |
/// | clear maximum demand | 19 | 10 |
/// | clear meter | 1A | — |
/// | clear events | 1B | — |
/// | remote control | 1C | — |
/// | multi-function terminal output | 1D | — |
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Function {
    /// 2007 `03`: ESAM security authentication (2013 amendment); payload opaque.
    SecurityAuth,
    /// `08`: broadcast time synchronisation.
    BroadcastTime,
    /// 2007 `11`, 1997 `01`: read data.
    Read,
    /// 2007 `12` (DI + SEQ), 1997 `02`: read follow-up data.
    ReadFollowUp,
    /// 1997 `03`: re-read (ask the meter to repeat its last reply).
    ReRead,
    /// 2007 `13`: read the communication address.
    ReadAddress,
    /// 2007 `14`, 1997 `04`: write data.
    Write,
    /// 2007 `15`, 1997 `0A`: write the communication address.
    WriteAddress,
    /// 2007 `16`: freeze.
    Freeze,
    /// 2007 `17`, 1997 `0C`: change the communication rate.
    ChangeBaud,
    /// 2007 `18`, 1997 `0F`: change password.
    ChangePassword,
    /// 2007 `19`, 1997 `10`: clear maximum demand.
    ClearMaxDemand,
    /// 2007 `1A`: clear the meter (energy, demand, events).
    ClearMeter,
    /// 2007 `1B`: clear events.
    ClearEvents,
    /// 2007 `1C`: remote control (trip, allow close, alarm, guard).
    RemoteControl,
    /// 2007 `1D`: multi-function terminal output control.
    MultiFunctionOutput,
    /// A code that the edition does not define (kept losslessly).
    Unknown(u8),
}

impl Function {
    /// The function of a code (D4..D0) under an edition's table.
    pub const fn from_code(edition: Edition, code: u8) -> Function {
        let code = code & Control::CODE_MASK;
        match edition {
            Edition::V2007 => match code {
                0x03 => Function::SecurityAuth,
                0x08 => Function::BroadcastTime,
                0x11 => Function::Read,
                0x12 => Function::ReadFollowUp,
                0x13 => Function::ReadAddress,
                0x14 => Function::Write,
                0x15 => Function::WriteAddress,
                0x16 => Function::Freeze,
                0x17 => Function::ChangeBaud,
                0x18 => Function::ChangePassword,
                0x19 => Function::ClearMaxDemand,
                0x1A => Function::ClearMeter,
                0x1B => Function::ClearEvents,
                0x1C => Function::RemoteControl,
                0x1D => Function::MultiFunctionOutput,
                other => Function::Unknown(other),
            },
            Edition::V1997 => match code {
                0x01 => Function::Read,
                0x02 => Function::ReadFollowUp,
                0x03 => Function::ReRead,
                0x04 => Function::Write,
                0x08 => Function::BroadcastTime,
                0x0A => Function::WriteAddress,
                0x0C => Function::ChangeBaud,
                0x0F => Function::ChangePassword,
                0x10 => Function::ClearMaxDemand,
                other => Function::Unknown(other),
            },
        }
    }

    /// The code (D4..D0) of this function in an edition, `None` if the edition lacks it.
    pub const fn code(self, edition: Edition) -> Option<u8> {
        match edition {
            Edition::V2007 => match self {
                Function::SecurityAuth => Some(0x03),
                Function::BroadcastTime => Some(0x08),
                Function::Read => Some(0x11),
                Function::ReadFollowUp => Some(0x12),
                Function::ReadAddress => Some(0x13),
                Function::Write => Some(0x14),
                Function::WriteAddress => Some(0x15),
                Function::Freeze => Some(0x16),
                Function::ChangeBaud => Some(0x17),
                Function::ChangePassword => Some(0x18),
                Function::ClearMaxDemand => Some(0x19),
                Function::ClearMeter => Some(0x1A),
                Function::ClearEvents => Some(0x1B),
                Function::RemoteControl => Some(0x1C),
                Function::MultiFunctionOutput => Some(0x1D),
                Function::ReRead => None,
                Function::Unknown(c) => Some(c & Control::CODE_MASK),
            },
            Edition::V1997 => match self {
                Function::Read => Some(0x01),
                Function::ReadFollowUp => Some(0x02),
                Function::ReRead => Some(0x03),
                Function::Write => Some(0x04),
                Function::BroadcastTime => Some(0x08),
                Function::WriteAddress => Some(0x0A),
                Function::ChangeBaud => Some(0x0C),
                Function::ChangePassword => Some(0x0F),
                Function::ClearMaxDemand => Some(0x10),
                Function::Unknown(c) => Some(c & Control::CODE_MASK),
                _ => None,
            },
        }
    }

    /// snake_case name (`"read"`, `"remote_control"`, `"unknown"` …).
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Function::SecurityAuth => "security_authentication",
            Function::BroadcastTime => "broadcast_time",
            Function::Read => "read",
            Function::ReadFollowUp => "read_follow_up",
            Function::ReRead => "re_read",
            Function::ReadAddress => "read_address",
            Function::Write => "write",
            Function::WriteAddress => "write_address",
            Function::Freeze => "freeze",
            Function::ChangeBaud => "change_baud",
            Function::ChangePassword => "change_password",
            Function::ClearMaxDemand => "clear_max_demand",
            Function::ClearMeter => "clear_meter",
            Function::ClearEvents => "clear_events",
            Function::RemoteControl => "remote_control",
            Function::MultiFunctionOutput => "multi_function_output",
            Function::Unknown(_) => "unknown",
        }
    }
}

impl fmt::Display for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL_2007: [u8; 15] = [
        0x03, 0x08, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x1B, 0x1C, 0x1D,
    ];
    const ALL_1997: [u8; 9] = [0x01, 0x02, 0x03, 0x04, 0x08, 0x0A, 0x0C, 0x0F, 0x10];

    #[test]
    fn tables_round_trip() {
        for e in [Edition::V2007, Edition::V1997] {
            for code in 0..32u8 {
                let f = Function::from_code(e, code);
                assert_eq!(f.code(e), Some(code), "{e} {code:02X}");
                let known = match e {
                    Edition::V2007 => ALL_2007.contains(&code),
                    Edition::V1997 => ALL_1997.contains(&code),
                };
                assert_eq!(!matches!(f, Function::Unknown(_)), known, "{e} {code:02X}");
            }
        }
    }

    #[test]
    fn edition_specific_codes() {
        // DL/T 645-2007 and -1997 control codes differ: 2007 codes in 1997 frames and vice versa.
        assert_eq!(
            Function::from_code(Edition::V1997, 0x11),
            Function::Unknown(0x11)
        );
        assert_eq!(
            Function::from_code(Edition::V2007, 0x10),
            Function::Unknown(0x10)
        );
        assert_eq!(Function::ClearMaxDemand.code(Edition::V2007), Some(0x19));
        assert_eq!(Function::ClearMaxDemand.code(Edition::V1997), Some(0x10));
        assert_eq!(Function::RemoteControl.code(Edition::V1997), None);
        assert_eq!(Function::ReRead.code(Edition::V2007), None);
        assert_eq!(Function::from_code(Edition::V1997, 0x03), Function::ReRead);
        assert_eq!(
            Function::from_code(Edition::V2007, 0x03),
            Function::SecurityAuth
        );
    }

    #[test]
    fn bits() {
        let c = Control(0xB2);
        assert!(c.is_reply() && c.has_follow_up() && !c.is_abnormal());
        assert_eq!(c.function(Edition::V2007), Function::ReadFollowUp);
        assert!(Control(0xD1).is_abnormal());
        assert_eq!(Control::reply(0x11, true), Control(0xB1));
        assert_eq!(Control::abnormal(0x1C), Control(0xDC));
        assert_eq!(Edition::detect(Control(0x91)), Some(Edition::V2007));
        assert_eq!(Edition::detect(Control(0x81)), Some(Edition::V1997));
        assert_eq!(Edition::detect(Control(0x08)), None);
    }
}
