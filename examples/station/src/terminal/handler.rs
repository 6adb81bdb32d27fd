//! What the terminal does for the master station: the `amikit-gdw376`
//! [`RequestHandler`] over the RS-485 bus.
//!
//! | request | what the terminal does |
//! |---|---|
//! | AFN 0C F129, pn | reads `0001FF00` (total and rates) from the meter at pn; answers format 14 registers with the read time |
//! | AFN 0C F25, pn | reads voltage `02010100`, current `02020100`, P `02030000`, Q `02040000`, PF `02060000`; answers phase A and totals (B, C absent) |
//! | AFN 0C F2, p0 | the terminal's (simulated) clock |
//! | AFN 0E F1 | the stored important events `Pm ≤ i < Pn` (see [`super::erc`]) |
//! | AFN 10 F1 | sends the payload onto the bus as it is and returns the meter's reply frame (empty when none came) |
//! | AFN 05 F1 / F2 / F25 / F33 / F26 / F34, pn | sends a DL/T 645 `1C` frame (`1A` trip, `1B` allow close, `3A` / `3B` guard, `2A` / `2B` alarm) valid for 30 simulated minutes to the meter at pn (p0: every meter) and confirms on its `9C`, denies on `DC` or silence |
//! | AFN 05 F31 | clock synchronisation: the terminal's simulated clock follows the master's |
//!
//! **Convention**: the standard addresses AFN 05 trip / allow-close by *control round*; this
//! terminal maps control round n to the meter at measurement point n.
//!
//! Not simulated: the alarm delay and power-limit duration of AFN 05 F1 (the trip is
//! immediate) and the duration of F25 (guard holds until F33). A reply that does not arrive
//! after the bus's retries makes an AFN 0C item absent from the answer (all absent: AFN 00 F2)
//! and an AFN 05 item denied.

use amikit_gdw376::units::UnitLayout as _;
use std::collections::VecDeque;

use amikit_dlt645::{
    Address, Auth, Body, Di, Edition, Function, OperatorCode, Password, Reply, Repr, Request,
};
use amikit_dlt645::{RemoteCommand, RemoteControl, catalogue};
use amikit_gdw376::format::{
    DataFormat, Format01, Format05, Format07, Format09, Format14, Format15, Format25, ReadOptions,
};
use amikit_gdw376::session::terminal::{ItemRequest, Refusal, RequestHandler};
use amikit_gdw376::units::{
    EventRequest, ForwardReply, ForwardRequest, Reader, Realtime, Registers, Writer,
};
use amikit_gdw376::{Afn, Ec, Pn};

use super::bus::Bus;
use super::erc::{EventLog, StationEvent};
use super::meter::dlt645_time;
use crate::clock::{Civil, SimClock, SimSeconds};

/// Simulated seconds a `1C` frame built by the terminal stays valid.
pub const CONTROL_VALID_SECONDS: i64 = 30 * 60;

/// Everything behind the terminal's session: the bus with its meters, the event store and the
/// simulated clock. The runtime holds it in a mutex shared with the handle.
#[derive(Debug)]
pub struct Station {
    /// The RS-485 bus and its meters.
    pub bus: Bus,
    /// Stored important events (answered from for AFN 0E F1).
    pub log: EventLog,
    /// Events not yet counted by the session (the runtime counts and stores them).
    pub pending: VecDeque<StationEvent>,
    /// Lines for the log (commands executed, clock set …), taken by the runtime.
    pub notes: Vec<String>,
    clock: SimClock,
    offset: i64,
    operator: OperatorCode,
}

fn digit_byte(n: u16) -> u8 {
    (((n / 10) % 10) << 4 | (n % 10)) as u8
}

impl Station {
    /// A station on `bus`, with the simulated `clock`, for terminal `a2` (its operator code
    /// in the `1C` frames it sends).
    pub fn new(bus: Bus, clock: SimClock, a2: u16) -> Self {
        Station {
            bus,
            log: EventLog::default(),
            pending: VecDeque::new(),
            notes: Vec::new(),
            clock,
            offset: 0,
            operator: OperatorCode([digit_byte(a2), digit_byte(a2 / 100), 0, 0]),
        }
    }

