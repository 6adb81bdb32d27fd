//! The terminal's event records (ERC), as the master station pulls them with AFN 0E F1.
//!
//! Q/GDW 376.1 defines the record frame `ERC Le data[Le]` and a list of event codes; the
//! `amikit-gdw376` crate types a few of them (ERC 1, 3, 14, 24) and walks every other code as
//! [`Erc::Other`](amikit_gdw376::units::Erc::Other), whose `time` it reads when the data starts
//! with a format-15 time. The events this terminal raises use the standard codes whose meaning
//! fits, with a **simplified amikit layout** (the standard layouts of these codes carry
//! total-add groups and other fields the simulation does not have). Every record starts with
//! the event time (format 15, `mm hh DD MM YY`) and the measurement point (2 bytes, little
//! endian), so `Erc::Other { time, .. }` and [`StationEvent::decode`] both work:
//!
//! | ERC | when | data after `time(5) pn(2)` |
//! |---|---|---|
//! | 33 (电能表运行状态字变位) | the relay or guard state of a meter changed | status word 3 before (2, LE), after (2, LE), [`Cause`] (1) |
//! | 19 (购电参数设置记录) | a token was accepted on a meter's keypad | TID (4, LE), energy (format 11, kWh), money credited (format 14, 元; `EE` on a remote-fee meter), remaining money after (format 14; `EE` likewise) |
//! | 20 (消息认证错误记录) | a token was rejected | [`TokenRejection`] code (1) |
//! | 23 (电控告警事件) | a local-fee-control meter raised a credit alarm | alarm level (1: 1 low, 2 alarm 2, 3 overdraft, 4 exhausted), remaining money (format 14, 元, 0 when negative) |
//!
//! All four are recorded as **important** events: they advance EC1 and raise ACD, so a master
//! station that pulls events on ACD (the `amikit-gdw376` master session does) fetches them.

use std::collections::VecDeque;

use amikit_gdw376::format::{DataFormat, Format11, Format14, Format15, ReadOptions, read};
use amikit_gdw376::units::{EventBlock, EventRecord, Writer};

use crate::clock::{Civil, SimSeconds};

/// ERC 19: a token was accepted (amikit layout, see the module docs).
pub const ERC_TOKEN_ACCEPTED: u8 = 19;
/// ERC 20: a token was rejected (amikit layout).
pub const ERC_TOKEN_REJECTED: u8 = 20;
/// ERC 23: a local-fee-control meter raised a credit alarm (amikit layout).
pub const ERC_CREDIT_ALARM: u8 = 23;
/// ERC 33: a meter's relay / guard state changed (amikit layout).
pub const ERC_METER_STATUS: u8 = 33;

/// Why a meter's status word changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cause {
    /// A DL/T 645 remote-control frame (`1C`) from the terminal or forwarded from the master.
    Remote,
    /// The meter's own fee control (local prepayment engine).
    Fee,
    /// The customer pressed the button.
    Button,
    /// A token top-up at the meter.
    Token,
    /// Anything else.
    Other,
}

impl Cause {
    /// The byte in the record.
    pub const fn code(self) -> u8 {
        match self {
            Cause::Remote => 1,
            Cause::Fee => 2,
            Cause::Button => 3,
            Cause::Token => 4,
            Cause::Other => 0,
        }
    }

    /// From the byte in the record.
    pub const fn from_code(b: u8) -> Self {
        match b {
            1 => Cause::Remote,
            2 => Cause::Fee,
            3 => Cause::Button,
            4 => Cause::Token,
            _ => Cause::Other,
        }
    }

    /// A short lower-case name.
    pub const fn name(self) -> &'static str {
        match self {
            Cause::Remote => "remote",
            Cause::Fee => "fee",
            Cause::Button => "button",
            Cause::Token => "token",
            Cause::Other => "other",
        }
    }
}

/// Why a token was rejected (the byte of an ERC 20 record).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenRejection {
    /// Not 20 digits.
    Format,
    /// Authentication (CRC) failed: wrong meter, wrong key or a typo.
    Authentication,
    /// The key has expired.
    KeyExpired,
    /// Older than every token the meter remembers.
    Old,
    /// Already used (replay).
    Used,
    /// The meter's key type does not allow it.
    KeyType,
    /// An amount or value out of range, or a register overflow.
    Range,
    /// Not supported by this meter.
    Unsupported,
    /// Accepted by the STS decoder but refused by the prepayment engine (e.g. hoarding limit);
    /// the token stays unused.
    Refused,
    /// Anything else.
    Other,
}

