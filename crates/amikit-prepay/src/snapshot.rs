//! Power-fail safety: checksummed snapshots and conservative recovery from several copies.
//!
//! State Grid meters keep CRC-protected copies of the wallet in several EEPROM slots, save
//! periodically, on important changes and before every relay operation, and at power-up take
//! **the least remaining money and the most overdraft** among the valid copies
//! (`payment-domain.md` §2.4). The engine asks for a save with
//! [`Output::Persist`](crate::Output::Persist); the caller writes
//! [`Snapshot::to_bytes`] (or the serde form) to as many slots as it has; [`recover`] picks
//! what to restore.

use amikit_tariff::Money;

use crate::output::{AlarmLevel, RelayState};
use crate::state::CreditState;
use crate::time::Timestamp;

/// Length of [`Snapshot::to_bytes`].
pub const SNAPSHOT_LEN: usize = 52;

const MAGIC: [u8; 2] = *b"AP";
const VERSION: u8 = 1;

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
    /// All defined bits.
    pub const ALL: u8 = 63;
}

/// The persistent part of the engine state.
///
/// Serde-able (feature `serde`) and convertible to a fixed 52-byte little-endian form
/// ([`Snapshot::to_bytes`]); both carry a CRC-32 (IEEE 802.3, as in zip/Ethernet) over the
/// fixed form, checked by [`Snapshot::verify`], [`Snapshot::from_bytes`], [`recover`] and
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
    /// CRC-32 of the first 48 bytes of [`Snapshot::to_bytes`].
    pub checksum: u32,
}

/// Why bytes are not a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum SnapshotError {
    /// Not exactly [`SNAPSHOT_LEN`] bytes.
    #[error("snapshot must be {SNAPSHOT_LEN} bytes, got {0}")]
    Length(usize),
    /// Not a snapshot of this crate.
    #[error("bad magic")]
    Magic,
    /// A format version this crate does not read.
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

/// CRC-32/ISO-HDLC (reflected, polynomial 0xEDB88320, init and xor-out 0xFFFFFFFF), bitwise: no
/// table, small code.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = u32::MAX;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
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

impl Snapshot {
    fn body(&self) -> [u8; SNAPSHOT_LEN] {
        let mut b = [0u8; SNAPSHOT_LEN];
        let mut w = Writer { buf: &mut b, at: 0 };
        // 2 + 4 + 2 + 4 + 8 + 8 + 8 + 4 + 8 = 48 bytes, then the CRC: SNAPSHOT_LEN.
        w.put(&MAGIC);
        w.put(&[
            VERSION,
            self.credit.code(),
            relay_code(self.relay),
            self.flags,
        ]);
        w.put(&[alarm_code(self.alarm), 0]);
        w.put(&self.generation.to_le_bytes());
        w.put(&self.taken_at.0.to_le_bytes());
        w.put(&self.balance.raw().to_le_bytes());
        w.put(&self.debt.raw().to_le_bytes());
        w.put(&self.last_sequence.to_le_bytes());
        w.put(&self.last_order.to_le_bytes());
        b
    }

    /// The CRC-32 of the content (what [`Snapshot::checksum`] must hold).
    #[must_use]
    pub fn compute_checksum(&self) -> u32 {
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

    /// The fixed little-endian form: `"AP"`, version 1, credit state, relay, flags, alarm
    /// level (0 none, 1 reminder, 2 low, 3 alarm 2, 4 overdraft, 5 exhausted), a zero byte,
    /// generation (u32), taken_at (i64 s), balance (i64, 1e-4), debt (i64, 1e-4),
    /// last purchase count (u32), last order number (u64), CRC-32 of the preceding 48 bytes.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; SNAPSHOT_LEN] {
        let mut b = self.body();
        if let Some(c) = b.get_mut(SNAPSHOT_LEN - 4..) {
            c.copy_from_slice(&self.checksum.to_le_bytes());
        }
        b
    }

