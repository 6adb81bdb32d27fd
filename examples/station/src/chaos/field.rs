//! The misbehaving field: meter hooks ([`ChaosMeters`], plugged into the terminal simulator's
//! [`FieldHooks`]) that bend registers and relays and log what really happened, and a link
//! ([`ChaosLink`]) between the terminal and the master station that drops, duplicates,
//! reorders and loses frames and goes down for minutes.
//!
//! The link faults live on the TCP path rather than inside either session so that both sides'
//! framing, retransmission and duplicate handling meet them unchanged. Frames are cut with
//! `amikit-gdw376`'s deframer; their AFN is the byte after the 5-byte address field (Q/GDW
//! 376.1-2013 §4.3.2: `68 L L 68 C A1 A1 A2 A2 A3 AFN SEQ …`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use amikit_dlt645::Address;
use amikit_gdw376::deframer::Deframer;
use amikit_prepay::CommandKind;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::faults::{ChaosRng, FaultCounts, FaultKind, FaultSet, Rates};
use crate::clock::SimSeconds;
use crate::terminal::{FieldHooks, RelayBehaviour};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One register read as the meter answered it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadRecord {
    /// Simulated time of the read.
    pub at: SimSeconds,
    /// What the meter measured (Wh since its manufacture, the old meter's scale).
    pub true_wh: i64,
    /// What it reported, at the register's resolution (10 Wh).
    pub reported_wh: i64,
    /// The read fault that bent it, if any.
    pub fault: Option<FaultKind>,
}

/// One relay command that reached a meter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayRecord {
    /// Simulated time it arrived.
    pub at: SimSeconds,
    /// The command.
    pub kind: CommandKind,
    /// What the relay did.
    pub behaviour: RelayBehaviour,
}

/// A meter's field state.
#[derive(Debug, Default)]
struct MeterField {
    /// Reported = measured + offset (moves when the meter is replaced).
    offset: i64,
    /// An armed read fault and how many reads it still bends.
    bad: Option<(FaultKind, u32)>,
    reads: Vec<ReadRecord>,
    relays: Vec<RelayRecord>,
    /// The last measured value seen (Wh).
    last_true: Option<(SimSeconds, i64)>,
    /// Replacements: `(initial_wh, true_wh)`, the new meter's first register and what the
    /// meter had measured when the old one's final register was written down.
    replacements: Vec<(i64, i64)>,
}

#[derive(Debug)]
struct MetersState {
    rng: ChaosRng,
    meters: HashMap<String, MeterField>,
}

/// The meter hooks of the chaos mode (see the module docs).
#[derive(Debug)]
pub struct ChaosMeters {
    counts: Arc<FaultCounts>,
    faults: FaultSet,
    rates: Rates,
    state: Mutex<MetersState>,
}

/// The register's resolution: 0.01 kWh.
fn at_resolution(wh: i64) -> i64 {
    wh.div_euclid(10) * 10
}

impl ChaosMeters {
    /// Hooks for a run with `seed`, counting into `counts`.
    pub fn new(seed: u64, faults: FaultSet, rates: Rates, counts: Arc<FaultCounts>) -> Self {
        Self {
            counts,
            faults,
            rates,
            state: Mutex::new(MetersState {
                rng: ChaosRng::new(seed, 2),
                meters: HashMap::new(),
            }),
        }
    }

    /// Makes the meter `address` read implausibly (`kind`: a read fault) for `reads` reads.
    pub fn arm_bad_reads(&self, address: &str, kind: FaultKind, reads: u32) {
        let mut st = lock(&self.state);
        st.meters.entry(address.to_owned()).or_default().bad = Some((kind, reads.max(1)));
    }

    /// Replaces the meter `address` now: returns `(final_wh, initial_wh)`, the old meter's
    /// last register and the new meter's first, as a fitter would write them down. `None`
    /// while the meter has not been read yet.
    pub fn replace(&self, address: &str, initial_wh: i64) -> Option<(i64, i64)> {
        let mut st = lock(&self.state);
        let m = st.meters.entry(address.to_owned()).or_default();
        let (_, true_wh) = m.last_true?;
        let final_wh = at_resolution(true_wh + m.offset);
        let initial_wh = at_resolution(initial_wh.max(0));
        m.offset = initial_wh - true_wh;
        m.bad = None;
        m.replacements.push((initial_wh, true_wh));
        Some((final_wh, initial_wh))
    }

