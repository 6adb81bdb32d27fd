//! Power-fail safety: checksummed snapshots and conservative recovery from several copies.
//!
//! State Grid meters keep CRC-protected copies of the wallet in several EEPROM slots, save
//! periodically, on important changes, before every relay operation and when the supply fails,
//! and at power-up take **the least remaining money and the most overdraft** among the valid
//! copies. The engine asks for a save with [`Output::Persist`](crate::Output::Persist) (and
//! answers [`Input::PowerDown`](crate::Input::PowerDown) with a final one); the caller writes
//! [`Snapshot::emit`] (or the serde form) to as many slots as it has; [`recover`] picks
//! what to restore, and [`Input::PowerUp`](crate::Input::PowerUp) restores it.
//!
//! A snapshot carries the engine's persistent state **and the tariff charging state** of the
//! pricer ([`Charging`]: the step period's energy, the carried sub-quantum remainders, the
//! standing-charge mark), so that a meter keeps both in one CRC-sealed record of
//! [`SNAPSHOT_LEN`] bytes with no heap, and a power failure neither forgets nor repeats part of
//! a charge.

use amikit_tariff::tariff::MAX_LEVIES;
use amikit_tariff::{ChargeSnapshot, ChargeState, DateTime, Energy, Money, Remainder};

use crate::output::{AlarmLevel, RelayState};
use crate::state::CreditState;
use crate::time::Timestamp;

/// Length of [`Snapshot::emit`] (format version 2).
pub const SNAPSHOT_LEN: usize = 104;

/// Length of the version-1 form (no charging state, no overload hold), still accepted by
/// [`Snapshot::parse`].
pub const SNAPSHOT_V1_LEN: usize = 52;

const MAGIC: [u8; 2] = *b"AP";
const VERSION: u8 = 2;
const VERSION_1: u8 = 1;
/// Content bit of byte 7: the charging state is present.
const HAS_CHARGING: u8 = 1;
/// An absent time in the fixed form.
const NO_TIME: i64 = i64::MIN;
/// The flag bits version 1 defined.
const V1_FLAGS: u8 = 63;

/// Flag bits of [`Snapshot::flags`].
pub mod flags {
    /// Guard (保电) is on.
    pub const GUARD: u8 = 1;
    /// A remote trip is in force.
    pub const REMOTE_TRIP: u8 = 2;
    /// A remote reminder alarm is on.
    pub const REMOTE_ALARM: u8 = 4;
    /// The customer selected the overdraft / emergency credit.
    pub const OVERDRAFT_SELECTED: u8 = 8;
    /// The customer restored an alarm-2 cut.
    pub const ALARM2_RELEASED: u8 = 16;
    /// A lifted cause needs the customer to close the relay.
    pub const NEEDS_USER: u8 = 32;
    /// The relay was seen in the wrong position and the engine re-issued its action; a second
    /// mismatch before the position agrees is not re-issued again.
    pub const RELAY_REISSUED: u8 = 64;
    /// All defined bits.
    pub const ALL: u8 = 127;
}

/// The persistent part of a tariff [`ChargeState`]: what a pricer must keep across a power
/// failure so that charging continues exactly (no step-period energy forgotten, no
/// sub-quantum remainder lost or charged twice, no standing charge accrued twice).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct Charging {
    /// Billed energy in the current step period.
    pub period_energy: Energy,
    /// Time of the last charge.
    pub as_of: Option<DateTime>,
    /// The sub-quantum remainder carried on the consumption line.
    pub carry: Remainder,
    /// The sub-quantum remainders carried on the levy lines.
    pub levy_carries: [Remainder; MAX_LEVIES],
    /// When standing charges were last accrued.
    pub standing_mark: Option<DateTime>,
}

impl From<&ChargeState> for Charging {
    /// The persistent part of `state`.
    fn from(state: &ChargeState) -> Self {
        let s = state.snapshot();
        Self {
            period_energy: s.period_energy,
            as_of: s.as_of,
            carry: s.carry,
            levy_carries: s.levy_carries,
            standing_mark: s.standing_mark,
        }
    }
}

