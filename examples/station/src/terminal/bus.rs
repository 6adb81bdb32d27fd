//! The simulated RS-485 bus between the terminal and its meters.
//!
//! Every exchange is real DL/T 645 bytes: the terminal's request goes onto the line, every
//! meter's receiver runs it through its own [`Deframer`] and the addressed meter answers
//! through [`amikit_dlt645::meter::Meter::serve`]; the reply goes back onto the line and through
//! the terminal's deframer, which drops what it hears of its own request (half-duplex echo,
//! [`Deframer::accept_only`]). [`NoiseConfig`] injects line noise in both directions: garbage
//! before a frame (sometimes with stray `68` bytes), a flipped bit, the echo of the request, a
//! lost frame. A reply that does not arrive intact is asked for again, up to
//! [`Bus::retries`] more times.
//!
//! The bus is synchronous and instantaneous: it models what arrives, not how long it takes.

use std::time::Instant;

use amikit_dlt645::deframer::{Deframer, Event};
use amikit_dlt645::{Address, Direction, Frame};

use super::error::TerminalError;
use super::meter::SimMeter;
use crate::clock::SimSeconds;

/// Receive buffer of every device (a frame with `L` = 255 and a short preamble fits).
const RX_CAP: usize = 288;

/// Line noise, as probabilities in per mille of each frame sent on the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NoiseConfig {
    /// Random garbage (1–12 bytes, sometimes `68`) before the frame.
    pub garbage: u16,
    /// One flipped bit somewhere in the frame.
    pub flip: u16,
    /// The master hears its own request before the reply.
    pub echo: u16,
    /// The frame is lost.
    pub drop: u16,
}

impl NoiseConfig {
    /// A clean line.
    pub const OFF: NoiseConfig = NoiseConfig {
        garbage: 0,
        flip: 0,
        echo: 0,
        drop: 0,
    };

    /// Light noise: occasional garbage and echo, rare damage.
    pub const LIGHT: NoiseConfig = NoiseConfig {
        garbage: 100,
        flip: 20,
        echo: 200,
        drop: 10,
    };

    /// What [`Bus::burst`] applies: garbage and echo on every frame, 15 % of the frames
    /// damaged and 3 % lost, in each direction (about one exchange attempt in three fails).
    pub const BURST: NoiseConfig = NoiseConfig {
        garbage: 1000,
        flip: 150,
        echo: 1000,
        drop: 30,
    };

    /// True when no noise is configured.
    pub fn is_off(&self) -> bool {
        *self == Self::OFF
    }

    /// Parses `off`, `light`, `burst`, or `garbage=P,flip=P,echo=P,drop=P` with each `P` a
    /// probability per frame as a decimal (`0.05`) or a percentage (`5%`); missing keys are 0.
    pub fn parse(text: &str) -> Result<NoiseConfig, TerminalError> {
        match text.trim() {
            "" | "off" | "none" => return Ok(Self::OFF),
            "light" => return Ok(Self::LIGHT),
            "burst" | "heavy" => return Ok(Self::BURST),
            _ => {}
        }
        let mut n = Self::OFF;
        for part in text.split(',') {
            let bad = || TerminalError::Noise(part.trim().to_string());
            let (k, v) = part.split_once('=').ok_or_else(bad)?;
            let p = per_mille(v.trim()).ok_or_else(bad)?;
            match k.trim() {
                "garbage" => n.garbage = p,
                "flip" => n.flip = p,
                "echo" => n.echo = p,
                "drop" => n.drop = p,
                _ => return Err(bad()),
            }
        }
        Ok(n)
    }
}

/// `0.05` / `5%` / `1` → per mille (0–1000).
fn per_mille(v: &str) -> Option<u16> {
    let (num, scale) = match v.strip_suffix('%') {
        Some(p) => (p, 10u64),
        None => (v, 1000u64),
    };
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || !digits(frac) || frac.len() > 6 {
        return None;
    }
    let int: u64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let frac_val: u64 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    let denom = 10u64.pow(u32::try_from(frac.len()).ok()?);
    let pm = (int * denom + frac_val) * scale / denom;
    u16::try_from(pm).ok().filter(|&p| p <= 1000)
}

