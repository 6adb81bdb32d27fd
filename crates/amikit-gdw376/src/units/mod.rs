//! Typed data units for the prepaid-critical set (see the crate README for the list).
//!
//! [`Value::parse`] turns a walked [`Unit`](crate::Unit)'s bytes into a [`Value`] when a typed layout
//! is known for its AFN, Fn, direction and profile (`Ok(None)` otherwise — the bytes stay
//! available). Every value can be written back with [`Value::emit`].

pub mod class1;
pub mod class2;
pub mod codec;
pub mod common;
pub mod config;
pub mod confirm;
pub mod control;
pub mod events;
pub mod file;
pub mod forward;
pub mod param;

pub use class1::{
    EnergyRegisters, ParamChanges, PurchaseInfo, PurchaseInfoRef, Realtime, RealtimeRef, Registers,
    Settlement,
};
pub use class2::{TdKind, TimeLabel};
pub use codec::{FormatSeq, Reader, UnitLayout, Writer};
pub use common::HexBytes;
pub use config::TerminalVersion;
pub use confirm::{ItemResult, ItemResults};
pub use control::{GuardOn, RemoteTrip};
pub use events::{Erc, EventBlock, EventRecord, EventRequest};
pub use file::FileSegment;
pub use forward::{CommControl, ForwardReply, ForwardRequest, Parity, SerialSettings};
pub use param::{CommParams, MasterAddresses, MeterConfig, MeterTable, PurchaseControl};

use crate::afn::Afn;
use crate::control::Direction;
use crate::dadt::InfoClass;
use crate::error::{EncodeError, UnitError};
use crate::format::{Format01, Format03, Format11, Format14, ReadOptions};
use crate::profile::{Leniency, Profile};

