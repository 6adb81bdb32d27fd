//! AFN 0E F1/F2 (class-3 data, events). Request: `Pm Pn` pointers. Reply (and terminal-initiated
//! report): `EC1 EC2 Pm Pn {ERC Le data[Le]}*` with `Pn − Pm` (mod 256) records. Records are
//! walked by `Le`, never by a fixed table (Q/GDW 1376.1-2013, AFN 0EH, event record format): unknown and vendor ERCs (e.g. 52) are
//! kept as raw records, and a record longer than its known layout keeps its extra bytes.

use super::codec::{Reader, UnitLayout, Writer};
use crate::dadt::DaDt;
use crate::error::{EncodeError, UnitError};
use crate::format::{DataFormat, Format07, Format15, ReadOptions, read};

/// AFN 0E request: read events `Pm ≤ i < Pn` (mod 256).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct EventRequest {
    /// Start pointer.
    pub pm: u8,
    /// End pointer (exclusive).
    pub pn: u8,
}

impl<'a> UnitLayout<'a> for EventRequest {
    /// Parses the unit.
    ///
    /// # Errors
    ///
    /// [`UnitError::Length`].
    fn parse(r: &mut Reader<'a>) -> Result<Self, UnitError> {
        Ok(EventRequest {
            pm: r.u8()?,
            pn: r.u8()?,
        })
    }
    /// Writes the unit.
    ///
    /// # Errors
    ///
    /// As [`Writer`].
    fn emit(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.u8(self.pm)?;
        w.u8(self.pn)
    }
}

/// One event record `ERC Le data`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventRecord<'a> {
    /// Event code.
    pub erc: u8,
    /// The `Le` data bytes.
    pub data: &'a [u8],
}

/// The common ERCs, typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum Erc<'a> {
    /// ERC 1: data initialisation / version change: time, flags (D0 init, D1 version change),
    /// old and new software version.
    Init {
        /// Event time.
        time: Option<Format15>,
        /// Flags.
        flags: u8,
        /// Version before.
        #[cfg_attr(feature = "serde", serde(serialize_with = "super::common::ser_hex"))]
        old_version: [u8; 4],
        /// Version after.
        #[cfg_attr(feature = "serde", serde(serialize_with = "super::common::ser_hex"))]
        new_version: [u8; 4],
    },
    /// ERC 3: parameter change: time, the master station's address, the changed DA/DTs.
    ParameterChange {
        /// Event time.
        time: Option<Format15>,
        /// Master-station address that changed them.
        msa: u8,
        /// The changed parameters' DA/DT, raw (4 bytes each).
        #[cfg_attr(feature = "serde", serde(serialize_with = "super::common::ser_hex"))]
        dadts: &'a [u8],
    },
    /// ERC 14: power off / power on. Times are reported as sent, even when "on" precedes "off"
    /// (seen in captured traffic).
    PowerOffOn {
        /// Power-off time.
        off: Option<Format15>,
        /// Power-on time.
        on: Option<Format15>,
    },
    /// ERC 24: voltage limit: time, pn (D11–D0) with start (D15 = 1) / end flag, limit flags,
    /// voltages A, B, C at the event (format 07).
    VoltageLimit {
        /// Event time.
        time: Option<Format15>,
        /// Measurement point.
        pn: u16,
        /// True at the start of the event, false at its end.
        start: bool,
        /// Limit flags.
        flags: u8,
        /// Voltages A, B, C.
        voltage: [Option<Format07>; 3],
    },
    /// Any other ERC (vendor codes included), or a record that does not fit its typed layout.
    Other {
        /// Event code.
        erc: u8,
        /// Event time, when the record starts with a valid format 15.
        time: Option<Format15>,
        /// The record data.
        #[cfg_attr(feature = "serde", serde(serialize_with = "super::common::ser_hex"))]
        data: &'a [u8],
    },
}

impl<'a> EventRecord<'a> {
    /// Decodes the common ERCs; others (and records too short for their layout) as
    /// [`Erc::Other`].
    #[must_use]
    pub fn decode(&self, opts: ReadOptions) -> Erc<'a> {
        let d = self.data;
        let t = |off: usize| {
            d.get(off..)
                .and_then(|b| read::<Format15>(b, opts).ok().flatten())
        };
        let typed = match self.erc {
            1 => match d.get(5..14) {
                Some(&[flags, a, b, c, e, f, g, h, i]) => Some(Erc::Init {
                    time: t(0),
                    flags,
                    old_version: [a, b, c, e],
                    new_version: [f, g, h, i],
                }),
                _ => None,
            },
            3 => match d.get(5..) {
                Some([msa, rest @ ..]) if rest.len() % 4 == 0 => Some(Erc::ParameterChange {
                    time: t(0),
                    msa: *msa,
                    dadts: rest,
                }),
                _ => None,
            },
            14 if d.len() >= 10 => Some(Erc::PowerOffOn {
                off: t(0),
                on: t(5),
            }),
            24 if d.len() >= 14 => match d.get(5..8) {
                Some(&[p0, p1, flags]) => {
                    let word = u16::from_le_bytes([p0, p1]);
                    let v = |off: usize| {
                        d.get(off..)
                            .and_then(|b| read::<Format07>(b, opts).ok().flatten())
                    };
                    Some(Erc::VoltageLimit {
                        time: t(0),
                        pn: word & 0x0FFF,
                        start: word & 0x8000 != 0,
                        flags,
                        voltage: [v(8), v(10), v(12)],
                    })
                }
                _ => None,
            },
            _ => None,
        };
        typed.unwrap_or(Erc::Other {
            erc: self.erc,
            time: if d.len() >= Format15::LEN { t(0) } else { None },
            data: d,
        })
    }
    /// The changed DA/DTs of an ERC 3 record.
    pub fn dadts(data: &'a [u8]) -> impl Iterator<Item = DaDt> + 'a {
        data.chunks_exact(4)
            .filter_map(|c| c.first_chunk::<4>().map(|b| DaDt::from_bytes(*b)))
    }
}