impl From<&Charging> for ChargeState {
    /// A charging state with these parts (its price cache is rebuilt on the next charge).
    fn from(c: &Charging) -> Self {
        ChargeState::from(ChargeSnapshot {
            period_energy: c.period_energy,
            as_of: c.as_of,
            carry: c.carry,
            levy_carries: c.levy_carries,
            standing_mark: c.standing_mark,
        })
    }
}

/// The persistent part of the engine state, with the pricer's charging state.
///
/// Serde-able (feature `serde`) and convertible to a fixed [`SNAPSHOT_LEN`]-byte little-endian
/// form ([`Snapshot::emit`]); both carry a CRC-32 (IEEE 802.3, as in zip/Ethernet) over the
/// fixed form, checked by [`Snapshot::verify`], [`Snapshot::parse`], [`recover`] and
/// [`Input::PowerUp`](crate::Input::PowerUp).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Snapshot {
    /// Write counter: every persisted snapshot has a higher generation than the previous one.
    pub generation: u32,
    /// When it was taken.
    pub taken_at: Timestamp,
    /// The wallet (may be negative down to the overdraft limit).
    pub balance: Money,
    /// Debt not covered by the wallet (usage at the floor: friendly credit, guard, latency).
    pub debt: Money,
    /// The credit state.
    pub credit: CreditState,
    /// The relay.
    pub relay: RelayState,
    /// [`flags`] bits.
    pub flags: u8,
    /// The alarm indication in force (so that a power-up does not announce it again).
    #[cfg_attr(feature = "serde", serde(default))]
    pub alarm: Option<AlarmLevel>,
    /// Last accepted purchase count.
    pub last_sequence: u32,
    /// Last accepted order number.
    pub last_order: u64,
    /// An overload trip in force: the relay stays open until this time (a power failure does
    /// not shorten the hold).
    #[cfg_attr(feature = "serde", serde(default))]
    pub overload_until: Option<Timestamp>,
    /// The pricer's charging state ([`Pricer::charging`](crate::Pricer::charging)); `None` for
    /// a pricer without one and in version-1 snapshots.
    #[cfg_attr(feature = "serde", serde(default))]
    pub charging: Option<Charging>,
    /// CRC-32 of the first `SNAPSHOT_LEN − 4` bytes of [`Snapshot::emit`].
    pub checksum: u32,
}

/// Why bytes are not a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum SnapshotError {
    /// Neither [`SNAPSHOT_LEN`] bytes (version 2) nor [`SNAPSHOT_V1_LEN`] (version 1).
    #[error("snapshot must be {SNAPSHOT_LEN} (or {SNAPSHOT_V1_LEN}) bytes, got {0}")]
    Length(usize),
    /// Not a snapshot of this crate.
    #[error("bad magic")]
    Magic,
    /// A format version this crate does not read (or one that does not match the length).
    #[error("unknown snapshot version {0}")]
    Version(u8),
    /// The checksum does not match.
    #[error("checksum mismatch: stored {stored:08x}, computed {computed:08x}")]
    Checksum {
        /// The stored CRC.
        stored: u32,
        /// The CRC of the content.
        computed: u32,
    },
    /// A field holds an undefined value.
    #[error("invalid field at byte {0}")]
    Field(usize),
}

/// Why no snapshot could be recovered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum RecoverError {
    /// None of the copies is intact.
    #[error("no intact snapshot among {0} copies")]
    NoIntactCopy(usize),
}

/// CRC-32/ISO-HDLC (reflected, polynomial 0xEDB88320, init and xor-out 0xFFFFFFFF), the CRC of
/// zip and Ethernet, table-driven by the `crc` crate.
const CRC32: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

fn crc32(data: &[u8]) -> u32 {
    CRC32.checksum(data)
}

fn relay_code(r: RelayState) -> u8 {
    match r {
        RelayState::Closed => 0,
        RelayState::Open => 1,
        RelayState::Armed => 2,
    }
}

