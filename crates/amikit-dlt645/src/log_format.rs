//! `defmt::Format` for the wire types (feature `defmt`): firmware that logs with `defmt` prints
//! addresses, identifiers and whole frames as the same one line as their `Display`, with the
//! formatting done on the host.

use defmt::{Format, Formatter, write};

use crate::address::Address;
use crate::control::{Edition, Function};
use crate::di::{DataId, Di, Di97};
use crate::error_word::ErrorWord;
use crate::repr::{Body, Repr};

impl Format for Address {
    /// A5..A0, 12 hex digits, as the nameplate shows it.
    fn format(&self, f: Formatter<'_>) {
        let [a0, a1, a2, a3, a4, a5] = self.to_wire();
        write!(
            f,
            "{=u8:02X}{=u8:02X}{=u8:02X}{=u8:02X}{=u8:02X}{=u8:02X}",
            a5, a4, a3, a2, a1, a0
        );
    }
}

impl Format for Di {
    fn format(&self, f: Formatter<'_>) {
        write!(f, "{=u32:08X}", self.0);
    }
}

impl Format for Di97 {
    fn format(&self, f: Formatter<'_>) {
        write!(f, "{=u16:04X}", self.0);
    }
}

impl Format for DataId {
    fn format(&self, f: Formatter<'_>) {
        match self {
            DataId::V2007(d) => d.format(f),
            DataId::V1997(d) => d.format(f),
        }
    }
}

impl Format for Edition {
    fn format(&self, f: Formatter<'_>) {
        write!(f, "{=u16}", self.year());
    }
}

impl Format for Function {
    fn format(&self, f: Formatter<'_>) {
        write!(f, "{=str}", self.name());
    }
}

impl Format for ErrorWord {
    fn format(&self, f: Formatter<'_>) {
        write!(f, "{=u8:02X}", self.0);
    }
}

impl Format for Repr<'_> {
    /// The frame as one line, like its `Display`.
    fn format(&self, f: Formatter<'_>) {
        match &self.body {
            Body::Request(r) => match r.di() {
                Some(di) => write!(
                    f,
                    "{} {} request {} {}, {=usize} B",
                    self.edition,
                    self.address,
                    r.function(),
                    di,
                    self.data_len()
                ),
                None => write!(
                    f,
                    "{} {} request {}, {=usize} B",
                    self.edition,
                    self.address,
                    r.function(),
                    self.data_len()
                ),
            },
            Body::Reply(r) => match r.di_data() {
                Some((di, _)) => write!(
                    f,
                    "{} {} reply {} {}{=str}, {=usize} B",
                    self.edition,
                    self.address,
                    r.function(),
                    di,
                    if r.more() { " (more follows)" } else { "" },
                    self.data_len()
                ),
                None => write!(
                    f,
                    "{} {} reply {}, {=usize} B",
                    self.edition,
                    self.address,
                    r.function(),
                    self.data_len()
                ),
            },
            Body::Abnormal {
                function, error, ..
            } => write!(
                f,
                "{} {} abnormal {}: {}",
                self.edition, self.address, function, error
            ),
            Body::Unknown { control, .. } => write!(
                f,
                "{} {} unknown control {=u8:02X}, {=usize} B",
                self.edition,
                self.address,
                control.0,
                self.data_len()
            ),
        }
    }
}