    /// The terminal's simulated time (the clock, corrected by AFN 05 F31).
    pub fn now(&self) -> SimSeconds {
        self.clock.now() + self.offset
    }

    /// How many simulated seconds pass per real second.
    pub fn speed(&self) -> u32 {
        self.clock.speed()
    }

    /// Moves the meters' new events to [`Station::pending`].
    pub fn collect_events(&mut self) {
        for m in self.bus.meters_mut() {
            m.take_events(&mut self.pending);
        }
    }

    /// Advances every meter's consumption to now (fee control of local meters runs here).
    pub fn tick(&mut self) {
        let now = self.now();
        for m in self.bus.meters_mut() {
            m.advance(now);
        }
        self.collect_events();
    }

    fn address_of(&self, pn: u16) -> Option<Address> {
        self.bus.meter(pn).map(super::meter::SimMeter::address)
    }

    /// One DL/T 645 exchange on the bus; returns the reply frame bytes.
    fn exchange(&mut self, request: &[u8], reply: &mut [u8]) -> Option<usize> {
        let now = self.now();
        let r = self.bus.transact(now, request, reply);
        self.collect_events();
        r.ok()
    }

    /// Reads `di` from the meter at `address`; returns the value's digits at its scale.
    fn read_number(&mut self, address: Address, di: u32) -> Option<(i64, u8)> {
        let values = self.read_numbers(address, di)?;
        values.first().copied()
    }

    /// Reads `di` (a single item or a block of equal numeric items) from a meter.
    fn read_numbers(&mut self, address: Address, di: u32) -> Option<Vec<(i64, u8)>> {
        let (req, n) = Repr::read(address, Di(di)).to_array::<32>().ok()?;
        let mut reply = [0u8; 300];
        let len = self.exchange(req.get(..n)?, &mut reply)?;
        let repr = Repr::parse_bytes(reply.get(..len)?, Edition::V2007).ok()?;
        let Body::Reply(Reply::Read { data, .. }) = repr.body else {
            return None;
        };
        let mut out = Vec::new();
        if Di(di).is_block() {
            for (_, v) in catalogue::decode_block(Di(di), data) {
                if let Ok(Some(value)) = v
                    && let Some(d) = value.number()
                {
                    out.push((d.mantissa, d.scale));
                }
            }
        } else {
            let entry = catalogue::lookup(Di(di))?;
            let d = entry.decode(data).ok()??.number()?;
            out.push((d.mantissa, d.scale));
        }
        Some(out)
    }

    /// Sends a `1C` remote-control frame; true on a `9C` reply.
    fn remote_control(&mut self, address: Address, command: RemoteCommand) -> bool {
        let now = self.now();
        let Some(until) = dlt645_time(now + CONTROL_VALID_SECONDS) else {
            return false;
        };
        let auth = Auth {
            password: Password::new(2, 0),
            operator: self.operator,
        };
        let repr = Repr::request(
            Edition::V2007,
            address,
            Request::RemoteControl(RemoteControl::plain(auth, command, until)),
        );
        let Ok((req, n)) = repr.to_array::<48>() else {
            return false;
        };
        let mut reply = [0u8; 300];
        let Some(len) = req.get(..n).and_then(|r| self.exchange(r, &mut reply)) else {
            self.notes
                .push(format!("meter {address}: {command}: no reply"));
            return false;
        };
        let ok = matches!(
            reply
                .get(..len)
                .map(|r| Repr::parse_bytes(r, Edition::V2007)),
            Some(Ok(Repr {
                body: Body::Reply(Reply::Ack(Function::RemoteControl)),
                ..
            }))
        );
        self.notes.push(format!(
            "meter {address}: {command} {}",
            if ok { "confirmed (9C)" } else { "refused (DC)" }
        ));
        ok
    }

    fn read_time(&self) -> Format15 {
        let c = Civil::from_sim(self.now());
        Format15 {
            minute: c.minute,
            hour: c.hour,
            day: c.day,
            month: c.month,
            year: c.year.rem_euclid(100) as u8,
        }
    }

