//! Control: the command tracker and the two ways a command reaches a meter.
//!
//! * **AFN 05** (`--control-via afn05`, the default): F1 remote trip, F2 allow close (also for
//!   a direct close: 376.1 has no direct close), F26 / F34 reminder alarm on / off, F25 / F33
//!   guard on / off, with **pn = the meter's measurement point** (our terminal maps control
//!   round n to the meter at measurement point n). The terminal executes it with a DL/T 645
//!   `1C` frame and answers AFN 00 F1 (confirmed) or F2 / F3 (denied).
//! * **AFN 10 F1** (`--control-via afn10`): the master builds the DL/T 645 `1C` frame itself
//!   (password level 02, password 000000, operator code 00000000, valid until the command's
//!   expiry), the terminal forwards it on its RS-485 port 2 (2400 8E1, frame timeout 2 s, byte
//!   timeout 100 ms) and returns the meter's reply: `9C` confirms, `DC` denies.
//!
//! Forwarded reads use the same AFN 10 F1 envelope with a DL/T 645 read (`11`) of remaining
//! money `00900200` or status word 3 `04000503` (relay state, bit 4).
//!
//! The tracker is `amikit-prepay`'s [`Tracker`], a fixed-capacity, heap-free structure; a
//! head-end with thousands of meters shards it by meter ([`Trackers`]) so that every shard is a
//! small allocation and a poll only walks live commands.

use amikit_dlt645::catalogue;
use amikit_dlt645::value::Value as Value645;
use amikit_dlt645::{
    Address as Address645, Auth, Body, Data, Di, Edition, Function, OperatorCode, Password,
    RemoteCommand, RemoteControl, Reply, Repr as Repr645, Request as Request645, StatusWord3,
};
use amikit_gdw376::control::Direction;
use amikit_gdw376::units::UnitLayout as _;
use amikit_gdw376::units::{CommControl, ForwardRequest, GuardOn, RemoteTrip, Value, Writer};
use amikit_gdw376::{Afn, DaDt, InfoClass, Item, Pn, Profile, Units};
use amikit_prepay::{
    Command, CommandGroup, CommandId, CommandKind, Timestamp, Tracker, TrackerConfig, TrackerError,
    TrackerEvent,
};
use amikit_tariff::{Energy, Money};
use std::sync::Mutex;

use super::error::{MasterError, MasterResult};

/// Commands per tracker shard.
pub const SHARD: usize = 256;

/// A tracked command: its shard and its id there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CmdKey {
    /// Shard index.
    pub shard: u16,
    /// Id within the shard.
    pub id: CommandId,
}

/// The prepay command tracker, sharded by meter id. Each shard sits behind its own lock so
/// that the core (which submits, acknowledges and polls) and the connection tasks (which call
/// [`Trackers::check_send`] when a command leaves their queue) share it.
#[derive(Debug)]
pub struct Trackers {
    shards: Vec<Mutex<Box<Tracker<i64, SHARD>>>>,
}

/// Events of the sharded tracker, each with its shard.
pub type ShardEvents = Vec<(u16, TrackerEvent<i64>)>;

impl Trackers {
    /// Enough shards for `meters` meters (about 32 meters per shard).
    pub fn new(config: TrackerConfig, meters: usize) -> Self {
        let n = meters.div_ceil(32).clamp(1, 4096);
        Self {
            shards: (0..n)
                .map(|_| Mutex::new(Box::new(Tracker::new(config))))
                .collect(),
        }
    }

    fn shard_of(&self, meter: i64) -> usize {
        usize::try_from(meter.rem_euclid(self.shards.len().max(1) as i64)).unwrap_or(0)
    }

    /// Runs `f` on shard `s` (a poisoned lock is taken over: the tracker's state is plain data
    /// that every method leaves consistent).
    fn with<R>(&self, s: usize, f: impl FnOnce(&mut Tracker<i64, SHARD>) -> R) -> Option<R> {
        let m = self.shards.get(s)?;
        let mut g = m.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        Some(f(&mut g))
    }

    /// Queues a command ([`Tracker::submit`]); events go to `events`.
    pub fn submit(
        &self,
        now: Timestamp,
        meter: i64,
        command: Command,
        events: &mut ShardEvents,
    ) -> Result<CmdKey, TrackerError> {
        let s = self.shard_of(meter);
        let shard = u16::try_from(s).unwrap_or(0);
        let mut ev: Vec<TrackerEvent<i64>> = Vec::new();
        let id = self
            .with(s, |t| t.submit(now, meter, command, &mut ev))
            .ok_or(TrackerError::Full { capacity: 0 })??;
        events.extend(ev.into_iter().map(|e| (shard, e)));
        Ok(CmdKey { shard, id })
    }