impl TokenRejection {
    /// The byte in the record.
    pub const fn code(self) -> u8 {
        match self {
            TokenRejection::Format => 1,
            TokenRejection::Authentication => 2,
            TokenRejection::KeyExpired => 3,
            TokenRejection::Old => 4,
            TokenRejection::Used => 5,
            TokenRejection::KeyType => 6,
            TokenRejection::Range => 7,
            TokenRejection::Unsupported => 8,
            TokenRejection::Refused => 9,
            TokenRejection::Other => 0,
        }
    }

    /// From the byte in the record.
    pub const fn from_code(b: u8) -> Self {
        match b {
            1 => TokenRejection::Format,
            2 => TokenRejection::Authentication,
            3 => TokenRejection::KeyExpired,
            4 => TokenRejection::Old,
            5 => TokenRejection::Used,
            6 => TokenRejection::KeyType,
            7 => TokenRejection::Range,
            8 => TokenRejection::Unsupported,
            9 => TokenRejection::Refused,
            _ => TokenRejection::Other,
        }
    }

    /// A short lower-case name.
    pub const fn name(self) -> &'static str {
        match self {
            TokenRejection::Format => "format",
            TokenRejection::Authentication => "authentication",
            TokenRejection::KeyExpired => "key_expired",
            TokenRejection::Old => "old",
            TokenRejection::Used => "used",
            TokenRejection::KeyType => "key_type",
            TokenRejection::Range => "range",
            TokenRejection::Unsupported => "unsupported",
            TokenRejection::Refused => "refused",
            TokenRejection::Other => "other",
        }
    }
}

/// What happened at a meter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeterEvent {
    /// Status word 3 (relay, relay command, alarm, guard bits) changed.
    Status {
        /// Before.
        before: u16,
        /// After.
        after: u16,
        /// Why.
        cause: Cause,
    },
    /// A token was accepted.
    TokenAccepted {
        /// Its TID (minutes since the base date).
        tid: u32,
        /// Energy carried, in tenths of a kWh.
        tenths: u64,
        /// Money credited to the local wallet, 1e-4 元 (`None` on a remote-fee meter).
        credited: Option<i64>,
        /// The local wallet net of debt afterwards, 1e-4 元 (`None` on a remote-fee meter).
        net: Option<i64>,
    },
    /// A token was rejected.
    TokenRejected {
        /// Why.
        reason: TokenRejection,
    },
    /// A local-fee-control credit alarm went on.
    CreditAlarm {
        /// 1 low, 2 alarm 2, 3 overdraft, 4 exhausted.
        level: u8,
        /// The wallet net of debt, 1e-4 元.
        net: i64,
    },
}

/// An event at a measurement point, at a simulated time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StationEvent {
    /// When (simulated seconds since 2000-01-01).
    pub at: SimSeconds,
    /// The meter's measurement point.
    pub pn: u16,
    /// What.
    pub event: MeterEvent,
}

/// Longest record data this module writes.
pub const MAX_RECORD: usize = 32;

fn format15(at: SimSeconds) -> Format15 {
    let c = Civil::from_sim(at);
    Format15 {
        minute: c.minute,
        hour: c.hour,
        day: c.day,
        month: c.month,
        year: (c.year.rem_euclid(100)) as u8,
    }
}

fn money_f14(raw: Option<i64>) -> Option<Format14> {
    raw.and_then(|m| Format14::from_mantissa(m.max(0)).ok())
}

impl StationEvent {
    /// The ERC code of this event.
    pub const fn erc(&self) -> u8 {
        match self.event {
            MeterEvent::Status { .. } => ERC_METER_STATUS,
            MeterEvent::TokenAccepted { .. } => ERC_TOKEN_ACCEPTED,
            MeterEvent::TokenRejected { .. } => ERC_TOKEN_REJECTED,
            MeterEvent::CreditAlarm { .. } => ERC_CREDIT_ALARM,
        }
    }

    /// Writes the record data (without `ERC Le`); returns its length.
    pub fn encode(&self, out: &mut [u8; MAX_RECORD]) -> usize {
        let mut w = Writer::new(out);
        // Every field fits MAX_RECORD: the writes cannot fail, and a failure only shortens
        // the record (the walker then reports it as a short `Other`).
        let _ = (|| {
            w.fmt(Some(&format15(self.at)))?;
            w.u16(self.pn)?;
            match self.event {
                MeterEvent::Status {
                    before,
                    after,
                    cause,
                } => {
                    w.u16(before)?;
                    w.u16(after)?;
                    w.u8(cause.code())
                }
                MeterEvent::TokenAccepted {
                    tid,
                    tenths,
                    credited,
                    net,
                } => {
                    w.u32(tid)?;
                    let kwh = i64::try_from(tenths.saturating_mul(10)).unwrap_or(i64::MAX);
                    w.fmt(Format11::from_mantissa(kwh).ok().as_ref())?;
                    w.fmt(money_f14(credited).as_ref())?;
                    w.fmt(money_f14(net).as_ref())
                }
                MeterEvent::TokenRejected { reason } => w.u8(reason.code()),
                MeterEvent::CreditAlarm { level, net } => {
                    w.u8(level)?;
                    w.fmt(money_f14(Some(net)).as_ref())
                }
            }
        })();
        w.pos()
    }