fn alarm_code(a: Option<AlarmLevel>) -> u8 {
    match a {
        None => 0,
        Some(AlarmLevel::Reminder) => 1,
        Some(AlarmLevel::Low) => 2,
        Some(AlarmLevel::Alarm2) => 3,
        Some(AlarmLevel::Overdraft) => 4,
        Some(AlarmLevel::Exhausted) => 5,
    }
}

fn alarm_from(c: u8) -> Option<Option<AlarmLevel>> {
    Some(match c {
        0 => None,
        1 => Some(AlarmLevel::Reminder),
        2 => Some(AlarmLevel::Low),
        3 => Some(AlarmLevel::Alarm2),
        4 => Some(AlarmLevel::Overdraft),
        5 => Some(AlarmLevel::Exhausted),
        _ => return None,
    })
}

fn relay_from(c: u8) -> Option<RelayState> {
    Some(match c {
        0 => RelayState::Closed,
        1 => RelayState::Open,
        2 => RelayState::Armed,
        _ => return None,
    })
}

fn time_code(t: Option<DateTime>) -> i64 {
    t.map_or(NO_TIME, |t| t.seconds_since_epoch())
}

/// `None` for [`NO_TIME`], `Some(None)` for a value that is no civil time.
fn time_from(v: i64) -> Option<Option<DateTime>> {
    if v == NO_TIME {
        Some(None)
    } else {
        Timestamp(v).to_datetime().map(Some)
    }
}

fn remainder_code(r: Remainder) -> u32 {
    // A remainder is below 10^9 < 2^32.
    u32::try_from(i64::from(r)).unwrap_or(u32::MAX)
}

impl Snapshot {
    fn body(&self) -> [u8; SNAPSHOT_LEN] {
        let mut b = [0u8; SNAPSHOT_LEN];
        let mut w = Writer { buf: &mut b, at: 0 };
        // 8 + 4 + 8 + 8 + 8 + 4 + 8 + 8 + 8 + 8 + 8 + 4 + 16 = 100 bytes, then the CRC.
        w.put(&MAGIC);
        w.put(&[
            VERSION,
            self.credit.code(),
            relay_code(self.relay),
            self.flags,
        ]);
        let content = if self.charging.is_some() {
            HAS_CHARGING
        } else {
            0
        };
        w.put(&[alarm_code(self.alarm), content]);
        w.put(&self.generation.to_le_bytes());
        w.put(&self.taken_at.0.to_le_bytes());
        w.put(&self.balance.raw().to_le_bytes());
        w.put(&self.debt.raw().to_le_bytes());
        w.put(&self.last_sequence.to_le_bytes());
        w.put(&self.last_order.to_le_bytes());
        w.put(&self.overload_until.map_or(NO_TIME, |t| t.0).to_le_bytes());
        // An absent charging state is all zeros.
        if let Some(c) = &self.charging {
            w.put(&c.period_energy.wh().to_le_bytes());
            w.put(&time_code(c.as_of).to_le_bytes());
            w.put(&time_code(c.standing_mark).to_le_bytes());
            w.put(&remainder_code(c.carry).to_le_bytes());
            for r in &c.levy_carries {
                w.put(&remainder_code(*r).to_le_bytes());
            }
        }
        b
    }

    /// The CRC-32 of the content (what [`Snapshot::checksum`] must hold).
    fn compute_checksum(&self) -> u32 {
        let b = self.body();
        crc32(b.get(..SNAPSHOT_LEN - 4).unwrap_or(&[]))
    }

    /// Sets [`Snapshot::checksum`] from the content.
    #[must_use]
    pub fn sealed(mut self) -> Self {
        self.checksum = self.compute_checksum();
        self
    }

    /// Whether the checksum matches the content and every field is defined.
    #[must_use]
    pub fn verify(&self) -> bool {
        self.flags & !flags::ALL == 0 && self.checksum == self.compute_checksum()
    }