    /// Runs every shard's timers ([`Tracker::poll`]).
    pub fn poll(&self, now: Timestamp, events: &mut ShardEvents) {
        let mut ev: Vec<TrackerEvent<i64>> = Vec::new();
        for i in 0..self.shards.len() {
            self.with(i, |t| {
                if !t.is_empty() {
                    t.poll(now, &mut ev);
                }
            });
            let shard = u16::try_from(i).unwrap_or(0);
            events.extend(ev.drain(..).map(|e| (shard, e)));
        }
    }

    /// The meter confirmed ([`Tracker::acknowledge`]).
    pub fn acknowledge(&self, key: CmdKey, events: &mut ShardEvents) -> Result<(), TrackerError> {
        let mut ev: Vec<TrackerEvent<i64>> = Vec::new();
        self.with(usize::from(key.shard), |t| t.acknowledge(key.id, &mut ev))
            .ok_or(TrackerError::UnknownCommand(key.id.0))??;
        events.extend(ev.into_iter().map(|e| (key.shard, e)));
        Ok(())
    }

    /// The command failed ([`Tracker::fail`]).
    pub fn fail(
        &self,
        now: Timestamp,
        key: CmdKey,
        events: &mut ShardEvents,
    ) -> Result<(), TrackerError> {
        let mut ev: Vec<TrackerEvent<i64>> = Vec::new();
        self.with(usize::from(key.shard), |t| t.fail(now, key.id, &mut ev))
            .ok_or(TrackerError::UnknownCommand(key.id.0))??;
        events.extend(ev.into_iter().map(|e| (key.shard, e)));
        Ok(())
    }

    /// Whether attempt `attempt` of command `key` may still go to the meter at `now`
    /// ([`Tracker::check_send`]): the transport asks when the command leaves its queue.
    pub fn check_send(&self, now: Timestamp, key: CmdKey, attempt: u8) -> Result<(), TrackerError> {
        self.with(usize::from(key.shard), |t| {
            t.check_send(now, key.id, attempt).map(|_| ())
        })
        .ok_or(TrackerError::UnknownCommand(key.id.0))?
    }

    /// The link to `meter` is down: park its commands ([`Tracker::link_down`]).
    pub fn link_down(&self, meter: i64) -> Result<(), TrackerError> {
        self.with(self.shard_of(meter), |t| t.link_down(meter))
            .ok_or(TrackerError::Full { capacity: 0 })?
    }

    /// The link to `meter` is back: send its parked commands ([`Tracker::link_up`]).
    pub fn link_up(&self, now: Timestamp, meter: i64, events: &mut ShardEvents) {
        let s = self.shard_of(meter);
        let shard = u16::try_from(s).unwrap_or(0);
        let mut ev: Vec<TrackerEvent<i64>> = Vec::new();
        self.with(s, |t| t.link_up(now, meter, &mut ev));
        events.extend(ev.into_iter().map(|e| (shard, e)));
    }

    /// Forgets the open job of command `key` ([`Tracker::close_job`]), if the tracker still
    /// remembers it.
    pub fn close_job(&self, key: CmdKey) {
        let _ = self.with(usize::from(key.shard), |t| t.close_job(key.id));
    }

    /// Number of live commands.
    pub fn live(&self) -> usize {
        (0..self.shards.len())
            .filter_map(|i| self.with(i, |t| t.len()))
            .sum()
    }

    /// Whether a relay command is live for `meter`.
    pub fn relay_pending(&self, meter: i64) -> bool {
        self.with(self.shard_of(meter), |t| {
            t.live().any(|c| {
                c.meter == meter
                    && matches!(
                        c.command.kind,
                        CommandKind::Trip | CommandKind::AllowClose | CommandKind::DirectClose
                    )
            })
        })
        .unwrap_or(false)
    }
}

impl Trackers {
    /// Whether an open manual job of a relay command is for `meter` (a person is on it).
    pub fn relay_job_open(&self, meter: i64) -> bool {
        self.with(self.shard_of(meter), |t| {
            t.jobs()
                .any(|j| j.meter == meter && j.command.kind.group() == CommandGroup::Relay)
        })
        .unwrap_or(false)
    }
}