    /// Reads a record written by [`StationEvent::encode`] (`None` for other codes or layouts).
    /// The year of the event time is taken as 20YY; seconds are lost (format 15 has none).
    pub fn decode(erc: u8, data: &[u8]) -> Option<StationEvent> {
        let opts = ReadOptions::default();
        let t: Format15 = read(data, opts).ok()??;
        let at = Civil::new(
            2000 + i32::from(t.year),
            t.month,
            t.day,
            t.hour,
            t.minute,
            0,
        )
        .to_sim();
        let rest = data.get(Format15::LEN..)?;
        let (pn, rest) = rest.split_first_chunk::<2>()?;
        let pn = u16::from_le_bytes(*pn);
        let event = match erc {
            ERC_METER_STATUS => match rest {
                [b0, b1, a0, a1, cause, ..] => MeterEvent::Status {
                    before: u16::from_le_bytes([*b0, *b1]),
                    after: u16::from_le_bytes([*a0, *a1]),
                    cause: Cause::from_code(*cause),
                },
                _ => return None,
            },
            ERC_TOKEN_ACCEPTED => {
                let (tid, rest) = rest.split_first_chunk::<4>()?;
                let kwh: Option<Format11> = read(rest, opts).ok()?;
                let rest = rest.get(Format11::LEN..)?;
                let credited: Option<Format14> = read(rest, opts).ok()?;
                let rest = rest.get(Format14::LEN..)?;
                let net: Option<Format14> = read(rest, opts).ok()?;
                let raw = |f: Option<Format14>| f.and_then(|f| i64::try_from(f.magnitude).ok());
                MeterEvent::TokenAccepted {
                    tid: u32::from_le_bytes(*tid),
                    tenths: kwh.map_or(0, |k| u64::from(k.magnitude) / 10),
                    credited: raw(credited),
                    net: raw(net),
                }
            }
            ERC_TOKEN_REJECTED => MeterEvent::TokenRejected {
                reason: TokenRejection::from_code(*rest.first()?),
            },
            ERC_CREDIT_ALARM => {
                let (&level, rest) = rest.split_first()?;
                let net: Option<Format14> = read(rest, opts).ok()?;
                MeterEvent::CreditAlarm {
                    level,
                    net: net
                        .and_then(|f| i64::try_from(f.magnitude).ok())
                        .unwrap_or(0),
                }
            }
            _ => return None,
        };
        Some(StationEvent { at, pn, event })
    }

    /// A one-line description for logs.
    pub fn describe(&self) -> String {
        let money = |m: i64| amikit_tariff::Money::from_raw(m).to_string();
        match self.event {
            MeterEvent::Status {
                before,
                after,
                cause,
            } => format!(
                "meter pn {}: status word 3 {before:04X} -> {after:04X} ({}: {} -> {})",
                self.pn,
                cause.name(),
                relay_name(before),
                relay_name(after)
            ),
            MeterEvent::TokenAccepted {
                tid,
                tenths,
                credited,
                net,
            } => {
                let mut s = format!(
                    "meter pn {}: token TID {tid} accepted, {}.{} kWh",
                    self.pn,
                    tenths / 10,
                    tenths % 10
                );
                if let (Some(c), Some(n)) = (credited, net) {
                    s.push_str(&format!(" = {} credited, balance {}", money(c), money(n)));
                }
                s
            }
            MeterEvent::TokenRejected { reason } => {
                format!("meter pn {}: token rejected ({})", self.pn, reason.name())
            }
            MeterEvent::CreditAlarm { level, net } => format!(
                "meter pn {}: credit alarm level {level}, balance {}",
                self.pn,
                money(net)
            ),
        }
    }
}

/// The relay state a status word 3 shows: `closed`, `open` or `armed` (open, allowed to close).
pub fn relay_name(sw3: u16) -> &'static str {
    let open = sw3 & amikit_dlt645::StatusWord3::RELAY_OPEN != 0;
    let commanded = sw3 & amikit_dlt645::StatusWord3::RELAY_COMMAND_OPEN != 0;
    match (open, commanded) {
        (false, _) => "closed",
        (true, true) => "open",
        (true, false) => "armed",
    }
}