/// Counters of the bus.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct BusStats {
    /// Exchanges asked for.
    pub exchanges: u64,
    /// Requests put on the line (first tries and retries).
    pub attempts: u64,
    /// Exchanges that got no intact reply after every retry.
    pub failures: u64,
    /// Bytes the deframers dropped (garbage, damaged frames, echoes).
    pub skipped_bytes: u64,
    /// Frames damaged by injected noise.
    pub damaged: u64,
    /// Frames lost by injected noise.
    pub lost: u64,
}

/// Why an exchange failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BusError {
    /// No intact reply from the addressed meter after `attempts` tries.
    NoReply {
        /// Requests sent.
        attempts: u8,
    },
    /// The reply does not fit the caller's buffer.
    TooLong,
}

impl std::fmt::Display for BusError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BusError::NoReply { attempts } => write!(f, "no reply after {attempts} attempts"),
            BusError::TooLong => f.write_str("reply too long"),
        }
    }
}

/// A meter on the bus: its receiver and its DL/T 645 identity.
#[derive(Debug)]
struct Device {
    rx: Deframer<RX_CAP>,
    id: amikit_dlt645::meter::Meter,
    sim: SimMeter,
}

/// A small deterministic generator (xorshift64*), so that noise runs are reproducible.
#[derive(Debug, Clone, Copy)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
    fn hit(&mut self, per_mille: u16) -> bool {
        per_mille > 0 && self.below(1000) < u64::from(per_mille)
    }
}

/// The RS-485 line with its meters.
#[derive(Debug)]
pub struct Bus {
    devices: Vec<Device>,
    rx: Deframer<RX_CAP>,
    noise: NoiseConfig,
    burst_until: Option<Instant>,
    rng: Rng,
    /// Retries after a lost or damaged reply (default 7).
    pub retries: u8,
    stats: BusStats,
    down: Vec<u8>,
    up: Vec<u8>,
}

impl Bus {
    /// An empty bus with `noise` in both directions; `seed` makes the noise reproducible.
    pub fn new(noise: NoiseConfig, seed: u64) -> Self {
        Bus {
            devices: Vec::new(),
            rx: Deframer::new().accept_only(Direction::SlaveToMaster),
            noise,
            burst_until: None,
            rng: Rng(seed | 1),
            retries: 7,
            stats: BusStats::default(),
            down: Vec::new(),
            up: Vec::new(),
        }
    }

    /// Connects a meter.
    pub fn attach(&mut self, sim: SimMeter) {
        self.devices.push(Device {
            rx: Deframer::new(),
            id: amikit_dlt645::meter::Meter::new(sim.address()),
            sim,
        });
    }

    /// The meters.
    pub fn meters(&self) -> impl Iterator<Item = &SimMeter> {
        self.devices.iter().map(|d| &d.sim)
    }

    /// The meters, mutably.
    pub fn meters_mut(&mut self) -> impl Iterator<Item = &mut SimMeter> {
        self.devices.iter_mut().map(|d| &mut d.sim)
    }

    /// The meter at measurement point `pn`.
    pub fn meter(&self, pn: u16) -> Option<&SimMeter> {
        self.meters().find(|m| m.pn() == pn)
    }

    /// The meter at measurement point `pn`, mutably.
    pub fn meter_mut(&mut self, pn: u16) -> Option<&mut SimMeter> {
        self.meters_mut().find(|m| m.pn() == pn)
    }

    /// The configured noise (outside bursts).
    pub fn noise(&self) -> NoiseConfig {
        self.noise
    }

    /// Changes the configured noise.
    pub fn set_noise(&mut self, noise: NoiseConfig) {
        self.noise = noise;
    }

    /// Heavy noise ([`NoiseConfig::BURST`]) until the real time `until`.
    pub fn burst(&mut self, until: Instant) {
        self.burst_until = Some(until);
    }

    /// True while a burst is on.
    pub fn in_burst(&self) -> bool {
        self.burst_until.is_some_and(|t| Instant::now() < t)
    }

    /// The counters.
    pub fn stats(&self) -> BusStats {
        let mut s = self.stats;
        s.skipped_bytes = self.rx.stats().skipped_bytes
            + self
                .devices
                .iter()
                .map(|d| d.rx.stats().skipped_bytes)
                .sum::<u64>();
        s
    }

