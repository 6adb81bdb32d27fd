//! Remote control (2007 function `1C`): trip, allow close, direct close, alarm, guard; and the
//! relay state read back from status word 3 (`04000503`).
//!
//! Plaintext layout (`L = 16`): `PA P0 P1 P2 | C0..C3 | N1 | N2 | N3..N8` — password level and
//! password, operator code, command N1, N2 (reserved, kept as sent), valid-until time
//! `ss mm hh DD MM YY`. On ESAM smart meters everything after the operator code is an encrypted
//! block: [`RemoteBody::Encrypted`] carries it unchanged. Codes 1A/1B/1C are confirmed by open-source
//! vendor code; 2A/2B (alarm) and 3A/3B (guard, 保电) are from the DL/T 645-2007 text as recalled
//! by the amikit developers, not re-verified.

use core::fmt;

use crate::data::Data;
use crate::request::Auth;
use crate::value::DateTime;

/// The command byte N1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum RemoteCommand {
    /// `1A`: trip (跳闸), open the relay.
    Trip,
    /// `1B`: allow close (合闸允许): the customer closes the relay with the button.
    AllowClose,
    /// `1C`: close directly (直接合闸).
    DirectClose,
    /// `2A`: alarm (报警).
    Alarm,
    /// `2B`: alarm release (报警解除).
    AlarmRelease,
    /// `3A`: guard on (保电): never trip.
    GuardOn,
    /// `3B`: guard off (保电解除).
    GuardOff,
    /// Any other byte.
    Unknown(u8),
}

impl RemoteCommand {
    /// From N1.
    pub(crate) const fn from_byte(b: u8) -> Self {
        match b {
            0x1A => RemoteCommand::Trip,
            0x1B => RemoteCommand::AllowClose,
            0x1C => RemoteCommand::DirectClose,
            0x2A => RemoteCommand::Alarm,
            0x2B => RemoteCommand::AlarmRelease,
            0x3A => RemoteCommand::GuardOn,
            0x3B => RemoteCommand::GuardOff,
            other => RemoteCommand::Unknown(other),
        }
    }

    /// N1.
    pub(crate) const fn to_byte(self) -> u8 {
        match self {
            RemoteCommand::Trip => 0x1A,
            RemoteCommand::AllowClose => 0x1B,
            RemoteCommand::DirectClose => 0x1C,
            RemoteCommand::Alarm => 0x2A,
            RemoteCommand::AlarmRelease => 0x2B,
            RemoteCommand::GuardOn => 0x3A,
            RemoteCommand::GuardOff => 0x3B,
            RemoteCommand::Unknown(b) => b,
        }
    }

    /// snake_case name.
    pub(crate) const fn name(self) -> &'static str {
        match self {
            RemoteCommand::Trip => "trip",
            RemoteCommand::AllowClose => "allow_close",
            RemoteCommand::DirectClose => "direct_close",
            RemoteCommand::Alarm => "alarm",
            RemoteCommand::AlarmRelease => "alarm_release",
            RemoteCommand::GuardOn => "guard_on",
            RemoteCommand::GuardOff => "guard_off",
            RemoteCommand::Unknown(_) => "unknown",
        }
    }
}

impl fmt::Display for RemoteCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What follows the password and operator code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum RemoteBody<'a> {
    /// Plaintext N1..N8.
    Plain {
        /// N1.
        command: RemoteCommand,
        /// N2 (reserved; `00` when built here).
        reserved: u8,
        /// N3..N8: the command is void after this time.
        valid_until: DateTime,
    },
    /// An ESAM-encrypted block, carried unchanged.
    Encrypted(Data<'a>),
}

/// A remote-control request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct RemoteControl<'a> {
    /// Password level, password and operator code.
    pub auth: Auth,
    /// The command.
    pub body: RemoteBody<'a>,
}

impl<'a> RemoteControl<'a> {
    /// A plaintext command valid until `valid_until`.
    pub const fn plain(auth: Auth, command: RemoteCommand, valid_until: DateTime) -> Self {
        RemoteControl {
            auth,
            body: RemoteBody::Plain {
                command,
                reserved: 0,
                valid_until,
            },
        }
    }

    /// The plaintext command, if not encrypted.
    pub const fn command(&self) -> Option<RemoteCommand> {
        match self.body {
            RemoteBody::Plain { command, .. } => Some(command),
            RemoteBody::Encrypted(_) => None,
        }
    }
}

/// Status word 3 (`04000503`), with the relay bits confirmed from a captured
/// open/closed pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct StatusWord3(pub u16);

impl StatusWord3 {
    /// b4: relay state, 1 = open (断).
    pub const RELAY_OPEN: u16 = 1 << 4;
    /// b6: relay command state, 1 = open commanded.
    pub const RELAY_COMMAND_OPEN: u16 = 1 << 6;

    /// From the 2 data bytes of a `04000503` reply (plain, least significant first).
    pub(crate) const fn from_plain(bytes: [u8; 2]) -> Self {
        StatusWord3(u16::from_le_bytes(bytes))
    }

    /// The relay is open (supply cut).
    pub const fn relay_open(self) -> bool {
        self.0 & Self::RELAY_OPEN != 0
    }

    /// An open command is in force.
    pub const fn relay_command_open(self) -> bool {
        self.0 & Self::RELAY_COMMAND_OPEN != 0
    }
}

impl From<RemoteCommand> for u8 {
    /// N1.
    fn from(value: RemoteCommand) -> Self {
        value.to_byte()
    }
}

impl From<u8> for RemoteCommand {
    /// From N1 (any other byte is [`RemoteCommand::Unknown`]).
    fn from(value: u8) -> Self {
        RemoteCommand::from_byte(value)
    }
}

impl From<[u8; 2]> for StatusWord3 {
    /// From the 2 data bytes of a `04000503` reply (plain, least significant first).
    fn from(value: [u8; 2]) -> Self {
        StatusWord3::from_plain(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_bytes_round_trip() {
        for b in 0..=255u8 {
            assert_eq!(RemoteCommand::from_byte(b).to_byte(), b);
        }
        assert_eq!(RemoteCommand::from_byte(0x1A), RemoteCommand::Trip);
        assert_eq!(RemoteCommand::from_byte(0x3B), RemoteCommand::GuardOff);
    }

    #[test]
    fn relay_bits() {
        let open = StatusWord3::from_plain([0x50, 0x00]);
        assert!(open.relay_open() && open.relay_command_open());
        let closed = StatusWord3::from_plain([0x00, 0x00]);
        assert!(!closed.relay_open() && !closed.relay_command_open());
    }
}