#[derive(Debug, Clone, Copy)]
struct Stored {
    pointer: u8,
    erc: u8,
    len: u8,
    data: [u8; MAX_RECORD],
}

/// The important-event store the terminal answers AFN 0E F1 from: at most 256 records, each at
/// the EC1 value it was recorded under (its pointer).
#[derive(Debug, Default)]
pub struct EventLog {
    records: VecDeque<Stored>,
}

impl EventLog {
    /// Stores `event` at `pointer` (the important-event counter before it was counted); the
    /// oldest record goes when 256 are stored.
    pub fn store(&mut self, pointer: u8, event: &StationEvent) {
        let mut data = [0u8; MAX_RECORD];
        let len = event.encode(&mut data);
        if self.records.len() >= 256 {
            self.records.pop_front();
        }
        self.records.push_back(Stored {
            pointer,
            erc: event.erc(),
            len: u8::try_from(len).unwrap_or(0),
            data,
        });
    }

    /// Number of stored records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// True when nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Writes the AFN 0E F1 reply unit for `pm ≤ pointer < pn` (mod 256) into `out`: the
    /// counters, `pm`, and the records from `pm` on that are stored and fit (the reply's `Pn`
    /// is `pm` + their number). Returns the length.
    pub fn reply(&self, ec1: u8, ec2: u8, pm: u8, pn: u8, out: &mut [u8]) -> Option<usize> {
        let wanted = pn.wrapping_sub(pm);
        let room = out.len().saturating_sub(4);
        let mut used = 0usize;
        let mut picked: Vec<&Stored> = Vec::new();
        for i in 0..wanted {
            let p = pm.wrapping_add(i);
            // The newest record at this pointer (after a wrap, old ones may share it).
            let Some(r) = self.records.iter().rev().find(|r| r.pointer == p) else {
                break;
            };
            let size = 2 + usize::from(r.len);
            if used + size > room {
                break;
            }
            used += size;
            picked.push(r);
        }
        let mut w = Writer::new(out);
        EventBlock::write(
            &mut w,
            ec1,
            ec2,
            pm,
            picked.iter().map(|r| EventRecord {
                erc: r.erc,
                data: r.data.get(..usize::from(r.len)).unwrap_or(&[]),
            }),
        )
        .ok()?;
        Some(w.pos())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use amikit_gdw376::units::{Erc, Reader, UnitLayout as _};

    #[test]
    fn records_round_trip_and_walk_as_gdw376_events() {
        let at = Civil::new(2026, 3, 2, 14, 35, 0).to_sim();
        let events = [
            StationEvent {
                at,
                pn: 1,
                event: MeterEvent::Status {
                    before: 0,
                    after: 0x50,
                    cause: Cause::Remote,
                },
            },
            StationEvent {
                at,
                pn: 2,
                event: MeterEvent::TokenAccepted {
                    tid: 6_900_000,
                    tenths: 253,
                    credited: Some(100_000),
                    net: Some(123_456),
                },
            },
            StationEvent {
                at,
                pn: 2,
                event: MeterEvent::TokenRejected {
                    reason: TokenRejection::Used,
                },
            },
            StationEvent {
                at,
                pn: 2,
                event: MeterEvent::CreditAlarm {
                    level: 1,
                    net: 49_000,
                },
            },
        ];
        let mut log = EventLog::default();
        for (i, e) in events.iter().enumerate() {
            log.store(i as u8, e);
        }
        let mut out = [0u8; 512];
        let n = log.reply(4, 0, 0, 4, &mut out).unwrap();
        let mut r = Reader::new(&out[..n], ReadOptions::default());
        let block = EventBlock::parse(&mut r).unwrap();
        assert_eq!((block.ec1, block.pm, block.pn), (4, 0, 4));
        let decoded: Vec<_> = block
            .records()
            .map(|r| StationEvent::decode(r.erc, r.data).unwrap())
            .collect();
        assert_eq!(decoded, events);
        // The crate's walker sees the time of every record.
        for e in block.events() {
            match e {
                Erc::Other { time, .. } => assert_eq!(time.unwrap().hour, 14),
                other => panic!("unexpected {other:?}"),
            }
        }
        // A partial range.
        let n = log.reply(4, 0, 2, 4, &mut out).unwrap();
        let mut r = Reader::new(&out[..n], ReadOptions::default());
        let block = EventBlock::parse(&mut r).unwrap();
        assert_eq!(block.records().count(), 2);
        assert_eq!(relay_name(0x50), "open");
        assert_eq!(relay_name(0x10), "armed");
        assert_eq!(relay_name(0), "closed");
    }
}