fn enc(e: impl std::fmt::Display) -> MasterError {
    MasterError::encode(e)
}

/// The AFN 05 data-unit region of a command for the meter at `pn`.
pub fn afn05_units(kind: CommandKind, pn: u16, out: &mut [u8]) -> MasterResult<usize> {
    let mut data = [0u8; 1];
    let (fn_, len) = match kind {
        CommandKind::Trip => {
            let mut w = Writer::new(&mut data);
            RemoteTrip::default().emit(&mut w).map_err(enc)?;
            (1, w.pos())
        }
        CommandKind::AllowClose | CommandKind::DirectClose => (2, 0),
        CommandKind::Alarm => (26, 0),
        CommandKind::AlarmRelease => (34, 0),
        CommandKind::GuardOn => {
            let mut w = Writer::new(&mut data);
            GuardOn { half_hours: 0 }.emit(&mut w).map_err(enc)?;
            (25, w.pos())
        }
        CommandKind::GuardOff => (33, 0),
    };
    amikit_gdw376::session::master::write_units(
        out,
        &[(Pn(pn), InfoClass(fn_), data.get(..len).unwrap_or(&[]))],
    )
    .map_err(enc)
}

/// The AFN 10 F1 data-unit region forwarding `payload` to the meter bus.
pub fn afn10_units(payload: &[u8], out: &mut [u8]) -> MasterResult<usize> {
    let mut w = Writer::new(out);
    w.bytes(&DaDt::single(Pn::P0, InfoClass(1)).map_err(enc)?.to_bytes())
        .map_err(enc)?;
    ForwardRequest {
        port: 2,
        control: CommControl::DLT645_2400_8E1,
        frame_timeout: 0x80 | 2,
        byte_timeout: 10,
        payload,
    }
    .emit(&mut w)
    .map_err(enc)?;
    Ok(w.pos())
}

/// The DL/T 645 remote command for a command kind.
pub fn remote_command(kind: CommandKind) -> RemoteCommand {
    match kind {
        CommandKind::Trip => RemoteCommand::Trip,
        CommandKind::AllowClose => RemoteCommand::AllowClose,
        CommandKind::DirectClose => RemoteCommand::DirectClose,
        CommandKind::Alarm => RemoteCommand::Alarm,
        CommandKind::AlarmRelease => RemoteCommand::AlarmRelease,
        CommandKind::GuardOn => RemoteCommand::GuardOn,
        CommandKind::GuardOff => RemoteCommand::GuardOff,
    }
}

/// A DL/T 645-2007 `1C` frame for `kind`, valid until `expires` (local civil time).
pub fn dlt645_control_frame(
    address: Address645,
    kind: CommandKind,
    expires: Timestamp,
    out: &mut [u8],
) -> MasterResult<usize> {
    let t = amikit_tariff::DateTime::try_from(expires)
        .map_err(|_| MasterError::encode("expiry outside the calendar"))?;
    let until = amikit_dlt645::DateTime::ymd_hms(
        t.date().year(),
        t.date().month(),
        t.date().day(),
        t.hour(),
        t.minute(),
        t.second(),
    )
    .map_err(enc)?;
    let auth = Auth {
        password: Password::new(2, 0),
        operator: OperatorCode([0; 4]),
    };
    let repr = Repr645::request(
        Edition::V2007,
        address,
        Request645::RemoteControl(RemoteControl::plain(auth, remote_command(kind), until)),
    );
    repr.emit(out).map_err(enc)
}

/// A DL/T 645-2007 read frame.
pub fn dlt645_read_frame(address: Address645, di: Di, out: &mut [u8]) -> MasterResult<usize> {
    Repr645::read(address, di).emit(out).map_err(enc)
}

/// What a forwarded DL/T 645 exchange returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fwd {
    /// `9C`: the remote command was executed.
    Ack,
    /// An abnormal reply (`DC`, `D1`, …) with its error word.
    Denied(u8),
    /// Remaining money `00900200`.
    Money(Money),
    /// Status word 3 `04000503`.
    Status(StatusWord3),
    /// Forward active energy `00010000`.
    Energy(Energy),
    /// The terminal returned no meter reply (no answer on the bus).
    Silent,
    /// Something else.
    Unexpected,
}