/// A typed data unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "snake_case")
)]
#[non_exhaustive]
pub enum Value<'a> {
    /// A unit without data: AFN 00 F1 (all confirmed) / F2 (all denied), AFN 01 F1–F4 resets,
    /// AFN 02 F1 login / F2 logout / F3 heartbeat, AFN 05 F2 allow close, F16/F24 purchase
    /// control on/off, F26/F34 reminder alarm on/off, F33 guard off, and read requests.
    Empty,
    /// Extra bytes after an AFN 02 DA/DT (leniency `link-data`).
    LinkData(#[cfg_attr(feature = "serde", serde(serialize_with = "common::ser_hex"))] &'a [u8]),
    /// AFN 00 F3: per-item confirm / deny.
    ItemResults(ItemResults<'a>),
    /// AFN 04 / 0A F1: uplink communication parameters.
    CommParams(CommParams),
    /// AFN 04 / 0A F3: master-station addresses and APN.
    MasterAddresses(MasterAddresses),
    /// AFN 04 / 0A F10: meter table.
    MeterTable(MeterTable<'a>),
    /// AFN 04 / 0A F47: purchase-control parameters.
    PurchaseControl(PurchaseControl),
    /// AFN 05 F1: remote trip.
    RemoteTrip(RemoteTrip),
    /// AFN 05 F25: keep-supply (guard) on.
    GuardOn(GuardOn),
    /// AFN 05 F31: clock synchronisation (format 01).
    ClockSync(Option<Format01>),
    /// AFN 09 F1: terminal version.
    TerminalVersion(TerminalVersion),
    /// AFN 0C F2: terminal clock (format 01).
    Clock(Option<Format01>),
    /// AFN 0C F23: remaining energy / fee of a total-add group (format 03).
    Remaining(Option<Format03>),
    /// AFN 0C F25: realtime P, Q, PF, U, I, S (checked; [`RealtimeRef::get`] reads them).
    Realtime(RealtimeRef<'a>),
    /// AFN 0C F33/F34/F37/F38: energy registers.
    EnergyRegisters(EnergyRegisters<'a>),
    /// AFN 0C F129/F131/F137/F139: active energy registers (format 14).
    ActiveEnergy(Registers<'a, Format14>),
    /// AFN 0C F130/F132–F136/F138/F140–F144: reactive energy registers (format 11).
    ReactiveEnergy(Registers<'a, Format11>),
    /// AFN 0C F166: meter parameter changes.
    ParamChanges(ParamChanges),
    /// AFN 0C F167: meter purchase / usage information, 2009 or 2013 length by profile
    /// (checked; [`PurchaseInfoRef::get`] reads it).
    PurchaseInfo(PurchaseInfoRef<'a>),
    /// AFN 0C F168: meter settlement information.
    Settlement(Settlement<'a>),
    /// AFN 0D request: the time label.
    FrozenRequest(TimeLabel),
    /// AFN 0D F1/F2/F9/F10/F17/F18 reply: time label and energy registers.
    FrozenEnergy {
        /// Td.
        label: TimeLabel,
        /// The registers.
        registers: EnergyRegisters<'a>,
    },
    /// AFN 0D F161/F163/F169/F171/F177/F179 reply: time label and active energy.
    FrozenActive {
        /// Td.
        label: TimeLabel,
        /// The registers.
        registers: Registers<'a, Format14>,
    },
    /// AFN 0D F162/F164–F168/F170/F172–F176/F178/F180–F184 reply: time label and reactive
    /// energy.
    FrozenReactive {
        /// Td.
        label: TimeLabel,
        /// The registers.
        registers: Registers<'a, Format11>,
    },
    /// AFN 0E F1/F2 request.
    EventRequest(EventRequest),
    /// AFN 0E F1/F2 reply or report.
    Events(EventBlock<'a>),
    /// AFN 0F F1 downlink.
    FileSegment(FileSegment<'a>),
    /// AFN 0F F1 uplink: the segment index received.
    FileAck(u32),
    /// AFN 06 F1: identity-authentication request (16 bytes; see [`crate::identity`]).
    AuthRequest([u8; 16]),
    /// AFN 06 F2: identity-authentication response (16 bytes).
    AuthResponse([u8; 16]),
    /// AFN 06 F3: random-number request (16 bytes).
    RandomRequest([u8; 16]),
    /// AFN 06 F4: random-number response (16 bytes).
    RandomResponse([u8; 16]),
    /// AFN 10 F1 downlink.
    ForwardRequest(ForwardRequest<'a>),
    /// AFN 10 F1 uplink.
    ForwardReply(ForwardReply<'a>),
}

/// Read options a profile implies.
#[must_use]
pub fn read_options(profile: &Profile) -> ReadOptions {
    ReadOptions {
        ef_absent: profile.allows(Leniency::EF_ABSENT),
    }
}

impl<'a> Value<'a> {
    /// Reads a unit's data when a typed layout is known for its AFN, Fn, direction and
    /// profile; `Ok(None)` when not (the bytes stay available).
    ///
    /// # Errors
    ///
    /// [`UnitError`] when the layout is known but the bytes do not fit it (length, non-BCD
    /// digits).
    pub fn parse(
        profile: &Profile,
        afn: Afn,
        dir: Direction,
        fn_: InfoClass,
        data: &'a [u8],
    ) -> Result<Option<Value<'a>>, UnitError> {
        let mut r = Reader::new(data, read_options(profile));
        let down = matches!(dir, Direction::Down);
        let f = fn_.0;
        let v = match (afn.0, down, f) {
            (0x00, _, 1 | 2) => Value::Empty,
            (0x00, _, 3) => Value::ItemResults(ItemResults::parse(&mut r)?),
            (0x01, true, 1..=4) => Value::Empty,
            (0x02, _, 1..=3) if profile.allows(Leniency::LINK_DATA) && !data.is_empty() => {
                Value::LinkData(r.bytes(data.len())?)
            }
            (0x02, _, 1..=3) => Value::Empty,
            (0x04, true, _) | (0x0A, false, _) => match f {
                1 => Value::CommParams(CommParams::parse(&mut r)?),
                3 => Value::MasterAddresses(MasterAddresses::parse(&mut r)?),
                10 => Value::MeterTable(MeterTable::parse(&mut r)?),
                47 => Value::PurchaseControl(PurchaseControl::parse(&mut r)?),
                _ => return Ok(None),
            },
            (0x0A, true, _) if data.is_empty() => Value::Empty,
            (0x05, true, 1) => Value::RemoteTrip(RemoteTrip::parse(&mut r)?),
            (0x05, true, 2 | 16 | 24 | 26 | 33 | 34) => Value::Empty,
            (0x05, true, 25) => Value::GuardOn(GuardOn::parse(&mut r)?),
            (0x05, true, 31) => Value::ClockSync(r.fmt()?),
            (0x09, true, _) | (0x0C, true, _) if data.is_empty() => Value::Empty,
            (0x09, false, 1) => Value::TerminalVersion(TerminalVersion::parse(&mut r)?),
            (0x0C, false, _) => match f {
                2 => Value::Clock(r.fmt()?),
                23 => Value::Remaining(r.fmt()?),
                25 => Value::Realtime(RealtimeRef::parse(&mut r)?),
                33 | 34 | 37 | 38 => Value::EnergyRegisters(EnergyRegisters::parse(&mut r)?),
                129 | 131 | 137 | 139 => Value::ActiveEnergy(Registers::parse(&mut r)?),
                130 | 132..=136 | 138 | 140..=144 => {
                    Value::ReactiveEnergy(Registers::parse(&mut r)?)
                }
                166 => Value::ParamChanges(ParamChanges::parse(&mut r)?),
                167 => {
                    Value::PurchaseInfo(PurchaseInfoRef::parse_version(&mut r, profile.version)?)
                }
                168 => Value::Settlement(Settlement::parse(&mut r)?),
                _ => return Ok(None),
            },
            (0x0D, _, _) => {
                let Some(kind) = TdKind::of(f) else {
                    return Ok(None);
                };
                let label = TimeLabel::parse(&mut r, kind)?;
                if down {
                    Value::FrozenRequest(label)
                } else {
                    match f {
                        1 | 2 | 9 | 10 | 17 | 18 => Value::FrozenEnergy {
                            label,
                            registers: EnergyRegisters::parse(&mut r)?,
                        },
                        161 | 163 | 169 | 171 | 177 | 179 => Value::FrozenActive {
                            label,
                            registers: Registers::parse(&mut r)?,
                        },
                        162 | 164..=168 | 170 | 172..=176 | 178 | 180..=184 => {
                            Value::FrozenReactive {
                                label,
                                registers: Registers::parse(&mut r)?,
                            }
                        }
                        _ => return Ok(None),
                    }
                }
            }
            (0x0E, true, 1 | 2) => Value::EventRequest(EventRequest::parse(&mut r)?),
            (0x0E, false, 1 | 2) => Value::Events(EventBlock::parse(&mut r)?),
            (0x06, _, 1) => Value::AuthRequest(r.array()?),
            (0x06, _, 2) => Value::AuthResponse(r.array()?),
            (0x06, _, 3) => Value::RandomRequest(r.array()?),
            (0x06, _, 4) => Value::RandomResponse(r.array()?),
            (0x0F, true, 1) => Value::FileSegment(FileSegment::parse(&mut r)?),
            (0x0F, false, 1) => Value::FileAck(r.u32()?),
            (0x10, true, 1) => Value::ForwardRequest(ForwardRequest::parse(&mut r)?),
            (0x10, false, 1) => Value::ForwardReply(ForwardReply::parse(&mut r)?),
            _ => return Ok(None),
        };
        r.end()?;
        Ok(Some(v))
    }
}

impl Value<'_> {
    /// Writes the unit's data (not its DA/DT) into `out`; returns the bytes written.
    ///
    /// # Errors
    ///
    /// [`EncodeError`].
    pub fn emit(&self, out: &mut [u8]) -> Result<usize, EncodeError> {
        let mut w = Writer::new(out);
        match self {
            Value::Empty => {}
            Value::LinkData(b) => w.bytes(b)?,
            Value::ItemResults(v) => v.emit(&mut w)?,
            Value::CommParams(v) => v.emit(&mut w)?,
            Value::MasterAddresses(v) => v.emit(&mut w)?,
            Value::MeterTable(v) => v.emit(&mut w)?,
            Value::PurchaseControl(v) => v.emit(&mut w)?,
            Value::RemoteTrip(v) => v.emit(&mut w)?,
            Value::GuardOn(v) => v.emit(&mut w)?,
            Value::ClockSync(v) | Value::Clock(v) => w.fmt(v.as_ref())?,
            Value::TerminalVersion(v) => v.emit(&mut w)?,
            Value::Remaining(v) => w.fmt(v.as_ref())?,
            Value::Realtime(v) => v.emit(&mut w)?,
            Value::EnergyRegisters(v) => v.emit(&mut w)?,
            Value::ActiveEnergy(v) => v.emit(&mut w)?,
            Value::ReactiveEnergy(v) => v.emit(&mut w)?,
            Value::ParamChanges(v) => v.emit(&mut w)?,
            Value::PurchaseInfo(v) => v.emit(&mut w)?,
            Value::Settlement(v) => v.emit(&mut w)?,
            Value::FrozenRequest(l) => l.emit(&mut w)?,
            Value::FrozenEnergy { label, registers } => {
                label.emit(&mut w)?;
                registers.emit(&mut w)?;
            }
            Value::FrozenActive { label, registers } => {
                label.emit(&mut w)?;
                registers.emit(&mut w)?;
            }
            Value::FrozenReactive { label, registers } => {
                label.emit(&mut w)?;
                registers.emit(&mut w)?;
            }
            Value::EventRequest(v) => v.emit(&mut w)?,
            Value::Events(v) => v.emit(&mut w)?,
            Value::FileSegment(v) => v.emit(&mut w)?,
            Value::FileAck(i) => w.u32(*i)?,
            Value::AuthRequest(b)
            | Value::AuthResponse(b)
            | Value::RandomRequest(b)
            | Value::RandomResponse(b) => w.bytes(b)?,
            Value::ForwardRequest(v) => v.emit(&mut w)?,
            Value::ForwardReply(v) => v.emit(&mut w)?,
        }
        Ok(w.pos())
    }
}

impl<'a> crate::walker::Unit<'a> {
    /// Decodes this unit's data (see [`Value::parse`]).
    ///
    /// # Errors
    ///
    /// As [`Value::parse`].
    pub fn value(
        &self,
        profile: &Profile,
        afn: Afn,
        dir: Direction,
    ) -> Result<Option<Value<'a>>, UnitError> {
        Value::parse(profile, afn, dir, self.fn_, self.data)
    }
}