    /// The reads of `address` so far.
    pub fn reads(&self, address: &str) -> Vec<ReadRecord> {
        lock(&self.state)
            .meters
            .get(address)
            .map(|m| m.reads.clone())
            .unwrap_or_default()
    }

    /// The replacements of `address`: `(initial_wh, true_wh)` (see [`ChaosMeters::replace`]).
    pub fn replacements(&self, address: &str) -> Vec<(i64, i64)> {
        lock(&self.state)
            .meters
            .get(address)
            .map(|m| m.replacements.clone())
            .unwrap_or_default()
    }

    /// The relay commands that reached `address` so far.
    pub fn relays(&self, address: &str) -> Vec<RelayRecord> {
        lock(&self.state)
            .meters
            .get(address)
            .map(|m| m.relays.clone())
            .unwrap_or_default()
    }
}

impl FieldHooks for ChaosMeters {
    fn register(&self, meter: &Address, now: SimSeconds, true_wh: i64) -> i64 {
        let mut guard = lock(&self.state);
        let st = &mut *guard;
        let m = st.meters.entry(meter.to_string()).or_default();
        m.last_true = Some((now, true_wh));
        let genuine = true_wh + m.offset;
        let (reported, fault) = match m.bad.take() {
            None => (genuine, None),
            Some((kind, left)) => {
                if left > 1 {
                    m.bad = Some((kind, left - 1));
                }
                let bent = match kind {
                    // 5 … 50 kWh below the register (never below zero).
                    FaultKind::ReadBackwards => (genuine - st.rng.between(5_000, 50_000)).max(0),
                    // Far beyond any maximum demand: 100 000 … 200 000 kWh ahead.
                    FaultKind::ReadJump => genuine + st.rng.between(100_000_000, 200_000_000),
                    _ => 0,
                };
                self.counts.inject(kind, false);
                (bent, Some(kind))
            }
        };
        m.reads.push(ReadRecord {
            at: now,
            true_wh,
            reported_wh: at_resolution(reported),
            fault,
        });
        reported
    }

    fn relay_command(&self, meter: &Address, now: SimSeconds, kind: CommandKind) -> RelayBehaviour {
        let mut guard = lock(&self.state);
        let st = &mut *guard;
        let relay_kind = matches!(
            kind,
            CommandKind::Trip | CommandKind::AllowClose | CommandKind::DirectClose
        );
        // The first relay commands meet each relay fault for sure (a short run sees both),
        // later ones at the rates.
        let first = |k| self.faults.has(k) && self.counts.injected(k) == 0;
        let behaviour = if !relay_kind {
            RelayBehaviour::Act
        } else if first(FaultKind::RelayRefuses)
            || (self.faults.has(FaultKind::RelayRefuses) && st.rng.chance(self.rates.relay_refuses))
        {
            self.counts.inject(FaultKind::RelayRefuses, true);
            RelayBehaviour::Refuse
        } else if first(FaultKind::RelayLate)
            || (self.faults.has(FaultKind::RelayLate) && st.rng.chance(self.rates.relay_late))
        {
            self.counts.inject(FaultKind::RelayLate, true);
            RelayBehaviour::Late(st.rng.between(5 * 60, 30 * 60))
        } else {
            RelayBehaviour::Act
        };
        st.meters
            .entry(meter.to_string())
            .or_default()
            .relays
            .push(RelayRecord {
                at: now,
                kind,
                behaviour,
            });
        behaviour
    }
}

/// The meters behind an impostor terminal: they count what reaches them (a master that let
/// the impostor in reads them and sends them commands).
#[derive(Debug, Default)]
pub struct StrangerMeters {
    reads: std::sync::atomic::AtomicU64,
    commands: std::sync::atomic::AtomicU64,
}