    fn f129(&mut self, pn: Pn, out: &mut [u8]) -> Result<usize, Refusal> {
        let address = self.address_of(pn.0).ok_or(Refusal::NoData)?;
        let values = self
            .read_numbers(address, 0x0001_FF00)
            .filter(|v| !v.is_empty())
            .ok_or(Refusal::NoData)?;
        let regs: Vec<Option<Format14>> = values
            .iter()
            .map(|&(m, scale)| {
                rescale(m, scale, Format14::SCALE).and_then(|m| Format14::from_mantissa(m).ok())
            })
            .collect();
        let mut w = Writer::new(out);
        Registers::write(&mut w, Some(&self.read_time()), &regs).map_err(|_| Refusal::NoData)?;
        Ok(w.pos())
    }

    fn f25(&mut self, pn: Pn, out: &mut [u8]) -> Result<usize, Refusal> {
        let address = self.address_of(pn.0).ok_or(Refusal::NoData)?;
        let mut get = |di| self.read_number(address, di);
        let voltage = get(0x0201_0100);
        let current = get(0x0202_0100);
        let p = get(0x0203_0000);
        let q = get(0x0204_0000);
        let pf = get(0x0206_0000);
        if [voltage, current, p, q, pf].iter().all(Option::is_none) {
            return Err(Refusal::NoData);
        }
        fn conv<F: DataFormat>(
            v: Option<(i64, u8)>,
            scale: u8,
            make: fn(i64) -> Result<F, amikit_gdw376::FormatError>,
        ) -> Option<F> {
            v.and_then(|(m, s)| rescale(m, s, scale))
                .and_then(|m| make(m).ok())
        }
        let p = conv(p, Format09::SCALE, Format09::from_mantissa);
        let q = conv(q, Format09::SCALE, Format09::from_mantissa);
        // The meter's power factor X.XXX is the percentage XXX.X: the same digits.
        let pf = pf
            .and_then(|(m, s)| rescale(m, s, 3))
            .and_then(|m| Format05::from_mantissa(m).ok());
        let rt = Realtime {
            read_time: Some(self.read_time()),
            active_power: [p, p, None, None],
            reactive_power: [q, q, None, None],
            power_factor: [pf, pf, None, None],
            voltage: [
                conv(voltage, Format07::SCALE, Format07::from_mantissa),
                None,
                None,
            ],
            current: [
                conv(current, Format25::SCALE, Format25::from_mantissa),
                None,
                None,
            ],
            neutral_current: None,
            apparent_power: [None; 4],
        };
        let mut w = Writer::new(out);
        rt.emit(&mut w).map_err(|_| Refusal::NoData)?;
        Ok(w.pos())
    }

    fn forward(&mut self, data: &[u8], out: &mut [u8]) -> Result<usize, Refusal> {
        let mut r = Reader::new(data, ReadOptions::default());
        let fr = ForwardRequest::parse(&mut r).map_err(|_| Refusal::NoData)?;
        let mut reply = [0u8; 300];
        let len = self.exchange(fr.payload, &mut reply).unwrap_or(0);
        if len == 0 {
            self.notes
                .push("AFN 10 forward: no reply from the bus".into());
        }
        let mut w = Writer::new(out);
        ForwardReply {
            port: fr.port,
            payload: reply.get(..len).unwrap_or(&[]),
        }
        .emit(&mut w)
        .map_err(|_| Refusal::NoData)?;
        Ok(w.pos())
    }

    fn events(&mut self, ec: Ec, data: &[u8], out: &mut [u8]) -> Result<usize, Refusal> {
        let mut r = Reader::new(data, ReadOptions::default());
        let req = EventRequest::parse(&mut r).map_err(|_| Refusal::NoData)?;
        self.log
            .reply(ec.important, ec.normal, req.pm, req.pn, out)
            .ok_or(Refusal::NoData)
    }