    /// The fixed little-endian form, version 2 ([`SNAPSHOT_LEN`] bytes):
    ///
    /// | bytes | field |
    /// |---|---|
    /// | 0–1 | `"AP"` |
    /// | 2 | version 2 |
    /// | 3 | credit state (0 normal … 4 exhausted) |
    /// | 4 | relay (0 closed, 1 open, 2 armed) |
    /// | 5 | [`flags`] |
    /// | 6 | alarm level (0 none, 1 reminder, 2 low, 3 alarm 2, 4 overdraft, 5 exhausted) |
    /// | 7 | content: bit 0 = charging state present; other bits zero |
    /// | 8–11 | generation (u32) |
    /// | 12–19 | taken_at (i64 s) |
    /// | 20–27 | balance (i64, 1e-4) |
    /// | 28–35 | debt (i64, 1e-4) |
    /// | 36–39 | last purchase count (u32) |
    /// | 40–47 | last order number (u64) |
    /// | 48–55 | overload hold until (i64 s; `i64::MIN` = none) |
    /// | 56–63 | charging: step-period energy (i64 Wh) |
    /// | 64–71 | charging: last charge time (i64 s; `i64::MIN` = none) |
    /// | 72–79 | charging: standing-charge mark (i64 s; `i64::MIN` = none) |
    /// | 80–83 | charging: consumption carry (u32, 1e-9 of a quantum) |
    /// | 84–99 | charging: 4 levy carries (u32 each) |
    /// | 100–103 | CRC-32 of bytes 0–99 |
    ///
    /// Without a charging state, bytes 56–99 are zero. Times are local civil seconds since
    /// 1970 ([`Timestamp`]).
    #[must_use]
    pub fn emit(&self) -> [u8; SNAPSHOT_LEN] {
        let mut b = self.body();
        if let Some(c) = b.get_mut(SNAPSHOT_LEN - 4..) {
            c.copy_from_slice(&self.checksum.to_le_bytes());
        }
        b
    }

