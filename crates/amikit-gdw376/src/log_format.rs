//! `defmt::Format` for the wire types (feature `defmt`): firmware that logs with `defmt` prints
//! addresses, AFNs and whole frames as the same one line as their `Display`, with the
//! formatting done on the host.

use defmt::{Format, Formatter, write};

use crate::address::Address;
use crate::afn::Afn;
use crate::control::Direction;
use crate::frame::Repr;

impl Format for Address {
    /// `A1` as four hex digits, a dash, `A2` in decimal.
    fn format(&self, f: Formatter<'_>) {
        write!(f, "{=u16:04X}-{=u32}", self.a1, self.a2);
    }
}

impl Format for Afn {
    fn format(&self, f: Formatter<'_>) {
        write!(f, "{=u8:02X}", self.0);
    }
}

impl Format for Repr<'_> {
    /// The frame as one line, like its `Display`.
    fn format(&self, f: Formatter<'_>) {
        let dir = match self.control.dir() {
            Direction::Down => "down",
            Direction::Up => "up",
        };
        write!(
            f,
            "{} {=str} {=str} AFN {} ({=str}) SEQ {=u8}{=str}{=str}{=str}, {=usize} B units{=str}{=str}{=str}",
            self.address,
            dir,
            self.control.function().name(),
            self.afn,
            self.afn.name(),
            self.seq.seq(),
            if self.seq.fir() { " FIR" } else { "" },
            if self.seq.fin() { " FIN" } else { "" },
            if self.seq.con() { " CON" } else { "" },
            self.units.len(),
            if self.pw.is_some() { ", PW" } else { "" },
            if self.ec.is_some() { ", EC" } else { "" },
            if self.tp.is_some() { ", Tp" } else { "" }
        );
    }
}