    fn current_noise(&mut self) -> NoiseConfig {
        if self.in_burst() {
            NoiseConfig::BURST
        } else {
            self.burst_until = None;
            self.noise
        }
    }

    /// Puts `frame` onto `line` through the noise; false when the frame is lost.
    fn transmit(
        rng: &mut Rng,
        noise: &NoiseConfig,
        stats: &mut BusStats,
        frame: &[u8],
        line: &mut Vec<u8>,
    ) -> bool {
        if rng.hit(noise.garbage) {
            for _ in 0..=rng.below(12) {
                let b = if rng.hit(250) { 0x68 } else { rng.next() as u8 };
                line.push(b);
            }
        }
        if rng.hit(noise.drop) {
            stats.lost += 1;
            return false;
        }
        let start = line.len();
        line.extend_from_slice(frame);
        if rng.hit(noise.flip) && !frame.is_empty() {
            let at = start + rng.below(frame.len() as u64) as usize;
            if let Some(b) = line.get_mut(at) {
                *b ^= 1 << rng.below(8);
                stats.damaged += 1;
            }
        }
        true
    }

    /// Sends `request` (a DL/T 645 frame, or any bytes the master station forwards) and
    /// returns the addressed meter's reply frame (preamble included) in `reply`. The meters
    /// see simulated time `now`. A lost or damaged reply is asked for again up to
    /// [`Bus::retries`] times; a broadcast gets one try and no reply (`Ok(0)`).
    pub fn transact(
        &mut self,
        now: SimSeconds,
        request: &[u8],
        reply: &mut [u8],
    ) -> Result<usize, BusError> {
        self.stats.exchanges += 1;
        let target = Frame::new_checked(request).ok().map(|f| f.address());
        let broadcast = target.is_some_and(Address::is_broadcast);
        let attempts = if broadcast {
            1
        } else {
            self.retries.saturating_add(1)
        };
        for _ in 0..attempts {
            self.stats.attempts += 1;
            let noise = self.current_noise();
            if let Some(n) = self.attempt(now, request, target, &noise, reply)? {
                return Ok(n);
            }
            if broadcast {
                return Ok(0);
            }
        }
        self.stats.failures += 1;
        Err(BusError::NoReply { attempts })
    }