/// Money from a DL/T 645 decimal.
fn money_of(d: amikit_dlt645::Decimal) -> Option<Money> {
    let scale = u32::from(d.scale);
    let raw = if scale <= 4 {
        d.mantissa.checked_mul(10i64.checked_pow(4 - scale)?)?
    } else {
        d.mantissa / 10i64.checked_pow(scale - 4)?
    };
    Some(Money::from_raw(raw))
}

/// Energy (Wh) from a DL/T 645 decimal in kWh.
fn energy_of(d: amikit_dlt645::Decimal) -> Option<Energy> {
    let scale = u32::from(d.scale);
    let wh = if scale <= 3 {
        d.mantissa.checked_mul(10i64.checked_pow(3 - scale)?)?
    } else {
        d.mantissa / 10i64.checked_pow(scale - 3)?
    };
    Some(Energy::from_wh(wh))
}

/// Decodes a meter's DL/T 645-2007 reply (FE preamble allowed).
pub fn decode_645(payload: &[u8]) -> Fwd {
    if payload.is_empty() {
        return Fwd::Silent;
    }
    let Ok(repr) = Repr645::parse_bytes(payload, Edition::V2007) else {
        return Fwd::Unexpected;
    };
    match repr.body {
        Body::Reply(Reply::Ack(Function::RemoteControl)) => Fwd::Ack,
        Body::Abnormal { error, .. } => Fwd::Denied(error.0),
        Body::Reply(r) => match r.di_data() {
            Some((amikit_dlt645::DataId::V2007(di), data)) => decode_read(di, data),
            _ => Fwd::Unexpected,
        },
        _ => Fwd::Unexpected,
    }
}

fn decode_read(di: Di, data: Data<'_>) -> Fwd {
    if di == Di::STATUS_WORD_3 {
        return data
            .first_chunk::<2>()
            .map_or(Fwd::Unexpected, |b| Fwd::Status(StatusWord3::from_plain(b)));
    }
    let number = catalogue::lookup(di)
        .and_then(|e| e.decode(data).ok().flatten())
        .and_then(|v| match v {
            Value645::Number(d) => Some(d),
            _ => None,
        });
    match (di, number) {
        (Di::REMAINING_MONEY, Some(d)) => money_of(d).map_or(Fwd::Unexpected, Fwd::Money),
        (Di::FORWARD_ACTIVE_ENERGY, Some(d)) => energy_of(d).map_or(Fwd::Unexpected, Fwd::Energy),
        _ => Fwd::Unexpected,
    }
}

/// The meter's reply inside an AFN 10 F1 response's data units.
pub fn decode_forward(units: &[u8], profile: &Profile) -> Fwd {
    for item in Units::new(units, Afn::FORWARD, Direction::Up, profile) {
        if let Item::Unit(u) = item
            && u.fn_ == InfoClass(1)
            && let Ok(Some(Value::ForwardReply(r))) = u.value(profile, Afn::FORWARD, Direction::Up)
        {
            return decode_645(r.payload);
        }
    }
    Fwd::Unexpected
}