    /// Parses and checks the fixed form: version 2 ([`SNAPSHOT_LEN`] bytes) or version 1
    /// ([`SNAPSHOT_V1_LEN`] bytes: no charging state, no overload hold; the result is resealed
    /// in the version-2 form, so [`Snapshot::emit`] writes version 2).
    ///
    /// # Errors
    ///
    /// [`SnapshotError`] for a wrong length, magic, version, checksum or field value.
    pub fn parse(bytes: &[u8]) -> Result<Self, SnapshotError> {
        let (version, len) = match (bytes.get(..2), bytes.get(2), bytes.len()) {
            (_, _, n) if n != SNAPSHOT_LEN && n != SNAPSHOT_V1_LEN => {
                return Err(SnapshotError::Length(n));
            }
            (Some(m), _, _) if m != MAGIC => return Err(SnapshotError::Magic),
            (_, Some(&v), n) => (v, n),
            _ => return Err(SnapshotError::Length(bytes.len())),
        };
        match (version, len) {
            (VERSION, SNAPSHOT_LEN) | (VERSION_1, SNAPSHOT_V1_LEN) => {}
            _ => return Err(SnapshotError::Version(version)),
        }
        let mut r = Reader { buf: bytes, at: 3 };
        let [credit, relay, fl] = r.take::<3>();
        let [alarm, content] = r.take::<2>();
        let generation = u32::from_le_bytes(r.take());
        let taken_at = Timestamp(i64::from_le_bytes(r.take()));
        let balance = Money::from_raw(i64::from_le_bytes(r.take()));
        let debt = Money::from_raw(i64::from_le_bytes(r.take()));
        let last_sequence = u32::from_le_bytes(r.take());
        let last_order = u64::from_le_bytes(r.take());
        let v2 = version == VERSION;
        let (overload, energy, as_of, mark, carries) = if v2 {
            let overload = i64::from_le_bytes(r.take());
            let energy = i64::from_le_bytes(r.take());
            let as_of = i64::from_le_bytes(r.take());
            let mark = i64::from_le_bytes(r.take());
            let mut carries = [0u32; 1 + MAX_LEVIES];
            for c in &mut carries {
                *c = u32::from_le_bytes(r.take());
            }
            (overload, energy, as_of, mark, carries)
        } else {
            (NO_TIME, 0, 0, 0, [0; 1 + MAX_LEVIES])
        };
        let stored = u32::from_le_bytes(r.take());
        let computed = crc32(bytes.get(..len - 4).unwrap_or(&[]));
        if stored != computed {
            return Err(SnapshotError::Checksum { stored, computed });
        }
        let credit = CreditState::from_code(credit).ok_or(SnapshotError::Field(3))?;
        let relay = relay_from(relay).ok_or(SnapshotError::Field(4))?;
        if fl & !flags::ALL != 0 || (!v2 && fl & !V1_FLAGS != 0) {
            return Err(SnapshotError::Field(5));
        }
        let alarm = alarm_from(alarm).ok_or(SnapshotError::Field(6))?;
        if content & !HAS_CHARGING != 0 || (!v2 && content != 0) {
            return Err(SnapshotError::Field(7));
        }
        let overload_until = (overload != NO_TIME).then_some(Timestamp(overload));
        let charging = if content & HAS_CHARGING != 0 {
            let as_of = time_from(as_of).ok_or(SnapshotError::Field(64))?;
            let standing_mark = time_from(mark).ok_or(SnapshotError::Field(72))?;
            let mut rems = [Remainder::ZERO; 1 + MAX_LEVIES];
            for (i, (r, c)) in rems.iter_mut().zip(carries).enumerate() {
                *r = Remainder::try_from(i64::from(c))
                    .map_err(|_| SnapshotError::Field(80 + 4 * i))?;
            }
            let [carry, levies @ ..] = rems;
            Some(Charging {
                period_energy: Energy::from_wh(energy),
                as_of,
                carry,
                levy_carries: levies,
                standing_mark,
            })
        } else {
            if bytes
                .get(56..SNAPSHOT_LEN - 4)
                .is_some_and(|z| z.iter().any(|b| *b != 0))
            {
                return Err(SnapshotError::Field(56));
            }
            None
        };
        let s = Self {
            generation,
            taken_at,
            balance,
            debt,
            credit,
            relay,
            flags: fl,
            alarm,
            last_sequence,
            last_order,
            overload_until,
            charging,
            checksum: stored,
        };
        Ok(if v2 { s } else { s.sealed() })
    }

    /// Credit net of debt (`balance − debt`), saturating.
    #[must_use]
    pub fn net(&self) -> Money {
        Money::from_raw(self.balance.raw().saturating_sub(self.debt.raw()))
    }
}

struct Writer<'a> {
    buf: &'a mut [u8; SNAPSHOT_LEN],
    at: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) {
        let end = self.at.saturating_add(bytes.len());
        if let Some(dst) = self.buf.get_mut(self.at..end) {
            dst.copy_from_slice(bytes);
        }
        self.at = end;
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take<const K: usize>(&mut self) -> [u8; K] {
        let mut out = [0u8; K];
        let end = self.at.saturating_add(K);
        if let Some(src) = self.buf.get(self.at..end) {
            out.copy_from_slice(src);
        }
        self.at = end;
        out
    }
}