/// AFN 0E F1/F2 reply or report: counters, pointers and records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventBlock<'a> {
    /// EC1: current important-event counter.
    pub ec1: u8,
    /// EC2: current normal-event counter.
    pub ec2: u8,
    /// Start pointer of the records.
    pub pm: u8,
    /// End pointer (exclusive).
    pub pn: u8,
    records: &'a [u8],
    opts: ReadOptions,
}

impl<'a> EventBlock<'a> {
    /// The records, in order.
    pub fn records(&self) -> impl Iterator<Item = EventRecord<'a>> + 'a {
        let mut rest = self.records;
        core::iter::from_fn(move || {
            let (&[erc, le], tail) = rest.split_first_chunk::<2>()?;
            let (data, tail) = tail.split_at_checked(usize::from(le))?;
            rest = tail;
            Some(EventRecord { erc, data })
        })
    }
    /// The records, decoded.
    pub fn events(&self) -> impl Iterator<Item = Erc<'a>> + 'a {
        let opts = self.opts;
        self.records().map(move |r| r.decode(opts))
    }
    /// Writes a block from records; `pn` is set to `pm + records`.
    ///
    /// # Errors
    ///
    /// [`EncodeError::OutOfRange`] for a record above 255 bytes or more than 255 records.
    pub fn write<'r>(
        w: &mut Writer<'_>,
        ec1: u8,
        ec2: u8,
        pm: u8,
        records: impl IntoIterator<Item = EventRecord<'r>>,
    ) -> Result<(), EncodeError> {
        let start = w.pos();
        w.bytes(&[ec1, ec2, pm, pm])?;
        let mut n = 0u8;
        for r in records {
            w.u8(r.erc)?;
            w.u8(u8::try_from(r.data.len()).map_err(|_| EncodeError::OutOfRange("event record"))?)?;
            w.bytes(r.data)?;
            n = n
                .checked_add(1)
                .ok_or(EncodeError::OutOfRange("event count"))?;
        }
        w.patch(start + 3, pm.wrapping_add(n))
    }
}

impl<'a> UnitLayout<'a> for EventBlock<'a> {
    /// Parses the unit (all records must be complete).
    ///
    /// # Errors
    ///
    /// [`UnitError::Length`].
    fn parse(r: &mut Reader<'a>) -> Result<Self, UnitError> {
        let ec1 = r.u8()?;
        let ec2 = r.u8()?;
        let pm = r.u8()?;
        let pn = r.u8()?;
        let start = r.remaining();
        let mut len = 0usize;
        for _ in 0..pn.wrapping_sub(pm) {
            let _erc = r.u8()?;
            let le = r.u8()?;
            r.bytes(usize::from(le))?;
            len += 2 + usize::from(le);
        }
        Ok(EventBlock {
            ec1,
            ec2,
            pm,
            pn,
            records: start.get(..len).unwrap_or(&[]),
            opts: r.options(),
        })
    }
    /// Writes the unit.
    ///
    /// # Errors
    ///
    /// As [`Writer`].
    fn emit(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.bytes(&[self.ec1, self.ec2, self.pm, self.pn])?;
        w.bytes(self.records)
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for EventBlock<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        struct Events<'b>(EventBlock<'b>);
        impl serde::Serialize for Events<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_seq(
                    self.0
                        .records()
                        .map(|r| Rec(r.erc, r.data.len(), r.decode(self.0.opts))),
                )
            }
        }
        struct Rec<'b>(u8, usize, Erc<'b>);
        impl serde::Serialize for Rec<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut st = s.serialize_struct("Event", 3)?;
                st.serialize_field("erc", &self.0)?;
                st.serialize_field("le", &self.1)?;
                st.serialize_field("event", &self.2)?;
                st.end()
            }
        }
        let mut st = s.serialize_struct("EventBlock", 5)?;
        st.serialize_field("ec1", &self.ec1)?;
        st.serialize_field("ec2", &self.ec2)?;
        st.serialize_field("pm", &self.pm)?;
        st.serialize_field("pn", &self.pn)?;
        st.serialize_field("events", &Events(*self))?;
        st.end()
    }
}