/// The outcome of an AFN 00 response to a command: `Some(true)` all confirmed, `Some(false)`
/// denied, `None` not a confirm / deny.
pub fn confirm_outcome(units: &[u8], profile: &Profile, afn: Afn) -> Option<bool> {
    for item in Units::new(units, Afn::CONFIRM, Direction::Up, profile) {
        if let Item::Unit(u) = item {
            match u.fn_.0 {
                1 => return Some(true),
                2 => return Some(false),
                3 => {
                    if let Ok(Some(Value::ItemResults(items))) =
                        u.value(profile, Afn::CONFIRM, Direction::Up)
                    {
                        return Some(items.afn == afn && items.iter().all(|i| i.ok()));
                    }
                    return Some(false);
                }
                _ => {}
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use amikit_prepay::{CommandReason, Outcome};

    #[test]
    fn afn05_units_name_the_measurement_point() {
        let mut buf = [0u8; 16];
        let n = afn05_units(CommandKind::Trip, 3, &mut buf).unwrap();
        // DA for p3: DA1 = 0b100, DA2 = 1; DT for F1: DT1 = 1, DT2 = 0; then the F1 byte.
        assert_eq!(&buf[..n], &[0x04, 0x01, 0x01, 0x00, 0x00]);
        let n = afn05_units(CommandKind::GuardOff, 1, &mut buf).unwrap();
        // F33: DT1 = 1 << 0, DT2 = 4.
        assert_eq!(&buf[..n], &[0x01, 0x01, 0x01, 0x04]);
    }

    #[test]
    fn a_forwarded_control_frame_round_trips_through_the_645_parser() {
        let addr = Address645::parse("000000000101").unwrap();
        let mut frame = [0u8; 64];
        let n = dlt645_control_frame(
            addr,
            CommandKind::Trip,
            Timestamp(1_800_000_000),
            &mut frame,
        )
        .unwrap();
        let repr = Repr645::parse_bytes(&frame[..n], Edition::V2007).unwrap();
        match repr.body {
            Body::Request(Request645::RemoteControl(rc)) => {
                assert_eq!(rc.command(), Some(RemoteCommand::Trip));
            }
            other => panic!("{other:?}"),
        }
        let mut units = [0u8; 96];
        let m = afn10_units(&frame[..n], &mut units).unwrap();
        // DA/DT p0 F1, port 2, 6B, timeouts, length, then the frame.
        assert_eq!(&units[..6], &[0, 0, 1, 0, 2, 0x6B]);
        assert_eq!(usize::from(u16::from_le_bytes([units[8], units[9]])), n);
        assert_eq!(&units[10..m], &frame[..n]);
        // A 9C reply decodes as an acknowledgement, a DC reply as a denial.
        let ack = Repr645::new(
            Edition::V2007,
            addr,
            Body::Reply(Reply::Ack(Function::RemoteControl)),
        );
        let mut b = [0u8; 32];
        let k = ack.emit(&mut b).unwrap();
        assert_eq!(decode_645(&b[..k]), Fwd::Ack);
        let deny = Repr645::new(
            Edition::V2007,
            addr,
            Body::Abnormal {
                function: Function::RemoteControl,
                error: amikit_dlt645::ErrorWord(0x04),
                extra: Data::EMPTY,
            },
        );
        let k = deny.emit(&mut b).unwrap();
        assert_eq!(decode_645(&b[..k]), Fwd::Denied(0x04));
        assert_eq!(decode_645(&[]), Fwd::Silent);
        assert_eq!(decode_645(&[0x68, 1, 2]), Fwd::Unexpected);
    }

    #[test]
    fn read_replies_decode_to_money_and_relay_state() {
        let addr = Address645::parse("000000000102").unwrap();
        let mut b = [0u8; 64];
        // Remaining money 12.34 yuan: XXXXXX.XX, 4 bytes BCD little-endian 34 12 00 00.
        let reply = Repr645::new(
            Edition::V2007,
            addr,
            Body::Reply(Reply::Read {
                di: amikit_dlt645::DataId::V2007(Di::REMAINING_MONEY),
                data: Data::plain(&[0x34, 0x12, 0x00, 0x00]),
                more: false,
            }),
        );
        let k = reply.emit(&mut b).unwrap();
        assert_eq!(
            decode_645(&b[..k]),
            Fwd::Money(Money::parse("12.34").unwrap())
        );
        let status = Repr645::new(
            Edition::V2007,
            addr,
            Body::Reply(Reply::Read {
                di: amikit_dlt645::DataId::V2007(Di::STATUS_WORD_3),
                data: Data::plain(&[0x10, 0x00]),
                more: false,
            }),
        );
        let k = status.emit(&mut b).unwrap();
        match decode_645(&b[..k]) {
            Fwd::Status(s) => assert!(s.relay_open()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn sharded_trackers_supersede_and_escalate_per_meter() {
        let cfg = {
            let mut c = TrackerConfig::default();
            c.max_failures = 2;
            c
        };
        let t = Trackers::new(cfg, 100);
        let mut ev = Vec::new();
        let trip = Command {
            kind: CommandKind::Trip,
            reason: CommandReason::Operator,
        };
        let k = t.submit(Timestamp(0), 7, trip, &mut ev).unwrap();
        t.poll(Timestamp(0), &mut ev);
        assert!(t.relay_pending(7));
        assert!(!t.relay_pending(8));
        t.fail(Timestamp(1), k, &mut ev).unwrap();
        t.poll(Timestamp(1000), &mut ev);
        t.fail(Timestamp(1001), k, &mut ev).unwrap();
        assert!(ev.iter().any(|(_, e)| matches!(
            e,
            TrackerEvent::Finished {
                outcome: Outcome::Failed,
                ..
            }
        )));
        assert!(
            ev.iter()
                .any(|(_, e)| matches!(e, TrackerEvent::ManualJob { .. }))
        );
        assert_eq!(t.live(), 0);
    }
}