    /// Parses and checks the fixed form.
    ///
    /// # Errors
    ///
    /// [`SnapshotError`] for a wrong length, magic, version, checksum or field value.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SnapshotError> {
        let b: &[u8; SNAPSHOT_LEN] = bytes
            .try_into()
            .map_err(|_| SnapshotError::Length(bytes.len()))?;
        let mut r = Reader { buf: b, at: 0 };
        if r.take::<2>() != MAGIC {
            return Err(SnapshotError::Magic);
        }
        let [version, credit, relay, fl] = r.take::<4>();
        if version != VERSION {
            return Err(SnapshotError::Version(version));
        }
        let reserved = r.take::<2>();
        let generation = u32::from_le_bytes(r.take());
        let taken_at = Timestamp(i64::from_le_bytes(r.take()));
        let balance = Money::from_raw(i64::from_le_bytes(r.take()));
        let debt = Money::from_raw(i64::from_le_bytes(r.take()));
        let last_sequence = u32::from_le_bytes(r.take());
        let last_order = u64::from_le_bytes(r.take());
        let stored = u32::from_le_bytes(r.take());
        let computed = crc32(b.get(..SNAPSHOT_LEN - 4).unwrap_or(&[]));
        if stored != computed {
            return Err(SnapshotError::Checksum { stored, computed });
        }
        let credit = CreditState::from_code(credit).ok_or(SnapshotError::Field(3))?;
        let relay = relay_from(relay).ok_or(SnapshotError::Field(4))?;
        if fl & !flags::ALL != 0 {
            return Err(SnapshotError::Field(5));
        }
        let [alarm, reserved] = reserved;
        let alarm = alarm_from(alarm).ok_or(SnapshotError::Field(6))?;
        if reserved != 0 {
            return Err(SnapshotError::Field(7));
        }
        Ok(Self {
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
            checksum: stored,
        })
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
    buf: &'a [u8; SNAPSHOT_LEN],
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
/// 4. Credit state, relay position, flags and alarm come from the newest of those copies (highest
///    generation): the engine persists every change of them, so the newest copy is the state
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
        checksum: 0,
    }
    .sealed())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A snapshot laid out and sealed by an independent implementation (Python's
    /// `struct.pack` + `zlib.crc32`): generation 7, 2026-01-07 10:00 local, balance 20.0000,
    /// debt 0, purchase count 4, order 0, credit normal, relay closed, no flags.
    const SEALED_ELSEWHERE: [u8; SNAPSHOT_LEN] = [
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

    #[test]
    fn parses_a_snapshot_sealed_elsewhere() {
        let s = Snapshot::from_bytes(&SEALED_ELSEWHERE).unwrap();
        assert_eq!(s.generation, 7);
        assert_eq!(s.taken_at, Timestamp(1_767_780_000));
        assert_eq!(s.balance, Money::from_raw(200_000));
        assert_eq!((s.last_sequence, s.last_order), (4, 0));
        assert_eq!(
            (s.credit, s.relay, s.flags),
            (CreditState::Normal, RelayState::Closed, 0)
        );
        assert!(s.verify());
        assert_eq!(s.to_bytes(), SEALED_ELSEWHERE);
        // Every single-bit flip is caught.
        for i in 0..SNAPSHOT_LEN * 8 {
            let mut b = SEALED_ELSEWHERE;
            b[i / 8] ^= 1 << (i % 8);
            assert!(Snapshot::from_bytes(&b).is_err(), "bit {i}");
        }
        assert_eq!(
            Snapshot::from_bytes(&SEALED_ELSEWHERE[..51]),
            Err(SnapshotError::Length(51))
        );
    }

    #[test]
    fn the_alarm_in_force_round_trips_and_unknown_codes_are_refused() {
        let s = Snapshot::from_bytes(&SEALED_ELSEWHERE).unwrap();
        assert_eq!(s.alarm, None);
        for level in [
            AlarmLevel::Reminder,
            AlarmLevel::Low,
            AlarmLevel::Alarm2,
            AlarmLevel::Overdraft,
            AlarmLevel::Exhausted,
        ] {
            let with = Snapshot {
                alarm: Some(level),
                ..s
            }
            .sealed();
            let bytes = with.to_bytes();
            assert_eq!(bytes[6], alarm_code(Some(level)));
            assert_eq!(Snapshot::from_bytes(&bytes), Ok(with));
        }
        // Byte 6 = 6 is no alarm level, byte 7 must stay zero (both resealed so that only the
        // field check can refuse them).
        for (at, value, field) in [(6, 6u8, 6usize), (7, 1, 7)] {
            let mut b = SEALED_ELSEWHERE;
            b[at] = value;
            let crc = crc32(&b[..SNAPSHOT_LEN - 4]);
            b[SNAPSHOT_LEN - 4..].copy_from_slice(&crc.to_le_bytes());
            assert_eq!(Snapshot::from_bytes(&b), Err(SnapshotError::Field(field)));
        }
    }

    #[test]
    fn crc32_check_value() {
        // The standard check value of CRC-32/ISO-HDLC (Greg Cook's CRC catalogue).
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }
}