/// Picks the snapshot to restore from several stored copies, conservatively.
///
/// 1. Copies whose checksum fails are ignored.
/// 2. The anti-replay counters are the **highest** among intact copies (a purchase recorded in
///    any copy can never be applied again), and so is the generation.
/// 3. Money comes from the copies that carry those latest counters (copies from before the last
///    purchase lack its money and cannot be compared with it; if no copy carries both latest
///    counters, all intact copies are used): the copy with the **least credit net of debt**,
///    and among equals the **most debt**. This is the State Grid rule "least remaining money,
///    most overdraft" (`payment-domain.md` §2.4) for a wallet whose money can sit in two
///    registers: taking the smallest balance from one copy and the largest debt from another
///    would count the same consumption twice.
///    The tariff charging state comes from that same copy: it describes the consumption that
///    copy's money paid for (taking it from another copy could forget or repeat a remainder or
///    step-period energy).
/// 4. Credit state, relay position, flags, alarm and the overload hold come from the newest of
///    those copies (highest generation): the engine persists every change of them, so the newest copy is the state
///    at the failure. (Taking the most severe credit state of all copies instead would let an
///    old copy re-impose a hard cut that a parameter change had lawfully lifted.) The engine
///    re-evaluates the credit state for the recovered money at power-up, so a copy with less
///    money still enters a cut it calls for.
///
/// # Errors
///
/// [`RecoverError::NoIntactCopy`] when no copy passes its checksum.
pub fn recover<'a, I>(copies: I) -> Result<Snapshot, RecoverError>
where
    I: IntoIterator<Item = &'a Snapshot>,
    I::IntoIter: Clone,
{
    let copies = copies.into_iter();
    let mut count = 0usize;
    let mut max_seq = 0u32;
    let mut max_order = 0u64;
    let mut max_gen = 0u32;
    let mut any = false;
    for s in copies.clone() {
        count = count.saturating_add(1);
        if !s.verify() {
            continue;
        }
        any = true;
        max_seq = max_seq.max(s.last_sequence);
        max_order = max_order.max(s.last_order);
        max_gen = max_gen.max(s.generation);
    }
    if !any {
        return Err(RecoverError::NoIntactCopy(count));
    }
    let latest = |s: &Snapshot| s.last_sequence == max_seq && s.last_order == max_order;
    let use_all = !copies.clone().any(|s| s.verify() && latest(s));
    let group = copies.filter(|s| s.verify() && (use_all || latest(s)));
    let mut money: Option<&Snapshot> = None;
    let mut newest: Option<&Snapshot> = None;
    for s in group {
        if newest.is_none_or(|n| s.generation > n.generation) {
            newest = Some(s);
        }
        let poorer = |m: &Snapshot| {
            let (sn, mn) = (
                i128::from(s.balance.raw()) - i128::from(s.debt.raw()),
                i128::from(m.balance.raw()) - i128::from(m.debt.raw()),
            );
            sn < mn || (sn == mn && s.debt > m.debt)
        };
        if money.is_none_or(poorer) {
            money = Some(s);
        }
    }
    let (Some(m), Some(n)) = (money, newest) else {
        return Err(RecoverError::NoIntactCopy(count));
    };
    Ok(Snapshot {
        generation: max_gen,
        taken_at: n.taken_at,
        balance: m.balance,
        debt: m.debt,
        credit: n.credit,
        relay: n.relay,
        flags: n.flags,
        alarm: n.alarm,
        last_sequence: max_seq,
        last_order: max_order,
        overload_until: n.overload_until,
        charging: m.charging,
        checksum: 0,
    }
    .sealed())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A version-1 snapshot laid out and sealed by an independent implementation (Python's
    /// `struct.pack` + `zlib.crc32`): generation 7, 2026-01-07 10:00 local, balance 20.0000,
    /// debt 0, purchase count 4, order 0, credit normal, relay closed, no flags.
    const V1_SEALED_ELSEWHERE: [u8; SNAPSHOT_V1_LEN] = [
        0x41, 0x50, 0x01, 0x00, 0x00, 0x00, 0x00,
        0x00, // "AP", v1, credit, relay, flags, alarm, 0
        0x07, 0x00, 0x00, 0x00, // generation
        0xA0, 0x2E, 0x5E, 0x69, 0x00, 0x00, 0x00, 0x00, // taken_at 1 767 780 000
        0x40, 0x0D, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, // balance 200 000 (1e-4)
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // debt
        0x04, 0x00, 0x00, 0x00, // last purchase count
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // last order number
        0x1E, 0x90, 0xF9, 0x41, // CRC-32
    ];

    /// A version-2 snapshot laid out and sealed by the same independent implementation:
    /// generation 8, taken 2026-01-07 10:05, balance 19.5000, debt 0, purchase count 4, credit
    /// low, relay open, flag "needs user", alarm low, overload hold until 10:06; charging state:
    /// 2750.500 kWh in the step period as of 10:05, standing mark 2026-01-07 00:00, carry
    /// 68 000 000 (1e-9 quantum), levy carries 0, 5, 0, 0.
    const V2_SEALED_ELSEWHERE: [u8; SNAPSHOT_LEN] = [
        0x41, 0x50, 0x02, 0x01, 0x01, 0x20, 0x02,
        0x01, // "AP", v2, low, open, flags, alarm, content
        0x08, 0x00, 0x00, 0x00, 0xCC, 0x2F, 0x5E, 0x69, // generation, taken_at …
        0x00, 0x00, 0x00, 0x00, 0xB8, 0xF9, 0x02, 0x00, // … taken_at, balance 195 000 …
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // … balance, debt …
        0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, // … debt, last purchase count
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // last order number
        0x08, 0x30, 0x5E, 0x69, 0x00, 0x00, 0x00, 0x00, // overload hold until 1 767 780 360
        0x24, 0xF8, 0x29, 0x00, 0x00, 0x00, 0x00, 0x00, // period energy 2 750 500 Wh
        0xCC, 0x2F, 0x5E, 0x69, 0x00, 0x00, 0x00, 0x00, // as of 1 767 780 300
        0x00, 0xA2, 0x5D, 0x69, 0x00, 0x00, 0x00, 0x00, // standing mark 1 767 744 000
        0x00, 0x99, 0x0D, 0x04, 0x00, 0x00, 0x00, 0x00, // carry 68 000 000, levy 1
        0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // levy 2 = 5, levy 3
        0x00, 0x00, 0x00, 0x00, 0xD7, 0x33, 0xDA, 0x11, // levy 4, CRC-32
    ];

    fn dt(s: &str) -> DateTime {
        s.parse().unwrap()
    }

    fn reseal(b: &mut [u8]) {
        let n = b.len();
        let crc = crc32(&b[..n - 4]);
        b[n - 4..].copy_from_slice(&crc.to_le_bytes());
    }

    #[test]
    fn parses_a_version_1_snapshot_sealed_elsewhere() {
        let s = Snapshot::parse(&V1_SEALED_ELSEWHERE).unwrap();
        assert_eq!(s.generation, 7);
        assert_eq!(s.taken_at, Timestamp(1_767_780_000));
        assert_eq!(s.balance, Money::from_raw(200_000));
        assert_eq!((s.last_sequence, s.last_order), (4, 0));
        assert_eq!(
            (s.credit, s.relay, s.flags),
            (CreditState::Normal, RelayState::Closed, 0)
        );
        assert_eq!((s.overload_until, s.charging), (None, None));
        // Resealed in the version-2 form.
        assert!(s.verify());
        assert_eq!(Snapshot::parse(&s.emit()), Ok(s));
        // Every single-bit flip is caught.
        for i in 0..SNAPSHOT_V1_LEN * 8 {
            let mut b = V1_SEALED_ELSEWHERE;
            b[i / 8] ^= 1 << (i % 8);
            assert!(Snapshot::parse(&b).is_err(), "bit {i}");
        }
        assert_eq!(
            Snapshot::parse(&V1_SEALED_ELSEWHERE[..51]),
            Err(SnapshotError::Length(51))
        );
        // Version 1 does not know the relay-reissued flag.
        let mut b = V1_SEALED_ELSEWHERE;
        b[5] = flags::RELAY_REISSUED;
        reseal(&mut b);
        assert_eq!(Snapshot::parse(&b), Err(SnapshotError::Field(5)));
        // A version byte that does not match the length.
        let mut b = V1_SEALED_ELSEWHERE;
        b[2] = VERSION;
        reseal(&mut b);
        assert_eq!(Snapshot::parse(&b), Err(SnapshotError::Version(2)));
    }

    #[test]
    fn parses_a_version_2_snapshot_sealed_elsewhere() {
        let s = Snapshot::parse(&V2_SEALED_ELSEWHERE).unwrap();
        assert_eq!(s.generation, 8);
        assert_eq!(s.taken_at, Timestamp::from(dt("2026-01-07T10:05")));
        assert_eq!((s.balance, s.debt), (Money::from_raw(195_000), Money::ZERO));
        assert_eq!(
            (s.credit, s.relay, s.flags, s.alarm),
            (
                CreditState::Low,
                RelayState::Open,
                flags::NEEDS_USER,
                Some(AlarmLevel::Low)
            )
        );
        assert_eq!(
            s.overload_until,
            Some(Timestamp::from(dt("2026-01-07T10:06")))
        );
        let c = s.charging.unwrap();
        assert_eq!(c.period_energy, Energy::from_wh(2_750_500));
        assert_eq!(c.as_of, Some(dt("2026-01-07T10:05")));
        assert_eq!(c.standing_mark, Some(dt("2026-01-07T00:00")));
        assert_eq!(c.carry, Remainder::try_from(68_000_000).unwrap());
        assert_eq!(
            c.levy_carries,
            [
                Remainder::ZERO,
                Remainder::try_from(5).unwrap(),
                Remainder::ZERO,
                Remainder::ZERO
            ]
        );
        assert!(s.verify());
        assert_eq!(s.emit(), V2_SEALED_ELSEWHERE);
        for i in 0..SNAPSHOT_LEN * 8 {
            let mut b = V2_SEALED_ELSEWHERE;
            b[i / 8] ^= 1 << (i % 8);
            assert!(Snapshot::parse(&b).is_err(), "bit {i}");
        }
        // The charging state goes through a ChargeState and back unchanged.
        assert_eq!(Charging::from(&ChargeState::from(&c)), c);
    }

    #[test]
    fn undefined_fields_are_refused_even_when_sealed() {
        // Each change resealed, so that only the field checks can refuse it.
        for (at, value, field) in [
            (6, 6u8, 6usize), // no such alarm level
            (7, 2, 7),        // unknown content bit
            (83, 0x3C, 80),   // carry ≥ 10^9
            (99, 0x3C, 96),   // last levy carry ≥ 10^9
        ] {
            let mut b = V2_SEALED_ELSEWHERE;
            b[at] = value;
            reseal(&mut b);
            assert_eq!(
                Snapshot::parse(&b),
                Err(SnapshotError::Field(field)),
                "{at}"
            );
        }
        // A charge time that is no civil time.
        let mut b = V2_SEALED_ELSEWHERE;
        b[64..72].copy_from_slice(&i64::MAX.to_le_bytes());
        reseal(&mut b);
        assert_eq!(Snapshot::parse(&b), Err(SnapshotError::Field(64)));
        // Without the charging bit its bytes must be zero.
        let mut b = V2_SEALED_ELSEWHERE;
        b[7] = 0;
        reseal(&mut b);
        assert_eq!(Snapshot::parse(&b), Err(SnapshotError::Field(56)));
        b[56..100].fill(0);
        reseal(&mut b);
        let s = Snapshot::parse(&b).unwrap();
        assert_eq!(s.charging, None);
        assert_eq!(s.emit(), b);
    }

    #[test]
    fn the_alarm_in_force_round_trips() {
        let s = Snapshot::parse(&V2_SEALED_ELSEWHERE).unwrap();
        for level in [
            None,
            Some(AlarmLevel::Reminder),
            Some(AlarmLevel::Low),
            Some(AlarmLevel::Alarm2),
            Some(AlarmLevel::Overdraft),
            Some(AlarmLevel::Exhausted),
        ] {
            let with = Snapshot { alarm: level, ..s }.sealed();
            let bytes = with.emit();
            assert_eq!(bytes[6], alarm_code(level));
            assert_eq!(Snapshot::parse(&bytes), Ok(with));
        }
    }

    #[test]
    fn crc32_check_value() {
        // The standard check value of CRC-32/ISO-HDLC (Greg Cook's CRC catalogue).
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }
}