impl StrangerMeters {
    /// Register reads and relay commands that reached the impostor's meters.
    pub fn reached(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.reads.load(Relaxed), self.commands.load(Relaxed))
    }
}

impl FieldHooks for StrangerMeters {
    fn register(&self, _: &Address, _: SimSeconds, true_wh: i64) -> i64 {
        self.reads
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        true_wh
    }

    fn relay_command(&self, _: &Address, _: SimSeconds, _: CommandKind) -> RelayBehaviour {
        self.commands
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        RelayBehaviour::Act
    }
}

/// The misbehaving link: a TCP relay between the terminal and the master station.
#[derive(Debug)]
pub struct ChaosLink {
    counts: Arc<FaultCounts>,
    faults: FaultSet,
    rates: Rates,
    rng: Mutex<ChaosRng>,
    /// Real instant until which the link is down.
    down_until: Mutex<Option<tokio::time::Instant>>,
    /// Bumped to cut every live connection.
    cut: watch::Sender<u64>,
}

/// Which way a frame travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Way {
    /// Master → terminal.
    Down,
    /// Terminal → master.
    Up,
}

/// AFN 00 (confirm / deny), 05 (control), 10 (forward: carries the DL/T 645 `1C` controls).
const AFN_CONFIRM: u8 = 0x00;
const AFN_CONTROL: u8 = 0x05;
const AFN_FORWARD: u8 = 0x10;

/// A reordered frame waits this long for a successor before it goes out anyway.
const HOLD: Duration = Duration::from_millis(150);

impl ChaosLink {
    /// A link for a run with `seed`, counting into `counts`.
    pub fn new(seed: u64, faults: FaultSet, rates: Rates, counts: Arc<FaultCounts>) -> Self {
        Self {
            counts,
            faults,
            rates,
            rng: Mutex::new(ChaosRng::new(seed, 3)),
            down_until: Mutex::new(None),
            cut: watch::channel(0).0,
        }
    }

    /// Takes the link down for `real` time: live connections close, new ones are refused.
    pub fn down_for(&self, real: Duration) {
        *lock(&self.down_until) = Some(tokio::time::Instant::now() + real);
        self.cut.send_modify(|g| *g += 1);
    }

    /// Closes live connections (the far side re-dials) without keeping the link down.
    pub fn cut_now(&self) {
        self.cut.send_modify(|g| *g += 1);
    }

    fn is_down(&self) -> bool {
        lock(&self.down_until).is_some_and(|t| tokio::time::Instant::now() < t)
    }