    fn attempt(
        &mut self,
        now: SimSeconds,
        request: &[u8],
        target: Option<Address>,
        noise: &NoiseConfig,
        reply: &mut [u8],
    ) -> Result<Option<usize>, BusError> {
        let Bus {
            devices,
            rx,
            rng,
            stats,
            down,
            up,
            ..
        } = self;
        down.clear();
        up.clear();
        let delivered = Self::transmit(rng, noise, stats, request, down);
        if delivered && rng.hit(noise.echo) {
            // Half duplex: the master's receiver hears its own request.
            up.extend_from_slice(down.as_slice());
        }
        let mut out = [0u8; RX_CAP];
        // The meters' clock; a time the 645 calendar cannot hold fails their time checks.
        let clock = super::meter::dlt645_time(now).unwrap_or_default();
        for dev in devices.iter_mut() {
            let Device { rx: drx, id, sim } = dev;
            sim.set_now(now);
            let mut rest: &[u8] = down.as_slice();
            let mut flushed = false;
            loop {
                let took = drx.push(rest);
                rest = rest.get(took..).unwrap_or(&[]);
                if rest.is_empty() && !flushed {
                    // The line falls silent after the request.
                    drx.idle();
                    flushed = true;
                }
                while let Some(ev) = drx.next() {
                    if let Event::Frame(frame) = ev
                        && let Some(Ok(n)) = id.serve(sim, &frame, clock, &mut out)
                        && let Some(bytes) = out.get(..n)
                    {
                        // A lost reply simply does not reach the line.
                        let _ = Self::transmit(rng, noise, stats, bytes, up);
                    }
                }
                if rest.is_empty() {
                    break;
                }
            }
        }
        // The master's receiver.
        let mut found: Option<Result<usize, BusError>> = None;
        let mut rest: &[u8] = up.as_slice();
        let mut flushed = false;
        loop {
            let took = rx.push(rest);
            rest = rest.get(took..).unwrap_or(&[]);
            if rest.is_empty() && !flushed {
                rx.idle();
                flushed = true;
            }
            while let Some(ev) = rx.next() {
                let Event::Frame(frame) = ev else { continue };
                let ours = target
                    .is_none_or(|t| t.is_wildcard() || t.is_broadcast() || frame.address() == t);
                if ours && found.is_none() {
                    let bytes = frame.bytes();
                    found = Some(match reply.get_mut(..bytes.len()) {
                        Some(dst) => {
                            dst.copy_from_slice(bytes);
                            Ok(bytes.len())
                        }
                        None => Err(BusError::TooLong),
                    });
                }
            }
            if rest.is_empty() {
                break;
            }
        }
        found.transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Civil;
    use crate::site::Site;
    use crate::terminal::meter::tests::demo_meter;
    use amikit_dlt645::{Body, Di, Edition, Reply, Repr};

    #[test]
    fn noise_parses() {
        assert_eq!(NoiseConfig::parse("off").unwrap(), NoiseConfig::OFF);
        assert_eq!(
            NoiseConfig::parse("garbage=0.1, flip=5%,echo=1").unwrap(),
            NoiseConfig {
                garbage: 100,
                flip: 50,
                echo: 1000,
                drop: 0
            }
        );
        assert!(NoiseConfig::parse("flip=2").is_err());
        assert!(NoiseConfig::parse("noise=0.1").is_err());
        assert!(NoiseConfig::parse("flip=x").is_err());
        // The error names the part that does not parse.
        assert!(matches!(
            NoiseConfig::parse("flip=0.1, echo"),
            Err(TerminalError::Noise(part)) if part == "echo"
        ));
    }

    fn read_energy(bus: &mut Bus, now: SimSeconds, addr: Address) -> Result<i64, BusError> {
        let (req, n) = Repr::read(addr, Di::FORWARD_ACTIVE_ENERGY)
            .to_array::<32>()
            .unwrap();
        let mut reply = [0u8; 64];
        let len = bus.transact(now, &req[..n], &mut reply)?;
        let repr = Repr::parse_bytes(&reply[..len], Edition::V2007).unwrap();
        match repr.body {
            Body::Reply(Reply::Read { data, .. }) => {
                let v = amikit_dlt645::value::decode_number(data, 2, false).unwrap();
                Ok(v.mantissa)
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn clean_read_and_silence_for_unknown_meters() {
        let site = Site::demo();
        let start = Civil::new(2026, 3, 2, 8, 0, 0).to_sim();
        let mut bus = Bus::new(NoiseConfig::OFF, 7);
        bus.attach(demo_meter(&site, 1, start));
        let addr = Address::parse("000000000101").unwrap();
        // opening 1520.00 kWh, then one hour at 4000 W: 1524.00 kWh
        assert_eq!(read_energy(&mut bus, start, addr).unwrap(), 152_000);
        assert_eq!(read_energy(&mut bus, start + 3600, addr).unwrap(), 152_400);
        let nobody = Address::parse("000000009999").unwrap();
        assert_eq!(
            read_energy(&mut bus, start, nobody),
            Err(BusError::NoReply { attempts: 8 })
        );
        assert_eq!(bus.stats().failures, 1);
    }

    #[test]
    fn reads_survive_a_noise_burst_through_retries() {
        let site = Site::demo();
        let start = Civil::new(2026, 3, 2, 8, 0, 0).to_sim();
        let mut bus = Bus::new(NoiseConfig::OFF, 0x5eed);
        for pn in 3..=5 {
            bus.attach(demo_meter(&site, pn, start));
        }
        bus.burst(Instant::now() + std::time::Duration::from_secs(3600));
        assert!(bus.in_burst());
        let addr = Address::parse("000000000104").unwrap();
        for i in 0..300 {
            // 600 W: 0.01 kWh a minute from 2210.00 kWh
            let e = read_energy(&mut bus, start + 60 * i, addr).unwrap();
            assert_eq!(e, 221_000 + i);
        }
        let s = bus.stats();
        assert_eq!(s.exchanges, 300);
        assert_eq!(s.failures, 0);
        // The burst did damage: retries happened and bytes were dropped by the deframers.
        assert!(s.attempts > 330, "{s:?}");
        assert!(s.damaged > 50 && s.lost > 10, "{s:?}");
        assert!(s.skipped_bytes > 1000, "{s:?}");
    }
}