    fn control(&mut self, pn: Pn, command: RemoteCommand) -> Result<(), Refusal> {
        let targets: Vec<Address> = if pn == Pn::P0 {
            self.bus
                .meters()
                .map(super::meter::SimMeter::address)
                .collect()
        } else {
            vec![self.address_of(pn.0).ok_or(Refusal::NoData)?]
        };
        let mut ok = true;
        for a in targets {
            ok &= self.remote_control(a, command);
        }
        if ok { Ok(()) } else { Err(Refusal::Denied) }
    }

    fn clock_sync(&mut self, data: &[u8]) -> Result<(), Refusal> {
        let t = Format01::parse(data).map_err(|_| Refusal::Denied)?;
        let at = Civil::new(
            2000 + i32::from(t.year),
            t.month,
            t.day,
            t.hour,
            t.minute,
            t.second,
        );
        if !(1..=12).contains(&at.month) || !(1..=31).contains(&at.day) {
            return Err(Refusal::Denied);
        }
        self.offset = at.to_sim() - self.clock.now();
        self.notes
            .push(format!("clock set to {at} by the master station"));
        Ok(())
    }
}

/// `m × 10^-from` as a mantissa at scale `to` (exact or truncated towards zero).
fn rescale(m: i64, from: u8, to: u8) -> Option<i64> {
    if to >= from {
        m.checked_mul(10i64.checked_pow(u32::from(to - from))?)
    } else {
        Some(m / 10i64.checked_pow(u32::from(from - to))?)
    }
}

impl RequestHandler for Station {
    fn read(&mut self, req: &ItemRequest<'_>, out: &mut [u8]) -> Result<usize, Refusal> {
        match (req.afn, req.fn_.0) {
            (Afn::CLASS1, 129) => self.f129(req.pn, out),
            (Afn::CLASS1, 25) => self.f25(req.pn, out),
            (Afn::CLASS1, 2) => {
                let c = Civil::from_sim(self.now());
                let f = Format01 {
                    second: c.second,
                    minute: c.minute,
                    hour: c.hour,
                    day: c.day,
                    weekday: c.weekday(),
                    month: c.month,
                    year: c.year.rem_euclid(100) as u8,
                };
                let mut w = Writer::new(out);
                w.fmt(Some(&f)).map_err(|_| Refusal::NoData)?;
                Ok(w.pos())
            }
            (Afn::CLASS3, 1) => self.events(req.ec, req.data, out),
            (Afn::FORWARD, 1) => self.forward(req.data, out),
            _ => Err(Refusal::NoData),
        }
    }

