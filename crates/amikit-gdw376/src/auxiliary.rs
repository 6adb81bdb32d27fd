//! The auxiliary fields after the data units: PW, EC, Tp (Q/GDW 1376.1-2013, application layer: auxiliary information AUX).
//!
//! Order on the wire: data units, PW (downlink of AFN 01/04/05/06/0F/10, length per
//! [`Profile`](crate::Profile)), EC (uplink with ACD = 1), Tp (TpV = 1).

use crate::error::FormatError;
use crate::format::{DataFormat, Format16};

/// EC: the event counters sent with ACD = 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Ec {
    /// EC1: important-event counter.
    pub important: u8,
    /// EC2: normal-event counter.
    pub normal: u8,
}

impl Ec {
    /// Wire size.
    pub const LEN: usize = 2;
}

impl From<Ec> for [u8; 2] {
    /// The two bytes.
    fn from(ec: Ec) -> [u8; 2] {
        [ec.important, ec.normal]
    }
}

/// Tp: the time label `PFC(1) ss mm hh DD(4, format 16) delay(1, minutes BIN)`.
///
/// The send time is kept as sent (so that frames re-emit byte for byte); [`Tp::send_time`]
/// decodes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Tp {
    /// The start-frame counter PFC (its low nibble is the request's PSEQ).
    pub pfc: u8,
    /// Send time `ss mm hh DD`, BCD, as sent.
    pub time: [u8; 4],
    /// Allowed transmission delay in minutes; 0 = no limit.
    pub delay_min: u8,
}

impl From<[u8; 6]> for Tp {
    /// Reads the six bytes.
    fn from(b: [u8; 6]) -> Tp {
        Tp::from_bytes(b)
    }
}

impl From<Tp> for [u8; 6] {
    /// The six bytes.
    fn from(tp: Tp) -> [u8; 6] {
        let [a, b, c, d] = tp.time;
        [tp.pfc, a, b, c, d, tp.delay_min]
    }
}

impl Tp {
    /// Wire size.
    pub const LEN: usize = 6;

    /// A Tp for a send time.
    ///
    /// # Errors
    ///
    /// [`FormatError::OutOfRange`] when a field is above 99.
    pub fn new(pfc: u8, time: Format16, delay_min: u8) -> Result<Self, FormatError> {
        let mut t = [0u8; 4];
        time.emit(&mut t)?;
        Ok(Tp {
            pfc,
            time: t,
            delay_min,
        })
    }
    /// Reads the six bytes.
    #[must_use]
    pub const fn from_bytes(b: [u8; 6]) -> Self {
        Tp {
            pfc: b[0],
            time: [b[1], b[2], b[3], b[4]],
            delay_min: b[5],
        }
    }
    /// The send time.
    ///
    /// # Errors
    ///
    /// [`FormatError::NotBcd`].
    pub fn send_time(&self) -> Result<Format16, FormatError> {
        Format16::parse(&self.time)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tp_of_vector() {
        // gdw376-022: Tp 01 19 44 10 16 05 → PFC 1, 16th 10:44:19, 5 min.
        let tp = Tp::from_bytes([0x01, 0x19, 0x44, 0x10, 0x16, 0x05]);
        assert_eq!(tp.pfc, 1);
        assert_eq!(tp.delay_min, 5);
        let t = tp.send_time().unwrap();
        assert_eq!((t.day, t.hour, t.minute, t.second), (16, 10, 44, 19));
        assert_eq!(Tp::new(1, t, 5).unwrap(), tp);
        assert_eq!(<[u8; 6]>::from(tp), [0x01, 0x19, 0x44, 0x10, 0x16, 0x05]);
    }
}