    /// Listens on a free loopback port and relays every connection to `upstream` until
    /// aborted. Returns the address terminals dial.
    pub async fn start(
        self: &Arc<Self>,
        upstream: SocketAddr,
    ) -> std::io::Result<(SocketAddr, JoinHandle<()>)> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let addr = listener.local_addr()?;
        let link = Arc::clone(self);
        let task = tokio::spawn(async move {
            loop {
                let Ok((down, _)) = listener.accept().await else {
                    return;
                };
                if link.is_down() {
                    drop(down);
                    continue;
                }
                let link = Arc::clone(&link);
                tokio::spawn(async move {
                    let connect = TcpStream::connect(upstream);
                    let Ok(Ok(up)) = tokio::time::timeout(Duration::from_secs(1), connect).await
                    else {
                        return;
                    };
                    let _ = up.set_nodelay(true);
                    let _ = down.set_nodelay(true);
                    link.relay(down, up).await;
                });
            }
        });
        Ok((addr, task))
    }

    async fn relay(self: Arc<Self>, terminal: TcpStream, master: TcpStream) {
        let mut cut = self.cut.subscribe();
        cut.mark_unchanged();
        let (t_rd, t_wr) = terminal.into_split();
        let (m_rd, m_wr) = master.into_split();
        let up = self.pump(Way::Up, t_rd, m_wr);
        let down = self.pump(Way::Down, m_rd, t_wr);
        tokio::select! {
            () = up => {}
            () = down => {}
            _ = cut.changed() => {}
        }
    }

    /// What to do with one frame.
    fn decide(&self, way: Way, frame: &[u8]) -> Action {
        let afn = frame.get(12).copied().unwrap_or(0xFF);
        let control = match way {
            Way::Down => afn == AFN_CONTROL || afn == AFN_FORWARD,
            Way::Up => afn == AFN_CONFIRM || afn == AFN_FORWARD,
        };
        let mut rng = lock(&self.rng);
        let on = |k| self.faults.has(k);
        if afn == AFN_CONFIRM && on(FaultKind::LostAck) && rng.chance(self.rates.lost_ack) {
            self.counts.inject(FaultKind::LostAck, way == Way::Up);
            return Action::Drop;
        }
        if on(FaultKind::Drop) && rng.chance(self.rates.drop) {
            self.counts.inject(FaultKind::Drop, control);
            return Action::Drop;
        }
        if on(FaultKind::Duplicate) && rng.chance(self.rates.duplicate) {
            self.counts.inject(FaultKind::Duplicate, control);
            return Action::Twice;
        }
        if on(FaultKind::Reorder) && rng.chance(self.rates.reorder) {
            self.counts.inject(FaultKind::Reorder, control);
            return Action::Hold;
        }
        Action::Pass
    }

    async fn pump(
        &self,
        way: Way,
        mut rd: tokio::net::tcp::OwnedReadHalf,
        mut wr: tokio::net::tcp::OwnedWriteHalf,
    ) {
        let mut deframer: Deframer<2048> = Deframer::default();
        let mut buf = [0u8; 2048];
        let mut held: Option<(Vec<u8>, tokio::time::Instant)> = None;
        loop {
            let wake = held
                .as_ref()
                .map_or_else(|| tokio::time::Instant::now() + HOLD * 100, |(_, t)| *t);
            let n = tokio::select! {
                r = rd.read(&mut buf) => match r {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                },
                () = tokio::time::sleep_until(wake), if held.is_some() => {
                    if let Some((f, _)) = held.take()
                        && wr.write_all(&f).await.is_err()
                    {
                        return;
                    }
                    continue;
                }
            };
            let mut frames = Vec::new();
            let mut input = buf.get(..n).unwrap_or(&[]);
            loop {
                let out = deframer.push(input);
                let frame = out.frame.map(<[u8]>::to_vec);
                let consumed = out.consumed;
                input = input.get(consumed..).unwrap_or(&[]);
                match frame {
                    Some(f) => frames.push(f),
                    None if input.is_empty() || consumed == 0 => break,
                    None => {}
                }
            }
            for f in frames {
                let mut out = Vec::new();
                match self.decide(way, &f) {
                    Action::Drop => continue,
                    Action::Twice => {
                        out.extend_from_slice(&f);
                        out.extend_from_slice(&f);
                    }
                    Action::Hold if held.is_none() => {
                        held = Some((f, tokio::time::Instant::now() + HOLD));
                        continue;
                    }
                    Action::Hold | Action::Pass => out.extend_from_slice(&f),
                }
                if let Some((h, _)) = held.take() {
                    out.extend_from_slice(&h);
                }
                if wr.write_all(&out).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// What happens to a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Pass,
    Drop,
    Twice,
    /// Held back and sent after the next frame (or after [`HOLD`]).
    Hold,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 376.1 link frame (`68 L L 68 C A AFN SEQ DA DT CS 16`, protocol id 2) with `afn`.
    fn frame(afn: u8, seq: u8) -> Vec<u8> {
        let user = [
            0x4B,
            0x03,
            0x44,
            0x01,
            0x00,
            0x02,
            afn,
            0x60 | seq,
            0,
            0,
            1,
            0,
        ];
        let l = u16::try_from(user.len() << 2 | 2).unwrap().to_le_bytes();
        let mut f = vec![0x68, l[0], l[1], l[0], l[1], 0x68];
        f.extend_from_slice(&user);
        f.push(user.iter().fold(0u8, |s, b| s.wrapping_add(*b)));
        f.push(0x16);
        f
    }

    async fn read_frames(s: &mut TcpStream, n: usize) -> Vec<Vec<u8>> {
        let mut d: Deframer<2048> = Deframer::default();
        let mut out = Vec::new();
        let mut buf = [0u8; 1024];
        while out.len() < n {
            let k = tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf))
                .await
                .expect("frames in time")
                .unwrap();
            assert!(k > 0, "closed");
            let mut input = &buf[..k];
            loop {
                let o = d.push(input);
                let f = o.frame.map(<[u8]>::to_vec);
                input = &input[o.consumed..];
                match f {
                    Some(f) => out.push(f),
                    None if input.is_empty() || o.consumed == 0 => break,
                    None => {}
                }
            }
        }
        out
    }

    #[tokio::test]
    async fn the_link_relays_frames_duplicates_and_goes_down() {
        assert!(
            amikit_gdw376::Frame::new_checked(frame(0x0C, 1), &amikit_gdw376::Profile::default())
                .is_ok()
        );
        let master = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let up = master.local_addr().unwrap();
        let counts = Arc::new(FaultCounts::default());
        let rates = Rates {
            duplicate: 1000,
            ..Rates::default()
        };
        let faults = FaultSet::parse("duplicate,link_down").unwrap();
        let link = Arc::new(ChaosLink::new(1, faults, rates, counts.clone()));
        let (addr, task) = link.start(up).await.unwrap();
        let mut term = TcpStream::connect(addr).await.unwrap();
        let (mut m, _) = master.accept().await.unwrap();
        // Every frame duplicated (rate 1000 ‰), garbage between frames dropped.
        let mut bytes = frame(0x0C, 1);
        bytes.extend_from_slice(&[0x00, 0x11]);
        bytes.extend(frame(0x05, 2));
        term.write_all(&bytes).await.unwrap();
        let got = read_frames(&mut m, 4).await;
        assert_eq!(
            got,
            vec![
                frame(0x0C, 1),
                frame(0x0C, 1),
                frame(0x05, 2),
                frame(0x05, 2)
            ]
        );
        assert_eq!(counts.injected(FaultKind::Duplicate), 2);
        // Down: the connection closes and a new one is refused.
        link.down_for(Duration::from_secs(60));
        let mut buf = [0u8; 16];
        let r = tokio::time::timeout(Duration::from_secs(2), term.read(&mut buf)).await;
        assert!(matches!(r, Ok(Ok(0)) | Ok(Err(_))), "{r:?}");
        let mut again = TcpStream::connect(addr).await.unwrap();
        let r = tokio::time::timeout(Duration::from_secs(2), again.read(&mut buf)).await;
        assert!(matches!(r, Ok(Ok(0)) | Ok(Err(_))), "{r:?}");
        task.abort();
    }

    #[test]
    fn meters_bend_reads_and_replace_registers() {
        let counts = Arc::new(FaultCounts::default());
        let m = ChaosMeters::new(1, FaultSet::none(), Rates::default(), counts.clone());
        let a = Address::parse("000000000101").unwrap();
        assert_eq!(m.register(&a, 0, 1_000_004), 1_000_004);
        m.arm_bad_reads("000000000101", FaultKind::ReadZero, 1);
        assert_eq!(m.register(&a, 60, 1_000_100), 0);
        assert_eq!(m.register(&a, 120, 1_000_200), 1_000_200);
        assert_eq!(counts.injected(FaultKind::ReadZero), 1);
        // Replaced at 1 000.20 kWh by a meter reading 5.00 kWh.
        assert_eq!(m.replace("000000000101", 5_000), Some((1_000_200, 5_000)));
        assert_eq!(m.register(&a, 180, 1_000_300), 5_100);
        let reads = m.reads("000000000101");
        assert_eq!(reads.len(), 4);
        assert_eq!(reads[1].fault, Some(FaultKind::ReadZero));
        assert_eq!((reads[3].true_wh, reads[3].reported_wh), (1_000_300, 5_100));
        // Relay faults off: every command acts.
        let k = CommandKind::Trip;
        assert_eq!(m.relay_command(&a, 200, k), RelayBehaviour::Act);
        assert_eq!(m.relays("000000000101").len(), 1);
    }
}