    fn command(&mut self, req: &ItemRequest<'_>) -> Result<(), Refusal> {
        if req.afn != Afn::CONTROL {
            return Err(Refusal::Denied);
        }
        let command = match req.fn_.0 {
            1 => RemoteCommand::Trip,
            2 => RemoteCommand::AllowClose,
            25 => RemoteCommand::GuardOn,
            33 => RemoteCommand::GuardOff,
            26 => RemoteCommand::Alarm,
            34 => RemoteCommand::AlarmRelease,
            31 => return self.clock_sync(req.data),
            _ => return Err(Refusal::Denied),
        };
        self.control(req.pn, command)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::Site;
    use crate::terminal::bus::NoiseConfig;
    use crate::terminal::meter::tests::demo_meter;
    use amikit_gdw376::format::Format14;
    use amikit_gdw376::session::master::{
        MasterConfig, MasterEvent, MasterSession, Request as MasterRequest, write_units,
    };
    use amikit_gdw376::session::terminal::{Terminal, TerminalConfig, TerminalEvent};
    use amikit_gdw376::{Direction, InfoClass, Instant, Profile};
    use amikit_prepay::RelayState;

    fn station(start: Civil) -> Station {
        let site = Site::demo();
        let clock = SimClock::new(start, 1);
        let mut bus = Bus::new(NoiseConfig::OFF, 1);
        for pn in 1..=5 {
            bus.attach(demo_meter(&site, pn, start.to_sim()));
        }
        Station::new(bus, clock, 1)
    }

    /// Runs a terminal session and a master session against each other in memory.
    struct Pair {
        term: Terminal<amikit_gdw376::security::ZeroPw, 1024, 2048>,
        master: MasterSession,
        st: Station,
        now: Instant,
    }

    impl Pair {
        fn new(st: Station) -> Pair {
            let addr = amikit_gdw376::Address::new(0x4403, 1);
            // Tp and the identity proof off on both sides: these tests are about the handler
            // (the link's security has its own tests).
            let mut tcfg = TerminalConfig::new(addr);
            tcfg.require_tp = false;
            let mut term = Terminal::new(tcfg);
            term.connected(Instant(0));
            let mut mcfg = MasterConfig::new(Profile::STRICT_2013);
            mcfg.tp_delay_min = None;
            mcfg.identity = amikit_gdw376::session::master::IdentityPolicy::NotChecked;
            let master = MasterSession::new(mcfg, Instant(0));
            let mut p = Pair {
                term,
                master,
                st,
                now: Instant(0),
            };
            // login
            p.pump(&mut |_| {});
            assert_eq!(
                p.term.state(),
                amikit_gdw376::session::terminal::State::Online
            );
            p
        }

        /// Moves bytes both ways until quiet; master events go to `f` as (afn, units).
        fn pump(&mut self, f: &mut dyn FnMut(&MasterEvent<'_>)) {
            for _ in 0..10 {
                let mut buf = [0u8; 4096];
                let n = self.term.poll(self.now, &mut buf, &mut |_| {});
                let mut moved = n > 0;
                if n > 0 {
                    self.master.on_bytes(self.now, &buf[..n], &mut |e| f(&e));
                }
                let m = self.master.poll(self.now, &mut buf, &mut |e| f(&e));
                if m > 0 {
                    moved = true;
                    let st = &mut self.st;
                    self.term.on_bytes(self.now, &buf[..m], st, &mut |e| {
                        if let TerminalEvent::Rejected(r) = e {
                            panic!("terminal rejected {r:?}")
                        }
                    });
                }
                if !moved {
                    return;
                }
            }
        }

        /// One request; returns the completed response's AFN and data units.
        fn request(&mut self, afn: Afn, items: &[(Pn, InfoClass, &[u8])]) -> (Afn, Vec<u8>) {
            let mut units = [0u8; 512];
            let n = write_units(&mut units, items).unwrap();
            self.master
                .request(
                    self.now,
                    &MasterRequest {
                        afn,
                        units: &units[..n],
                        con: false,
                    },
                )
                .unwrap();
            let mut done = None;
            self.pump(&mut |e| {
                match e {
                    MasterEvent::Complete { afn, units, .. } => {
                        done = Some((*afn, units.to_vec()));
                    }
                    // The session reports AFN 00 F2 (all denied) as a denial: the unit it was.
                    MasterEvent::Denied(_) => done = Some((Afn::CONFIRM, vec![0, 0, 2, 0])),
                    _ => {}
                }
            });
            done.expect("no response")
        }
    }

    /// The first data unit of a response: pn, Fn and its data.
    fn first_unit(afn: Afn, units: &[u8]) -> (Pn, InfoClass, Vec<u8>) {
        let profile = Profile::STRICT_2013;
        let mut it = amikit_gdw376::Units::new(units, afn, Direction::Up, &profile);
        match it.next().unwrap() {
            amikit_gdw376::Item::Unit(u) => (u.pn, u.fn_, u.data.to_vec()),
            other => panic!("{other:?}"),
        }
    }

    fn reader(data: &[u8]) -> Reader<'_> {
        Reader::new(data, ReadOptions::default())
    }

    #[test]
    fn afn0c_f129_reads_the_meter_at_pn() {
        let start = Civil::new(2026, 3, 2, 10, 0, 0);
        let mut p = Pair::new(station(start));
        let (afn, units) = p.request(Afn::CLASS1, &[(Pn(4), InfoClass(129), &[])]);
        assert_eq!(afn, Afn::CLASS1);
        let (pn, fn_, data) = first_unit(afn, &units);
        assert_eq!((pn, fn_), (Pn(4), InfoClass(129)));
        let regs = Registers::<Format14>::parse(&mut reader(&data)).unwrap();
        // pn 4 opened at 2210.00 kWh; the clock runs at real speed, so a second at most passed.
        assert_eq!(
            regs.total(),
            Some(Format14::from_mantissa(22_100_000).unwrap())
        );
        assert_eq!(regs.tariffs(), 4);
        assert_eq!(regs.read_time.unwrap().hour, 10);
        // F25 of a meter with its relay closed: 600 W at 220 V.
        let (afn, units) = p.request(Afn::CLASS1, &[(Pn(4), InfoClass(25), &[])]);
        let (_, fn_, data) = first_unit(afn, &units);
        assert_eq!(fn_, InfoClass(25));
        let rt = Realtime::parse(&mut reader(&data)).unwrap();
        assert_eq!(rt.active_power[0].unwrap().to_string(), "0.6000");
        assert_eq!(rt.voltage[0].unwrap().to_string(), "220.0");
        assert_eq!(rt.power_factor[0].unwrap().to_string(), "95.0");
        assert!(rt.voltage[1].is_none());
        // An unknown measurement point is denied (AFN 00 F2).
        let (afn, _) = p.request(Afn::CLASS1, &[(Pn(9), InfoClass(129), &[])]);
        assert_eq!(afn, Afn::CONFIRM);
    }

    #[test]
    fn afn05_f1_sends_a_645_trip_and_confirms_then_events_are_pulled() {
        let start = Civil::new(2026, 3, 2, 10, 0, 0);
        let mut p = Pair::new(station(start));
        let (afn, units) = p.request(Afn::CONTROL, &[(Pn(1), InfoClass(1), &[0x00])]);
        assert_eq!(afn, Afn::CONFIRM);
        let (_, fn_, _) = first_unit(afn, &units);
        assert_eq!(fn_, InfoClass(1), "all confirmed");
        let now = p.st.now();
        assert_eq!(
            p.st.bus.meter_mut(1).unwrap().view(now).relay,
            RelayState::Open
        );
        assert!(p.st.notes.iter().any(|n| n.contains("trip confirmed")));
        // The guarded clinic (pn 3) refuses a trip: AFN 00 F2.
        let (afn, units) = p.request(Afn::CONTROL, &[(Pn(3), InfoClass(1), &[0x00])]);
        let (_, fn_, _) = first_unit(afn, &units);
        assert_eq!(fn_, InfoClass(2), "denied");
        assert_eq!(
            p.st.bus.meter_mut(3).unwrap().view(now).relay,
            RelayState::Closed
        );
        // Allow close (F2, no data): armed.
        let (afn, units) = p.request(Afn::CONTROL, &[(Pn(1), InfoClass(2), &[])]);
        assert_eq!(first_unit(afn, &units).1, InfoClass(1));
        assert_eq!(
            p.st.bus.meter_mut(1).unwrap().view(now).relay,
            RelayState::Armed
        );
        // The trip and the allow-close are events: store them as the runtime does, then
        // read them with AFN 0E F1.
        assert_eq!(p.st.pending.len(), 2);
        while let Some(e) = p.st.pending.pop_front() {
            p.st.log.store(p.term.event_counters().important, &e);
            p.term.record_event(true);
        }
        assert!(p.term.acd());
        let (afn, units) = p.request(Afn::CLASS3, &[(Pn::P0, InfoClass(1), &[0, 2])]);
        let (_, _, data) = first_unit(afn, &units);
        let block = amikit_gdw376::units::EventBlock::parse(&mut reader(&data)).unwrap();
        let evs: Vec<_> = block
            .records()
            .map(|r| StationEvent::decode(r.erc, r.data).unwrap())
            .collect();
        assert_eq!(evs.len(), 2);
        assert!(evs.iter().all(|e| e.pn == 1));
        assert!(!p.term.acd(), "reading up to EC1 clears ACD");
    }

    #[test]
    fn afn10_forwards_645_bytes_and_f31_sets_the_clock() {
        let start = Civil::new(2026, 3, 2, 10, 0, 0);
        let mut p = Pair::new(station(start));
        let addr = Address::parse("000000000102").unwrap();
        let (frame, n) = Repr::read(addr, Di::REMAINING_MONEY)
            .to_array::<32>()
            .unwrap();
        let fr = ForwardRequest {
            port: 2,
            control: amikit_gdw376::units::CommControl::DLT645_2400_8E1,
            frame_timeout: 0x81,
            byte_timeout: 10,
            payload: &frame[..n],
        };
        let mut data = [0u8; 64];
        let mut w = Writer::new(&mut data);
        fr.emit(&mut w).unwrap();
        let len = w.pos();
        let (afn, units) = p.request(Afn::FORWARD, &[(Pn::P0, InfoClass(1), &data[..len])]);
        let (_, _, data) = first_unit(afn, &units);
        let reply = ForwardReply::parse(&mut reader(&data)).unwrap();
        assert_eq!(reply.port, 2);
        let repr = Repr::parse_bytes(reply.payload, Edition::V2007).unwrap();
        let Body::Reply(Reply::Read { data, .. }) = repr.body else {
            panic!("{repr:?}")
        };
        // 3.00 yuan at the start (a second of consumption costs less than a fen).
        let money = amikit_dlt645::value::decode_number(data, 2, false).unwrap();
        assert_eq!(money.mantissa, 300);
        // A 1C trip built by the master, forwarded as it is: the meter's 9C comes back.
        let until = dlt645_time(p.st.now() + 600).unwrap();
        let auth = Auth {
            password: Password::new(2, 0),
            operator: OperatorCode([0; 4]),
        };
        let trip = Repr::request(
            Edition::V2007,
            Address::parse("000000000105").unwrap(),
            Request::RemoteControl(RemoteControl::plain(auth, RemoteCommand::Trip, until)),
        );
        let (frame, n) = trip.to_array::<48>().unwrap();
        let fr = ForwardRequest {
            payload: &frame[..n],
            ..fr
        };
        let mut unit = [0u8; 96];
        let mut w = Writer::new(&mut unit);
        fr.emit(&mut w).unwrap();
        let len = w.pos();
        let (afn, units) = p.request(Afn::FORWARD, &[(Pn::P0, InfoClass(1), &unit[..len])]);
        let (_, _, d) = first_unit(afn, &units);
        let reply = ForwardReply::parse(&mut reader(&d)).unwrap();
        let repr = Repr::parse_bytes(reply.payload, Edition::V2007).unwrap();
        assert_eq!(repr.control().unwrap().0, 0x9C);
        let now = p.st.now();
        assert_eq!(
            p.st.bus.meter_mut(5).unwrap().view(now).relay,
            amikit_prepay::RelayState::Open
        );
        // Clock sync to 2026-03-03 00:00:00.
        let t = Format01 {
            second: 0,
            minute: 0,
            hour: 0,
            day: 3,
            weekday: 2,
            month: 3,
            year: 26,
        };
        let mut b = [0u8; 6];
        t.emit(&mut b).unwrap();
        let (afn, units) = p.request(Afn::CONTROL, &[(Pn::P0, InfoClass(31), &b)]);
        assert_eq!(first_unit(afn, &units).1, InfoClass(1));
        let now = Civil::from_sim(p.st.now());
        assert_eq!((now.day, now.hour), (3, 0));
    }

    #[test]
    fn reads_through_a_noise_burst_still_answer() {
        let start = Civil::new(2026, 3, 2, 10, 0, 0);
        let mut p = Pair::new(station(start));
        p.st.bus
            .burst(std::time::Instant::now() + std::time::Duration::from_secs(60));
        for _ in 0..30 {
            let (afn, units) = p.request(Afn::CLASS1, &[(Pn(4), InfoClass(129), &[])]);
            assert_eq!(afn, Afn::CLASS1, "a read was lost");
            let (_, _, d) = first_unit(afn, &units);
            let regs = Registers::<Format14>::parse(&mut reader(&d)).unwrap();
            assert_eq!(regs.tariffs(), 4);
        }
        let s = p.st.bus.stats();
        assert_eq!(s.failures, 0);
        assert!(s.attempts > s.exchanges, "{s:?}");
    }
}
