//! The application function code AFN (Q/GDW 1376.1-2013, application layer: AFN) and command ids.

use core::fmt;

use crate::dadt::InfoClass;

/// An application function code, kept as sent (unknown codes round-trip).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Afn(pub u8);

impl Afn {
    /// 00: confirm / deny.
    pub const CONFIRM: Afn = Afn(0x00);
    /// 01: reset.
    pub const RESET: Afn = Afn(0x01);
    /// 02: link test (login, logout, heartbeat).
    pub const LINK_TEST: Afn = Afn(0x02);
    /// 03: relay-station command.
    pub const RELAY: Afn = Afn(0x03);
    /// 04: set parameters.
    pub const SET_PARAMETERS: Afn = Afn(0x04);
    /// 05: control.
    pub const CONTROL: Afn = Afn(0x05);
    /// 06: authentication and key negotiation.
    pub const AUTHENTICATION: Afn = Afn(0x06);
    /// 08: request a cascaded terminal's active report.
    pub const CASCADE: Afn = Afn(0x08);
    /// 09: terminal configuration.
    pub const CONFIGURATION: Afn = Afn(0x09);
    /// 0A: query parameters.
    pub const QUERY_PARAMETERS: Afn = Afn(0x0A);
    /// 0B: request task data.
    pub const TASK_DATA: Afn = Afn(0x0B);
    /// 0C: class-1 (realtime) data.
    pub const CLASS1: Afn = Afn(0x0C);
    /// 0D: class-2 (frozen) data.
    pub const CLASS2: Afn = Afn(0x0D);
    /// 0E: class-3 data (events).
    pub const CLASS3: Afn = Afn(0x0E);
    /// 0F: file transfer.
    pub const FILE_TRANSFER: Afn = Afn(0x0F);
    /// 10: data forwarding.
    pub const FORWARD: Afn = Afn(0x10);

    /// A short English name, or "unknown".
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self.0 {
            0x00 => "confirm/deny",
            0x01 => "reset",
            0x02 => "link test",
            0x03 => "relay command",
            0x04 => "set parameters",
            0x05 => "control",
            0x06 => "authentication",
            0x08 => "cascade report request",
            0x09 => "terminal configuration",
            0x0A => "query parameters",
            0x0B => "task data",
            0x0C => "class 1 data",
            0x0D => "class 2 data",
            0x0E => "class 3 data (events)",
            0x0F => "file transfer",
            0x10 => "data forwarding",
            _ => "unknown",
        }
    }

    /// True for AFNs whose requests are executed and answered with AFN 00 (reset, set, control,
    /// authentication, file transfer are *commands*); false for reads.
    #[must_use]
    pub const fn is_command(self) -> bool {
        matches!(self.0, 0x01 | 0x04 | 0x05)
    }
}

impl fmt::Debug for Afn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Afn({:02X} {})", self.0, self.name())
    }
}

impl fmt::Display for Afn {
    /// Two hex digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02X}", self.0)
    }
}

/// A command id `(AFN << 8) | Fn`, derived rather than hand-typed (a hand-typed
/// table in another open-source library made two commands collide).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Command(pub u16);

impl From<(Afn, InfoClass)> for Command {
    /// The id of `Fn` under `afn`.
    fn from((afn, fn_): (Afn, InfoClass)) -> Self {
        Command((u16::from(afn.0) << 8) | u16::from(fn_.0))
    }
}

impl From<Command> for (Afn, InfoClass) {
    /// The AFN and the Fn of a command id.
    fn from(c: Command) -> Self {
        let [afn, fn_] = c.0.to_be_bytes();
        (Afn(afn), InfoClass(fn_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_ids_do_not_collide() {
        // Notes §2.4: AFN 10 F1 and AFN 0E F1 must differ.
        let forward = Command::from((Afn::FORWARD, InfoClass(1)));
        let events = Command::from((Afn::CLASS3, InfoClass(1)));
        assert_ne!(forward, events);
        assert_eq!(forward.0, 0x1001);
        assert_eq!(
            <(Afn, InfoClass)>::from(forward),
            (Afn::FORWARD, InfoClass(1))
        );
        assert_eq!(Afn(0x0C).name(), "class 1 data");
        assert_eq!(Afn(0x07).name(), "unknown");
    }
}
